"""What the Redis store and Redis presence share: the key prefix, a client, reading
replies, and Redis's errors as the store's StoreUnavailable. The redis package is
imported only when a client is made or an error is mapped."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any, Final

from chat_server.stores.base import StoreUnavailable

if TYPE_CHECKING:
    import redis.asyncio as aioredis

PREFIX: Final = "chat:"


def redis_module() -> Any:
    """redis.asyncio, or an ImportError that names the extra to install."""
    try:
        import redis.asyncio
    except ImportError as exc:  # pragma: no cover - depends on the installed extras
        raise ImportError(
            "Redis needs the 'redis' package: pip install 'chat-private-messaging[redis]'"
        ) from exc
    return redis.asyncio


def client(url: str, **options: Any) -> aioredis.Redis:
    """A Redis client with timeouts: a Redis that stops answering is an error, not a hang."""
    made: aioredis.Redis = redis_module().Redis.from_url(
        url, socket_timeout=5, socket_connect_timeout=5, **options
    )
    return made


def conv_key(a: str, b: str) -> str:
    """The stream of the conversation between two users."""
    x, y = (a, b) if a <= b else (b, a)
    return f"{PREFIX}conv:{x}:{y}"


def side_keys(conv: str) -> tuple[str, str, str]:
    """A conversation's hashes beside its stream: body (message id -> content; no body:
    deleted), words (id -> the search index's words) and edited (id -> when, ms)."""
    tail = conv[len(PREFIX) + len("conv:") :]
    return f"{PREFIX}body:{tail}", f"{PREFIX}words:{tail}", f"{PREFIX}edited:{tail}"


def last_key(conv: str) -> str:
    """A conversation's hash of each sender's latest message id (unread counts stop there,
    and need no scan when it is at or below the reader's marker)."""
    return f"{PREFIX}last:{conv[len(PREFIX) + len('conv:') :]}"


def text(value: object) -> str:
    """A Redis reply as str (replies are bytes; the stubs say bytes | str)."""
    return value.decode() if isinstance(value, bytes) else str(value)


def int_or_none(value: object) -> int | None:
    return None if value is None else int(text(value))


@contextlib.contextmanager
def unavailable(what: str = "") -> Iterator[None]:
    """Any Redis error (unreachable, timed out, a script that failed) as StoreUnavailable:
    nothing was stored, and retrying may work."""
    from redis.exceptions import RedisError

    try:
        yield
    except (RedisError, OSError) as exc:
        raise StoreUnavailable(f"{what}{exc}") from exc
