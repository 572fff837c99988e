"""The SQLite store's group commit: every write that senders wait for (new messages, read
markers) goes into one transaction per batch, in the order it was submitted.

Message ids are assigned here, in order: this process is the only one that adds messages
to the file, so the next id is known without asking SQLite, and a run of messages goes in with one
executemany. The store's caches change only after the commit: a rolled-back batch
changes nothing.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from chat_server.stores import sqlite_lib
from chat_server.stores.base import Marked, Message, Saved, StoreError, conversation_key
from chat_server.stores.batching import Mark, Result, Send, Write
from chat_server.stores.sqlite_search import catch_up, weight

if TYPE_CHECKING:
    from chat_server.stores.sqlite import SqliteStore

log = logging.getLogger(__name__)

MSG_COLUMNS = "id, a, b, from_seq, content, ts, client_id, edited_at, deleted, reply_to"
CATCH_UP_MAX = 512  # messages a group commit indexes at most
Row = tuple[int, int, int, int, str, int, str | None, int | None, int, int | None]


@dataclass
class Batch:
    """One batch's work in its transaction; ``apply`` updates the store after commit."""

    store: SqliteStore
    db: sqlite_lib.Connection
    ts: int
    out: list[Result | Exception] = field(default_factory=list)
    rows: list[Row] = field(default_factory=list)  # messages not yet inserted
    inserted: int = 0
    new_peers: set[tuple[int, int]] = field(default_factory=set)
    last_from: dict[tuple[int, int], int] = field(default_factory=dict)  # store._last_from
    by_client_id: dict[tuple[int, str], Message] = field(default_factory=dict)
    weighed: int = 0  # what the messages of this batch weigh past the index's mark
    indexed: int = 0  # what the messages the index's mark passed in this batch weighed
    index_done: bool = False  # and none is left past it

    def run(self, items: list[Write]) -> list[Result | Exception]:
        for item in items:
            if isinstance(item, Send):
                self.send(item)
            else:
                self.flush()  # a marker may point at a message of this batch
                self.mark(item)
        self.flush()
        if self.new_peers:
            self.db.executemany("INSERT OR IGNORE INTO peers VALUES (?, ?)", self.new_peers)
        store = self.store
        behind = store.unindexed + self.weighed
        if self.inserted and behind >= store.index_every:
            # the oldest: back under index_every (a message weighs 1 at least), and
            # index_step at least (an FTS5 segment per step, not per commit); CATCH_UP_MAX
            # at most (what one commit may hold the event loop for; the next goes on)
            need = max(behind - store.index_every + 1, store.index_step)
            self.catch_up(min(need, CATCH_UP_MAX))
        return self.out

    def catch_up(self, limit: int) -> None:
        """Index the oldest ``limit`` messages past the search index's mark in this
        transaction (sqlite_search.py). Its failure costs the batch nothing: it is undone
        alone, the messages are stored (searches find them by their text) and a later
        batch tries again."""
        db = self.db
        db.execute("SAVEPOINT catch_up")
        try:
            passed, weighed = catch_up(db, self.store.search_key, limit)
        except sqlite_lib.Error as exc:
            db.execute("ROLLBACK TO catch_up")
            db.execute("RELEASE catch_up")
            log.warning("the search index could not catch up (%s); later", exc)
            return
        db.execute("RELEASE catch_up")
        self.indexed, self.index_done = weighed, passed < limit

    def flush(self) -> None:
        if self.rows:
            self.db.executemany(
                f"INSERT INTO messages ({MSG_COLUMNS}) VALUES (?,?,?,?,?,?,?,?,?,?)", self.rows
            )
            self.inserted += len(self.rows)
            self.rows = []

    def send(self, item: Send) -> None:
        store = self.store
        from_seq, to_seq = store._seq_of.get(item.from_id), store._seq_of.get(item.to_id)
        if from_seq is None or to_seq is None:  # deleted since the handler checked
            self.out.append(StoreError("unknown user"))
            return
        if item.client_id is not None:
            first = self.by_client_id.get((from_seq, item.client_id)) or self.earlier(
                from_seq, item.client_id
            )
            if first is not None:
                self.out.append(Saved(first, created=False))
                return
        msg_id = store._next_id + self.inserted + len(self.rows)
        msg = Message(
            msg_id,
            item.from_id,
            item.to_id,
            item.content,
            self.ts,
            item.client_id,
            reply_to=item.reply_to,
        )
        a, b = conversation_key(from_seq, to_seq)
        self.rows.append(
            (msg.id, a, b, from_seq, item.content, self.ts, item.client_id, None, 0, item.reply_to)
        )
        self.weighed += weight(item.content)
        self.last_from[(from_seq, to_seq)] = msg.id
        if item.client_id is not None:
            self.by_client_id[(from_seq, item.client_id)] = msg
        self.out.append(Saved(msg, created=True))
        if (from_seq, to_seq) not in store._known_peers:
            self.new_peers.update(((from_seq, to_seq), (to_seq, from_seq)))

    def earlier(self, from_seq: int, client_id: str) -> Message | None:
        """The message this sender stored with this clientId before (idempotency)."""
        row = self.db.execute(
            f"SELECT {MSG_COLUMNS} FROM messages WHERE from_seq = ? AND client_id = ?",
            (from_seq, client_id),
        ).fetchone()
        return None if row is None else self.store._to_message(row)

    def mark(self, item: Mark) -> None:
        store, db = self.store, self.db
        me, peer = store._seq_of.get(item.user_id), store._seq_of.get(item.peer_id)
        if me is None or peer is None:
            self.out.append(StoreError("unknown user"))
            return
        row = db.execute(
            "SELECT up_to FROM reads WHERE user_seq = ? AND peer_seq = ?", (me, peer)
        ).fetchone()
        current = None if row is None else int(row[0])
        (last,) = db.execute(
            "SELECT max(id) FROM messages WHERE a = ? AND b = ?", conversation_key(me, peer)
        ).fetchone()
        target = None if last is None else min(item.up_to, int(last))
        if target is None or (current is not None and target <= current):
            self.out.append(Marked(current, moved=False))
            return
        shown = (None, None) if item.private else (target, item.at_ms)
        db.execute(
            "INSERT INTO reads (user_seq, peer_seq, up_to, shown_up_to, shown_at)"
            " VALUES (?, ?, ?, ?, ?) ON CONFLICT (user_seq, peer_seq) DO UPDATE SET"
            " up_to = excluded.up_to,"
            " shown_up_to = coalesce(excluded.shown_up_to, shown_up_to),"
            " shown_at = coalesce(excluded.shown_at, shown_at)",
            (me, peer, target, *shown),
        )
        self.out.append(Marked(target, moved=True))

    def apply(self) -> None:
        """After the commit: the store's next id, counts and known peers."""
        store = self.store
        store._next_id += self.inserted
        behind = store.unindexed + self.weighed - self.indexed
        store.unindexed = 0 if self.index_done else max(behind, 0)
        store._known_peers |= self.new_peers
        store._last_from.update(self.last_from)
        store._messages += self.inserted
        store._last_ts = self.ts
