"""ChatApp: the app's start and stop, its screens, and moving between conversations.

Its parts: inbound.py applies what the connection reports, outgoing.py sends what the
user writes; both change the state and publish every change for the screens to draw
(chat_tui.changes). The app never looks up a widget, and quitting stops the connection
before Textual removes the screens.
"""

from __future__ import annotations

from collections.abc import Iterable
from functools import partial
from pathlib import Path
from typing import Any, ClassVar

from textual import on
from textual.app import SystemCommand
from textual.binding import BindingType
from textual.screen import Screen
from textual.theme import Theme

from chat_server import protocol as p
from chat_tui import keys, wire
from chat_tui.cache import Cache
from chat_tui.changes import Changes, LinkState, Shown, Status
from chat_tui.client import Link
from chat_tui.config import Config
from chat_tui.editing import Editing
from chat_tui.inbound import Inbound
from chat_tui.notify import Throttle
from chat_tui.outbox import Outbox
from chat_tui.outgoing import Outgoing
from chat_tui.prefs import Prefs
from chat_tui.records import RosterEntry
from chat_tui.screens.chat import ChatScreen
from chat_tui.screens.help import HelpScreen
from chat_tui.screens.login import LoginScreen
from chat_tui.screens.switcher import SwitcherScreen
from chat_tui.session_file import CorruptFile, Session, SessionFile
from chat_tui.state import ChatState
from chat_tui.widgets.user_list import roster_icon

# a theme for low vision: white on black, yellow and cyan accents, no dimmed text
HIGH_CONTRAST_THEME = Theme(
    name="chat-high-contrast",
    primary="#ffff00",
    secondary="#00ffff",
    accent="#ffff00",
    foreground="#ffffff",
    background="#000000",
    surface="#000000",
    panel="#1a1a1a",
    success="#00ff00",
    warning="#ffaf00",
    error="#ff6060",
    dark=True,
    variables={
        "text-muted": "#ffffff",
        "footer-key-foreground": "#ffff00",
        "input-selection-background": "#ffff00 40%",
    },
)

# the palette's names of chat-tui's actions (binding id -> command)
PALETTE = {
    "switcher": "Go to a conversation",
    "search": "Search messages",
    "unread": "Next unread conversation",
    "mute": "Mute or unmute this conversation",
    "hide": "Hide this conversation",
    "sort": "Sort the roster (recent / name)",
    "roster": "Show or hide the roster",
    "retry": "Reconnect now and retry failed messages",
    "help": "Keys and help",
}


class ChatApp(Editing, Inbound, Outgoing):
    """The chat-tui application."""

    TITLE = "chat-tui"
    CSS_PATH = Path(__file__).parent / "app.tcss"
    # F2 (keys.ACTIONS "palette"): every action below, and Textual's themes
    ENABLE_COMMAND_PALETTE = True
    # the footer's right-hand slot shows the binding of this key (Textual's ctrl+p is Prev)
    COMMAND_PALETTE_BINDING = keys.ACTIONS["palette"].key
    BINDINGS: ClassVar[list[BindingType]] = list(keys.bindings(keys.ACTIONS))

    def __init__(
        self,
        client: Link,
        session_file: SessionFile,
        *,
        username: str | None = None,
        config: Config | None = None,
        outbox: Outbox | None = None,
        notices: list[str] | None = None,
        theme: str | None = None,
    ) -> None:
        super().__init__()
        self.register_theme(HIGH_CONTRAST_THEME)
        self._start_theme = theme
        self.client = client
        self.server_url = client.url
        self.session_file = session_file
        self.outbox = outbox if outbox is not None else Outbox(session_file.outbox_path)
        self.prefs = Prefs(session_file.prefs_path)
        self.cache = Cache(session_file.cache_path)
        self.config = config if config is not None else Config()
        self.first_username = username
        self.config_notices = list(notices or [])
        self.throttle = Throttle(self.config.notify_every)
        self._reads, self._reads_due = {}, False
        self._typing_to, self._typing_sent, self._last_key = None, -1e9, -1e9
        self._last_refresh = 0.0
        self.state = ChatState()
        self.changes = Changes(self)
        self.status = Status(LinkState.CONNECTING, self.server_url)
        self.session: Session | None = None
        self.server_acks = False  # the server speaks chat-server's extensions
        self._login_name: str | None = None
        self._flushing = False
        self._quitting = False
        self._last_held_notice = -1e9  # monotonic time of the last "held back" notice

    # -- start and stop ---------------------------------------------------------------

    def on_mount(self) -> None:
        self.set_keymap(self.config.keys)
        self._apply_theme()
        for notice in self.config_notices:
            self.notify(notice, title="Settings", severity="warning", markup=False)
        notices = []
        try:
            self.session = self.session_file.load()
        except CorruptFile as exc:
            notices.append(str(exc))
        for loader in (self.outbox.load, self.prefs.load):
            try:
                loader()
            except CorruptFile as exc:
                notices.append(str(exc))
        self.state.drafts = dict(self.prefs.drafts)
        self.state.hidden = dict(self.prefs.hidden)
        self.state.sort_by = self.prefs.saved.sort or self.config.sort
        for notice in notices:
            self.notify(notice, title="Starting fresh", severity="warning", markup=False)
        self.run_worker(self.client.run(self.post_message), name="connection", group="connection")
        self.start_liveness()
        if self.session is not None:
            self.state.self_id = self.session.userID
            self.push_screen(self._chat_screen())
            self._show_cached()
            self.client.login({"sessionID": self.session.sessionID})
        elif self.first_username:
            self._login(self.first_username)
            self.push_screen(self._chat_screen())
        else:
            self.push_screen(LoginScreen(self.server_url))

    def _apply_theme(self) -> None:
        """The theme asked for (an unknown name is said, and the default kept); from then
        on, a theme picked in the app (F3, the palette) is remembered for this profile."""
        wanted = self._start_theme
        if wanted and wanted in self.available_themes:
            self.theme = wanted
        elif wanted:
            known = ", ".join(sorted(self.available_themes))
            self.config_notices.append(f"no theme {wanted!r}; the themes are: {known}")
        # after Textual's own call_next that announces the theme set above: only a theme
        # the user picks is remembered, not the one asked for by a flag or the config
        self.call_next(self.theme_changed_signal.subscribe, self, self._remember_theme)

    def _remember_theme(self, theme: Theme) -> None:
        try:
            self.prefs.set_choice(theme=theme.name)
        except (OSError, CorruptFile) as exc:
            self.notify(f"Theme not saved: {exc}", severity="warning", markup=False)

    def get_system_commands(self, screen: Screen[Any]) -> Iterable[SystemCommand]:
        """The command palette (F2): chat-tui's actions, then Textual's (Theme, ...)."""
        if isinstance(screen, ChatScreen):
            for binding_id, what in PALETTE.items():
                action = keys.CONFIGURABLE[binding_id]
                target = screen if binding_id in keys.SCREEN_ACTIONS else self
                shortcut = keys.shown(keys.effective(self.config.keys, binding_id))
                yield SystemCommand(
                    what,
                    f"{action.what} ({shortcut})",
                    partial(target.run_action, action.action),
                )
        yield from super().get_system_commands(screen)

    def _show_cached(self) -> None:
        """Show what was known when chat-tui last ran (the roster, the recent
        conversations, the outbox), until the server's snapshot replaces it."""
        assert self.session is not None
        try:
            cached = self.cache.load(self.session.userID)
        except CorruptFile as exc:
            self.notify(str(exc), title="Starting fresh", severity="warning", markup=False)
            return
        if cached is None:
            return
        entries, extended, longest = cached
        self.state.max_length = longest
        self.show_roster(entries, extended, cached=True)

    def save_cache(self) -> None:
        """Keep what is shown for the next start (nothing before a snapshot came)."""
        if self.session is None or not self.state.contacts:
            return
        try:
            self.cache.save(self.state, self.session.userID, self.server_acks)
        except OSError as exc:  # a full disk: chat on, start without it next time
            self.notify(f"Cache not saved: {exc}", severity="warning", markup=False)

    @property
    def exiting(self) -> bool:
        """True from the moment the app starts to quit: nothing is drawn any more."""
        return self._quitting or not self.is_running

    async def action_quit(self) -> None:
        """Stop the connection and its workers first, then let Textual remove the screens."""
        self._quitting = True
        self.save_drafts(quitting=True)
        self.save_cache()
        await self.flush_reads()
        await self.client.shutdown()
        self.workers.cancel_group(self, "outbox")
        for group in ("history", "newer", "jump", "edits"):
            self.workers.cancel_group(self, group)
        self.exit()

    async def on_unmount(self) -> None:
        if not self._quitting:  # the app ends some other way (action_quit saved them)
            self.save_drafts(quitting=True)
            self.save_cache()
        await self.flush_reads()
        await self.client.shutdown()

    def save_drafts(self, quitting: bool = False) -> None:
        """Put the drafts that changed on disk (on a switch: nothing is written when none
        did), and, when quitting, which conversation is open."""
        # only what this window changed: another window's drafts stay as it left them
        changed = {u: self.state.drafts.get(u, "") for u in self.state.drafts_changed}
        if not changed and (not quitting or self.prefs.last_open == self.state.open_id):
            return
        try:
            self.prefs.save_drafts(changed, self.state.open_id)
        except (OSError, CorruptFile) as exc:  # a full disk, a broken file: chat on
            self.notify(f"Drafts not saved: {exc}", severity="warning", markup=False)
            return
        self.state.drafts_changed.clear()

    def save_hidden(self) -> None:
        """Put the conversations hidden or shown again since the last call on disk."""
        if not self.state.hidden_changed:
            return
        changes = {u: self.state.hidden.get(u) for u in self.state.hidden_changed}
        try:
            self.prefs.set_hidden(changes)
        except (OSError, CorruptFile) as exc:
            self.notify(f"Not saved: {exc}", severity="warning", markup=False)
            return
        self.state.hidden_changed.clear()

    def action_hide(self) -> None:
        """Leave the open conversation out of the roster until it gets a new message,
        and open the next one."""
        user_id = self.state.open_id
        if not isinstance(self.screen, ChatScreen):
            return
        if user_id is None or user_id == self.state.self_id:
            self.notify("Only a conversation with someone else can be hidden.", timeout=3)
            return
        order = [c.user_id for c in self.state.ordered()]
        at = order.index(user_id) if user_id in order else 0
        self.state.hide(user_id)
        names = self.state.names()
        rest = [u for u in order if u != user_id]
        if rest:
            self.open_conversation(rest[min(at, len(rest) - 1)])
        self.save_hidden()
        self.changes.roster.publish(None)
        self.notify(
            f"{names[user_id]} is hidden until a new message (Ctrl+K finds them).",
            timeout=4,
            markup=False,
        )

    def action_toggle_sort(self) -> None:
        """The roster by most recent activity, or by name; remembered."""
        if not isinstance(self.screen, ChatScreen):
            return
        self.state.sort_by = "name" if self.state.sort_by == "recent" else "recent"
        try:
            self.prefs.set_choice(sort=self.state.sort_by)
        except (OSError, CorruptFile) as exc:
            self.notify(f"Not saved: {exc}", severity="warning", markup=False)
        self.changes.roster.publish(None)
        how = "most recent first" if self.state.sort_by == "recent" else "by name"
        self.notify(f"Roster: {how}.", timeout=2, markup=False)

    def _login(self, username: str) -> None:
        self._login_name = username
        self.client.login({"username": username})

    @on(LoginScreen.Submitted)
    def login_submitted(self, event: LoginScreen.Submitted) -> None:
        self._login(event.username)

    # -- navigation -------------------------------------------------------------------

    def open_conversation(self, user_id: str) -> None:
        contact = self.state.contacts.get(user_id)
        if contact is None:
            return
        if self._typing_to is not None and self._typing_to != user_id:
            self._send_typing(self._typing_to, False)
        if self.compose_mode is not None and self.compose_mode.peer_id != user_id:
            self.cancel_compose()
        unread = self.state.open(user_id)
        self._conversation_changed(user_id, Shown.OPENED, count=unread)
        self.changes.roster.publish(None)
        self.save_drafts()
        self.save_hidden()
        if contact.has_more and not contact.messages:  # known only by name so far
            self.load_older(user_id)

    @on(ChatScreen.Open)
    def open_chosen(self, event: ChatScreen.Open) -> None:
        if event.user_id != self.state.open_id:
            self.open_conversation(event.user_id)

    def action_step(self, delta: int) -> None:
        target = self.state.step(delta)
        if target is not None:
            self.open_conversation(target)

    def action_next_unread(self) -> None:
        target = self.state.next_unread()
        if target is None:
            self.notify("No unread messages.", markup=False, timeout=2)
        else:
            self.open_conversation(target)

    def action_switcher(self) -> None:
        if not isinstance(self.screen, ChatScreen):
            return
        names = self.state.names()
        order = [c.user_id for c in self.state.ordered(everyone=True)]  # hidden ones too

        def chosen(choice: RosterEntry | str | None) -> None:
            if isinstance(choice, RosterEntry):  # from the directory: not listed yet
                self.state.add_found(choice)
                choice = choice.user_id
            if choice is not None:
                self.open_conversation(choice)

        search = self.search_directory if self.server_acks else None
        badges = {
            c.user_id: (roster_icon(c, self.state), c.unread)
            for c in self.state.ordered(everyone=True)
        }
        colours = self.state.colours(self.current_theme.dark)
        self.push_screen(SwitcherScreen(names, order, search, badges, colours), chosen)

    async def search_directory(self, prefix: str) -> list[RosterEntry]:
        """Users whose name starts with ``prefix``, from the server's directory (the
        users event lists only so many)."""
        try:
            ack = await self.client.call(p.DIRECTORY, {"prefix": prefix, "limit": 20})
        except (ConnectionError, TimeoutError):
            return []
        return wire.parse_directory_ack(ack)

    def action_help(self) -> None:
        """F1 opens help, and F1 again closes it (as Escape and q do)."""
        if isinstance(self.screen, HelpScreen):
            self.screen.dismiss()
        else:
            self.push_screen(HelpScreen(self.config.keys))
