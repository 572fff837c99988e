"""The Redis store (``redis://host:port/db``): what several chat-server processes share.

Key layout (prefix ``chat:``; docs/scaling.md has the full table):

    chat:users                 LIST   userIDs in creation order
    chat:user:<userID>         HASH   username, created
    chat:names                 HASH   username key (protocol.username_key) -> users with it
    chat:schema                STRING the layout's version (3; redis_migrate.py)
    chat:session:<sha256 hex>  STRING userID (no expiry: sessions last until revoked)
    chat:user_sessions:<userID> HASH  sha256 hex -> created (ms), for listing and revoking
    chat:msgid                 STRING the last message id (INCR)
    chat:msgcount              STRING how many messages are stored
    chat:conv:<a>:<b>          STREAM one entry per message, entry id "<message id>-0";
                                      fields f (from), t (to), ts, cid, r (replyTo)
    chat:body:<a>:<b>          HASH   message id -> content (none: deleted)
    chat:words:<a>:<b>         HASH   message id -> its search words (text.search_words)
    chat:edited:<a>:<b>        HASH   message id -> when it was last edited (ms)
    chat:last:<a>:<b>          HASH   sender's userID -> the id of their latest message
    chat:peers:<userID>        SET    userIDs this user has exchanged messages with
    chat:convs                 SET    every conversation key (for retention)
    chat:cid:<from>:<clientId> STRING "<message id> <conversation key>" (idempotency)
    chat:idmarks               HASH   minute (epoch) -> first message id stored in it
    chat:removed               LIST   userIDs deleted (``users delete``, pruning), in order

A user's hash also holds ``seen`` (ms: the end of their last connection). chat:users is
append-only; a deleted user's entry stays in it, without its hash.

Every write is one Lua script (redis_scripts.py), so it is atomic across processes.
Sessions, deletion and retention are in redis_admin.py; reading, edits, deletes and
search in redis_messages.py; layout versions in redis_migrate.py. Paging is XREVRANGE on
the conversation's stream from an exclusive id: a seek, never a scan.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

from chat_server.protocol import username_key
from chat_server.stores.base import (
    Marked,
    Saved,
    StoreUnavailable,
    User,
    UserIdTaken,
    UsernameTaken,
)
from chat_server.stores.batching import Batcher, Mark, Result, Send, Write
from chat_server.stores.redis_admin import RedisAdmin
from chat_server.stores.redis_common import (
    PREFIX,
    client,
    conv_key,
    last_key,
    side_keys,
    text,
    unavailable,
)
from chat_server.stores.redis_messages import RedisMessages, index_words, row_to_message
from chat_server.stores.redis_migrate import migrate
from chat_server.stores.redis_reads import RedisReads
from chat_server.stores.redis_scripts import (
    CHANGE,
    COUNT_UNREAD,
    CREATE_USER,
    MARK_READ,
    READ,
    SAVE_MESSAGE,
    SEARCH,
    TRIM,
)

try:
    import redis.asyncio as aioredis
except ImportError as exc:  # pragma: no cover - depends on the installed extras
    raise ImportError(
        "the Redis store needs the 'redis' package: pip install 'chat-private-messaging[redis]'"
    ) from exc


def _noscript(reply: Any) -> bool:
    """Whether a pipelined EVALSHA failed because Redis does not have its script."""
    if not isinstance(reply, Exception):  # the usual case: no import on the way
        return False
    from redis.exceptions import NoScriptError

    return isinstance(reply, NoScriptError)


def _result(item: Write, reply: Any) -> Result | Exception:
    """One script's reply as the store's result."""
    if isinstance(reply, Exception):
        return StoreUnavailable(str(reply))
    if isinstance(item, Mark):
        marker = text(reply[0])
        return Marked(int(marker) if marker else None, moved=bool(int(reply[1])))
    return Saved(row_to_message(reply[1:]), created=bool(int(reply[0])))


class RedisStore(RedisMessages, RedisAdmin, RedisReads):
    """Redis back end; safe to share between any number of chat-server processes."""

    kind = "redis"

    def __init__(self, url: str, retention_days: int | None = None) -> None:
        super().__init__()
        self.url = url
        self.retention_days = retention_days
        self.redis: aioredis.Redis | None = None
        self._create_user: Any = None
        self._save_message: Any = None
        self._batcher: Batcher[Write, Result] = Batcher(self._write_batch)
        self._mark_read: Any = None
        self._count_unread: Any = None
        self._synced = 0  # entries of chat:users read so far
        # one sync at a time: two overlapping reads from the same offset would both
        # advance it, and the users created next would be skipped for good
        self._sync_lock = asyncio.Lock()

    @property
    def _r(self) -> aioredis.Redis:
        if self.redis is None:
            raise StoreUnavailable("store is not open")
        return self.redis

    async def open(self) -> None:
        self.redis = client(self.url, health_check_interval=10)
        self._create_user = self.redis.register_script(CREATE_USER)
        self._save_message = self.redis.register_script(SAVE_MESSAGE)
        self._mark_read = self.redis.register_script(MARK_READ)
        self._count_unread = self.redis.register_script(COUNT_UNREAD)
        self._read = self.redis.register_script(READ)
        self._change = self.redis.register_script(CHANGE)
        self._search = self.redis.register_script(SEARCH)
        self._trim = self.redis.register_script(TRIM)
        try:
            with unavailable(f"cannot reach Redis at {self.url}: "):
                await self.redis.ping()
                await migrate(self.redis)
        except StoreUnavailable:
            await self.redis.aclose()
            self.redis = None
            raise

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
        with unavailable():
            result = await self._create_user(keys=keys, args=args)
        result = text(result)
        if result == "taken":
            raise UsernameTaken(username)
        if result == "idtaken":
            raise UserIdTaken(user_id)
        # the roster order comes from chat:users (_sync_users), not from this call
        return self._users.setdefault(user_id, User(user_id, username))

    async def _sync_users(self) -> None:
        """Pick up users created by other processes (the cache only grows)."""
        async with self._sync_lock:
            with unavailable():
                ids = await self._r.lrange(f"{PREFIX}users", self._synced, -1)
                if not ids:
                    return
                pipe = self._r.pipeline(transaction=False)
                for raw in ids:
                    pipe.hget(f"{PREFIX}user:{text(raw)}", "username")
                names = await pipe.execute()
            for raw, name in zip(ids, names, strict=True):
                if name is not None:  # None: deleted since
                    self._add_user(User(text(raw), text(name)))
            self._synced += len(ids)

    async def user_for_session(self, session_hash: bytes) -> User | None:
        with unavailable():
            raw = await self._r.get(f"{PREFIX}session:{session_hash.hex()}")
        return None if raw is None else await self.get_user(text(raw))

    async def get_user(self, user_id: str) -> User | None:
        user = self._users.get(user_id)
        if user is not None:
            return user
        with unavailable():
            name = await self._r.hget(f"{PREFIX}user:{user_id}", "username")
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
        self,
        from_id: str,
        to_id: str,
        content: str,
        client_id: str | None = None,
        reply_to: int | None = None,
    ) -> Saved:
        # group commit: concurrent writes go out as one pipeline, applied in call order
        saved = await self._batcher.submit(Send(from_id, to_id, content, client_id, reply_to))
        assert isinstance(saved, Saved)
        return saved

    async def mark_read(
        self, user_id: str, peer_id: str, up_to: int, *, private: bool, at_ms: int
    ) -> Marked:
        marked = await self._batcher.submit(Mark(user_id, peer_id, up_to, private, at_ms))
        assert isinstance(marked, Marked)
        return marked

    async def _write_batch(self, items: list[Write]) -> list[Result | Exception]:
        """One pipeline of EVALSHAs. Its scripts are not registered with the pipeline:
        redis-py would then check them with SCRIPT EXISTS before every pipeline, a round
        trip per group commit. A Redis that lost them (restarted, SCRIPT FLUSH) answers
        NOSCRIPT without running anything: they are loaded and those items sent again."""
        now = int(time.time() * 1000)
        replies: list[Any] = await self._pipeline(items, now)
        todo = [i for i, reply in enumerate(replies) if _noscript(reply)]
        if todo:
            # only these were not run: an error now is theirs, not the batch's
            try:
                with unavailable():
                    for script in (self._save_message, self._mark_read):
                        await self._r.script_load(script.script)
                    again = await self._pipeline([items[i] for i in todo], now)
            except StoreUnavailable as exc:
                again = [exc] * len(todo)
            for i, reply in zip(todo, again, strict=True):
                replies[i] = reply
        return [_result(item, r) for item, r in zip(items, replies, strict=True)]

    async def _pipeline(self, items: list[Write], now: int) -> list[Any]:
        pipe = self._r.pipeline(transaction=False)
        for item in items:
            self._queue_write(pipe, item, now)
        with unavailable():
            replies: list[Any] = await pipe.execute(raise_on_error=False)
        return replies

    def _queue_write(self, pipe: Any, item: Write, now: int) -> None:
        if isinstance(item, Send):
            keys, args = self._send_call(item, now)
            pipe.evalsha(self._save_message.sha, len(keys), *keys, *args)
        else:
            keys = [
                f"{PREFIX}read:{item.user_id}",
                f"{PREFIX}receipt:{item.user_id}",
                conv_key(item.user_id, item.peer_id),
            ]
            args = [item.peer_id, item.up_to, int(item.private), item.at_ms]
            pipe.evalsha(self._mark_read.sha, len(keys), *keys, *args)

    def _send_call(self, item: Send, now: int) -> tuple[list[str], list[Any]]:
        cid_ttl = int(self.retention_days * 86400) if self.retention_days else 0
        conv = conv_key(item.from_id, item.to_id)
        cid = item.client_id
        keys = [
            f"{PREFIX}msgid",
            conv,
            f"{PREFIX}peers:{item.from_id}",
            f"{PREFIX}peers:{item.to_id}",
            f"{PREFIX}convs",
            f"{PREFIX}idmarks",
            f"{PREFIX}cid:{item.from_id}:{cid}" if cid else f"{PREFIX}cid:-",
            f"{PREFIX}msgcount",
            *side_keys(conv),
            last_key(conv),
        ]
        args = [item.from_id, item.to_id, item.content, now, cid or "", now // 60_000, conv]
        reply_to = "" if item.reply_to is None else item.reply_to
        args += [cid_ttl, index_words(item.content), reply_to, PREFIX]
        return keys, args

    async def conversations(self, user_id: str) -> list[tuple[str, int]]:
        with unavailable():
            peers = [text(p) for p in await self._r.smembers(f"{PREFIX}peers:{user_id}")]
            pipe = self._r.pipeline(transaction=False)
            for peer in peers:
                pipe.xrevrange(conv_key(user_id, peer), "+", "-", count=1)
            results: list[Any] = await pipe.execute()
        found = [
            (peer, int(text(entries[0][0]).split("-", 1)[0]))
            for peer, entries in zip(peers, results, strict=True)
            if entries  # none: trimmed away by retention
        ]
        return sorted(found, key=lambda c: -c[1])

    async def counts(self) -> dict[str, int]:
        with unavailable():
            pipe = self._r.pipeline(transaction=False)
            pipe.llen(f"{PREFIX}users")
            pipe.llen(f"{PREFIX}removed")
            pipe.get(f"{PREFIX}msgcount")
            users, removed, messages = await pipe.execute()
        return {"users": int(users) - int(removed), "messages": int(messages or 0)}
