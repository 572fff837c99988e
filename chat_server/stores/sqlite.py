"""The default store: one embedded SQLite file in WAL mode, written with group commit.

Messages saved concurrently by many handlers are written in one transaction per batch; no
caller is answered before the transaction holding its message has committed. The file's
connections and threads are in sqlite_io.py, its schema in sqlite_schema.py, sessions,
deletion and retention in sqlite_admin.py.
"""

from __future__ import annotations

import sqlite3
import time
from pathlib import Path
from typing import Final

from chat_server.protocol import username_key
from chat_server.stores.base import (
    Message,
    Page,
    Saved,
    StoreError,
    StoreUnavailable,
    User,
    UserIdTaken,
    UsernameTaken,
    conversation_key,
)
from chat_server.stores.batching import Batcher
from chat_server.stores.sqlite_admin import SqliteAdmin
from chat_server.stores.sqlite_io import PAGE_SIZE, SYNCHRONOUS_MODES, SqliteIO

__all__ = ["PAGE_SIZE", "SYNCHRONOUS_MODES", "SqliteStore"]

MAX_BATCH: Final = 512

_MSG_COLUMNS = "id, a, b, from_seq, content, ts, client_id"
_SendArgs = tuple[str, str, str, str | None]
_Row = tuple[int, int, int, int, str, int, str | None]
_Insert = tuple[int, int, int, int, str, int, str | None]


class SqliteStore(SqliteAdmin):
    """SQLite back end (``sqlite:///path/to/file.db[?synchronous=normal|full]``)."""

    kind = "sqlite"

    def __init__(self, path: Path, synchronous: str = "normal", retention_days: int = 0) -> None:
        super().__init__()
        self.io = SqliteIO(path, synchronous)
        self.path, self.synchronous = path, synchronous
        self.retention_days = retention_days
        self.inline_writes = self.io.inline_writes
        self._known_peers: set[tuple[int, int]] = set()
        self._batcher: Batcher[_SendArgs, Saved] = Batcher(self._write_batch_async, MAX_BATCH)
        self._last_ts = 0
        self._messages = 0
        self._next_id = 1
        # users.seq <-> userID: the database refers to users by seq (schema v2)
        self._seq_of: dict[str, int] = {}
        self._user_of: dict[int, str] = {}

    def _register(self, seq: int, user: User) -> User:
        self._seq_of[user.user_id] = seq
        self._user_of[seq] = user.user_id
        return self._add_user(user)

    def _to_message(self, row: _Row) -> Message:
        msg_id, a, b, from_seq, content, ts, client_id = row
        user_of = self._user_of
        return Message(
            id=msg_id,
            from_id=user_of[from_seq],
            to_id=user_of[b if from_seq == a else a],
            content=content,
            ts=ts,
            client_id=client_id,
        )

    # -- open and close ---------------------------------------------------------------

    def _load(self, conn: sqlite3.Connection) -> None:
        """The caches, read once at open: users (in creation order), counts, the next id."""
        rows = conn.execute("SELECT seq, user_id, username FROM users ORDER BY seq").fetchall()
        for seq, user_id, username in rows:
            self._register(seq, User(user_id=user_id, username=username))
        (self._messages,) = conn.execute("SELECT count(*) FROM messages").fetchone()
        (last_ts,) = conn.execute("SELECT max(ts) FROM messages").fetchone()
        self._last_ts = last_ts or 0
        # never reuse an id, even of messages deleted by retention
        (seq,) = conn.execute(
            "SELECT max(seq) FROM sqlite_sequence WHERE name = 'messages'"
        ).fetchone()
        (top,) = conn.execute("SELECT max(id) FROM messages").fetchone()
        self._next_id = max(seq or 0, top or 0) + 1

    async def open(self) -> None:
        await self.io.open(self._load)

    async def close(self) -> None:
        if self.io.is_open:
            await self._batcher.drain()
            await self.io.close()

    # -- users ------------------------------------------------------------------------

    def _create_user_sync(
        self, user_id: str, username: str, session_hash: bytes, unique: bool
    ) -> int:
        key = username_key(username)
        now = time.time_ns() // 1_000_000

        def work(db: sqlite3.Connection) -> int:
            if unique and db.execute("SELECT 1 FROM users WHERE name_key = ?", (key,)).fetchone():
                raise UsernameTaken(username)
            try:
                cur = db.execute(
                    "INSERT INTO users (user_id, username, name_key, created_ms) VALUES (?,?,?,?)",
                    (user_id, username, key, now),
                )
            except sqlite3.IntegrityError as exc:
                raise UserIdTaken(user_id) from exc
            db.execute(
                "INSERT INTO sessions (token_hash, user_id, created_ms) VALUES (?,?,?)",
                (session_hash, user_id, now),
            )
            return int(cur.lastrowid or 0)

        return self.io.transaction(work)

    async def create_user(
        self, user_id: str, username: str, session_hash: bytes, *, unique: bool = False
    ) -> User:
        seq = await self.io.write(self._create_user_sync, user_id, username, session_hash, unique)
        return self._register(seq, User(user_id=user_id, username=username))

    def _session_user_sync(self, session_hash: bytes) -> str | None:
        row = self.io.rdb.execute(
            "SELECT user_id FROM sessions WHERE token_hash = ?", (session_hash,)
        ).fetchone()
        return None if row is None else str(row[0])

    async def user_for_session(self, session_hash: bytes) -> User | None:
        user_id = await self.io.read(self._session_user_sync, session_hash)
        return None if user_id is None else self._users.get(user_id)

    # -- messages ---------------------------------------------------------------------

    async def save_message(
        self, from_id: str, to_id: str, content: str, client_id: str | None = None
    ) -> Saved:
        if not self.io.is_open:
            raise StoreUnavailable("store is not open")
        # group commit: concurrent saves share one transaction (see batching.py)
        return await self._batcher.submit((from_id, to_id, content, client_id))

    async def _write_batch_async(self, items: list[_SendArgs]) -> list[Saved | Exception]:
        return await self.io.write(self._write_batch, items)

    def _write_batch(self, items: list[_SendArgs]) -> list[Saved | Exception]:
        """One transaction for a batch. Ids are assigned here, in order: this connection
        is the only writer of the file, so the next id is known without asking SQLite, and
        the whole batch goes in with one executemany. The caches change only after the
        commit: a rolled-back batch changes nothing."""
        ts = max(time.time_ns() // 1_000_000, self._last_ts)
        out, rows, new_peers = self.io.transaction(lambda db: self._insert_batch(db, items, ts))
        self._next_id += len(rows)
        self._known_peers |= new_peers
        self._messages += len(rows)
        self._last_ts = ts
        return out

    def _insert_batch(
        self, db: sqlite3.Connection, items: list[_SendArgs], ts: int
    ) -> tuple[list[Saved | Exception], list[_Insert], set[tuple[int, int]]]:
        seq_of, known = self._seq_of, self._known_peers
        out: list[Saved | Exception] = []
        rows: list[_Insert] = []
        new_peers: set[tuple[int, int]] = set()
        by_client_id: dict[tuple[int, str], Message] = {}
        for from_id, to_id, content, client_id in items:
            from_seq, to_seq = seq_of.get(from_id), seq_of.get(to_id)
            if from_seq is None or to_seq is None:  # deleted since the handler checked
                out.append(StoreError("unknown user"))
                continue
            if client_id is not None:
                first = by_client_id.get((from_seq, client_id)) or self._by_client_id(
                    db, from_seq, client_id
                )
                if first is not None:
                    out.append(Saved(first, created=False))
                    continue
            msg = Message(self._next_id + len(rows), from_id, to_id, content, ts, client_id)
            a, b = conversation_key(from_seq, to_seq)
            rows.append((msg.id, a, b, from_seq, content, ts, client_id))
            if client_id is not None:
                by_client_id[(from_seq, client_id)] = msg
            out.append(Saved(msg, created=True))
            if (from_seq, to_seq) not in known:
                new_peers.update(((from_seq, to_seq), (to_seq, from_seq)))
        db.executemany(
            "INSERT INTO messages (id, a, b, from_seq, content, ts, client_id)"
            " VALUES (?,?,?,?,?,?,?)",
            rows,
        )
        if new_peers:
            db.executemany("INSERT OR IGNORE INTO peers VALUES (?, ?)", new_peers)
        return out, rows, new_peers

    def _by_client_id(
        self, db: sqlite3.Connection, from_seq: int, client_id: str
    ) -> Message | None:
        row = db.execute(
            f"SELECT {_MSG_COLUMNS} FROM messages WHERE from_seq = ? AND client_id = ?",
            (from_seq, client_id),
        ).fetchone()
        return None if row is None else self._to_message(row)

    def _conversation(self, user_id: str, peer_id: str) -> tuple[int, int] | None:
        a, b = self._seq_of.get(user_id), self._seq_of.get(peer_id)
        return None if a is None or b is None else conversation_key(a, b)

    def _page_sync(self, a: int, b: int, before: int | None, limit: int) -> Page:
        if before is None:
            rows = self.io.rdb.execute(
                f"SELECT {_MSG_COLUMNS} FROM messages WHERE a = ? AND b = ?"
                " ORDER BY id DESC LIMIT ?",
                (a, b, limit + 1),
            ).fetchall()
        else:
            rows = self.io.rdb.execute(
                f"SELECT {_MSG_COLUMNS} FROM messages WHERE a = ? AND b = ? AND id < ?"
                " ORDER BY id DESC LIMIT ?",
                (a, b, before, limit + 1),
            ).fetchall()
        has_more = len(rows) > limit
        return Page([self._to_message(r) for r in reversed(rows[:limit])], has_more=has_more)

    def _conversations_sync(self, user_id: str) -> list[tuple[str, int]]:
        me = self._seq_of.get(user_id)
        if me is None:
            return []
        rows = self.io.rdb.execute(
            "SELECT p.peer_seq, (SELECT max(m.id) FROM messages m"
            " WHERE m.a = min(p.user_seq, p.peer_seq) AND m.b = max(p.user_seq, p.peer_seq))"
            " FROM peers p WHERE p.user_seq = ?",
            (me,),
        ).fetchall()
        user_of = self._user_of
        found = [(user_of[peer], last) for peer, last in rows if last is not None]
        return sorted(found, key=lambda c: -c[1])

    async def conversations(self, user_id: str) -> list[tuple[str, int]]:
        return await self.io.read(self._conversations_sync, user_id)

    def _latest_pages_sync(self, user_id: str, peer_ids: list[str], limit: int) -> dict[str, Page]:
        pages = {}
        for peer in peer_ids:
            key = self._conversation(user_id, peer)
            if key is not None and (page := self._page_sync(*key, None, limit)).messages:
                pages[peer] = page
        return pages

    async def latest_pages(self, user_id: str, peer_ids: list[str], limit: int) -> dict[str, Page]:
        return await self.io.read(self._latest_pages_sync, user_id, peer_ids, limit)

    async def history(self, user_id: str, peer_id: str, before: int | None, limit: int) -> Page:
        key = self._conversation(user_id, peer_id)
        if key is None:
            return Page([], has_more=False)
        return await self.io.read(self._page_sync, key[0], key[1], before, limit)

    async def counts(self) -> dict[str, int]:
        return {"users": len(self._users), "messages": self._messages}

    async def explain_page_query(self) -> list[str]:
        """The query plan of an older-page query (for tests that guard the index)."""

        def explain() -> list[str]:
            rows = self.io.rdb.execute(
                f"EXPLAIN QUERY PLAN SELECT {_MSG_COLUMNS} FROM messages"
                " WHERE a = ? AND b = ? AND id < ? ORDER BY id DESC LIMIT ?",
                (1, 2, 10, 10),
            ).fetchall()
            return [str(r[-1]) for r in rows]

        return await self.io.read(explain)
