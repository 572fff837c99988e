"""What the user writes, sent through the outbox, and older pages fetched (a part of
ChatApp)."""

from __future__ import annotations

import time
import uuid

from textual import on, work

from chat_server import protocol as p
from chat_tui import revisions, wire
from chat_tui.app_base import AppBase
from chat_tui.changes import Shown
from chat_tui.outbox import OutboxItem
from chat_tui.records import Ack, Delivery
from chat_tui.render import clock_ms
from chat_tui.screens.chat import ChatScreen
from chat_tui.widgets.composer import Composer
from chat_tui.widgets.conversation import ConversationView
from chat_tui.widgets.cursor import NeedNewer

HISTORY_PAGE = 50
HELD_NOTICE_EVERY_S = 15.0


class Outgoing(AppBase):
    """The user's side of the conversation."""

    _flushing: bool
    _last_held_notice: float  # monotonic time of the last "held back" notice

    # -- sending ----------------------------------------------------------------------

    @on(Composer.Submitted)
    def send_message(self, event: Composer.Submitted) -> None:
        # where the text was typed, even when a switch was handled before this Enter
        to = event.to or self.state.open_id
        if to is None or self.state.self_id is None:
            self.notify("Pick a conversation first.", severity="warning", markup=False)
            return

        if self.compose_submitted(to, event.text):
            return  # an edit (editing.py)
        self.back_to_latest(to)  # a new message goes at the end, not into a window
        reply_to = self.take_reply(to)
        item = OutboxItem(uuid.uuid4().hex, to, event.text, reply_to)
        self.outbox.add(item)
        own = self.state.add_own(to, event.text, item.client_id, ts=clock_ms())
        own.reply_to = reply_to
        self._conversation_changed(to, Shown.APPENDED)
        self.kick_outbox()

    @on(Composer.TooLong)
    def refuse_too_long(self, event: Composer.TooLong) -> None:
        self.notify(
            f"Too long to send: {event.length:,} characters; this server takes "
            f"{event.limit:,} at most. Your text stays in the composer.",
            severity="warning",
            markup=False,
        )

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
        payload = wire.send_payload(item.to, item.content, item.client_id, item.reply_to)
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
        """Ctrl+R: reconnect now when the link is down, and send the failed messages of
        the open conversation again."""
        if not self.client.connected:
            self.client.retry_now()
        contact = self.state.contacts.get(self.state.open_id or "")
        if contact is None:
            return
        for msg in contact.messages:
            if (
                msg.delivery is Delivery.FAILED
                and msg.client_id is not None
                and msg.error not in p.FINAL_SEND_ERRORS
            ):
                self.state.retry(contact.user_id, msg.client_id)
                self.outbox.add(
                    OutboxItem(msg.client_id, contact.user_id, msg.content, msg.reply_to)
                )
                self._conversation_changed(contact.user_id, Shown.CHANGED, msg)
        self.kick_outbox()

    # -- history ----------------------------------------------------------------------

    @on(ConversationView.NeedOlder)
    def need_older(self, event: ConversationView.NeedOlder) -> None:
        self.load_older(event.user_id)

    @on(NeedNewer)
    def need_newer(self, event: NeedNewer) -> None:
        self.load_newer(event.user_id)

    @work(group="newer", exclusive=True)
    async def load_newer(self, user_id: str) -> None:
        """The next page of a window (opened at a search hit or a reply's original)."""
        contact = self.state.contacts.get(user_id)
        sent = [m.id for m in contact.messages if m.id is not None] if contact else []
        count = 0
        if contact is not None and contact.has_newer and sent:
            try:
                ack = await self.client.call(
                    p.HISTORY, {"with": user_id, "after": sent[-1], "limit": HISTORY_PAGE}
                )
            except (ConnectionError, TimeoutError):
                ack = None
            if (page := wire.parse_history_ack(ack)) is not None:
                count = revisions.append_newer(self.state, user_id, page[0], wire.has_newer(ack))
        self._conversation_changed(user_id, Shown.APPENDED, count=count)

    @on(ChatScreen.Latest)
    def latest_asked(self, event: ChatScreen.Latest) -> None:
        self.back_to_latest(event.user_id)

    def back_to_latest(self, user_id: str) -> bool:
        """Leave a window for the conversation's latest page; False when not in one."""
        if not revisions.drop_window(self.state, user_id):
            return False
        self._conversation_changed(user_id, Shown.OPENED)
        self.load_older(user_id)
        return True

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
