"""What makes a conversation feel alive (a part of ChatApp): read markers sent as the user
sees messages, "typing" sent while the user writes, a tick that expires typing and keeps
"last seen" fresh, and announcements of new messages (toast, bell, desktop), throttled
per conversation and silenced by mute.

With a server that keeps no read markers (the tutorial's), nothing here is sent: the
unread counts stay the client's own.
"""

from __future__ import annotations

import asyncio
import contextlib
import time

from textual import on, work

from chat_server import protocol as p
from chat_tui import wire
from chat_tui.app_base import AppBase
from chat_tui.config import Config
from chat_tui.notify import Throttle, desktop_sequence
from chat_tui.prefs import Prefs
from chat_tui.records import ChatMessage
from chat_tui.render import one_line
from chat_tui.terminal import write_sequence
from chat_tui.widgets.composer import Composer
from chat_tui.widgets.conversation import ConversationView

READ_DELAY_S = 0.3  # reads seen within this long go out as one
TYPING_REPEAT_S = 3.0  # "typing: true" again while still typing
TYPING_IDLE_S = 5.0  # no keystroke for this long: "typing: false"
TICK_S = 1.0
LAST_SEEN_REFRESH_S = 30.0


class Liveness(AppBase):
    """Read markers, typing, and announcements."""

    config: Config
    prefs: Prefs
    throttle: Throttle
    _reads: dict[str, int]  # markers not yet acknowledged by the server, per peer
    _reads_due: bool
    _typing_to: str | None  # whom we told we are typing
    _typing_sent: float  # monotonic time of the last "typing: true"
    _last_key: float  # monotonic time of the last change in the composer
    _last_refresh: float

    def start_liveness(self) -> None:
        """Called once the app is mounted."""
        self.set_interval(TICK_S, self._tick)

    def _tick(self) -> None:
        now = time.monotonic()
        if self.state.expire_typing(now):
            self.changes.roster.publish(None)
        if self._typing_to is not None and now - self._last_key > TYPING_IDLE_S:
            self._send_typing(self._typing_to, False)
        if now - self._last_refresh >= LAST_SEEN_REFRESH_S:
            self._last_refresh = now
            if any(c.last_seen is not None for c in self.state.contacts.values()):
                self.changes.roster.publish(None)  # "last seen 3 min ago" moves on

    # -- read markers -----------------------------------------------------------------

    @on(ConversationView.Seen)
    def seen(self, event: ConversationView.Seen) -> None:
        """The user has seen the peer's messages up to ``up_to``: mark them read, here at
        once and on the server shortly (one ``read`` for a burst)."""
        if not self.state.mark_read(event.user_id, event.up_to):
            return
        self.changes.roster.publish(None)
        if self.state.server_marks and self.server_acks:
            self._reads[event.user_id] = event.up_to
            self.send_reads_soon()

    def send_reads_soon(self) -> None:
        if self._reads and not self._reads_due and not self.exiting:
            self._reads_due = True
            self.set_timer(READ_DELAY_S, self._send_reads)

    def _send_reads(self) -> None:
        self._reads_due = False
        if self._reads and self.client.connected and not self.exiting:
            self.send_reads()

    @work(group="reads", exclusive=True)
    async def send_reads(self) -> None:
        """Send every marker not yet acknowledged; one the server has not taken (a lost
        link) stays for the next connection."""
        await self._send_reads_now()

    async def flush_reads(self, within: float = 2.0) -> None:
        """On the way out: what the user saw last is read on the server too (the short
        delay of send_reads_soon must not lose it)."""
        if self._reads and self.client.connected:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._send_reads_now(), within)

    async def _send_reads_now(self) -> None:
        for peer, up_to in list(self._reads.items()):
            payload = wire.read_request(peer, up_to, private=not self.config.read_receipts)
            try:
                ack = await self.client.call(p.READ, payload)
            except (ConnectionError, TimeoutError):
                return
            if self._reads.get(peer) == up_to:
                del self._reads[peer]
            if isinstance(ack, dict) and ack.get("error") == p.ERR_RATE_LIMITED:
                self._reads[peer] = up_to
                self.send_reads_soon()
                return

    # -- typing -----------------------------------------------------------------------

    @on(Composer.Changed)
    def composing(self, event: Composer.Changed) -> None:
        """Tell the peer you are typing: at the first keystroke, then every few seconds
        while you go on; ``false`` when the composer empties."""
        now = time.monotonic()
        to = self.state.open_id
        if not event.text_area.text:
            if self._typing_to is not None:
                self._send_typing(self._typing_to, False)
            return
        self._last_key = now
        if to is None or to == self.state.self_id:
            return
        if self._typing_to is not None and self._typing_to != to:
            self._send_typing(self._typing_to, False)
        if self._typing_to != to or now - self._typing_sent >= TYPING_REPEAT_S:
            self._send_typing(to, True)

    def stop_typing(self) -> None:
        """The message was sent, or another conversation opened: no longer typing (a sent
        message ends it on the peer's screen by itself)."""
        self._typing_to = None

    def _send_typing(self, to: str, typing: bool) -> None:
        if not (self.config.typing and self.server_acks and self.client.connected):
            return
        if typing:
            self._typing_to, self._typing_sent = to, time.monotonic()
        else:
            self._typing_to = None
        self.emit_quietly(p.TYPING, {"to": to, "typing": typing})

    @work(group="signals")
    async def emit_quietly(self, event: str, payload: dict[str, object]) -> None:
        """Send something that matters only now (typing): lost with the link, no retry."""
        with contextlib.suppress(ConnectionError):
            await self.client.emit(event, payload)

    # -- announcements ----------------------------------------------------------------

    def announce(self, user_id: str, msg: ChatMessage) -> None:
        """A new message the user is not looking at: toast, bell and (opt-in) desktop
        notification, at most one per conversation every few seconds."""
        contact = self.state.contacts.get(user_id)
        if contact is None or contact.muted:
            return
        held = self.throttle.allow(user_id, time.monotonic())
        if held is None:
            return
        name = self.state.names()[user_id]
        body = one_line(msg.content)
        if held:
            body = f"{body}  (+{held} more)"
        if self.config.bell:
            self.bell()
        self.notify(body, title=name, timeout=4, markup=False)
        if self.config.desktop_notifications:
            self.desktop_notify(name, body)

    def desktop_notify(self, title: str, body: str) -> None:
        write_sequence(self, desktop_sequence(title, body))

    def action_toggle_mute(self) -> None:
        """Alt+M: mute or unmute the open conversation (kept across restarts)."""
        contact = self.state.contacts.get(self.state.open_id or "")
        if contact is None:
            return
        contact.muted = not contact.muted
        try:
            self.prefs.set_muted(contact.user_id, contact.muted)
        except OSError as exc:
            self.notify(f"Could not save: {exc}", severity="warning", markup=False)
        name = self.state.names()[contact.user_id]
        self.notify(f"{'Muted' if contact.muted else 'Unmuted'} {name}.", timeout=2, markup=False)
        self.changes.roster.publish(None)
