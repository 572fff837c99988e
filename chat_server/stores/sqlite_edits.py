"""Edits, deletes and search on the SQLite store (a mixin of SqliteStore, which provides
the file, the user maps and the row reader).

An edit or a delete is one transaction of the writer that changes the row and, if the
search index holds it already (at or below its mark, sqlite_search.py), its entry
together. A delete leaves a tombstone row (no text) and asks the file to be scrubbed:
PRAGMA secure_delete has zeroed the freed bytes in the pages, and the next checkpoint
truncates the WAL, whose older frames still held the text (sqlite_io.py).
"""

from __future__ import annotations

import dataclasses
from typing import Final

from chat_server.stores.base import Message, NoSuchMessage, NotYourMessage, UserCache
from chat_server.stores.sqlite_batch import MSG_COLUMNS, Row
from chat_server.stores.sqlite_io import SqliteIO
from chat_server.stores.sqlite_lib import Connection
from chat_server.stores.sqlite_search import (
    index_rows,
    indexed_upto,
    match_query,
    unindex_rows,
    unindexed_hits,
)

NO_BEFORE: Final = 2**63 - 1


class SqliteEdits(UserCache):
    """get_message, edit_message, delete_message and search_messages on SQLite."""

    io: SqliteIO
    _seq_of: dict[str, int]
    search_key: bytes

    def _to_message(self, row: Row) -> Message:
        raise NotImplementedError

    def _row(self, db: Connection, message_id: int) -> Row | None:
        row: Row | None = db.execute(
            f"SELECT {MSG_COLUMNS} FROM messages WHERE id = ?", (message_id,)
        ).fetchone()
        return row

    async def get_message(self, user_id: str, message_id: int) -> Message | None:
        row = await self.io.read(self._row, self.io.rdb, message_id)
        me = self._seq_of.get(user_id)
        if row is None or me is None or me not in (row[1], row[2]):
            return None
        return self._to_message(row)

    def _own(self, db: Connection, user_id: str, message_id: int) -> tuple[Row, Message]:
        """The row of ``user_id``'s message; the other participant hears "not your
        message", anybody else "no such message" (they learn nothing of it)."""
        row = self._row(db, message_id)
        me = self._seq_of.get(user_id)
        if row is None or me is None:
            raise NoSuchMessage(message_id)
        _, a, b, from_seq = row[:4]
        if from_seq != me:
            raise NotYourMessage(message_id) if me in (a, b) else NoSuchMessage(message_id)
        return row, self._to_message(row)

    async def edit_message(
        self, user_id: str, message_id: int, content: str, at_ms: int
    ) -> Message:
        def work(db: Connection) -> Message:
            row, msg = self._own(db, user_id, message_id)
            if msg.deleted:
                raise NoSuchMessage(message_id)
            db.execute(
                "UPDATE messages SET content = ?, edited_at = ? WHERE id = ?",
                (content, at_ms, message_id),
            )
            if message_id <= indexed_upto(db):  # else catch_up indexes the new text later
                key = self.search_key
                unindex_rows(db, [(message_id, msg.content, row[1], row[2])], key)
                index_rows(db, [(message_id, content, row[1], row[2])], key)
            return dataclasses.replace(msg, content=content, edited_at=at_ms)

        return await self.io.in_transaction(work)

    async def delete_message(self, user_id: str, message_id: int) -> tuple[Message, bool]:
        def work(db: Connection) -> tuple[Message, bool]:
            row, msg = self._own(db, user_id, message_id)
            if msg.deleted:
                return msg, False
            if message_id <= indexed_upto(db):  # else it never reaches the index
                unindex_rows(db, [(message_id, msg.content, row[1], row[2])], self.search_key)
            db.execute(
                "UPDATE messages SET content = '', deleted = 1, edited_at = NULL WHERE id = ?",
                (message_id,),
            )
            tombstone = dataclasses.replace(
                msg, content="", deleted=True, edited_at=None, reply_to=None
            )
            return tombstone, True

        msg, deleted = await self.io.in_transaction(work)
        if deleted:
            self.io.request_scrub()
        return msg, deleted

    def _search_sync(
        self, me: int, words: list[str], conv: tuple[int, int] | None, before: int, limit: int
    ) -> list[Row]:
        db = self.io.rdb
        # one snapshot: the mark, the messages past it (matched by their text), and the
        # index below it (sqlite_search.py)
        db.execute("BEGIN")
        ok = False
        try:
            upto = indexed_upto(db)
            ids = unindexed_hits(db, upto, me, conv, words, before, limit + 1)
            if len(ids) <= limit:
                ids += [
                    r[0]
                    for r in db.execute(
                        "SELECT rowid FROM search WHERE search MATCH ? AND rowid < ?"
                        " ORDER BY rowid DESC LIMIT ?",
                        (
                            match_query(words, me, conv, self.search_key),
                            min(before, upto + 1),
                            limit + 1 - len(ids),
                        ),
                    )
                ]
            rows: list[Row] = []
            if ids:
                marks = ",".join("?" * len(ids))
                # a tombstone is never a hit
                rows = db.execute(
                    f"SELECT {MSG_COLUMNS} FROM messages WHERE id IN ({marks}) AND deleted = 0"
                    " ORDER BY id DESC",
                    ids,
                ).fetchall()
            ok = True
            return rows
        finally:
            if ok:
                db.execute("COMMIT")
            elif db.in_transaction:  # SQLite may have rolled back already (I/O, memory)
                db.execute("ROLLBACK")

    async def search_messages(
        self, user_id: str, words: list[str], peer_id: str | None, before: int | None, limit: int
    ) -> tuple[list[Message], bool]:
        me = self._seq_of.get(user_id)
        if me is None:
            return [], False
        conv = None
        if peer_id is not None:
            peer = self._seq_of.get(peer_id)
            if peer is None:
                return [], False
            conv = (me, peer) if me <= peer else (peer, me)
        rows = await self.io.read(
            self._search_sync, me, words, conv, NO_BEFORE if before is None else before, limit
        )
        msgs = [self._to_message(r) for r in rows[:limit]]
        return msgs, len(rows) > limit
