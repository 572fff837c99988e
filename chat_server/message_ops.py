"""The handlers of what can be done to messages once sent: edit, delete, reply (a send
with ``replyTo``), search, and ``history`` around a message. A mixin of ChatNamespace.

Only the sender edits or deletes a message; the other participant is told "not your
message", anybody else "no such message", so ids reveal nothing of others' conversations
(the store looks a message up among the caller's own conversations only). Every other
socket of both users hears of an edit or a delete; the socket that asked has its ack.
"""

from __future__ import annotations

import asyncio
import time
from typing import TYPE_CHECKING, Any

from chat_server import protocol as p
from chat_server import protocol_edits as pe
from chat_server.config import Config
from chat_server.roster import wire_message
from chat_server.stores import Message, NoSuchMessage, NotYourMessage, Store
from chat_server.stores.base import conversation_key


def _now_ms() -> int:
    return time.time_ns() // 1_000_000


class MessageOps:
    """edit message, delete message, search, replies and history around a message."""

    config: Config
    store: Store

    if TYPE_CHECKING:  # socketio.AsyncNamespace's, which follows this class in the MRO

        async def emit(self, event: str, data: Any, **options: Any) -> None: ...

    async def reply_target(self, user_id: str, peer_id: str, message_id: int) -> Message:
        """The message ``message_id`` of the conversation of ``user_id`` and ``peer_id``:
        what a reply may answer and ``around`` may centre on. A deleted one too: a reply
        may have been stored just before its original was deleted, and its resend (same
        clientId) must still be acked."""
        msg = await self.store.get_message(user_id, message_id)
        if msg is None:
            raise p.ProtocolError(p.ERR_NO_SUCH_MESSAGE)
        if conversation_key(msg.from_id, msg.to_id) != conversation_key(user_id, peer_id):
            raise p.ProtocolError(p.ERR_NO_SUCH_MESSAGE)
        return msg

    async def _tell_both(self, event: str, payload: Any, msg: Message, skip_sid: str) -> None:
        rooms = [msg.from_id] if msg.from_id == msg.to_id else [msg.from_id, msg.to_id]
        await self.emit(event, payload, room=rooms, skip_sid=skip_sid)

    async def handle_edit(self, conn: Any, data: object) -> dict[str, Any]:
        req = pe.parse_edit(data, self.config.max_message_length)
        # shielded: stored means told, even if this request is cancelled meanwhile
        msg = await asyncio.shield(self._edit(conn.user_id, conn.sid, req))
        return {"message": wire_message(msg)}

    async def _edit(self, user_id: str, sid: str, req: pe.EditRequest) -> Message:
        try:
            msg = await self.store.edit_message(user_id, req.id, req.content, _now_ms())
        except NoSuchMessage:
            raise p.ProtocolError(p.ERR_NO_SUCH_MESSAGE) from None
        except NotYourMessage:
            raise p.ProtocolError(p.ERR_NOT_YOUR_MESSAGE) from None
        await self._tell_both(p.MESSAGE_EDITED, wire_message(msg), msg, sid)
        return msg

    async def handle_delete(self, conn: Any, data: object) -> dict[str, Any]:
        msg_id = pe.parse_delete(data)
        await asyncio.shield(self._delete(conn.user_id, conn.sid, msg_id))
        return {"ok": True}

    async def _delete(self, user_id: str, sid: str, msg_id: int) -> None:
        try:
            msg, deleted = await self.store.delete_message(user_id, msg_id)
        except NoSuchMessage:
            raise p.ProtocolError(p.ERR_NO_SUCH_MESSAGE) from None
        except NotYourMessage:
            raise p.ProtocolError(p.ERR_NOT_YOUR_MESSAGE) from None
        if deleted:  # already deleted: everyone was told then
            payload = {"id": msg.id, "from": msg.from_id, "to": msg.to_id}
            await self._tell_both(p.MESSAGE_DELETED, payload, msg, sid)

    async def handle_search(self, conn: Any, data: object) -> dict[str, Any]:
        req = pe.parse_search(data)
        if req.peer is not None and await self.store.get_user(req.peer) is None:
            raise p.ProtocolError(p.ERR_UNKNOWN_USER)
        found, more = await self.store.search_messages(
            conn.user_id, req.words, req.peer, req.before, req.limit
        )
        return {"messages": [wire_message(m) for m in found], "hasMore": more}

    async def history_page(self, user_id: str, req: p.HistoryRequest) -> dict[str, Any]:
        """The ``history`` ack: a page before, after or around a message."""
        store = self.store
        if req.around is not None:
            await self.reply_target(user_id, req.peer, req.around)
            older = await store.history(user_id, req.peer, req.around + 1, req.limit + 1)
            newer = await store.history(user_id, req.peer, None, req.limit, after=req.around)
            msgs = older.messages + newer.messages
            more, newer_exist = older.has_more, newer.has_newer
        else:
            page = await store.history(user_id, req.peer, req.before, req.limit, after=req.after)
            msgs, more, newer_exist = page.messages, page.has_more, page.has_newer
        return {
            "messages": [wire_message(m) for m in msgs],
            "hasMore": more,
            "hasNewer": newer_exist,
        }
