"""What the SQLite store does besides users and messages: sessions (list, revoke, check),
when users were last seen, deleting and pruning users, and retention. A mixin of
SqliteStore, which provides the file (``io``) and the user maps."""

from __future__ import annotations

import asyncio
import time
from typing import Final

from chat_server.stores import sqlite_lib
from chat_server.stores.base import SessionInfo, User, UserCache, UserInfo, conversation_key
from chat_server.stores.sqlite_io import SqliteIO
from chat_server.stores.sqlite_search import unindex_where

RETENTION_CHUNK: Final = 2000


class SqliteAdmin(UserCache):
    """Sessions, last seen, deletion, pruning and retention on the SQLite file."""

    io: SqliteIO
    retention_days: int
    _seq_of: dict[str, int]
    _known_peers: set[tuple[int, int]]
    _last_from: dict[tuple[int, int], int]
    _messages: int
    _next_id: int
    _seen: dict[str, int]
    search_key: bytes

    # -- sessions ---------------------------------------------------------------------

    def _list_sessions_sync(self) -> list[tuple[str, str, int]]:
        return self.io.rdb.execute(
            "SELECT s.user_id, u.username, s.created_ms FROM sessions s"
            " JOIN users u ON u.user_id = s.user_id ORDER BY s.created_ms"
        ).fetchall()

    async def list_sessions(self) -> list[SessionInfo]:
        rows = await self.io.read(self._list_sessions_sync)
        return [SessionInfo(self._users.get(u) or User(u, n), c) for u, n, c in rows]

    async def revoke_sessions(self, user_id: str) -> int:
        def work(db: sqlite_lib.Connection) -> int:
            return db.execute("DELETE FROM sessions WHERE user_id = ?", (user_id,)).rowcount

        return await self.io.in_transaction(work)

    def _live_sync(self, hashes: list[bytes]) -> set[bytes]:
        live: set[bytes] = set()
        for i in range(0, len(hashes), 500):
            chunk = hashes[i : i + 500]
            marks = ",".join("?" * len(chunk))
            rows = self.io.rdb.execute(
                f"SELECT token_hash FROM sessions WHERE token_hash IN ({marks})", chunk
            )
            live.update(bytes(r[0]) for r in rows)
        return live

    async def live_sessions(self, session_hashes: list[bytes]) -> set[bytes]:
        return await self.io.read(self._live_sync, session_hashes)

    # -- users ------------------------------------------------------------------------

    async def set_last_seen(self, user_id: str, when_ms: int) -> None:
        def work(db: sqlite_lib.Connection) -> None:
            db.execute("UPDATE users SET last_seen_ms = ? WHERE user_id = ?", (when_ms, user_id))

        await self.io.in_transaction(work)
        if user_id in self._seq_of:
            self._seen[user_id] = when_ms

    def _user_infos_sync(self) -> list[tuple[str, str, int, int | None, int]]:
        return self.io.rdb.execute(
            "SELECT u.user_id, u.username, u.created_ms, u.last_seen_ms,"
            " (SELECT count(*) FROM sessions s WHERE s.user_id = u.user_id)"
            " FROM users u ORDER BY u.seq"
        ).fetchall()

    async def user_infos(self) -> list[UserInfo]:
        rows = await self.io.read(self._user_infos_sync)
        return [
            UserInfo(self._users.get(uid) or User(uid, name), created, seen, sessions)
            for uid, name, created, seen, sessions in rows
        ]

    def _delete_user_sync(self, user_id: str) -> int:
        me = self._seq_of.get(user_id)
        if me is None:
            return 0
        now = time.time_ns() // 1_000_000

        peers: list[int] = []

        def work(db: sqlite_lib.Connection) -> int:
            erased = 0
            peers[:] = [
                p for (p,) in db.execute("SELECT peer_seq FROM peers WHERE user_seq = ?", (me,))
            ]
            for peer in peers:
                a, b = conversation_key(me, peer)
                unindex_where(db, "a = ? AND b = ?", (a, b), self.search_key)
                # counted first: they leave the index, then the table
                (n,) = db.execute(
                    "SELECT count(*) FROM messages WHERE a = ? AND b = ?", (a, b)
                ).fetchone()
                db.execute("DELETE FROM messages WHERE a = ? AND b = ?", (a, b))
                erased += n
            db.execute("DELETE FROM peers WHERE user_seq = ? OR peer_seq = ?", (me, me))
            db.execute("DELETE FROM reads WHERE user_seq = ? OR peer_seq = ?", (me, me))
            db.execute("DELETE FROM sessions WHERE user_id = ?", (user_id,))
            db.execute("DELETE FROM users WHERE seq = ?", (me,))
            db.execute("INSERT INTO removals (user_id, at_ms) VALUES (?, ?)", (user_id, now))
            return erased

        erased = self.io.transaction(work)
        self._messages -= erased
        # their conversations only: read_states adds to _last_from on the event loop
        # while this may run on the writer's thread (synchronous=full)
        for peer in peers:
            for pair in ((me, peer), (peer, me)):
                self._known_peers.discard(pair)
                self._last_from.pop(pair, None)
        self._forget(user_id)
        return erased

    def _forget(self, user_id: str) -> None:
        # the seq -> userID map keeps the seq (never reused): a read begun before the
        # delete may still hold rows of this user
        self._seq_of.pop(user_id, None)
        self._seen.pop(user_id, None)
        self._drop_user(user_id)

    async def delete_user(self, user_id: str) -> int:
        erased = await self.io.write(self._delete_user_sync, user_id)
        self.io.request_scrub()  # the WAL still holds what was erased
        return erased

    def _removed_since_sync(self, cursor: int) -> tuple[list[str], int]:
        rows = self.io.rdb.execute(
            "SELECT id, user_id FROM removals WHERE id > ? ORDER BY id", (cursor,)
        ).fetchall()
        return [uid for _, uid in rows], (rows[-1][0] if rows else cursor)

    async def removed_since(self, cursor: int) -> tuple[list[str], int]:
        removed, cursor = await self.io.read(self._removed_since_sync, cursor)
        for user_id in removed:  # deleted by another process (chat-server users delete)
            self._forget(user_id)
        return removed, cursor

    def _idle_sync(self, cutoff_ms: int) -> list[str]:
        rows = self.io.rdb.execute(
            "SELECT user_id FROM users u WHERE coalesce(last_seen_ms, created_ms) < ?"
            " AND NOT EXISTS (SELECT 1 FROM peers p WHERE p.user_seq = u.seq)",
            (cutoff_ms,),
        ).fetchall()
        return [str(r[0]) for r in rows]

    async def idle_users(self, cutoff_ms: int) -> list[str]:
        return await self.io.read(self._idle_sync, cutoff_ms)

    # -- retention --------------------------------------------------------------------

    def _first_kept_sync(self, cutoff_ms: int) -> int | None:
        # ids and times grow together here (one writer, ts never goes back), so
        # everything before the first message at or after the cutoff is older
        row = self.io.rdb.execute(
            "SELECT id FROM messages WHERE ts >= ? ORDER BY id LIMIT 1", (cutoff_ms,)
        ).fetchone()
        return None if row is None else int(row[0])

    def _delete_chunk_sync(self, below_id: int) -> int:
        def work(db: sqlite_lib.Connection) -> int:
            # counted by the ids (read anyway: they leave the index first)
            ids = db.execute(
                "SELECT id FROM messages WHERE id < ? ORDER BY id LIMIT ?",
                (below_id, RETENTION_CHUNK),
            ).fetchall()
            if ids:
                span = (ids[0][0], ids[-1][0])
                unindex_where(db, "id >= ? AND id <= ?", span, self.search_key)
                db.execute("DELETE FROM messages WHERE id >= ? AND id <= ?", span)
            return len(ids)

        removed = self.io.transaction(work)
        self._messages -= removed
        return removed

    async def apply_retention(self, now_ms: int | None = None) -> int:
        """Delete in chunks of short transactions, so that senders (whose commits share
        the writer) never wait behind one long delete."""
        if not self.retention_days:
            return 0
        now = now_ms or time.time_ns() // 1_000_000
        first_kept = await self.io.read(
            self._first_kept_sync, now - self.retention_days * 86_400_000
        )
        below = self._next_id if first_kept is None else first_kept
        removed = 0
        while True:
            n = await self.io.write(self._delete_chunk_sync, below)
            removed += n
            if n < RETENTION_CHUNK:
                if removed:
                    self.io.request_scrub()  # the WAL still holds what was deleted
                return removed
            await asyncio.sleep(0)
