"""What the Redis store does besides users and messages: sessions (list, revoke, check),
when users were last seen, deleting and pruning users, and retention. A mixin of
RedisStore, which provides the connection (``_r``) and the user cache."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

from chat_server.protocol import username_key
from chat_server.stores.base import SessionInfo, User, UserCache, UserInfo
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


class RedisAdmin(UserCache):
    """Sessions, last seen, deletion, pruning and retention on Redis."""

    retention_days: int | None
    _trim: Any

    @property
    def _r(self) -> aioredis.Redis:
        raise NotImplementedError

    async def list_users(self) -> list[User]:
        raise NotImplementedError

    # -- sessions ---------------------------------------------------------------------

    async def list_sessions(self) -> list[SessionInfo]:
        with unavailable():
            out: list[SessionInfo] = []
            for user in await self.list_users():
                created = await self._r.hgetall(f"{PREFIX}user_sessions:{user.user_id}")
                out.extend(SessionInfo(user, int(c)) for c in created.values())
        return sorted(out, key=lambda s: s.created_ms or 0)

    async def revoke_sessions(self, user_id: str) -> int:
        key = f"{PREFIX}user_sessions:{user_id}"
        with unavailable():
            hashes = [text(h) for h in await self._r.hkeys(key)]
            if not hashes:
                return 0
            pipe = self._r.pipeline(transaction=True)
            pipe.delete(*[f"{PREFIX}session:{h}" for h in hashes])
            pipe.delete(key)
            deleted, _ = await pipe.execute()
        return int(deleted)

    async def live_sessions(self, session_hashes: list[bytes]) -> set[bytes]:
        with unavailable():
            pipe = self._r.pipeline(transaction=False)
            for h in session_hashes:
                pipe.exists(f"{PREFIX}session:{h.hex()}")
            found = await pipe.execute()
        return {h for h, n in zip(session_hashes, found, strict=True) if n}

    # -- users ------------------------------------------------------------------------

    async def set_last_seen(self, user_id: str, when_ms: int) -> None:
        with unavailable():
            if await self._r.exists(f"{PREFIX}user:{user_id}"):
                await self._r.hset(f"{PREFIX}user:{user_id}", "seen", when_ms)

    async def _user_fields(self, users: list[User]) -> list[tuple[Any, Any, int, int]]:
        """(created, seen, sessions, peers) of each user, in one pipeline."""
        pipe = self._r.pipeline(transaction=False)
        for u in users:
            pipe.hmget(f"{PREFIX}user:{u.user_id}", ["created", "seen"])
            pipe.hlen(f"{PREFIX}user_sessions:{u.user_id}")
            pipe.scard(f"{PREFIX}peers:{u.user_id}")
        with unavailable():
            replies = await pipe.execute()
        out = []
        for i in range(len(users)):
            (created, seen), sessions, peers = replies[3 * i : 3 * i + 3]
            out.append((created, seen, int(sessions), int(peers)))
        return out

    async def user_infos(self) -> list[UserInfo]:
        users = list(await self.list_users())
        return [
            UserInfo(u, int_or_none(created), int_or_none(seen), sessions)
            for u, (created, seen, sessions, _) in zip(
                users, await self._user_fields(users), strict=True
            )
        ]

    async def delete_user(self, user_id: str) -> int:
        user = await self.get_user(user_id)
        if user is None:
            return 0
        r = self._r
        with unavailable():
            await self.revoke_sessions(user_id)
            peers = [text(p) for p in await r.smembers(f"{PREFIX}peers:{user_id}")]
            pipe = r.pipeline(transaction=True)
            for peer in peers:
                conv = conv_key(user_id, peer)
                pipe.xlen(conv)
                pipe.delete(conv, *side_keys(conv), last_key(conv))
                pipe.srem(f"{PREFIX}peers:{peer}", user_id)
                pipe.srem(f"{PREFIX}convs", conv)
            pipe.delete(f"{PREFIX}peers:{user_id}")
            pipe.delete(f"{PREFIX}read:{user_id}", f"{PREFIX}receipt:{user_id}")
            pipe.delete(f"{PREFIX}user:{user_id}")
            pipe.hincrby(f"{PREFIX}names", username_key(user.username), -1)
            pipe.rpush(f"{PREFIX}removed", user_id)
            replies = await pipe.execute()
            erased = sum(int(replies[4 * i]) for i in range(len(peers)))
            if erased:
                await r.decrby(f"{PREFIX}msgcount", erased)
            # the user's idempotency keys (an admin command: a scan of that prefix is fine)
            async for key in r.scan_iter(match=f"{PREFIX}cid:{user_id}:*", count=1000):
                await r.delete(key)
        self._drop_user(user_id)
        return erased

    async def removed_since(self, cursor: int) -> tuple[list[str], int]:
        with unavailable():
            removed = [text(u) for u in await self._r.lrange(f"{PREFIX}removed", cursor, -1)]
        for user_id in removed:
            self._drop_user(user_id)
        return removed, cursor + len(removed)

    async def idle_users(self, cutoff_ms: int) -> list[str]:
        users = list(await self.list_users())
        return [
            u.user_id
            for u, (created, seen, _, peers) in zip(
                users, await self._user_fields(users), strict=True
            )
            if not peers and (int_or_none(seen) or int_or_none(created) or 0) < cutoff_ms
        ]

    # -- retention --------------------------------------------------------------------

    async def apply_retention(self, now_ms: int | None = None) -> int:
        """Delete messages older than the retention period; returns how many."""
        if not self.retention_days:
            return 0
        cutoff_minute = (now_ms or int(time.time() * 1000)) // 60_000 - int(
            self.retention_days * 1440
        )
        with unavailable():
            marks = await self._r.hgetall(f"{PREFIX}idmarks")
            older = sorted(int(m) for m in marks if int(m) < cutoff_minute)
            newer = sorted(int(m) for m in marks if int(m) >= cutoff_minute)
            if not older:
                return 0
            # the first id stored at or after the cutoff; everything below it goes
            min_id = (
                int(marks[str(newer[0]).encode()])
                if newer
                else int(await self._r.get(f"{PREFIX}msgid") or 0) + 1
            )
            removed = 0
            async for conv in self._r.sscan_iter(f"{PREFIX}convs"):
                keys = [text(conv), *side_keys(text(conv))]
                removed += int(await self._trim(keys=keys, args=[min_id]))
            await self._r.hdel(f"{PREFIX}idmarks", *[str(m) for m in older])
            if removed:
                await self._r.decrby(f"{PREFIX}msgcount", removed)
        return removed
