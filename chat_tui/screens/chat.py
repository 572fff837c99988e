"""The main screen: users on the left, the open conversation and the composer on the right.

It draws from the app's state and redraws what the app's signals say changed
(chat_tui.changes); everything it shows comes from there.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import ClassVar

from rich.style import Style
from rich.text import Text
from textual import on
from textual.actions import SkipAction
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical
from textual.message import Message
from textual.screen import Screen
from textual.widgets import Footer, Static

from chat_tui import keys
from chat_tui.changes import Changes, Composing, ConversationChange, Focus, Shown, Status
from chat_tui.colours import colour
from chat_tui.records import Contact
from chat_tui.render import ago, clock_ms, one_line
from chat_tui.state import ChatState
from chat_tui.widgets.composer import Composer
from chat_tui.widgets.conversation import ConversationView
from chat_tui.widgets.cursor import BackToComposer
from chat_tui.widgets.status_bar import StatusBar
from chat_tui.widgets.user_list import OFFLINE, ONLINE, UNKNOWN, UserList


class ChatScreen(Screen[None]):
    """Roster, header, conversation, composer and status line, drawn from the state."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("pageup", "scroll_conversation(-1)", "Older", priority=True, show=False),
        Binding("pagedown", "scroll_conversation(1)", "Newer", priority=True, show=False),
        # End jumps to the latest only when the composer has nothing to move through
        Binding("end", "latest_if_idle", "Latest", priority=True, show=False),
        # Alt+U first unread, Alt+End latest, Ctrl+Up the message cursor (Escape comes
        # back), Ctrl+B the roster: keys the config file can change (chat_tui.keys)
        *keys.bindings(keys.SCREEN_ACTIONS),
    ]

    class Open(Message):
        """The user picked a conversation (a click in the roster)."""

        def __init__(self, user_id: str) -> None:
            super().__init__()
            self.user_id = user_id

    class Latest(Message):
        """End while a window away from the conversation's end is shown."""

        def __init__(self, user_id: str) -> None:
            super().__init__()
            self.user_id = user_id

    def __init__(self, state: ChatState, changes: Changes, status: Callable[[], Status]) -> None:
        super().__init__()
        self.state, self.changes, self.current_status = state, changes, status

    def compose(self) -> ComposeResult:
        with Horizontal(id="body"):
            with Vertical(id="sidebar"):
                yield UserList(id="users")
            with Vertical(id="main"):
                yield Static(id="peer-header", markup=False)
                yield ConversationView(id="conversation")
                yield Static(id="typing-line", markup=False)
                yield Static(id="compose-context", markup=False)
                yield Static(id="compose-count", markup=False)
                yield Composer(id="composer")
        yield StatusBar(id="status")
        yield Footer()

    def on_mount(self) -> None:
        self.query_one(Composer).focus()
        self.changes.roster.subscribe(self, self.draw_roster)
        self.changes.conversation.subscribe(self, self.draw_conversation)
        self.changes.status.subscribe(self, self.draw_status)
        self.changes.compose.subscribe(self, self.draw_compose)
        self.changes.focus.subscribe(self, self.draw_focus)
        # users' colours are the theme's (dark or light)
        self.app.theme_changed_signal.subscribe(self, lambda _: self.draw_roster())
        # whatever happened before this screen was up
        self.draw_status(self.current_status())
        self.draw_roster()
        if self.state.open_id is not None:
            self.draw_conversation(ConversationChange(self.state.open_id, Shown.OPENED))

    # -- drawing ----------------------------------------------------------------------

    def draw_status(self, status: Status) -> None:
        self.query_one(StatusBar).set_status(status.link.value, status.detail)

    def draw_roster(self, _: None = None) -> None:
        self.query_one(Composer).max_length = self.state.max_length  # known once connected
        self.query_one(UserList).show(self.state, self.state.names())
        self._draw_header()

    def _draw_header(self) -> None:
        header = self.query_one("#peer-header", Static)
        typing_line = self.query_one("#typing-line", Static)
        contact = self.state.contacts.get(self.state.open_id or "")
        if contact is None:
            header.update(Text("No conversation open"))
            typing_line.display = False
            return
        name = self.state.names()[contact.user_id]
        status = presence(contact)
        if not self.state.linked and contact.user_id != self.state.self_id:
            status = f"{UNKNOWN} unknown: you are offline"
        hue = colour(self.state.colour_indexes()[contact.user_id], self.app.current_theme.dark)
        title = Text()
        title.append(name, Style(color=hue, bold=True))
        title.append(f"   {status}{'   muted' if contact.muted else ''}")
        header.update(title)
        typing_line.display = contact.typing_until is not None
        if typing_line.display:
            typing_line.update(Text(f"{name} is typing…"))

    def draw_conversation(self, change: ConversationChange) -> None:
        if change.user_id != self.state.open_id:
            return
        view = self.query_one(ConversationView)
        if change.how is Shown.OPENED:
            contact = self.state.contacts.get(change.user_id)
            mark = None  # the server's marker; none in a conversation with yourself
            if contact and self.state.server_marks and contact.user_id != self.state.self_id:
                mark = contact.read_up_to or 0
            colours = self.state.colour_indexes()
            view.show(contact, self.state.self_id, self.state.names(), change.count, mark, colours)
            self._draw_header()
            # after the keys already sent to the composer: an Enter typed before this
            # switch sends its text where it was typed
            self.query_one(Composer).call_later(self._swap_draft, change.user_id)
        elif change.how is Shown.APPENDED:
            view.appended()
        elif change.how is Shown.CHANGED and change.message is not None:
            view.changed(change.message)
        elif change.how is Shown.PREPENDED:
            view.prepended(change.count)
        elif change.how is Shown.RECEIPT:
            view.receipt()

    def draw_compose(self, composing: Composing | None) -> None:
        """The composer's purpose: editing (its text loaded), replying, or plain."""
        context = self.query_one("#compose-context", Static)
        composer = self.query_one(Composer)
        editing = composer.editing
        composer.editing = composing is not None and composing.kind == "edit"
        if composing is None or composing.kind == "recall":
            context.display = False
            if editing:  # an edit given up: its text goes, the draft comes back
                composer.clear()
                self._load_draft()
            if composing is not None:
                composer.insert(composing.text)
            return
        if composing.kind == "edit":
            label = "Editing your message · Enter saves, Escape cancels"
            composer.load_text(composing.text)
            composer.move_cursor(composer.document.end)
        else:
            msg = composing.message
            name = self.state.names().get(msg.from_id, "") if msg is not None else ""
            first = one_line(msg.content) if msg is not None else ""
            label = f"↳ Replying to {name}: {first} · Escape cancels"
        context.update(Text(label, no_wrap=True, overflow="ellipsis"))
        context.display = True
        composer.focus()

    def _swap_draft(self, user_id: str) -> None:
        """Keep the composer's text as the draft of the conversation it was typed in, and
        bring in ``user_id``'s draft."""
        composer = self.query_one(Composer)
        if composer.conversation == user_id:
            return
        if composer.conversation is not None and not composer.editing:
            self._store_draft(composer.conversation, composer.text)
        composer.conversation = user_id
        self._load_draft()

    def _load_draft(self) -> None:
        """Put the composer's conversation's draft in it (no "typing" is sent for it: the
        user did not type it now)."""
        composer = self.query_one(Composer)
        with composer.prevent(Composer.Changed):
            composer.load_text(self.state.drafts.get(composer.conversation or "", ""))
        composer.move_cursor(composer.document.end)

    def _store_draft(self, user_id: str, text: str) -> None:
        """Record a draft the user changed (an unchanged one is not saved over what another
        window of this profile may have written)."""
        if (text if text.strip() else "") == self.state.drafts.get(user_id, ""):
            return
        if text.strip():
            self.state.drafts[user_id] = text
        else:
            self.state.drafts.pop(user_id, None)
        self.state.drafts_changed.add(user_id)

    @on(Composer.Changed)
    def keep_draft(self, event: Composer.Changed) -> None:
        """The composer's text is its conversation's draft (not while it holds a message
        being edited)."""
        composer = event.text_area
        if not isinstance(composer, Composer):
            return
        self._draw_count(composer)
        if composer.conversation and not composer.editing:
            self._store_draft(composer.conversation, composer.text)

    def _draw_count(self, composer: Composer) -> None:
        """How long the text is, once it nears the server's limit (over it: in red)."""
        count = self.query_one("#compose-count", Static)
        limit, length = composer.max_length, len(composer.text)
        count.display = limit is not None and length >= limit * COUNT_FROM
        if limit is not None and count.display:
            over = length > limit
            note = f"  {length - limit:,} too many: shorten it to send" if over else ""
            count.update(Text(f"{length:,} / {limit:,} characters{note}"))
            count.set_class(over, "-over")

    def draw_focus(self, focus: Focus) -> None:
        view = self.query_one(ConversationView)
        if focus.message is None:
            self.query_one(Composer).focus()
        elif view.select_message(focus.message):
            view.focus()

    # -- input ------------------------------------------------------------------------

    def action_cursor(self) -> None:
        """From the composer into the conversation, at its last message."""
        view = self.query_one(ConversationView)
        if view.contact is not None and view.contact.messages:
            view.select(len(view.contact.messages) - 1)
        view.focus()

    @on(BackToComposer)
    def leave_cursor(self, event: BackToComposer) -> None:
        event.stop()
        self.query_one(Composer).focus()

    @on(UserList.OptionSelected, "#users")
    def user_clicked(self, event: UserList.OptionSelected) -> None:
        event.stop()
        if event.option.id is not None:
            self.post_message(self.Open(event.option.id))
        self.query_one(Composer).focus()

    @on(UserList.TypedAway)
    def type_into_composer(self, event: UserList.TypedAway) -> None:
        """Letters typed on the roster go to the composer, which takes focus back."""
        composer = self.query_one(Composer)
        composer.focus()
        composer.insert(event.character)

    def action_toggle_roster(self) -> None:
        """Hide the roster (the conversation gets the whole width) or show it again."""
        sidebar = self.query_one("#sidebar")
        sidebar.display = not sidebar.display

    def action_first_unread(self) -> None:
        if not self.query_one(ConversationView).jump_to_unread():
            self.notify("No unread messages here.", timeout=2, markup=False)

    def _in_window(self) -> bool:
        contact = self.state.contacts.get(self.state.open_id or "")
        if contact is None or not contact.has_newer:
            return False
        self.post_message(self.Latest(contact.user_id))
        return True

    def action_latest(self) -> None:
        if not self._in_window():
            self.query_one(ConversationView).jump_to_latest()

    def action_latest_if_idle(self) -> None:
        composer = self.query_one(Composer)
        if composer.has_focus and composer.text:
            raise SkipAction()
        if not self._in_window() and not self.query_one(ConversationView).jump_to_latest():
            raise SkipAction()

    def action_scroll_conversation(self, direction: int) -> None:
        view = self.query_one(ConversationView)
        if direction < 0:
            view.action_page_up_or_load()
        else:
            view.action_page_down()


COUNT_FROM = 0.9  # the length is shown from 90% of the server's limit


def presence(contact: Contact, now_ms: int | None = None) -> str:
    """``● online``, ``○ last seen 3 h ago``, or ``○ offline``."""
    if contact.connected:
        return f"{ONLINE} online"
    if contact.last_seen is not None:
        now = now_ms if now_ms is not None else clock_ms()
        return f"{OFFLINE} last seen {ago(contact.last_seen, now)}"
    return f"{OFFLINE} offline"
