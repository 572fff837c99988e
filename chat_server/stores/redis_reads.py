"""Read markers and last seen on Redis (a part of RedisStore).

chat:read:<userID>     HASH peer -> the user's marker on the peer's messages
chat:receipt:<userID>  HASH peer -> "<marker> <at ms>": the user's last public one,
                                    which the peer sees as a receipt
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Final

from chat_server.stores.base import ReadState, UserCache
from chat_server.stores.redis_common import (
    PREFIX,
    conv_key,
    int_or_none,
    last_key,
    side_keys,
    text,
    unavailable,
)

if TYPE_CHECKING:
    import redis.asyncio as aioredis

UNREAD_CAP: Final = 10_000  # unread counts stop here (a conversation's worth of scrolling)


class RedisReads(UserCache):
    """Read markers, receipts, unread counts and last seen."""

    _count_unread: Any

    @property
    def _r(self) -> aioredis.Redis:
        raise NotImplementedError

    async def read_states(self, user_id: str, peer_ids: list[str]) -> dict[str, ReadState]:
        r = self._r
        with unavailable():
            mine = {
                text(k): int(v) for k, v in (await r.hgetall(f"{PREFIX}read:{user_id}")).items()
            }
            pipe = r.pipeline(transaction=False)
            for peer in peer_ids:
                pipe.hget(f"{PREFIX}receipt:{peer}", user_id)
            receipts = await pipe.execute()
            pipe = r.pipeline(transaction=False)
            for peer in peer_ids:
                args = [peer, mine.get(peer, 0), UNREAD_CAP if peer != user_id else 0]
                conv = conv_key(user_id, peer)
                keys = [conv, side_keys(conv)[0], last_key(conv)]
                await self._count_unread(keys=keys, args=args, client=pipe)
            unread = await pipe.execute()
        out = {}
        for peer, receipt, count in zip(peer_ids, receipts, unread, strict=True):
            shown, _, at = text(receipt).partition(" ") if receipt else (None, "", None)
            out[peer] = ReadState(
                mine.get(peer), int_or_none(shown), int_or_none(at or None), int(count)
            )
        return out

    async def last_seen(self, user_ids: list[str]) -> dict[str, int]:
        with unavailable():
            pipe = self._r.pipeline(transaction=False)
            for u in user_ids:
                pipe.hget(f"{PREFIX}user:{u}", "seen")
            seen = await pipe.execute()
        return {u: int(text(s)) for u, s in zip(user_ids, seen, strict=True) if s is not None}
