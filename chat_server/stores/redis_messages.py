"""Reading, editing, deleting and searching messages on Redis (a part of RedisStore).

A conversation is a stream (who, when, replyTo: immutable) and three hashes beside it
(redis_common.side_keys): the body (the text), the words (search) and edit times. The text
is never in the stream: a stream keeps the bytes of deleted entries, a hash does not, so a
delete (HDEL) leaves no copy behind. A message id does not say which conversation holds
it; the caller's own conversations are looked up (one pipelined round trip), which is also
the authorisation: nobody reaches a message outside their conversations.

Search is a Lua scan of the words hash of each of the caller's conversations (or of the
one asked for), inside Redis: it costs in proportion to the messages of those
conversations, never to the database (docs/performance.md).
"""

from __future__ import annotations

import heapq
from typing import TYPE_CHECKING, Any, Final

from chat_server.stores.base import Message, NoSuchMessage, NotYourMessage, Page, UserCache
from chat_server.stores.redis_common import PREFIX, conv_key, side_keys, text, unavailable
from chat_server.text import search_words

if TYPE_CHECKING:
    import redis.asyncio as aioredis

NO_BEFORE: Final = 2**63 - 1


def row_to_message(row: list[Any]) -> Message:
    """A script's row (redis_scripts._ROW) as a Message."""
    f = [text(x) for x in row]
    deleted = f[7] == "1"
    return Message(
        id=int(f[0]),
        from_id=f[1],
        to_id=f[2],
        content="" if deleted else f[3],
        ts=int(f[4] or 0),
        client_id=f[5] or None,
        edited_at=int(f[6]) if f[6] else None,
        deleted=deleted,
        reply_to=int(f[8]) if f[8] else None,
    )


def index_words(content: str) -> str:
    """What the words hash holds for a message."""
    return " ".join(search_words(content))


class RedisMessages(UserCache):
    """history, latest_pages, get_message, edit_message, delete_message, search_messages."""

    _read: Any
    _change: Any
    _search: Any

    @property
    def _r(self) -> aioredis.Redis:
        raise NotImplementedError

    async def _rows(self, conv: str, *args: Any, client: Any = None) -> Any:
        return await self._read(keys=[conv, *side_keys(conv)[::2]], args=list(args), client=client)

    async def _page(self, conv: str, before: int | None, limit: int, after: int | None) -> Page:
        if after is not None and after < 0:
            after = 0  # every id is above it (and "(-1-0" is no stream id)
        if before is not None and before <= 1:  # nothing is older
            newer = bool(await self._r.xrange(conv, "-", "+", count=1))
            return Page([], has_more=False, has_newer=newer)
        pipe = self._r.pipeline(transaction=False)
        if after is not None:
            await self._rows(conv, "fwd", f"({after}-0", "+", limit + 1, client=pipe)
            pipe.xrevrange(conv, f"{after}-0", "-", count=1)  # anything older?
        elif before is not None:
            await self._rows(conv, "rev", f"({before}-0", "-", limit + 1, client=pipe)
            pipe.xrange(conv, f"{before}-0", "+", count=1)  # anything newer?
        else:  # the latest page: nothing is newer
            await self._rows(conv, "rev", "+", "-", limit + 1, client=pipe)
        rows, *other_side = await pipe.execute()
        other = bool(other_side and other_side[0])
        msgs = [row_to_message(r) for r in rows[:limit]]
        if after is not None:
            return Page(msgs, has_more=bool(other), has_newer=len(rows) > limit)
        msgs.reverse()
        return Page(msgs, has_more=len(rows) > limit, has_newer=before is not None and bool(other))

    async def history(
        self,
        user_id: str,
        peer_id: str,
        before: int | None,
        limit: int,
        after: int | None = None,
    ) -> Page:
        with unavailable():
            return await self._page(conv_key(user_id, peer_id), before, limit, after)

    async def latest_pages(self, user_id: str, peer_ids: list[str], limit: int) -> dict[str, Page]:
        with unavailable():
            pipe = self._r.pipeline(transaction=False)
            for peer in peer_ids:
                await self._rows(conv_key(user_id, peer), "rev", "+", "-", limit + 1, client=pipe)
            results: list[Any] = await pipe.execute()
        out: dict[str, Page] = {}
        for peer, rows in zip(peer_ids, results, strict=True):
            if rows:
                msgs = [row_to_message(r) for r in rows[:limit]]
                msgs.reverse()
                out[peer] = Page(msgs, len(rows) > limit)
        return out

    async def _conversation_of(self, user_id: str, message_id: int) -> str | None:
        """The key of the conversation of ``user_id``'s that holds this message."""
        with unavailable():
            peers = [text(p) for p in await self._r.smembers(f"{PREFIX}peers:{user_id}")]
            if not peers:
                return None
            pipe = self._r.pipeline(transaction=False)
            convs = [conv_key(user_id, peer) for peer in peers]
            for conv in convs:
                pipe.xrange(conv, f"{message_id}-0", f"{message_id}-0")
            found = await pipe.execute()
        return next((c for c, hit in zip(convs, found, strict=True) if hit), None)

    async def get_message(self, user_id: str, message_id: int) -> Message | None:
        conv = await self._conversation_of(user_id, message_id)
        if conv is None:
            return None
        with unavailable():
            rows = await self._rows(conv, "ids", message_id)
        return row_to_message(rows[0]) if rows else None

    async def _change_message(self, user_id: str, message_id: int, *edit: Any) -> list[Any]:
        conv = await self._conversation_of(user_id, message_id)
        if conv is None:
            raise NoSuchMessage(message_id)
        with unavailable():
            reply = await self._change(
                keys=[conv, *side_keys(conv)], args=[message_id, user_id, *edit]
            )
        status = text(reply[0])
        if status == "none":
            raise NoSuchMessage(message_id)
        if status == "notyours":
            raise NotYourMessage(message_id)
        return [status, row_to_message(reply[1:])]

    async def edit_message(
        self, user_id: str, message_id: int, content: str, at_ms: int
    ) -> Message:
        _, msg = await self._change_message(
            user_id, message_id, content, index_words(content), at_ms
        )
        assert isinstance(msg, Message)
        return msg

    async def delete_message(self, user_id: str, message_id: int) -> tuple[Message, bool]:
        status, msg = await self._change_message(user_id, message_id)
        return msg, status == "ok"

    async def search_messages(
        self, user_id: str, words: list[str], peer_id: str | None, before: int | None, limit: int
    ) -> tuple[list[Message], bool]:
        with unavailable():
            if peer_id is None:
                peers = [text(p) for p in await self._r.smembers(f"{PREFIX}peers:{user_id}")]
            else:
                peers = [peer_id]
            convs = [conv_key(user_id, peer) for peer in peers]
            pipe = self._r.pipeline(transaction=False)
            top = NO_BEFORE if before is None else before
            for conv in convs:
                keys = [side_keys(conv)[1]]
                await self._search(keys=keys, args=[top, limit + 1, *words], client=pipe)
            found: list[Any] = await pipe.execute()
            hits = heapq.merge(
                *([(int(i), conv) for i in ids] for conv, ids in zip(convs, found, strict=True)),
                key=lambda hit: -hit[0],
            )
            best = list(hits)[: limit + 1]
            pipe = self._r.pipeline(transaction=False)
            for msg_id, conv in best[:limit]:
                await self._rows(conv, "ids", msg_id, client=pipe)
            rows = await pipe.execute()
        # a delete between the scan and the read: never a hit
        msgs = [m for m in (row_to_message(r[0]) for r in rows if r) if not m.deleted]
        return msgs, len(best) > limit
