"""The Redis store's layout versions (chat:schema), brought up to date at open.

2: chat:names counts users by protocol.username_key (look-alike skeletons; 1 counted
   case-folded names).
3: a message's text leaves its conversation's stream for the body hash beside it, with
   its search words (redis_messages.py): a stream keeps the bytes of deleted entries, so
   text in a stream could never be deleted for real.

Processes starting together migrate once between them: the first takes chat:migrating
(SET NX, with an expiry in case it dies), the others wait for chat:schema to move.
"""

from __future__ import annotations

import asyncio
import secrets
from typing import TYPE_CHECKING, Any, Final

from chat_server.protocol import username_key
from chat_server.stores.redis_common import PREFIX, side_keys, text
from chat_server.stores.redis_messages import index_words

if TYPE_CHECKING:
    import redis.asyncio as aioredis

VERSION: Final = 3
LOCK_SECONDS: Final = 600
CHUNK: Final = 1000


async def migrate(r: aioredis.Redis, poll: float = 0.05) -> None:
    """Bring the layout to VERSION (a new database starts there)."""
    schema, lock = f"{PREFIX}schema", f"{PREFIX}migrating"
    while True:
        found = await r.get(schema)
        if found is None and not await r.exists(f"{PREFIX}users", f"{PREFIX}convs"):
            await r.set(schema, VERSION, nx=True)  # nothing to migrate
            continue
        version = int(found or 1)
        if version >= VERSION:
            return
        token = secrets.token_hex(8)
        if not await r.set(lock, token, nx=True, ex=LOCK_SECONDS):
            await asyncio.sleep(poll)  # another process migrates: wait for chat:schema
            continue
        try:
            if version < 2:
                await _rekey_names(r)
            if version < 3:
                await _move_text_out_of_streams(r)
            await r.set(schema, VERSION)
        finally:
            if text(await r.get(lock) or "") == token:
                await r.delete(lock)


async def _rekey_names(r: aioredis.Redis) -> None:
    ids = [text(u) for u in await r.lrange(f"{PREFIX}users", 0, -1)]
    pipe = r.pipeline(transaction=True)
    for user_id in ids:
        pipe.hget(f"{PREFIX}user:{user_id}", "username")
    names = await pipe.execute()
    pipe = r.pipeline(transaction=True)
    pipe.delete(f"{PREFIX}names")
    for name in names:
        if name is not None:
            pipe.hincrby(f"{PREFIX}names", username_key(text(name)), 1)
    await pipe.execute()


async def _move_text_out_of_streams(r: aioredis.Redis) -> None:
    async for raw in r.sscan_iter(f"{PREFIX}convs", count=500):
        conv = text(raw)
        entries: list[Any] = []
        start = "-"
        while batch := await r.xrange(conv, start, "+", count=CHUNK):
            entries.extend(batch)
            start = f"({text(batch[-1][0])}"
        if not any(b"c" in fields for _, fields in entries):
            continue
        body, words, _ = side_keys(conv)
        tmp = f"{conv}:migrating"
        pipe = r.pipeline(transaction=True)
        pipe.delete(tmp)
        for entry_id, fields in entries:
            msg_id = text(entry_id).split("-", 1)[0]
            content = fields.pop(b"c", None)
            pipe.xadd(tmp, fields, id=entry_id)
            if content is not None:
                pipe.hset(body, msg_id, content)
                pipe.hset(words, msg_id, index_words(text(content)))
        pipe.rename(tmp, conv)
        await pipe.execute()
