"""The SQLite library the store runs on.

The search index needs SQLite 3.42 or newer: FTS5's ``secure-delete`` option (a deleted
row's words leave the index pages at once, not at some later merge of segments).
Python's own sqlite3 module is often built against an older SQLite (Debian 12: 3.40), so
the store uses sqlean.py, which bundles a recent one and has the same API, and falls back
to Python's module when that is not installed. Every module of the store connects and
catches errors through here: the two modules' exception classes are different classes."""

from __future__ import annotations

import sqlite3 as _stdlib
from pathlib import Path
from types import ModuleType
from typing import Any, Final

NEEDED: Final = (3, 42, 0)


def _pick() -> ModuleType:
    try:
        import sqlean
    except ImportError:  # pragma: no cover - sqlean.py is a dependency
        return _stdlib
    module: ModuleType = sqlean
    return module


lib: Final = _pick()
Connection = _stdlib.Connection  # for annotations: sqlean's has the same API
Error: type[Exception] = lib.Error
OperationalError: type[Exception] = lib.OperationalError
IntegrityError: type[Exception] = lib.IntegrityError


def version() -> tuple[int, ...]:
    return tuple(int(part) for part in lib.sqlite_version.split("."))


def connect(path: Path | str, **options: Any) -> _stdlib.Connection:
    """A connection (sqlite3.connect's options), refused when SQLite is too old."""
    if version() < NEEDED:  # pragma: no cover - sqlean.py bundles a recent SQLite
        raise RuntimeError(
            f"chat-server needs SQLite {'.'.join(map(str, NEEDED))} or newer (found "
            f"{lib.sqlite_version}): pip install sqlean.py"
        )
    conn: _stdlib.Connection = lib.connect(path, **options)
    return conn
