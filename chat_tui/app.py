"""ChatApp: holds the state, the connection and the files, and keeps the screens in step."""

from __future__ import annotations

import asyncio
import time
import uuid
from pathlib import Path
from typing import Any, ClassVar, TypeVar

from rich.text import Text
from textual import on, work
from textual.app import App
from textual.binding import Binding, BindingType
from textual.widget import Widget
from textual.widgets import Static

from chat_server import protocol as p
from chat_tui.client import ChatClient
from chat_tui.render import one_line, safe_text
from chat_tui.screens.chat import ChatScreen
from chat_tui.screens.help import HelpScreen
from chat_tui.screens.login import LoginScreen
from chat_tui.screens.switcher import SwitcherScreen
from chat_tui.session_file import CorruptFile, Session, SessionFile
from chat_tui.state import ChatMessage, ChatState, Delivery, display_names
from chat_tui.widgets.composer import Composer
from chat_tui.widgets.conversation import ConversationView
from chat_tui.widgets.status_bar import StatusBar
from chat_tui.widgets.user_list import OFFLINE, ONLINE, UserList

HISTORY_PAGE = 50
W = TypeVar("W", bound=Widget)


def retry_delay(ack: object) -> float | None:
    """Seconds to wait before sending again, when the server refused a send only for now:
    ``rate limited`` (it says how long, ``retryAfter`` in ms) or ``unavailable`` (its
    store is down for a moment). None for an answer that settles the message."""
    if not isinstance(ack, dict):
        return None
    if ack.get("error") == p.ERR_RATE_LIMITED:
        after = ack.get("retryAfter")
        ms = after if isinstance(after, int | float) and not isinstance(after, bool) else 1000
        return min(max(ms / 1000, 0.05), 60.0)
    if ack.get("error") == p.ERR_UNAVAILABLE:
        return 2.0
    return None


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
        Binding("pageup", "scroll_conversation(-1)", "Older", priority=True, show=False),
        Binding("pagedown", "scroll_conversation(1)", "Newer", priority=True, show=False),
    ]

    def __init__(
        self,
        server_url: str,
        session_file: SessionFile,
        *,
        username: str | None = None,
        bell: bool = True,
        cafile: str | None = None,
    ) -> None:
        super().__init__()
        self.server_url = server_url
        self.session_file = session_file
        self.first_username = username
        self.bell_on = bell
        self.state = ChatState()
        self.client = ChatClient(server_url, self.post_message, cafile=cafile)
        self.session: Session | None = None
        self.outbox: list[dict[str, str]] = []
        self.server_acks = False
        self._login_name: str | None = None
        self._flushing = False
        self._last_held_notice = -1e9  # monotonic time of the last "held back" notice
        self._startup_notices: list[str] = []
        self.connection_status = ("connecting", server_url)

    # -- start and stop ---------------------------------------------------------------

    def on_mount(self) -> None:
        try:
            self.session = self.session_file.load()
        except CorruptFile as exc:
            self._startup_notices.append(str(exc))
        try:
            self.outbox = self.session_file.load_outbox()
        except CorruptFile as exc:
            self._startup_notices.append(str(exc))
        for notice in self._startup_notices:
            self.notify(notice, title="Starting fresh", severity="warning", markup=False)
        self.run_worker(self.client.run(), name="connection", group="connection")
        if self.session is not None:
            self.state.self_id = self.session.userID
            self.push_screen(ChatScreen())
            self.client.login({"sessionID": self.session.sessionID})
        elif self.first_username:
            self._login(self.first_username)
            self.push_screen(ChatScreen())
        else:
            self.push_screen(LoginScreen(self.server_url))

    async def on_unmount(self) -> None:
        await self.client.shutdown()

    def _login(self, username: str) -> None:
        self._login_name = username
        self.client.login({"username": username})

    @on(LoginScreen.Submitted)
    def login_submitted(self, event: LoginScreen.Submitted) -> None:
        self._login(event.username)

    # -- connection events ------------------------------------------------------------

    def on_chat_client_connecting(self, event: ChatClient.Connecting) -> None:
        self._status("connecting", f"{self.server_url} (attempt {event.attempt})")

    def on_chat_client_connected(self, _: ChatClient.Connected) -> None:
        self.state.set_self_connected(True)
        self._status("connected", self.server_url)
        self.refresh_roster()
        # "users" arrives before connect() returns, so its kick may have found no link yet
        self.kick_outbox()

    def on_chat_client_disconnected(self, _: ChatClient.Disconnected) -> None:
        self.state.set_self_connected(False)
        self._status("offline", "connection lost")
        self.refresh_roster()

    def on_chat_client_retrying(self, event: ChatClient.Retrying) -> None:
        self.state.set_self_connected(False)
        self._status(
            "reconnecting",
            f"attempt {event.attempt + 1} in {event.delay:.1f}s ({one_line(event.reason, 40)})",
        )
        self.refresh_roster()

    def on_chat_client_refused(self, event: ChatClient.Refused) -> None:
        reason = event.reason or event.message
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
        self.state = ChatState()
        self.switch_screen(LoginScreen(self.server_url, username=old, notice=notice))

    def on_chat_client_event(self, event: ChatClient.Event) -> None:
        handler = {
            p.SESSION: self._on_session,
            p.USERS: self._on_users,
            p.USER_CONNECTED: self._on_user_connected,
            p.USER_DISCONNECTED: self._on_user_disconnected,
            p.PRIVATE_MESSAGE: self._on_private_message,
        }[event.name]
        handler(event.data)

    def _on_session(self, data: Any) -> None:
        if not isinstance(data, dict):
            return
        session_id, user_id = data.get("sessionID"), data.get("userID")
        if not isinstance(session_id, str) or not isinstance(user_id, str):
            return
        username = self._login_name or (self.session.username if self.session else "")
        self.session = Session(session_id, user_id, username, self.server_url)
        self.session_file.save(self.session)
        self.client.auth = {"sessionID": session_id}
        self.state.self_id = user_id
        if isinstance(self.screen, LoginScreen):
            self.switch_screen(ChatScreen())

    def _on_users(self, data: Any) -> None:
        self.server_acks = isinstance(data, list) and any(
            isinstance(u, dict) and "hasMore" in u for u in data
        )
        self.state.apply_users(data)
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
        else:
            self._show_open()
        self.refresh_roster()
        self.kick_outbox()

    def _restore_outbox(self) -> None:
        """Messages left in the outbox by an earlier run are shown as pending again."""
        for item in self.outbox:
            contact = self.state.contacts.get(item["to"])
            if contact is None or any(m.client_id == item["clientId"] for m in contact.messages):
                continue
            self.state.add_own(item["to"], item["content"], item["clientId"])

    def _on_user_connected(self, data: Any) -> None:
        if self.state.apply_user_connected(data) is not None:
            self.refresh_roster()
            self._update_header()

    def _on_user_disconnected(self, data: Any) -> None:
        self.state.apply_user_disconnected(data)
        self.refresh_roster()
        self._update_header()

    def _on_private_message(self, data: Any) -> None:
        if isinstance(data, dict) and data.get("ts") is None and self.server_acks is False:
            data = {**data, "ts": int(time.time() * 1000)}  # a server without times: ours
        placed = self.state.receive(data)
        if placed is None:
            return
        contact, msg = placed
        if contact.user_id == self.state.open_id:
            if (view := self._conversation()) is not None:
                view.appended()
        else:
            self.refresh_roster()
            if msg.from_id != self.state.self_id:
                self._announce(contact.user_id, msg)

    def _announce(self, user_id: str, msg: ChatMessage) -> None:
        if self.bell_on:
            self.bell()
        name = display_names(self.state.contacts.values(), self.state.self_id)[user_id]
        self.notify(one_line(msg.content), title=safe_text(name), timeout=4, markup=False)

    # -- sending ----------------------------------------------------------------------

    @on(Composer.Submitted)
    def send_message(self, event: Composer.Submitted) -> None:
        to = self.state.open_id
        if to is None or self.state.self_id is None:
            self.notify("Pick a conversation first.", severity="warning", markup=False)
            return
        client_id = uuid.uuid4().hex
        self.outbox.append({"clientId": client_id, "to": to, "content": event.text})
        self.session_file.save_outbox(self.outbox)
        self.state.add_own(to, event.text, client_id, ts=int(time.time() * 1000))
        if (view := self._conversation()) is not None:
            view.appended()
        self.kick_outbox()

    def kick_outbox(self) -> None:
        if not self._flushing and self.outbox and self.client.connected:
            self._flushing = True
            self.flush_outbox()

    @work(group="outbox")
    async def flush_outbox(self) -> None:
        """Send the outbox in order, one at a time; each leaves it only when the server
        has it (acked) or refused it. A lost link leaves the rest for the next connect."""
        try:
            while self.outbox and self.client.connected:
                item = self.outbox[0]
                payload = {"content": item["content"], "to": item["to"]}
                try:
                    if self.server_acks:
                        ack = await self.client.call(
                            p.PRIVATE_MESSAGE, {**payload, "clientId": item["clientId"]}
                        )
                    else:
                        await self.client.emit(p.PRIVATE_MESSAGE, payload)
                        ack = None
                except (ConnectionError, TimeoutError):
                    return
                if (delay := retry_delay(ack)) is not None:
                    # the server will take it later (flood control, a store outage):
                    # it stays pending, first in the outbox, and goes again as it is
                    self._held_back_notice(ack)
                    await asyncio.sleep(delay)
                    continue
                if self.outbox and self.outbox[0] is item:
                    self.outbox.pop(0)
                    self.session_file.save_outbox(self.outbox)
                msg = self.state.acknowledge(item["to"], item["clientId"], ack)
                view = self._conversation()
                if msg is not None and item["to"] == self.state.open_id and view is not None:
                    view.changed(msg)
        finally:
            self._flushing = False
        if self.outbox and self.client.connected:
            self.kick_outbox()

    def _held_back_notice(self, ack: object) -> None:
        """Say once in a while why messages stay pending (they go out by themselves)."""
        now = time.monotonic()
        if now - self._last_held_notice < 15:
            return
        self._last_held_notice = now
        if isinstance(ack, dict) and ack.get("error") == p.ERR_RATE_LIMITED:
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
                self.outbox.append(
                    {"clientId": msg.client_id, "to": contact.user_id, "content": msg.content}
                )
                if (view := self._conversation()) is not None:
                    view.changed(msg)
        self.session_file.save_outbox(self.outbox)
        self.kick_outbox()

    # -- history ----------------------------------------------------------------------

    @on(ConversationView.NeedOlder)
    def need_older(self, event: ConversationView.NeedOlder) -> None:
        self.load_older(event.user_id)

    @work(group="history", exclusive=True)
    async def load_older(self, user_id: str) -> None:
        contact = self.state.contacts.get(user_id)
        oldest = (
            next((m.id for m in contact.messages if m.id is not None), None) if contact else None
        )
        count = 0
        if contact is not None and self.server_acks:
            try:
                ack = await self.client.call(
                    p.HISTORY, {"with": user_id, "before": oldest, "limit": HISTORY_PAGE}
                )
            except (ConnectionError, TimeoutError):
                ack = None
            if isinstance(ack, dict) and "messages" in ack:
                count = self.state.prepend_history(user_id, ack["messages"], ack.get("hasMore"))
        view = self._conversation()
        if user_id == self.state.open_id and view is not None:
            view.prepended(count)

    # -- navigation -------------------------------------------------------------------

    def open_conversation(self, user_id: str) -> None:
        if user_id not in self.state.contacts:
            return
        unread = self.state.open(user_id)
        self._show_open(unread)
        self.refresh_roster()

    def _show_open(self, unread: int = 0) -> None:
        view = self._conversation()
        if view is None:
            return
        contact = self.state.contacts.get(self.state.open_id or "")
        names = display_names(self.state.contacts.values(), self.state.self_id)
        view.show(contact, self.state.self_id, names, unread)
        self._update_header()

    @on(UserList.OptionSelected, "#users")
    def user_clicked(self, event: UserList.OptionSelected) -> None:
        if event.option.id is not None and event.option.id != self.state.open_id:
            self.open_conversation(event.option.id)
        if (composer := self._widget(Composer)) is not None:
            composer.focus()

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
        if self._chat() is None:
            return
        names = display_names(self.state.contacts.values(), self.state.self_id)
        order = [c.user_id for c in self.state.ordered()]

        def chosen(user_id: str | None) -> None:
            if user_id is not None:
                self.open_conversation(user_id)

        self.push_screen(SwitcherScreen(names, order), chosen)

    def action_help(self) -> None:
        if not isinstance(self.screen, HelpScreen):
            self.push_screen(HelpScreen())

    def action_scroll_conversation(self, direction: int) -> None:
        view = self._conversation()
        if view is None:
            return
        if direction < 0:
            view.action_page_up_or_load()
        else:
            view.action_page_down()

    # -- drawing ----------------------------------------------------------------------

    def _chat(self) -> ChatScreen | None:
        screen = self.screen
        return screen if isinstance(screen, ChatScreen) else None

    def _widget(self, kind: type[W], selector: str | None = None) -> W | None:
        """A widget of the chat screen, or None while it is not on screen or not mounted
        yet (events can arrive just after a screen switch; the screen's Ready message
        redraws everything from the state)."""
        chat = self._chat()
        if chat is None:
            return None
        return next(iter(chat.query(selector or kind).results(kind)), None)

    def _conversation(self) -> ConversationView | None:
        return self._widget(ConversationView)

    def refresh_roster(self) -> None:
        users = self._widget(UserList)
        if users is None:
            return
        names = display_names(self.state.contacts.values(), self.state.self_id)
        users.show(self.state, names)

    def _update_header(self) -> None:
        header = self._widget(Static, "#peer-header")
        if header is None:
            return
        contact = self.state.contacts.get(self.state.open_id or "")
        if contact is None:
            header.update(Text("No conversation open"))
            return
        name = display_names(self.state.contacts.values(), self.state.self_id)[contact.user_id]
        status = f"{ONLINE} online" if contact.connected else f"{OFFLINE} offline"
        header.update(Text(f"{safe_text(name)}   {status}"))

    def _status(self, state: str, detail: str) -> None:
        self.connection_status = (state, detail)
        if (status := self._widget(StatusBar)) is not None:
            status.set_status(state, detail)

    @on(ChatScreen.Ready)
    def chat_screen_ready(self) -> None:
        """A chat screen was just shown: draw everything the state already knows."""
        self._status(*self.connection_status)
        self.refresh_roster()
        self._show_open()
