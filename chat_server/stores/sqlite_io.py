"""The SQLite store's plumbing: its file, its three connections and the threads that use
them, transactions, checkpoints, and SQLite's errors as the store's.

Three connections, each used by one thread only. The writer commits on the event loop's
own thread: with WAL and ``synchronous=normal`` a commit only appends to the WAL (no
fsync), which takes less time than handing the work to a thread and back, and a thread
fought the event loop for the GIL on every SQLite step (docs/performance.md). With
``synchronous=full`` or ``extra`` a commit waits for the disk, so the writer gets a thread
of its own. Reads, which can be long, run on a reader thread with its own connection;
WAL lets them run while the writer commits. Checkpoints, which fsync, run on a third
connection and thread, never inside a commit that a sender waits for.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import stat
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Final, TypeVar

from chat_server.stores import sqlite_lib
from chat_server.stores.base import StoreUnavailable
from chat_server.stores.sqlite_schema import migrate
from chat_server.tasks import cancel_and_wait

T = TypeVar("T")
log = logging.getLogger(__name__)

SYNCHRONOUS_MODES: Final = ("off", "normal", "full", "extra")
PAGE_SIZE: Final = 1024
SCRUB_RETRY_S: Final = 0.1  # a WAL to empty (deleted text) is tried again this soon


@contextlib.contextmanager
def unavailable_on_error() -> Iterator[None]:
    """SQLite's operational errors (locked, disk full, I/O) as the store's StoreUnavailable."""
    try:
        yield
    except sqlite_lib.OperationalError as exc:
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


class SqliteIO:
    """One SQLite file: a writer, a reader and a checkpointer connection."""

    def __init__(self, path: Path, synchronous: str = "normal") -> None:
        if synchronous not in SYNCHRONOUS_MODES:
            raise ValueError(f"synchronous must be one of {', '.join(SYNCHRONOUS_MODES)}")
        self.path = path
        self.synchronous = synchronous
        self.inline_writes = synchronous in ("off", "normal")
        self._conn: sqlite_lib.Connection | None = None  # the writer
        self._rconn: sqlite_lib.Connection | None = None  # the reader, on self._reader
        self._reader: ThreadPoolExecutor | None = None
        self._writer: ThreadPoolExecutor | None = None  # None: writes inline (see above)
        self._checkpointer: ThreadPoolExecutor | None = None
        self._checkpoint_task: asyncio.Task[None] | None = None
        self._ckpt_conn: sqlite_lib.Connection | None = None
        self._scrub = False  # the next checkpoint truncates the WAL (a message was deleted)
        self._wake = asyncio.Event()  # set: checkpoint now
        self.read_at = 0.0  # loop time of the last read (the store's idle work waits)

    @property
    def is_open(self) -> bool:
        return self._reader is not None

    @property
    def db(self) -> sqlite_lib.Connection:
        """The writer's connection (writes only, on the writer's thread)."""
        assert self._conn is not None, "store is not open"
        return self._conn

    @property
    def rdb(self) -> sqlite_lib.Connection:
        """The reader's connection (only on the reader thread: inside read())."""
        assert self._rconn is not None, "store is not open"
        return self._rconn

    # -- running work -----------------------------------------------------------------

    async def read(self, fn: Callable[..., T], *args: object) -> T:
        """Run a read on the reader thread."""
        if self._reader is None:
            raise StoreUnavailable("store is not open")
        loop = asyncio.get_running_loop()
        self.read_at = loop.time()
        with unavailable_on_error():
            return await loop.run_in_executor(self._reader, fn, *args)

    async def write(self, fn: Callable[..., T], *args: object) -> T:
        """Run a write with the writer connection: inline, or on the writer thread."""
        if self._conn is None:
            raise StoreUnavailable("store is not open")
        with unavailable_on_error():
            if self._writer is None:
                return fn(*args)
            return await asyncio.get_running_loop().run_in_executor(self._writer, fn, *args)

    def transaction(self, work: Callable[[sqlite_lib.Connection], T]) -> T:
        """``work`` in one immediate transaction of the writer (call it inside write())."""
        db = self.db
        db.execute("BEGIN IMMEDIATE")
        try:
            result = work(db)
        except BaseException:
            db.execute("ROLLBACK")
            raise
        db.execute("COMMIT")
        return result

    async def in_transaction(self, work: Callable[[sqlite_lib.Connection], T]) -> T:
        """write(transaction(work)): one transaction of the writer."""
        return await self.write(self.transaction, work)

    # -- open and close ---------------------------------------------------------------

    def _open_sync(self, load: Callable[[sqlite_lib.Connection], None]) -> None:
        private_file(self.path)
        conn = sqlite_lib.connect(self.path, isolation_level=None, check_same_thread=False)
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
        # checkpoints run on their own connection and thread (see the module docstring)
        conn.execute("PRAGMA wal_autocheckpoint=0")
        migrate(conn)
        self._conn = conn
        load(conn)
        reader = sqlite_lib.connect(self.path, isolation_level=None, check_same_thread=False)
        reader.execute("PRAGMA busy_timeout=5000")
        self._rconn = reader

    async def open(self, load: Callable[[sqlite_lib.Connection], None]) -> None:
        """Open, migrate, then ``load(writer)`` the caches; start checkpointing."""
        self._reader = ThreadPoolExecutor(1, thread_name_prefix="chat-sqlite-read")
        if not self.inline_writes:
            self._writer = ThreadPoolExecutor(1, thread_name_prefix="chat-sqlite-write")
        await self.read(self._open_sync, load)
        self._checkpointer = ThreadPoolExecutor(1, thread_name_prefix="chat-sqlite-ckpt")
        self._checkpoint_task = asyncio.create_task(self._checkpoint_loop())

    def request_scrub(self) -> None:
        """Messages were deleted: their text is gone from the pages (secure_delete), but
        older WAL frames still hold it. A checkpoint starts now: it copies the WAL into
        the file and truncates it to nothing (again a second later while busy)."""
        self._scrub = True
        self._wake.set()

    def _checkpoint_sync(self) -> None:
        if self._ckpt_conn is None:
            self._ckpt_conn = sqlite_lib.connect(
                self.path, isolation_level=None, check_same_thread=False
            )
            # no waiting: a TRUNCATE that waits blocks new writers meanwhile, and the
            # writer commits on the event loop. Busy now means: again in a moment.
            self._ckpt_conn.execute("PRAGMA busy_timeout=0")
        if self._scrub:
            self._scrub = False  # a delete from now on asks again
            try:
                # TRUNCATE needs no writer and every reader on the latest snapshot; then
                # it copies the WAL into the file and empties it
                (busy, _, _) = self._ckpt_conn.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()
            except BaseException:
                self._scrub = True
                raise
            if busy:
                self._scrub = True  # again in SCRUB_RETRY_S
            return
        # PASSIVE: copy what it can without waiting for the writer or readers
        self._ckpt_conn.execute("PRAGMA wal_checkpoint(PASSIVE)")

    async def _checkpoint_loop(self, every: float = 1.0) -> None:
        loop = asyncio.get_running_loop()
        while True:
            # asyncio.wait, not wait_for: Python 3.11's wait_for can swallow the
            # cancellation that close() sends when the event is set at the same moment
            woken = asyncio.ensure_future(self._wake.wait())
            try:
                await asyncio.wait({woken}, timeout=SCRUB_RETRY_S if self._scrub else every)
            finally:
                woken.cancel()
            self._wake.clear()
            try:
                await loop.run_in_executor(self._checkpointer, self._checkpoint_sync)
            except sqlite_lib.Error as exc:
                log.warning("WAL checkpoint failed: %s", exc)

    async def close(self) -> None:
        """Stop checkpointing, close the reader, then the writer (optimize, truncate the
        WAL). Idempotent."""
        if self._reader is None:
            return
        if self._checkpoint_task is not None:
            await cancel_and_wait([self._checkpoint_task])
            self._checkpoint_task = None
        if self._checkpointer is not None:
            await asyncio.get_running_loop().run_in_executor(
                self._checkpointer, _close, self, "_ckpt_conn"
            )
            self._checkpointer.shutdown(wait=True)
            self._checkpointer = None
        await self.read(_close, self, "_rconn")
        self._reader.shutdown(wait=True)
        self._reader = None
        await self.write(self._close_writer)
        if self._writer is not None:
            self._writer.shutdown(wait=True)
            self._writer = None

    def _close_writer(self) -> None:
        if self._conn is not None:
            self._conn.execute("PRAGMA optimize")
            self._conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
            self._conn.close()
            self._conn = None


def _close(io: SqliteIO, attribute: str) -> None:
    """Close one of ``io``'s connections (on the thread that uses it)."""
    conn: sqlite_lib.Connection | None = getattr(io, attribute)
    if conn is not None:
        conn.close()
        setattr(io, attribute, None)
