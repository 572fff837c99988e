"""ChatApp: applies what the connection reports to the state, sends what the user writes,
and publishes every change for the screens to draw (chat_tui.changes).

The app never looks up a widget. Messages from the connection are handled in one place,
which ignores them once the app is exiting; and quitting stops the connection before
Textual removes the screens.
"""

from __future__ import annotations

import time
import uuid
from functools import singledispatchmethod
from pathlib import Path
from typing import ClassVar

from textual import on, work
from textual.app import App
from textual.binding import Binding, BindingType

from chat_server import protocol as p
from chat_tui import messages as m
from chat_tui import wire
from chat_tui.changes import Changes, ConversationChange, LinkState, Shown, Status
from chat_tui.client import Link
from chat_tui.outbox import Outbox, OutboxItem
from chat_tui.render import one_line
from chat_tui.screens.chat import ChatScreen
from chat_tui.screens.help import HelpScreen
from chat_tui.screens.login import LoginScreen
from chat_tui.screens.switcher import SwitcherScreen
from chat_tui.session_file import CorruptFile, Session, SessionFile
from chat_tui.state import Ack, ChatMessage, ChatState, Delivery, RosterEntry, display_names
from chat_tui.widgets.composer import Composer
from chat_tui.widgets.conversation import ConversationView

HISTORY_PAGE = 50
HELD_NOTICE_EVERY_S = 15.0


class ChatApp(App[None]):
    """The chat-tui application."""

    TITLE = "chat-tui"
    CSS_PATH = Path(__file__).parent / "app.tcss"
    ENABLE_COMMAND_PALETTE = False
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("ctrl+q", "quit", "Quit", priority=True),
        Binding("f1", "help", "Help", priority=True),
        Binding("ctrl+n", "step(1)", "Next", priority=True),
        Binding("ctrl+p", "step(-1)", "Prev", priority=True),
        Binding("alt+a", "next_unread", "Unread", priority=True),
        Binding("ctrl+k", "switcher", "Go to", priority=True),
        Binding("ctrl+r", "retry", "Retry", priority=True, show=False),
    ]

    def __init__(
        self,
        client: Link,
        session_file: SessionFile,
        *,
        username: str | None = None,
        bell: bool = True,
        outbox: Outbox | None = None,
    ) -> None:
        super().__init__()
        self.client = client
        self.server_url = client.url
        self.session_file = session_file
        self.outbox = outbox if outbox is not None else Outbox(session_file.outbox_path)
        self.first_username = username
        self.bell_on = bell
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
        notices = []
        try:
            self.session = self.session_file.load()
        except CorruptFile as exc:
            notices.append(str(exc))
        try:
            self.outbox.load()
        except CorruptFile as exc:
            notices.append(str(exc))
        for notice in notices:
            self.notify(notice, title="Starting fresh", severity="warning", markup=False)
        self.run_worker(self.client.run(self.post_message), name="connection", group="connection")
        if self.session is not None:
            self.state.self_id = self.session.userID
            self.push_screen(self._chat_screen())
            self.client.login({"sessionID": self.session.sessionID})
        elif self.first_username:
            self._login(self.first_username)
            self.push_screen(self._chat_screen())
        else:
            self.push_screen(LoginScreen(self.server_url))

    @property
    def exiting(self) -> bool:
        """True from the moment the app starts to quit: nothing is drawn any more."""
        return self._quitting or not self.is_running

    async def action_quit(self) -> None:
        """Stop the connection and its workers first, then let Textual remove the screens."""
        self._quitting = True
        await self.client.shutdown()
        self.workers.cancel_group(self, "outbox")
        self.workers.cancel_group(self, "history")
        self.exit()

    async def on_unmount(self) -> None:
        await self.client.shutdown()  # when the app ends some other way

    def _chat_screen(self) -> ChatScreen:
        return ChatScreen(self.state, self.changes, lambda: self.status)

    def _login(self, username: str) -> None:
        self._login_name = username
        self.client.login({"username": username})

    @on(LoginScreen.Submitted)
    def login_submitted(self, event: LoginScreen.Submitted) -> None:
        self._login(event.username)

    # -- what the connection reports ----------------------------------------------------

    @on(m.ServerMessage)
    def from_server(self, message: m.ServerMessage) -> None:
        """Every message of the connection comes through here; none is applied once the
        app is exiting (its screens may be gone already)."""
        if not self.exiting:
            self._apply(message)

    @singledispatchmethod
    def _apply(self, message: m.ServerMessage) -> None:
        raise TypeError(f"no handler for {type(message).__name__}")

    @_apply.register
    def _connecting(self, message: m.Connecting) -> None:
        self._set_status(LinkState.CONNECTING, f"{self.server_url} (attempt {message.attempt})")

    @_apply.register
    def _connected(self, _: m.Connected) -> None:
        self.state.set_self_connected(True)
        self._set_status(LinkState.CONNECTED, self.server_url)
        self.changes.roster.publish(None)
        # "users" arrives before connect() returns, so its kick may have found no link yet
        self.kick_outbox()

    @_apply.register
    def _disconnected(self, _: m.Disconnected) -> None:
        self.state.set_self_connected(False)
        self._set_status(LinkState.OFFLINE, "connection lost")
        self.changes.roster.publish(None)

    @_apply.register
    def _retrying(self, message: m.Retrying) -> None:
        self.state.set_self_connected(False)
        detail = (
            f"attempt {message.attempt + 1} in {message.delay:.1f}s "
            f"({one_line(message.reason, 40)})"
        )
        self._set_status(LinkState.RECONNECTING, detail)
        self.changes.roster.publish(None)

    @_apply.register
    def _stopped(self, message: m.Stopped) -> None:
        self.state.set_self_connected(False)
        self._set_status(LinkState.STOPPED, message.reason)
        self.changes.roster.publish(None)
        self.notify(message.reason, title="Stopped", severity="error", markup=False)

    @_apply.register
    def _refused(self, message: m.Refused) -> None:
        reason = message.reason or message.message
        if isinstance(self.screen, LoginScreen):
            self.screen.show_error(f"refused: {reason}")
            return
        old = self.session.username if self.session else (self._login_name or "")
        notice = (
            "The server no longer knows your session (it was ended, or the server lost "
            "its data). Pick a name to log in again."
            if self.session
            else f"The server refused the name: {reason}"
        )
        self.session = None
        self.state.reset()
        self.switch_screen(LoginScreen(self.server_url, username=old, notice=notice))

    @_apply.register
    def _session_started(self, message: m.SessionStarted) -> None:
        username = self._login_name or (self.session.username if self.session else "")
        self.session = Session(message.session_id, message.user_id, username, self.server_url)
        self.session_file.save(self.session)
        self.client.auth = {"sessionID": message.session_id}
        self.state.self_id = message.user_id
        if isinstance(self.screen, LoginScreen):
            self.switch_screen(self._chat_screen())

    @_apply.register
    def _roster_received(self, message: m.RosterReceived) -> None:
        self.server_acks = message.extended
        self.state.apply_users(message.entries)
        me = self.state.contacts.get(self.state.self_id or "")
        if me is not None and self.session is not None and me.username != self.session.username:
            self.session = Session(
                self.session.sessionID, self.session.userID, me.username, self.server_url
            )
            self.session_file.save(self.session)
        self._restore_outbox()
        if self.state.open_id not in self.state.contacts:
            others = [c.user_id for c in self.state.ordered() if c.user_id != self.state.self_id]
            first = self.state.next_unread() or (others[0] if others else self.state.step(1))
            if first is not None:
                self.open_conversation(first)
        elif self.state.open_id is not None:
            self._conversation_changed(self.state.open_id, Shown.OPENED)
        self.changes.roster.publish(None)
        self.kick_outbox()

    def _restore_outbox(self) -> None:
        """Messages left in the outbox by an earlier run are shown as pending again."""
        for item in self.outbox.items:
            contact = self.state.contacts.get(item.to)
            if contact is None or any(msg.client_id == item.client_id for msg in contact.messages):
                continue
            self.state.add_own(item.to, item.content, item.client_id)

    @_apply.register
    def _user_online(self, message: m.UserOnline) -> None:
        self.state.apply_user_connected(message.entry)
        self.changes.roster.publish(None)

    @_apply.register
    def _user_offline(self, message: m.UserOffline) -> None:
        self.state.apply_user_disconnected(message.user_id)
        self.changes.roster.publish(None)

    @_apply.register
    def _user_deleted(self, message: m.UserDeleted) -> None:
        was_open = message.user_id == self.state.open_id
        self.state.remove(message.user_id)
        if was_open and (target := self.state.step(1)) is not None:
            self.open_conversation(target)
        self.changes.roster.publish(None)

    @_apply.register
    def _message_received(self, message: m.MessageReceived) -> None:
        msg = message.message
        if msg.ts is None and not self.server_acks:
            msg.ts = int(time.time() * 1000)  # a server without times: ours
        placed = self.state.receive(msg)
        if placed is None:
            return
        contact, shown = placed
        if contact.user_id == self.state.open_id:
            self._conversation_changed(contact.user_id, Shown.APPENDED)
        else:
            self.changes.roster.publish(None)
            if shown.from_id != self.state.self_id:
                self._announce(contact.user_id, shown)

    def _announce(self, user_id: str, msg: ChatMessage) -> None:
        if self.bell_on:
            self.bell()
        name = display_names(self.state.contacts.values(), self.state.self_id)[user_id]
        self.notify(one_line(msg.content), title=name, timeout=4, markup=False)

    # -- sending ----------------------------------------------------------------------

    @on(Composer.Submitted)
    def send_message(self, event: Composer.Submitted) -> None:
        to = self.state.open_id
        if to is None or self.state.self_id is None:
            self.notify("Pick a conversation first.", severity="warning", markup=False)
            return
        item = OutboxItem(uuid.uuid4().hex, to, event.text)
        self.outbox.add(item)
        self.state.add_own(to, event.text, item.client_id, ts=int(time.time() * 1000))
        self._conversation_changed(to, Shown.APPENDED)
        self.kick_outbox()

    def kick_outbox(self) -> None:
        if not self._flushing and self.outbox and self.client.connected and not self.exiting:
            self._flushing = True
            self.flush_outbox()

    @work(group="outbox")
    async def flush_outbox(self) -> None:
        """Send the outbox in order (outbox.Outbox.drain); a lost link leaves the rest for
        the next connection."""
        try:
            await self.outbox.drain(self._send, self._settled, self._held_back)
        finally:
            self._flushing = False
        if self.outbox and self.client.connected:
            self.kick_outbox()

    async def _send(self, item: OutboxItem) -> Ack:
        if not self.server_acks:  # the tutorial's server: no acks, no clientId
            await self.client.emit(
                p.PRIVATE_MESSAGE, wire.send_payload(item.to, item.content, None)
            )
            return Ack()
        payload = wire.send_payload(item.to, item.content, item.client_id)
        return wire.parse_send_ack(await self.client.call(p.PRIVATE_MESSAGE, payload))

    def _settled(self, item: OutboxItem, ack: Ack) -> None:
        msg = self.state.acknowledge(item.to, item.client_id, ack)
        if msg is not None:
            self._conversation_changed(item.to, Shown.CHANGED, msg)

    def _held_back(self, ack: Ack) -> None:
        """Say once in a while why messages stay pending (they go out by themselves)."""
        now = time.monotonic()
        if now - self._last_held_notice < HELD_NOTICE_EVERY_S:
            return
        self._last_held_notice = now
        if ack.error == p.ERR_RATE_LIMITED:
            text = "Sending faster than the server allows: the rest follow at its pace."
        else:
            text = "The server cannot store messages right now: retrying by itself."
        self.notify(text, title="Held back", timeout=4, markup=False)

    def action_retry(self) -> None:
        contact = self.state.contacts.get(self.state.open_id or "")
        if contact is None:
            return
        for msg in contact.messages:
            if msg.delivery is Delivery.FAILED and msg.client_id is not None:
                self.state.retry(contact.user_id, msg.client_id)
                self.outbox.add(OutboxItem(msg.client_id, contact.user_id, msg.content))
                self._conversation_changed(contact.user_id, Shown.CHANGED, msg)
        self.kick_outbox()

    # -- history ----------------------------------------------------------------------

    @on(ConversationView.NeedOlder)
    def need_older(self, event: ConversationView.NeedOlder) -> None:
        self.load_older(event.user_id)

    @work(group="history", exclusive=True)
    async def load_older(self, user_id: str) -> None:
        contact = self.state.contacts.get(user_id)
        oldest = (
            next((msg.id for msg in contact.messages if msg.id is not None), None)
            if contact
            else None
        )
        count = 0
        if contact is not None and self.server_acks:
            try:
                ack = await self.client.call(
                    p.HISTORY, {"with": user_id, "before": oldest, "limit": HISTORY_PAGE}
                )
            except (ConnectionError, TimeoutError):
                ack = None
            if (page := wire.parse_history_ack(ack)) is not None:
                count = self.state.prepend_history(user_id, *page)
        self._conversation_changed(user_id, Shown.PREPENDED, count=count)

    # -- navigation -------------------------------------------------------------------

    def open_conversation(self, user_id: str) -> None:
        contact = self.state.contacts.get(user_id)
        if contact is None:
            return
        unread = self.state.open(user_id)
        self._conversation_changed(user_id, Shown.OPENED, count=unread)
        self.changes.roster.publish(None)
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
        names = display_names(self.state.contacts.values(), self.state.self_id)
        order = [c.user_id for c in self.state.ordered()]

        def chosen(choice: RosterEntry | str | None) -> None:
            if isinstance(choice, RosterEntry):  # from the directory: not listed yet
                self.state.add_found(choice)
                choice = choice.user_id
            if choice is not None:
                self.open_conversation(choice)

        search = self.search_directory if self.server_acks else None
        self.push_screen(SwitcherScreen(names, order, search), chosen)

    async def search_directory(self, prefix: str) -> list[RosterEntry]:
        """Users whose name starts with ``prefix``, from the server's directory (the
        users event lists only so many)."""
        try:
            ack = await self.client.call(p.DIRECTORY, {"prefix": prefix, "limit": 20})
        except (ConnectionError, TimeoutError):
            return []
        return wire.parse_directory_ack(ack)

    def action_help(self) -> None:
        if not isinstance(self.screen, HelpScreen):
            self.push_screen(HelpScreen())

    # -- publishing -------------------------------------------------------------------

    def _conversation_changed(
        self, user_id: str, how: Shown, msg: ChatMessage | None = None, count: int = 0
    ) -> None:
        self.changes.conversation.publish(ConversationChange(user_id, how, msg, count))

    def _set_status(self, link: LinkState, detail: str) -> None:
        self.status = Status(link, detail)
        self.changes.status.publish(self.status)
