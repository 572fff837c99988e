"""The default store: one embedded SQLite file in WAL mode, written with group commit.

Two connections. The writer commits on the event loop's own thread: with WAL and
``synchronous=normal`` a commit only appends to the WAL (no fsync), which takes less time
than handing the work to a thread and back, and a thread fought the event loop for the
GIL on every SQLite step (docs/performance.md). With ``synchronous=full`` or ``extra`` a
commit waits for the disk, so the writer gets a thread of its own. Reads (history, the
latest messages at connect, session look-ups), which can be long, run on a reader thread
with its own connection; WAL lets them run while the writer commits. Checkpoints, which
fsync, run on a third connection and thread. Messages saved concurrently by many handlers
are written in one transaction per batch; no caller is answered before the transaction
holding its message has committed.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import sqlite3
import stat
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Final, TypeVar

from chat_server.protocol import username_key
from chat_server.stores.base import (
    Message,
    Page,
    Saved,
    SessionInfo,
    StoreError,
    StoreUnavailable,
    User,
    UserCache,
    UserIdTaken,
    UserInfo,
    UsernameTaken,
    conversation_key,
)
from chat_server.stores.batching import Batcher
from chat_server.stores.sqlite_schema import migrate

T = TypeVar("T")
log = logging.getLogger(__name__)

SYNCHRONOUS_MODES: Final = ("off", "normal", "full", "extra")
MAX_BATCH: Final = 512
PAGE_SIZE: Final = 1024

_MSG_COLUMNS = "id, a, b, from_seq, content, ts, client_id"
_SendArgs = tuple[str, str, str, str | None]
_Row = tuple[int, int, int, int, str, int, str | None]


@contextlib.contextmanager
def _unavailable_on_error() -> Iterator[None]:
    """SQLite's operational errors (locked, disk full, I/O) as the store's StoreUnavailable."""
    try:
        yield
    except sqlite3.OperationalError as exc:
        raise StoreUnavailable(str(exc)) from exc


def private_file(path: Path) -> None:
    """Every private message is in this file: folders made for it are 0700 and a new
    file is 0600 (SQLite gives its -wal and -shm files the same mode). Folders and files
    that exist are not changed; if other accounts can read them, say so."""
    missing = [p for p in (path.parent, *path.parent.parents) if not p.exists()]
    for folder in reversed(missing):
        with contextlib.suppress(FileExistsError):
            folder.mkdir(mode=0o700)
    if not path.exists():
        with contextlib.suppress(FileExistsError):
            os.close(os.open(path, os.O_RDWR | os.O_CREAT | os.O_EXCL, 0o600))
    for item in (path, path.with_name(path.name + "-wal"), path.with_name(path.name + "-shm")):
        with contextlib.suppress(FileNotFoundError):
            if (mode := stat.S_IMODE(item.stat().st_mode)) & 0o044:
                log.warning(
                    "%s can be read by other accounts (mode %o): chmod 600 it to keep "
                    "messages private",
                    item,
                    mode,
                )


class SqliteStore(UserCache):
    """SQLite back end (``sqlite:///path/to/file.db[?synchronous=normal|full]``)."""

    kind = "sqlite"

    def __init__(self, path: Path, synchronous: str = "normal", retention_days: int = 0) -> None:
        if synchronous not in SYNCHRONOUS_MODES:
            raise ValueError(f"synchronous must be one of {', '.join(SYNCHRONOUS_MODES)}")
        super().__init__()
        self.path = path
        self.synchronous = synchronous
        self.retention_days = retention_days
        self._conn: sqlite3.Connection | None = None  # the writer
        self._rconn: sqlite3.Connection | None = None  # the reader, on self._executor
        self._executor: ThreadPoolExecutor | None = None
        # None: writes run inline on the event loop (see the module's docstring)
        self._writer: ThreadPoolExecutor | None = None
        self.inline_writes = synchronous in ("off", "normal")
        self._known_peers: set[tuple[int, int]] = set()
        self._batcher: Batcher[_SendArgs, Saved] = Batcher(self._write_batch_async, MAX_BATCH)
        self._last_ts = 0
        self._messages = 0
        self._next_id = 1
        self._checkpointer: ThreadPoolExecutor | None = None
        self._checkpoint_task: asyncio.Task[None] | None = None
        self._ckpt_conn: sqlite3.Connection | None = None
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

    # -- plumbing ---------------------------------------------------------------------

    async def _run(self, fn: Callable[..., T], *args: object) -> T:
        """Run a read on the reader thread."""
        if self._executor is None:
            raise StoreUnavailable("store is not open")
        with _unavailable_on_error():
            return await asyncio.get_running_loop().run_in_executor(self._executor, fn, *args)

    async def _write(self, fn: Callable[..., T], *args: object) -> T:
        """Run a write with the writer connection: inline, or on the writer thread."""
        if self._conn is None:
            raise StoreUnavailable("store is not open")
        with _unavailable_on_error():
            if self._writer is None:
                return fn(*args)
            return await asyncio.get_running_loop().run_in_executor(self._writer, fn, *args)

    @property
    def _db(self) -> sqlite3.Connection:
        assert self._conn is not None, "store is not open"
        return self._conn

    @property
    def _rdb(self) -> sqlite3.Connection:
        assert self._rconn is not None, "store is not open"
        return self._rconn

    def _open_sync(self) -> None:
        private_file(self.path)
        conn = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)
        # a new file gets 1 KiB pages: a commit writes every page it changed into the WAL,
        # and a batch of messages changes one index page per conversation, so smaller
        # pages mean far fewer bytes per commit (docs/performance.md). An existing file
        # keeps the page size it was created with.
        conn.execute(f"PRAGMA page_size={PAGE_SIZE}")
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute(f"PRAGMA synchronous={self.synchronous}")
        conn.execute("PRAGMA foreign_keys=ON")
        # deleted rows (an erased user's messages) are overwritten, not left in free pages
        conn.execute("PRAGMA secure_delete=ON")
        # another process (chat-server sessions revoke) holds the lock for a moment at
        # most; an inline writer must not stall the event loop long waiting for it
        conn.execute(f"PRAGMA busy_timeout={1000 if self.inline_writes else 5000}")
        # checkpoints (which fsync the database file) run on their own connection and
        # thread, never inside a commit that a sender is waiting for
        conn.execute("PRAGMA wal_autocheckpoint=0")
        migrate(conn)
        self._conn = conn
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
        reader = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)
        reader.execute("PRAGMA busy_timeout=5000")
        self._rconn = reader

    async def open(self) -> None:
        self._executor = ThreadPoolExecutor(1, thread_name_prefix="chat-sqlite-read")
        if not self.inline_writes:
            self._writer = ThreadPoolExecutor(1, thread_name_prefix="chat-sqlite-write")
        await self._run(self._open_sync)
        self._checkpointer = ThreadPoolExecutor(1, thread_name_prefix="chat-sqlite-ckpt")
        self._checkpoint_task = asyncio.create_task(self._checkpoint_loop())

    def _checkpoint_sync(self) -> None:
        if self._ckpt_conn is None:
            self._ckpt_conn = sqlite3.connect(
                self.path, isolation_level=None, check_same_thread=False
            )
            self._ckpt_conn.execute("PRAGMA busy_timeout=1000")
        # PASSIVE: copy what it can without waiting for the writer or readers
        self._ckpt_conn.execute("PRAGMA wal_checkpoint(PASSIVE)")

    async def _checkpoint_loop(self, every: float = 1.0) -> None:
        loop = asyncio.get_running_loop()
        while True:
            await asyncio.sleep(every)
            try:
                await loop.run_in_executor(self._checkpointer, self._checkpoint_sync)
            except sqlite3.Error as exc:
                log.warning("WAL checkpoint failed: %s", exc)

    def _close_checkpointer(self) -> None:
        if self._ckpt_conn is not None:
            self._ckpt_conn.close()
            self._ckpt_conn = None

    async def close(self) -> None:
        if self._executor is None:
            return
        await self._batcher.drain()
        if self._checkpoint_task is not None:
            self._checkpoint_task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._checkpoint_task
            self._checkpoint_task = None
        if self._checkpointer is not None:
            await asyncio.get_running_loop().run_in_executor(
                self._checkpointer, self._close_checkpointer
            )
            self._checkpointer.shutdown(wait=True)
            self._checkpointer = None
        await self._run(self._close_reader)
        self._executor.shutdown(wait=True)
        self._executor = None
        await self._write(self._close_sync)
        if self._writer is not None:
            self._writer.shutdown(wait=True)
            self._writer = None

    def _close_reader(self) -> None:
        if self._rconn is not None:
            self._rconn.close()
            self._rconn = None

    def _close_sync(self) -> None:
        if self._conn is not None:
            self._conn.execute("PRAGMA optimize")
            self._conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
            self._conn.close()
            self._conn = None

    def _transaction(self, work: Callable[[sqlite3.Connection], T]) -> T:
        db = self._db
        db.execute("BEGIN IMMEDIATE")
        try:
            result = work(db)
        except BaseException:
            db.execute("ROLLBACK")
            raise
        db.execute("COMMIT")
        return result

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

        return self._transaction(work)

    async def create_user(
        self, user_id: str, username: str, session_hash: bytes, *, unique: bool = False
    ) -> User:
        seq = await self._write(self._create_user_sync, user_id, username, session_hash, unique)
        return self._register(seq, User(user_id=user_id, username=username))

    def _session_user_sync(self, session_hash: bytes) -> str | None:
        row = self._rdb.execute(
            "SELECT user_id FROM sessions WHERE token_hash = ?", (session_hash,)
        ).fetchone()
        return None if row is None else str(row[0])

    async def user_for_session(self, session_hash: bytes) -> User | None:
        user_id = await self._run(self._session_user_sync, session_hash)
        return None if user_id is None else self._users.get(user_id)

    # -- messages ---------------------------------------------------------------------

    async def save_message(
        self, from_id: str, to_id: str, content: str, client_id: str | None = None
    ) -> Saved:
        if self._executor is None:
            raise StoreUnavailable("store is not open")
        # group commit: concurrent saves share one transaction (see batching.py)
        return await self._batcher.submit((from_id, to_id, content, client_id))

    async def _write_batch_async(self, items: list[_SendArgs]) -> list[Saved | Exception]:
        return await self._write(self._write_batch, items)

    def _write_batch(self, items: list[_SendArgs]) -> list[Saved | Exception]:
        """One transaction for a batch. Ids are assigned here, in order: this connection
        is the only writer of the file, so the next id is known without asking SQLite, and
        the whole batch goes in with one executemany."""
        db = self._db
        seq_of = self._seq_of
        out: list[Saved | Exception] = []
        rows: list[tuple[int, int, int, int, str, int, str | None]] = []
        new_peers: set[tuple[int, int]] = set()
        known = self._known_peers
        by_client_id: dict[tuple[int, str], Message] = {}
        ts = max(time.time_ns() // 1_000_000, self._last_ts)
        next_id = self._next_id
        db.execute("BEGIN IMMEDIATE")
        try:
            for from_id, to_id, content, client_id in items:
                from_seq = seq_of.get(from_id)
                to_seq = seq_of.get(to_id)
                if from_seq is None or to_seq is None:
                    out.append(StoreError("unknown user"))
                    continue
                if client_id is not None:
                    first = by_client_id.get((from_seq, client_id))
                    if first is None:
                        row = db.execute(
                            f"SELECT {_MSG_COLUMNS} FROM messages"
                            " WHERE from_seq = ? AND client_id = ?",
                            (from_seq, client_id),
                        ).fetchone()
                        first = None if row is None else self._to_message(row)
                    if first is not None:
                        out.append(Saved(first, created=False))
                        continue
                msg = Message(next_id, from_id, to_id, content, ts, client_id)
                next_id += 1
                a, b = conversation_key(from_seq, to_seq)
                rows.append((msg.id, a, b, from_seq, content, ts, client_id))
                if client_id is not None:
                    by_client_id[(from_seq, client_id)] = msg
                out.append(Saved(msg, created=True))
                if (from_seq, to_seq) not in known:
                    new_peers.add((from_seq, to_seq))
                    new_peers.add((to_seq, from_seq))
            db.executemany(
                "INSERT INTO messages (id, a, b, from_seq, content, ts, client_id)"
                " VALUES (?,?,?,?,?,?,?)",
                rows,
            )
            if new_peers:
                db.executemany("INSERT OR IGNORE INTO peers VALUES (?, ?)", new_peers)
            db.execute("COMMIT")
        except BaseException:
            db.execute("ROLLBACK")
            raise
        # only after the commit: a rolled-back batch changes nothing here
        self._next_id = next_id
        known |= new_peers
        self._messages += len(rows)
        self._last_ts = ts
        return out

    def _conversation(self, user_id: str, peer_id: str) -> tuple[int, int] | None:
        a, b = self._seq_of.get(user_id), self._seq_of.get(peer_id)
        return None if a is None or b is None else conversation_key(a, b)

    def _page_sync(self, a: int, b: int, before: int | None, limit: int) -> Page:
        if before is None:
            rows = self._rdb.execute(
                f"SELECT {_MSG_COLUMNS} FROM messages WHERE a = ? AND b = ?"
                " ORDER BY id DESC LIMIT ?",
                (a, b, limit + 1),
            ).fetchall()
        else:
            rows = self._rdb.execute(
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
        rows = self._rdb.execute(
            "SELECT p.peer_seq, (SELECT max(m.id) FROM messages m"
            " WHERE m.a = min(p.user_seq, p.peer_seq) AND m.b = max(p.user_seq, p.peer_seq))"
            " FROM peers p WHERE p.user_seq = ?",
            (me,),
        ).fetchall()
        user_of = self._user_of
        found = [(user_of[peer], last) for peer, last in rows if last is not None]
        return sorted(found, key=lambda c: -c[1])

    async def conversations(self, user_id: str) -> list[tuple[str, int]]:
        return await self._run(self._conversations_sync, user_id)

    def _latest_pages_sync(self, user_id: str, peer_ids: list[str], limit: int) -> dict[str, Page]:
        pages = {}
        for peer in peer_ids:
            key = self._conversation(user_id, peer)
            if key is not None and (page := self._page_sync(*key, None, limit)).messages:
                pages[peer] = page
        return pages

    async def latest_pages(self, user_id: str, peer_ids: list[str], limit: int) -> dict[str, Page]:
        return await self._run(self._latest_pages_sync, user_id, peer_ids, limit)

    async def history(self, user_id: str, peer_id: str, before: int | None, limit: int) -> Page:
        key = self._conversation(user_id, peer_id)
        if key is None:
            return Page([], has_more=False)
        return await self._run(self._page_sync, key[0], key[1], before, limit)

    async def counts(self) -> dict[str, int]:
        return {"users": len(self._users), "messages": self._messages}

    RETENTION_CHUNK: Final = 2000

    def _first_kept_sync(self, cutoff_ms: int) -> int | None:
        # ids and times grow together here (one writer, ts never goes back), so
        # everything before the first message at or after the cutoff is older
        row = self._rdb.execute(
            "SELECT id FROM messages WHERE ts >= ? ORDER BY id LIMIT 1", (cutoff_ms,)
        ).fetchone()
        return None if row is None else int(row[0])

    def _delete_chunk_sync(self, below_id: int) -> int:
        def work(db: sqlite3.Connection) -> int:
            return db.execute(
                "DELETE FROM messages WHERE id IN"
                " (SELECT id FROM messages WHERE id < ? ORDER BY id LIMIT ?)",
                (below_id, self.RETENTION_CHUNK),
            ).rowcount

        removed = self._transaction(work)
        self._messages -= removed
        return removed

    async def _retention(self, cutoff_ms: int) -> int:
        """Delete in chunks of short transactions, so that senders (whose commits share
        the writer) never wait behind one long delete."""
        first_kept = await self._run(self._first_kept_sync, cutoff_ms)
        below = self._next_id if first_kept is None else first_kept
        removed = 0
        while True:
            n = await self._write(self._delete_chunk_sync, below)
            removed += n
            if n < self.RETENTION_CHUNK:
                return removed
            await asyncio.sleep(0)

    def _list_sessions_sync(self) -> list[tuple[str, str, int]]:
        return self._rdb.execute(
            "SELECT s.user_id, u.username, s.created_ms FROM sessions s"
            " JOIN users u ON u.user_id = s.user_id ORDER BY s.created_ms"
        ).fetchall()

    async def list_sessions(self) -> list[SessionInfo]:
        rows = await self._run(self._list_sessions_sync)
        return [SessionInfo(self._users.get(u) or User(u, n), c) for u, n, c in rows]

    async def revoke_sessions(self, user_id: str) -> int:
        def work(db: sqlite3.Connection) -> int:
            return db.execute("DELETE FROM sessions WHERE user_id = ?", (user_id,)).rowcount

        return await self._write(self._transaction, work)

    def _live_sync(self, hashes: list[bytes]) -> set[bytes]:
        live: set[bytes] = set()
        for i in range(0, len(hashes), 500):
            chunk = hashes[i : i + 500]
            marks = ",".join("?" * len(chunk))
            rows = self._rdb.execute(
                f"SELECT token_hash FROM sessions WHERE token_hash IN ({marks})", chunk
            )
            live.update(bytes(r[0]) for r in rows)
        return live

    async def live_sessions(self, session_hashes: list[bytes]) -> set[bytes]:
        return await self._run(self._live_sync, session_hashes)

    async def set_last_seen(self, user_id: str, when_ms: int) -> None:
        def work(db: sqlite3.Connection) -> None:
            db.execute("UPDATE users SET last_seen_ms = ? WHERE user_id = ?", (when_ms, user_id))

        await self._write(self._transaction, work)

    def _user_infos_sync(self) -> list[tuple[str, str, int, int | None, int]]:
        return self._rdb.execute(
            "SELECT u.user_id, u.username, u.created_ms, u.last_seen_ms,"
            " (SELECT count(*) FROM sessions s WHERE s.user_id = u.user_id)"
            " FROM users u ORDER BY u.seq"
        ).fetchall()

    async def user_infos(self) -> list[UserInfo]:
        rows = await self._run(self._user_infos_sync)
        return [
            UserInfo(self._users.get(uid) or User(uid, name), created, seen, sessions)
            for uid, name, created, seen, sessions in rows
        ]

    def _delete_user_sync(self, user_id: str) -> int:
        me = self._seq_of.get(user_id)
        if me is None:
            return 0
        now = time.time_ns() // 1_000_000

        def work(db: sqlite3.Connection) -> int:
            erased = 0
            peers = [
                p for (p,) in db.execute("SELECT peer_seq FROM peers WHERE user_seq = ?", (me,))
            ]
            for peer in peers:
                a, b = conversation_key(me, peer)
                erased += db.execute("DELETE FROM messages WHERE a = ? AND b = ?", (a, b)).rowcount
            db.execute("DELETE FROM peers WHERE user_seq = ? OR peer_seq = ?", (me, me))
            db.execute("DELETE FROM sessions WHERE user_id = ?", (user_id,))
            db.execute("DELETE FROM users WHERE seq = ?", (me,))
            db.execute("INSERT INTO removals (user_id, at_ms) VALUES (?, ?)", (user_id, now))
            return erased

        erased = self._transaction(work)
        self._messages -= erased
        self._known_peers = {k for k in self._known_peers if me not in k}
        self._forget(user_id)
        return erased

    def _forget(self, user_id: str) -> None:
        # _user_of keeps the seq (never reused): a read begun before the delete may
        # still hold rows of this user
        self._seq_of.pop(user_id, None)
        self._drop_user(user_id)

    async def delete_user(self, user_id: str) -> int:
        return await self._write(self._delete_user_sync, user_id)

    def _removed_since_sync(self, cursor: int) -> tuple[list[str], int]:
        rows = self._rdb.execute(
            "SELECT id, user_id FROM removals WHERE id > ? ORDER BY id", (cursor,)
        ).fetchall()
        return [uid for _, uid in rows], (rows[-1][0] if rows else cursor)

    async def removed_since(self, cursor: int) -> tuple[list[str], int]:
        removed, cursor = await self._run(self._removed_since_sync, cursor)
        for user_id in removed:  # deleted by another process (chat-server users delete)
            self._forget(user_id)
        return removed, cursor

    def _idle_sync(self, cutoff_ms: int) -> list[str]:
        rows = self._rdb.execute(
            "SELECT user_id FROM users u WHERE coalesce(last_seen_ms, created_ms) < ?"
            " AND NOT EXISTS (SELECT 1 FROM peers p WHERE p.user_seq = u.seq)",
            (cutoff_ms,),
        ).fetchall()
        return [str(r[0]) for r in rows]

    async def idle_users(self, cutoff_ms: int) -> list[str]:
        return await self._run(self._idle_sync, cutoff_ms)

    async def apply_retention(self, now_ms: int | None = None) -> int:
        if not self.retention_days:
            return 0
        now = now_ms or time.time_ns() // 1_000_000
        return await self._retention(now - self.retention_days * 86_400_000)

    async def explain_page_query(self) -> list[str]:
        """The query plan of an older-page query (for tests that guard the index)."""

        def explain() -> list[str]:
            rows = self._rdb.execute(
                f"EXPLAIN QUERY PLAN SELECT {_MSG_COLUMNS} FROM messages"
                " WHERE a = ? AND b = ? AND id < ? ORDER BY id DESC LIMIT ?",
                (1, 2, 10, 10),
            ).fetchall()
            return [str(r[-1]) for r in rows]

        return await self._run(explain)
