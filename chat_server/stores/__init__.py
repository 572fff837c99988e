"""Store back ends behind one interface; ``open_store(url)`` picks one by URL scheme."""

from __future__ import annotations

from pathlib import Path
from urllib.parse import parse_qs, urlsplit

from chat_server.stores.base import (
    Message,
    NoSuchMessage,
    NotYourMessage,
    Page,
    Saved,
    SessionInfo,
    Store,
    StoreError,
    StoreUnavailable,
    User,
    UserIdTaken,
    UsernameTaken,
)

__all__ = [
    "Message",
    "NoSuchMessage",
    "NotYourMessage",
    "Page",
    "Saved",
    "SessionInfo",
    "Store",
    "StoreError",
    "StoreUnavailable",
    "User",
    "UserIdTaken",
    "UsernameTaken",
    "make_store",
    "sqlite_path",
]

SCHEMES = ("memory://", "sqlite:///PATH", "redis://HOST:PORT/DB")


def sqlite_path(url: str) -> Path:
    """The file of a sqlite URL: ``sqlite:///abs/file.db`` and ``sqlite:////abs/file.db``
    both name /abs/file.db; ``sqlite:relative.db`` a path relative to the working folder."""
    parts = urlsplit(url)
    raw = parts.netloc + parts.path
    if not raw:
        raise ValueError(f"no file in store URL {url!r}; use sqlite:///PATH")
    return Path(raw).expanduser()


def make_store(url: str, retention_days: int = 0, *, serving: bool = True) -> Store:
    """Build (not open) the store a URL names. Back ends are imported lazily.
    ``serving``: for the server; a command-line process that opens a server's file
    passes False (SQLite: it leaves the search index to the server)."""
    scheme = urlsplit(url).scheme
    if scheme == "memory":
        from chat_server.stores.memory import MemoryStore

        return MemoryStore(retention_days=retention_days)
    if scheme == "sqlite":
        from chat_server.stores.sqlite import SqliteStore

        query = parse_qs(urlsplit(url).query)
        sync = query.get("synchronous", ["normal"])[-1].lower()
        return SqliteStore(
            sqlite_path(url), synchronous=sync, retention_days=retention_days, keep_index=serving
        )
    if scheme in ("redis", "rediss", "unix"):
        from chat_server.stores.redis import RedisStore

        return RedisStore(url, retention_days=retention_days or None)
    raise ValueError(f"unsupported store URL {url!r}; use one of: {', '.join(SCHEMES)}")
