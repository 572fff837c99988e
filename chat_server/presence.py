"""Who is online: which Socket.IO sids each user has open right now.

Presence is separate from the store on purpose: it is rebuilt from live connections, so
a restart starts everyone offline, and a late "offline" can never overwrite a newer
"online". LocalPresence serves one process; RedisPresence serves many processes sharing a
Redis, including the clean-up after a process that died without saying so.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
import uuid
from collections.abc import Awaitable, Callable
from typing import Any, Final, Protocol

from chat_server.stores.redis_common import PREFIX, client, text, unavailable
from chat_server.tasks import cancel_and_wait

log = logging.getLogger(__name__)

# (user_id, when they were last seen in ms, or None for now)
OfflineCallback = Callable[[str, int | None], Awaitable[None]]


class Presence(Protocol):
    """Tracks the open sockets of every user."""

    shared: bool  # True when other processes see the same presence

    async def start(self, on_offline: OfflineCallback) -> None:
        """Begin background work; ``on_offline(user_id, last_seen_ms)`` is awaited for users found
        offline by that work (their process died), once per user."""

    async def stop(self) -> None:
        """End background work."""

    async def add(self, user_id: str, sid: str) -> bool:
        """Record a socket; True when it is the user's first one (they came online)."""

    async def remove(self, user_id: str, sid: str) -> bool:
        """Forget a socket; True when it was the user's last one (they went offline)."""

    async def online(self) -> set[str]:
        """The userIDs with at least one socket, on any process."""

    async def count(self, user_id: str) -> int:
        """How many sockets the user has open, on any process."""

    async def socket_count(self) -> int:
        """How many sockets are open on this process."""


class LocalPresence:
    """Presence for a single server process."""

    shared = False

    def __init__(self) -> None:
        self._sids: dict[str, set[str]] = {}
        self._count = 0

    async def start(self, on_offline: OfflineCallback) -> None:
        """Nothing runs in the background."""

    async def stop(self) -> None:
        """Nothing to stop."""

    async def add(self, user_id: str, sid: str) -> bool:
        sids = self._sids.setdefault(user_id, set())
        first = not sids
        if sid not in sids:
            sids.add(sid)
            self._count += 1
        return first

    async def remove(self, user_id: str, sid: str) -> bool:
        sids = self._sids.get(user_id)
        if not sids or sid not in sids:
            return False
        sids.discard(sid)
        self._count -= 1
        if sids:
            return False
        del self._sids[user_id]
        return True

    async def online(self) -> set[str]:
        return set(self._sids)

    async def count(self, user_id: str) -> int:
        return len(self._sids.get(user_id, ()))

    async def socket_count(self) -> int:
        return self._count


# KEYS: presence:<user>, online, server:<me>, servers. ARGV: user, "<me>|<sid>", "<user>|<sid>", me
_ADD: Final = """
redis.call('SADD', KEYS[3], ARGV[3])
redis.call('SADD', KEYS[4], ARGV[4])
redis.call('SADD', KEYS[1], ARGV[2])
if redis.call('SCARD', KEYS[1]) == 1 then
  redis.call('SADD', KEYS[2], ARGV[1])
  return 1
end
return 0
"""

# KEYS: presence:<user>, online, server:<me>. ARGV: user, "<me>|<sid>", "<user>|<sid>"
_REMOVE: Final = """
redis.call('SREM', KEYS[3], ARGV[3])
if redis.call('SREM', KEYS[1], ARGV[2]) == 0 then
  return 0
end
if redis.call('SCARD', KEYS[1]) == 0 then
  redis.call('SREM', KEYS[2], ARGV[1])
  return 1
end
return 0
"""

# KEYS: server:<dead>, servers, online. ARGV: dead, prefix. Returns the users now offline.
_REAP: Final = """
local gone = {}
for _, entry in ipairs(redis.call('SMEMBERS', KEYS[1])) do
  local bar = string.find(entry, '|', 1, true)
  local user = string.sub(entry, 1, bar - 1)
  local sid = string.sub(entry, bar + 1)
  local key = ARGV[2] .. 'presence:' .. user
  if redis.call('SREM', key, ARGV[1] .. '|' .. sid) == 1 and redis.call('SCARD', key) == 0 then
    redis.call('SREM', KEYS[3], user)
    table.insert(gone, user)
  end
end
redis.call('DEL', KEYS[1])
redis.call('SREM', KEYS[2], ARGV[1])
return gone
"""


class RedisPresence:
    """Presence shared by every process on one Redis.

    Each process has an id and a heartbeat key that expires ``ttl`` seconds after its last
    beat. Every process checks the others every ``interval`` seconds; the first to find a
    dead one removes that process's sockets in one atomic script, so each user whose last
    socket was there is reported offline exactly once, by exactly one process.
    """

    shared = True

    def __init__(self, url: str, *, interval: float = 3.0, ttl: float = 9.0) -> None:
        self.redis = client(url)
        self.server_id = uuid.uuid4().hex[:16]
        self.interval, self.ttl = interval, ttl
        self._add = self.redis.register_script(_ADD)
        self._remove = self.redis.register_script(_REMOVE)
        self._reap = self.redis.register_script(_REAP)
        self._local: dict[str, str] = {}  # sid -> user, what this process really holds
        self._task: asyncio.Task[None] | None = None
        self._on_offline: OfflineCallback | None = None

    def _errors(self) -> tuple[type[Exception], ...]:
        from redis.exceptions import RedisError

        return (RedisError, OSError)

    async def _call(self, script: Any, keys: list[str], args: list[Any]) -> Any:
        with unavailable("presence: "):
            return await script(keys=keys, args=args)

    async def start(self, on_offline: OfflineCallback) -> None:
        self._on_offline = on_offline
        with contextlib.suppress(*self._errors()):
            await self._beat()
        self._task = asyncio.create_task(self._loop())

    async def stop(self) -> None:
        if self._task is not None:
            await cancel_and_wait([self._task])  # redis-py can swallow one cancellation
            self._task = None
        with contextlib.suppress(*self._errors()):
            # a clean stop: our sockets are gone already; let nobody wait for a reap
            await self.redis.delete(f"{PREFIX}alive:{self.server_id}")
            await self.redis.hdel(f"{PREFIX}beats", self.server_id)
            await self._reap(
                keys=[f"{PREFIX}server:{self.server_id}", f"{PREFIX}servers", f"{PREFIX}online"],
                args=[self.server_id, PREFIX],
            )
        await self.redis.aclose()

    async def _beat(self) -> None:
        async with self.redis.pipeline(transaction=False) as pipe:
            pipe.set(f"{PREFIX}alive:{self.server_id}", "1", px=int(self.ttl * 1000))
            # when it was last known alive: the last seen of users reaped after it dies
            pipe.hset(f"{PREFIX}beats", self.server_id, str(int(time.time() * 1000)))
            await pipe.execute()

    async def _loop(self) -> None:
        while True:
            await asyncio.sleep(self.interval)
            try:
                await self._beat()
                await self.reap_dead()
                await self.reconcile()
            except self._errors() as exc:
                log.warning("presence upkeep failed (Redis unreachable?): %s", exc)
            except Exception:
                log.exception("presence upkeep failed")

    async def reap_dead(self) -> list[str]:
        """Clean up after processes whose heartbeat expired; report their users offline,
        last seen at that process's last heartbeat."""
        gone: list[tuple[str, int | None]] = []
        for raw in await self.redis.smembers(f"{PREFIX}servers"):
            server = text(raw)
            if server == self.server_id or await self.redis.exists(f"{PREFIX}alive:{server}"):
                continue
            beat = await self.redis.hget(f"{PREFIX}beats", server)
            users = await self._reap(
                keys=[f"{PREFIX}server:{server}", f"{PREFIX}servers", f"{PREFIX}online"],
                args=[server, PREFIX],
            )
            await self.redis.hdel(f"{PREFIX}beats", server)
            log.warning("server %s stopped beating; %d users went offline", server, len(users))
            last = int(text(beat)) if beat is not None and text(beat).isdigit() else None
            gone.extend((text(u), last) for u in users)
        for user_id, last in gone:
            if self._on_offline is not None:
                await self._on_offline(user_id, last)
        return [user_id for user_id, _ in gone]

    async def reconcile(self) -> None:
        """Make Redis agree with the sockets this process really holds (after an outage,
        or a Redis that lost data): drop entries of sockets that are gone, restore ours."""
        key = f"{PREFIX}server:{self.server_id}"
        recorded = {text(e) for e in await self.redis.smembers(key)}
        live = {f"{user}|{sid}" for sid, user in self._local.items()}
        for entry in recorded - live:
            user, sid = entry.split("|", 1)
            if await self._raw_remove(user, sid) and self._on_offline is not None:
                await self._on_offline(user, None)
        for entry in live - recorded:
            user, sid = entry.split("|", 1)
            await self._raw_add(user, sid)

    async def _raw_add(self, user_id: str, sid: str) -> bool:
        keys = [
            f"{PREFIX}presence:{user_id}",
            f"{PREFIX}online",
            f"{PREFIX}server:{self.server_id}",
            f"{PREFIX}servers",
        ]
        args = [user_id, f"{self.server_id}|{sid}", f"{user_id}|{sid}", self.server_id]
        return bool(await self._call(self._add, keys, args))

    async def _raw_remove(self, user_id: str, sid: str) -> bool:
        keys = [
            f"{PREFIX}presence:{user_id}",
            f"{PREFIX}online",
            f"{PREFIX}server:{self.server_id}",
        ]
        args = [user_id, f"{self.server_id}|{sid}", f"{user_id}|{sid}"]
        return bool(await self._call(self._remove, keys, args))

    async def add(self, user_id: str, sid: str) -> bool:
        first = await self._raw_add(user_id, sid)
        self._local[sid] = user_id
        return first

    async def remove(self, user_id: str, sid: str) -> bool:
        self._local.pop(sid, None)
        return await self._raw_remove(user_id, sid)

    async def online(self) -> set[str]:
        with unavailable("presence: "):
            return {text(u) for u in await self.redis.smembers(f"{PREFIX}online")}

    async def count(self, user_id: str) -> int:
        with unavailable("presence: "):
            return int(await self.redis.scard(f"{PREFIX}presence:{user_id}"))

    async def socket_count(self) -> int:
        return len(self._local)
