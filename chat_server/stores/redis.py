"""The Redis store (``redis://host:port/db``): what several chat-server processes share.

Key layout (prefix ``chat:``; docs/scaling.md has the full table):

    chat:users                 LIST   userIDs in creation order
    chat:user:<userID>         HASH   username, created
    chat:names                 HASH   username key (casefold) -> how many users use it
    chat:session:<sha256 hex>  STRING userID (no expiry: sessions last until revoked)
    chat:user_sessions:<userID> HASH  sha256 hex -> created (ms), for listing and revoking
    chat:msgid                 STRING the last message id (INCR)
    chat:msgcount              STRING how many messages are stored
    chat:conv:<a>:<b>          STREAM one entry per message, entry id "<message id>-0";
                                      fields f (from), t (to), c (content), ts, cid
    chat:peers:<userID>        SET    userIDs this user has exchanged messages with
    chat:convs                 SET    every conversation key (for retention)
    chat:cid:<from>:<clientId> STRING "<message id> <conversation key>" (idempotency)
    chat:idmarks               HASH   minute (epoch) -> first message id stored in it
    chat:removed               LIST   userIDs deleted (``users delete``, pruning), in order

A user's hash also holds ``seen`` (ms: the end of their last connection). chat:users is
append-only; a deleted user's entry stays in it, without its hash.

Every write is one Lua script, so it is atomic across processes. Paging is XREVRANGE on
the conversation's stream from an exclusive id: a seek, never a scan.
"""

from __future__ import annotations

import time
from typing import Any, Final

from chat_server.protocol import username_key
from chat_server.stores.base import (
    Message,
    Page,
    Saved,
    SessionInfo,
    StoreUnavailable,
    User,
    UserCache,
    UserIdTaken,
    UserInfo,
    UsernameTaken,
    conversation_key,
)
from chat_server.stores.batching import Batcher

try:
    import redis.asyncio as aioredis
    from redis.exceptions import ConnectionError as RedisConnectionError
    from redis.exceptions import RedisError
    from redis.exceptions import TimeoutError as RedisTimeoutError
except ImportError as exc:  # pragma: no cover - depends on the installed extras
    raise ImportError(
        "the Redis store needs the 'redis' package: pip install 'chat-private-messaging[redis]'"
    ) from exc

PREFIX: Final = "chat:"
_SendArgs = tuple[str, str, str, str | None]

# KEYS: user, users, names, session, user_sessions. ARGV: userID, username, name key,
# created, unique, session hash
_CREATE_USER: Final = """
if ARGV[5] == '1' and tonumber(redis.call('HGET', KEYS[3], ARGV[3]) or '0') > 0 then
  return 'taken'
end
if redis.call('HSETNX', KEYS[1], 'username', ARGV[2]) == 0 then
  return 'idtaken'
end
redis.call('HSET', KEYS[1], 'created', ARGV[4])
redis.call('RPUSH', KEYS[2], ARGV[1])
redis.call('HINCRBY', KEYS[3], ARGV[3], 1)
redis.call('SET', KEYS[4], ARGV[1])
redis.call('HSET', KEYS[5], ARGV[6], ARGV[4])
return 'ok'
"""

# KEYS: msgid, conv, peers:from, peers:to, convs, idmarks, cid (or ""), msgcount
# ARGV: from, to, content, ts, clientId (or ""), minute, conv key, cid ttl (0: none)
# Returns {created (0/1), id, from, to, content, ts, clientId}
_SAVE_MESSAGE: Final = """
if ARGV[5] ~= '' then
  local found = redis.call('GET', KEYS[7])
  if found then
    local sp = string.find(found, ' ')
    local id = string.sub(found, 1, sp - 1)
    local conv = string.sub(found, sp + 1)
    local entry = redis.call('XRANGE', conv, id .. '-0', id .. '-0')
    if #entry == 1 then
      local f = {}
      local fields = entry[1][2]
      for i = 1, #fields, 2 do f[fields[i]] = fields[i + 1] end
      return {0, id, f['f'], f['t'], f['c'], f['ts'], f['cid'] or ''}
    end
  end
end
local id = redis.call('INCR', KEYS[1])
redis.call('INCR', KEYS[8])
redis.call('XADD', KEYS[2], id .. '-0', 'f', ARGV[1], 't', ARGV[2], 'c', ARGV[3],
           'ts', ARGV[4], 'cid', ARGV[5])
redis.call('SADD', KEYS[3], ARGV[2])
redis.call('SADD', KEYS[4], ARGV[1])
redis.call('SADD', KEYS[5], ARGV[7])
redis.call('HSETNX', KEYS[6], ARGV[6], id)
if ARGV[5] ~= '' then
  if tonumber(ARGV[8]) > 0 then
    redis.call('SET', KEYS[7], id .. ' ' .. ARGV[7], 'EX', ARGV[8])
  else
    redis.call('SET', KEYS[7], id .. ' ' .. ARGV[7])
  end
end
return {1, tostring(id), ARGV[1], ARGV[2], ARGV[3], ARGV[4], ARGV[5]}
"""


def text(value: object) -> str:
    """A Redis reply as str (replies are bytes; the stubs say bytes | str)."""
    return value.decode() if isinstance(value, bytes) else str(value)


def _int_or_none(value: object) -> int | None:
    return None if value is None else int(text(value))


def _conv_key(a: str, b: str) -> str:
    x, y = conversation_key(a, b)
    return f"{PREFIX}conv:{x}:{y}"


def _entry_to_message(entry_id: bytes | str, fields: dict[Any, Any]) -> Message:
    def get(name: str) -> str:
        value = fields.get(name.encode()) if name.encode() in fields else fields.get(name)
        return text(value) if value is not None else ""

    eid = text(entry_id)
    cid = get("cid")
    return Message(
        id=int(eid.split("-", 1)[0]),
        from_id=get("f"),
        to_id=get("t"),
        content=get("c"),
        ts=int(get("ts") or 0),
        client_id=cid or None,
    )


class RedisStore(UserCache):
    """Redis back end; safe to share between any number of chat-server processes."""

    kind = "redis"

    def __init__(self, url: str, retention_days: int | None = None) -> None:
        super().__init__()
        self.url = url
        self.retention_days = retention_days
        self.redis: aioredis.Redis | None = None
        self._create_user: Any = None
        self._save_message: Any = None
        self._batcher: Batcher[_SendArgs, Saved] = Batcher(self._write_batch)
        self._synced = 0  # entries of chat:users read so far

    @property
    def _r(self) -> aioredis.Redis:
        if self.redis is None:
            raise StoreUnavailable("store is not open")
        return self.redis

    async def open(self) -> None:
        self.redis = aioredis.Redis.from_url(
            self.url, socket_timeout=5, socket_connect_timeout=5, health_check_interval=10
        )
        self._create_user = self.redis.register_script(_CREATE_USER)
        self._save_message = self.redis.register_script(_SAVE_MESSAGE)
        try:
            await self.redis.ping()
        except RedisError as exc:
            await self.redis.aclose()
            self.redis = None
            raise StoreUnavailable(f"cannot reach Redis at {self.url}: {exc}") from exc

    async def close(self) -> None:
        await self._batcher.drain()
        if self.redis is not None:
            await self.redis.aclose()
            self.redis = None

    # -- users ------------------------------------------------------------------------

    async def create_user(
        self, user_id: str, username: str, session_hash: bytes, *, unique: bool = False
    ) -> User:
        keys = [
            f"{PREFIX}user:{user_id}",
            f"{PREFIX}users",
            f"{PREFIX}names",
            f"{PREFIX}session:{session_hash.hex()}",
            f"{PREFIX}user_sessions:{user_id}",
        ]
        args = [
            user_id,
            username,
            username_key(username),
            int(time.time() * 1000),
            int(unique),
            session_hash.hex(),
        ]
        try:
            result = await self._create_user(keys=keys, args=args)
        except (RedisConnectionError, RedisTimeoutError) as exc:
            raise StoreUnavailable(str(exc)) from exc
        result = text(result)
        if result == "taken":
            raise UsernameTaken(username)
        if result == "idtaken":
            raise UserIdTaken(user_id)
        # the roster order comes from chat:users (_sync_users), not from this call
        return self._users.setdefault(user_id, User(user_id, username))

    async def _sync_users(self) -> None:
        """Pick up users created by other processes (the cache only grows)."""
        try:
            ids = await self._r.lrange(f"{PREFIX}users", self._synced, -1)
            if not ids:
                return
            pipe = self._r.pipeline(transaction=False)
            for raw in ids:
                pipe.hget(f"{PREFIX}user:{text(raw)}", "username")
            names = await pipe.execute()
        except (RedisConnectionError, RedisTimeoutError) as exc:
            raise StoreUnavailable(str(exc)) from exc
        for raw, name in zip(ids, names, strict=True):
            if name is not None:  # None: deleted since
                self._add_user(User(text(raw), text(name)))
        self._synced += len(ids)

    async def user_for_session(self, session_hash: bytes) -> User | None:
        try:
            raw = await self._r.get(f"{PREFIX}session:{session_hash.hex()}")
        except (RedisConnectionError, RedisTimeoutError) as exc:
            raise StoreUnavailable(str(exc)) from exc
        return None if raw is None else await self.get_user(text(raw))

    async def get_user(self, user_id: str) -> User | None:
        user = self._users.get(user_id)
        if user is not None:
            return user
        try:
            name = await self._r.hget(f"{PREFIX}user:{user_id}", "username")
        except (RedisConnectionError, RedisTimeoutError) as exc:
            raise StoreUnavailable(str(exc)) from exc
        return None if name is None else self._users.setdefault(user_id, User(user_id, text(name)))

    async def list_users(self) -> list[User]:
        await self._sync_users()
        return self._user_list

    async def search_users(
        self, prefix: str, after: str | None, limit: int
    ) -> tuple[list[User], bool]:
        await self._sync_users()
        return await super().search_users(prefix, after, limit)

    # -- messages ---------------------------------------------------------------------

    async def save_message(
        self, from_id: str, to_id: str, content: str, client_id: str | None = None
    ) -> Saved:
        # group commit: concurrent saves go out as one pipeline, applied in call order
        return await self._batcher.submit((from_id, to_id, content, client_id))

    async def _write_batch(self, items: list[_SendArgs]) -> list[Saved | Exception]:
        now = int(time.time() * 1000)
        cid_ttl = int(self.retention_days * 86400) if self.retention_days else 0
        pipe = self._r.pipeline(transaction=False)
        for from_id, to_id, content, client_id in items:
            conv = _conv_key(from_id, to_id)
            keys = [
                f"{PREFIX}msgid",
                conv,
                f"{PREFIX}peers:{from_id}",
                f"{PREFIX}peers:{to_id}",
                f"{PREFIX}convs",
                f"{PREFIX}idmarks",
                f"{PREFIX}cid:{from_id}:{client_id}" if client_id else f"{PREFIX}cid:-",
                f"{PREFIX}msgcount",
            ]
            args = [from_id, to_id, content, now, client_id or "", now // 60_000, conv, cid_ttl]
            await self._save_message(keys=keys, args=args, client=pipe)
        try:
            replies = await pipe.execute(raise_on_error=False)
        except (RedisConnectionError, RedisTimeoutError) as exc:
            raise StoreUnavailable(str(exc)) from exc
        out: list[Saved | Exception] = []
        for r in replies:
            if isinstance(r, Exception):
                out.append(StoreUnavailable(str(r)))
                continue
            f = [text(x) for x in r[1:]]
            msg = Message(
                id=int(f[0]),
                from_id=f[1],
                to_id=f[2],
                content=f[3],
                ts=int(f[4]),
                client_id=f[5] or None,
            )
            out.append(Saved(msg, created=bool(int(r[0]))))
        return out

    async def _page(self, conv: str, before: int | None, limit: int) -> Page:
        top = f"({before}-0" if before is not None else "+"
        entries: Any = await self._r.xrevrange(conv, top, "-", count=limit + 1)
        has_more = len(entries) > limit
        msgs = [_entry_to_message(eid, fields) for eid, fields in entries[:limit]]
        msgs.reverse()
        return Page(msgs, has_more)

    async def conversations(self, user_id: str) -> list[tuple[str, int]]:
        try:
            peers = [text(p) for p in await self._r.smembers(f"{PREFIX}peers:{user_id}")]
            pipe = self._r.pipeline(transaction=False)
            for peer in peers:
                pipe.xrevrange(_conv_key(user_id, peer), "+", "-", count=1)
            results: list[Any] = await pipe.execute()
        except (RedisConnectionError, RedisTimeoutError) as exc:
            raise StoreUnavailable(str(exc)) from exc
        found = [
            (peer, int(text(entries[0][0]).split("-", 1)[0]))
            for peer, entries in zip(peers, results, strict=True)
            if entries  # none: trimmed away by retention
        ]
        return sorted(found, key=lambda c: -c[1])

    async def latest_pages(self, user_id: str, peer_ids: list[str], limit: int) -> dict[str, Page]:
        try:
            pipe = self._r.pipeline(transaction=False)
            for peer in peer_ids:
                pipe.xrevrange(_conv_key(user_id, peer), "+", "-", count=limit + 1)
            results: list[Any] = await pipe.execute()
        except (RedisConnectionError, RedisTimeoutError) as exc:
            raise StoreUnavailable(str(exc)) from exc
        out: dict[str, Page] = {}
        for peer, entries in zip(peer_ids, results, strict=True):
            if not entries:
                continue
            msgs = [_entry_to_message(eid, f) for eid, f in entries[:limit]]
            msgs.reverse()
            out[peer] = Page(msgs, len(entries) > limit)
        return out

    async def history(self, user_id: str, peer_id: str, before: int | None, limit: int) -> Page:
        try:
            return await self._page(_conv_key(user_id, peer_id), before, limit)
        except (RedisConnectionError, RedisTimeoutError) as exc:
            raise StoreUnavailable(str(exc)) from exc

    async def counts(self) -> dict[str, int]:
        try:
            pipe = self._r.pipeline(transaction=False)
            pipe.llen(f"{PREFIX}users")
            pipe.llen(f"{PREFIX}removed")
            pipe.get(f"{PREFIX}msgcount")
            users, removed, messages = await pipe.execute()
        except (RedisConnectionError, RedisTimeoutError) as exc:
            raise StoreUnavailable(str(exc)) from exc
        return {"users": int(users) - int(removed), "messages": int(messages or 0)}

    async def list_sessions(self) -> list[SessionInfo]:
        try:
            out: list[SessionInfo] = []
            for user in await self.list_users():
                created = await self._r.hgetall(f"{PREFIX}user_sessions:{user.user_id}")
                out.extend(SessionInfo(user, int(c)) for c in created.values())
        except (RedisConnectionError, RedisTimeoutError) as exc:
            raise StoreUnavailable(str(exc)) from exc
        return sorted(out, key=lambda s: s.created_ms or 0)

    async def revoke_sessions(self, user_id: str) -> int:
        key = f"{PREFIX}user_sessions:{user_id}"
        try:
            hashes = [text(h) for h in await self._r.hkeys(key)]
            if not hashes:
                return 0
            pipe = self._r.pipeline(transaction=True)
            pipe.delete(*[f"{PREFIX}session:{h}" for h in hashes])
            pipe.delete(key)
            deleted, _ = await pipe.execute()
        except (RedisConnectionError, RedisTimeoutError) as exc:
            raise StoreUnavailable(str(exc)) from exc
        return int(deleted)

    async def live_sessions(self, session_hashes: list[bytes]) -> set[bytes]:
        try:
            pipe = self._r.pipeline(transaction=False)
            for h in session_hashes:
                pipe.exists(f"{PREFIX}session:{h.hex()}")
            found = await pipe.execute()
        except (RedisConnectionError, RedisTimeoutError) as exc:
            raise StoreUnavailable(str(exc)) from exc
        return {h for h, n in zip(session_hashes, found, strict=True) if n}

    async def set_last_seen(self, user_id: str, when_ms: int) -> None:
        try:
            if await self._r.exists(f"{PREFIX}user:{user_id}"):
                await self._r.hset(f"{PREFIX}user:{user_id}", "seen", when_ms)
        except (RedisConnectionError, RedisTimeoutError) as exc:
            raise StoreUnavailable(str(exc)) from exc

    async def _user_fields(self, users: list[User]) -> list[tuple[Any, Any, int, int]]:
        """(created, seen, sessions, peers) of each user, in one pipeline."""
        pipe = self._r.pipeline(transaction=False)
        for u in users:
            pipe.hmget(f"{PREFIX}user:{u.user_id}", ["created", "seen"])
            pipe.hlen(f"{PREFIX}user_sessions:{u.user_id}")
            pipe.scard(f"{PREFIX}peers:{u.user_id}")
        try:
            replies = await pipe.execute()
        except (RedisConnectionError, RedisTimeoutError) as exc:
            raise StoreUnavailable(str(exc)) from exc
        out = []
        for i in range(len(users)):
            (created, seen), sessions, peers = replies[3 * i : 3 * i + 3]
            out.append((created, seen, int(sessions), int(peers)))
        return out

    async def user_infos(self) -> list[UserInfo]:
        users = list(await self.list_users())
        return [
            UserInfo(u, _int_or_none(created), _int_or_none(seen), sessions)
            for u, (created, seen, sessions, _) in zip(
                users, await self._user_fields(users), strict=True
            )
        ]

    async def delete_user(self, user_id: str) -> int:
        user = await self.get_user(user_id)
        if user is None:
            return 0
        r = self._r
        try:
            await self.revoke_sessions(user_id)
            peers = [text(p) for p in await r.smembers(f"{PREFIX}peers:{user_id}")]
            pipe = r.pipeline(transaction=True)
            for peer in peers:
                pipe.xlen(_conv_key(user_id, peer))
                pipe.delete(_conv_key(user_id, peer))
                pipe.srem(f"{PREFIX}peers:{peer}", user_id)
                pipe.srem(f"{PREFIX}convs", _conv_key(user_id, peer))
            pipe.delete(f"{PREFIX}peers:{user_id}")
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
        except (RedisConnectionError, RedisTimeoutError) as exc:
            raise StoreUnavailable(str(exc)) from exc
        self._drop_user(user_id)
        return erased

    async def removed_since(self, cursor: int) -> tuple[list[str], int]:
        try:
            removed = [text(u) for u in await self._r.lrange(f"{PREFIX}removed", cursor, -1)]
        except (RedisConnectionError, RedisTimeoutError) as exc:
            raise StoreUnavailable(str(exc)) from exc
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
            if not peers and (_int_or_none(seen) or _int_or_none(created) or 0) < cutoff_ms
        ]

    async def apply_retention(self, now_ms: int | None = None) -> int:
        """Delete messages older than the retention period; returns how many."""
        if not self.retention_days:
            return 0
        cutoff_minute = (now_ms or int(time.time() * 1000)) // 60_000 - int(
            self.retention_days * 1440
        )
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
            removed += int(await self._r.xtrim(text(conv), minid=f"{min_id}-0"))
        await self._r.hdel(f"{PREFIX}idmarks", *[str(m) for m in older])
        if removed:
            await self._r.decrby(f"{PREFIX}msgcount", removed)
        return removed
