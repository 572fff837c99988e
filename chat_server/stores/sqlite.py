"""The default store: one embedded SQLite file in WAL mode, written with group commit.

Messages saved concurrently by many handlers are written in one transaction per batch; no
caller is answered before the transaction holding its message has committed. The file's
connections and threads are in sqlite_io.py, its schema in sqlite_schema.py, sessions,
deletion and retention in sqlite_admin.py.
"""

from __future__ import annotations

import asyncio
import logging
import time
from pathlib import Path
from typing import Final

from chat_server.protocol import username_key
from chat_server.stores import sqlite_lib
from chat_server.stores.base import (
    Marked,
    Message,
    Page,
    ReadState,
    Saved,
    StoreUnavailable,
    User,
    UserIdTaken,
    UsernameTaken,
    conversation_key,
)
from chat_server.stores.batching import Batcher, Mark, Result, Send, Write
from chat_server.stores.sqlite_admin import SqliteAdmin
from chat_server.stores.sqlite_batch import MSG_COLUMNS, Batch, Row
from chat_server.stores.sqlite_edits import SqliteEdits
from chat_server.stores.sqlite_io import PAGE_SIZE, SYNCHRONOUS_MODES, SqliteIO
from chat_server.stores.sqlite_search import catch_up, load_key, weight_past

__all__ = ["PAGE_SIZE", "SYNCHRONOUS_MODES", "SqliteStore"]

log = logging.getLogger(__name__)

MAX_BATCH: Final = 512
LINGER: Final = 3  # loop passes a busy group commit waits for more writes (batching.py)
# The search index trails the messages (sqlite_search.py, docs/performance.md): a group
# commit indexes nothing until the messages past its mark weigh INDEX_EVERY (a message
# weighs 1, or sqlite_search.WIDE when its text has characters beyond ASCII), then the
# oldest, INDEX_STEP at least (an FTS5 segment per step instead of one per commit). In the
# server, once they weigh INDEX_STEP, the index also catches up a step per transaction
# when the store has seen no group commit and no read for INDEX_IDLE seconds (the tail of
# a burst), and a step every INDEX_PACE seconds whatever the load. Searches match the
# messages past the mark by their text, so nothing is missing meanwhile.
INDEX_EVERY: Final = 16384
INDEX_STEP: Final = 128
INDEX_IDLE: Final = 0.05
INDEX_PACE: Final = 1.0

_MSG_COLUMNS = MSG_COLUMNS
# the peer's messages past the reader's marker, up to the peer's last one
_UNREAD: Final = (
    "SELECT count(*) FROM messages WHERE a = ? AND b = ? AND id > ? AND id <= ?"
    " AND from_seq = ? AND deleted = 0"
)
_LAST_FROM: Final = "SELECT max(id) FROM messages WHERE a = ? AND b = ? AND from_seq = ?"


def _ran(batch: Batch, items: list[Write]) -> Batch:
    batch.run(items)
    return batch


class SqliteStore(SqliteEdits, SqliteAdmin):
    """SQLite back end (``sqlite:///path/to/file.db[?synchronous=normal|full]``)."""

    kind = "sqlite"

    def __init__(
        self,
        path: Path,
        synchronous: str = "normal",
        retention_days: int = 0,
        *,
        keep_index: bool = True,
    ) -> None:
        super().__init__()
        self.io = SqliteIO(path, synchronous)
        self.path, self.synchronous = path, synchronous
        self.retention_days = retention_days
        self.inline_writes = self.io.inline_writes
        self._known_peers: set[tuple[int, int]] = set()
        # (from_seq, to_seq) -> an id no message from -> to is past (0: none), for the
        # conversations this process stored a message in or counted unread messages of:
        # an unread count whose peer wrote nothing past the reader's marker needs no scan
        self._last_from: dict[tuple[int, int], int] = {}
        self._batcher: Batcher[Write, Result] = Batcher(
            self._write_batch_async, MAX_BATCH, linger=LINGER
        )
        self._seen: dict[str, int] = {}  # userID -> last seen (ms), this process owns it
        self._last_ts = 0
        self._messages = 0
        self._next_id = 1
        # users.seq <-> userID: the database refers to users by seq (schema v2)
        self._seq_of: dict[str, int] = {}
        self._user_of: dict[int, str] = {}
        self.search_key = b""  # the key of the search index's word hashes (_load)
        # what the messages stored past the search index's mark weigh (sqlite_search.WIDE),
        # as this process counts them, and when the index catches up (INDEX_EVERY above)
        self.unindexed = 0
        self.index_every = INDEX_EVERY
        self.index_step = INDEX_STEP
        # the server keeps the index; another process on the file (the command line)
        # leaves it alone: indexing would hold the write lock the server waits for
        self.keep_index = keep_index
        self.index_idle: float | None = INDEX_IDLE if keep_index else None  # None: never
        self.index_pace = INDEX_PACE
        self._loop: asyncio.AbstractEventLoop | None = None
        self._last_batch = 0.0  # loop time of the last group commit
        self._last_step = 0.0  # and of the last step of idle indexing (or the open)
        self._rest_until = 0.0  # no step before (_step_due)
        self._idle_timer: asyncio.TimerHandle | None = None
        self._idle_task: asyncio.Task[None] | None = None

    def _register(self, seq: int, user: User) -> User:
        self._seq_of[user.user_id] = seq
        self._user_of[seq] = user.user_id
        return self._add_user(user)

    def _to_message(self, row: Row) -> Message:
        msg_id, a, b, from_seq, content, ts, client_id, edited_at, deleted, reply_to = row
        user_of = self._user_of
        return Message(
            id=msg_id,
            from_id=user_of[from_seq],
            to_id=user_of[b if from_seq == a else a],
            content=content,
            ts=ts,
            client_id=client_id,
            edited_at=edited_at,
            deleted=bool(deleted),
            reply_to=reply_to,
        )

    # -- open and close ---------------------------------------------------------------

    def _load(self, conn: sqlite_lib.Connection) -> None:
        """The caches, read once at open: users (in creation order), counts, the next id."""
        rows = conn.execute(
            "SELECT seq, user_id, username, last_seen_ms FROM users ORDER BY seq"
        ).fetchall()
        for seq, user_id, username, seen in rows:
            self._register(seq, User(user_id=user_id, username=username))
            if seen is not None:
                self._seen[user_id] = seen
        self.search_key = load_key(conn)
        (self._messages,) = conn.execute("SELECT count(*) FROM messages").fetchone()
        (last_ts,) = conn.execute("SELECT max(ts) FROM messages").fetchone()
        self._last_ts = last_ts or 0
        # never reuse an id, even of messages deleted by retention
        (seq,) = conn.execute(
            "SELECT max(seq) FROM sqlite_sequence WHERE name = 'messages'"
        ).fetchone()
        (top,) = conn.execute("SELECT max(id) FROM messages").fetchone()
        self._next_id = max(seq or 0, top or 0) + 1
        # what the last run left past the search index's mark: idle steps index it
        self.unindexed = weight_past(conn)

    async def open(self) -> None:
        loop = asyncio.get_running_loop()
        await self.io.open(self._load)
        self._loop, self._last_step = loop, loop.time()
        self._arm(loop)  # what a crash left is indexed when idle

    async def close(self) -> None:
        """Close the file; what is past the search index's mark stays there (searches
        find it by its text, the next server process indexes it when idle)."""
        self._loop = None  # no idle indexing from now on
        if self._idle_timer is not None:
            self._idle_timer.cancel()
            self._idle_timer = None
        if self._idle_task is not None:
            await asyncio.wait({self._idle_task})  # it logs its own failure
        if self.io.is_open:
            try:
                await self._batcher.drain()
            finally:
                await self.io.close()

    # -- users ------------------------------------------------------------------------

    def _create_user_sync(
        self, user_id: str, username: str, session_hash: bytes, unique: bool
    ) -> int:
        key = username_key(username)
        now = time.time_ns() // 1_000_000

        def work(db: sqlite_lib.Connection) -> int:
            if unique and db.execute("SELECT 1 FROM users WHERE name_key = ?", (key,)).fetchone():
                raise UsernameTaken(username)
            try:
                cur = db.execute(
                    "INSERT INTO users (user_id, username, name_key, created_ms) VALUES (?,?,?,?)",
                    (user_id, username, key, now),
                )
            except sqlite_lib.IntegrityError as exc:
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
        self,
        from_id: str,
        to_id: str,
        content: str,
        client_id: str | None = None,
        reply_to: int | None = None,
    ) -> Saved:
        if not self.io.is_open:
            raise StoreUnavailable("store is not open")
        # group commit: concurrent saves share one transaction (see batching.py)
        saved = await self._batcher.submit(Send(from_id, to_id, content, client_id, reply_to))
        assert isinstance(saved, Saved)
        return saved

    async def mark_read(
        self, user_id: str, peer_id: str, up_to: int, *, private: bool, at_ms: int
    ) -> Marked:
        if not self.io.is_open:
            raise StoreUnavailable("store is not open")
        marked = await self._batcher.submit(Mark(user_id, peer_id, up_to, private, at_ms))
        assert isinstance(marked, Marked)
        return marked

    async def _write_batch_async(self, items: list[Write]) -> list[Result | Exception]:
        try:
            return await self.io.write(self._write_batch, items)
        finally:
            self._after_batch()

    # -- the search index catches up while the writer is idle -------------------------

    def _after_batch(self) -> None:
        loop = self._loop
        if loop is None:
            return
        self._last_batch = loop.time()
        self._arm(loop)

    def _arm(self, loop: asyncio.AbstractEventLoop) -> None:
        """Call _when_idle when the next step is due, if one will be."""
        if self.index_idle is None or self.unindexed < self.index_step or not self.io.is_open:
            return
        if self._idle_timer is not None or self._idle_task is not None:
            return
        self._idle_timer = loop.call_at(self._step_due(), self._when_idle)

    def _step_due(self) -> float:
        """When the next step of idle indexing may run: once the store saw no group
        commit and no read (a connect, a page, a search) for index_idle seconds, or
        index_pace seconds after the last step; and never sooner after a step than twice
        its length (the steps of a long catch-up take a third of the loop at most)."""
        busy = max(self._last_batch, self.io.read_at) + (self.index_idle or 0.0)
        return max(min(busy, self._last_step + self.index_pace), self._rest_until)

    def _when_idle(self) -> None:
        self._idle_timer = None
        loop = self._loop
        if loop is None or self.index_idle is None:
            return
        if self._step_due() > loop.time():
            self._arm(loop)  # the store was used meanwhile
        elif self.io.is_open and self.unindexed >= self.index_step:
            self._idle_task = loop.create_task(self._idle_step())

    async def _idle_step(self) -> None:
        started = time.perf_counter()
        try:
            await self.io.write(self._index_step_sync)
        except (StoreUnavailable, sqlite_lib.Error) as exc:
            # stored messages are found by their text meanwhile; the next batch after a
            # rest of index_pace re-arms
            log.warning("the search index could not catch up (%s); later", exc)
            failed, rest = True, self.index_pace
        else:
            failed, rest = False, 2 * (time.perf_counter() - started)
        finally:
            self._idle_task = None
        loop = self._loop
        if loop is not None and self._idle_timer is None:
            self._last_step = loop.time()
            self._rest_until = self._last_step + rest
            if not failed:
                self._arm(loop)

    def _index_step_sync(self) -> None:
        step, key = self.index_step, self.search_key
        passed, weighed = self.io.transaction(lambda db: catch_up(db, key, step))
        self.unindexed = 0 if passed < step else max(self.unindexed - weighed, 0)

    def _write_batch(self, items: list[Write]) -> list[Result | Exception]:
        """One transaction for a batch (sqlite_batch.py)."""
        ts = max(time.time_ns() // 1_000_000, self._last_ts)
        batch = self.io.transaction(lambda db: _ran(Batch(self, db, ts), items))
        batch.apply()
        return batch.out

    def _conversation(self, user_id: str, peer_id: str) -> tuple[int, int] | None:
        a, b = self._seq_of.get(user_id), self._seq_of.get(peer_id)
        return None if a is None or b is None else conversation_key(a, b)

    def _page_sync(
        self, a: int, b: int, before: int | None, limit: int, after: int | None = None
    ) -> Page:
        db = self.io.rdb
        if after is not None:
            rows = db.execute(
                f"SELECT {_MSG_COLUMNS} FROM messages WHERE a = ? AND b = ? AND id > ?"
                " ORDER BY id LIMIT ?",
                (a, b, after, limit + 1),
            ).fetchall()
            (older,) = db.execute(
                "SELECT EXISTS (SELECT 1 FROM messages WHERE a = ? AND b = ? AND id <= ?)",
                (a, b, after),
            ).fetchone()
            msgs = [self._to_message(r) for r in rows[:limit]]
            return Page(msgs, has_more=bool(older), has_newer=len(rows) > limit)
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
        newer = False
        if before is not None:
            (newer,) = db.execute(
                "SELECT EXISTS (SELECT 1 FROM messages WHERE a = ? AND b = ? AND id >= ?)",
                (a, b, before),
            ).fetchone()
        msgs = [self._to_message(r) for r in reversed(rows[:limit])]
        return Page(msgs, has_more=has_more, has_newer=bool(newer))

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

    async def history(
        self,
        user_id: str,
        peer_id: str,
        before: int | None,
        limit: int,
        after: int | None = None,
    ) -> Page:
        key = self._conversation(user_id, peer_id)
        if key is None:
            return Page([], has_more=False)
        return await self.io.read(self._page_sync, key[0], key[1], before, limit, after)

    def _read_states_sync(
        self, user_id: str, peer_ids: list[str]
    ) -> tuple[dict[str, ReadState], dict[tuple[int, int], int]]:
        me, db = self._seq_of.get(user_id), self.io.rdb
        if me is None:
            return {}, {}
        mine = dict(db.execute("SELECT peer_seq, up_to FROM reads WHERE user_seq = ?", (me,)))
        theirs = {
            peer: (up_to, at)
            for peer, up_to, at in db.execute(
                "SELECT user_seq, shown_up_to, shown_at FROM reads"
                " WHERE peer_seq = ? AND shown_up_to IS NOT NULL",
                (me,),
            )
        }
        out, learned, last_from = {}, {}, self._last_from
        for peer_id in peer_ids:
            peer = self._seq_of.get(peer_id)
            if peer is None:
                continue
            read, shown = mine.get(peer), theirs.get(peer, (None, None))
            unread = 0
            if peer != me:
                key = conversation_key(me, peer)
                last = last_from.get((peer, me))
                if last is None:  # once per conversation: a scan of it
                    (found,) = db.execute(_LAST_FROM, (*key, peer)).fetchone()
                    last = learned[(peer, me)] = found or 0
                if last > (read or 0):
                    (unread,) = db.execute(_UNREAD, (*key, read or 0, last, peer)).fetchone()
            out[peer_id] = ReadState(read, shown[0], shown[1], unread)
        return out, learned

    async def read_states(self, user_id: str, peer_ids: list[str]) -> dict[str, ReadState]:
        states, learned = await self.io.read(self._read_states_sync, user_id, peer_ids)
        for key, last in learned.items():
            # a message stored meanwhile set its own, later id (Batch.apply): keep that
            self._last_from.setdefault(key, last)
        return states

    async def last_seen(self, user_ids: list[str]) -> dict[str, int]:
        return {u: self._seen[u] for u in user_ids if u in self._seen}

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
