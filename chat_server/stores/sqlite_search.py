"""The SQLite store's search index: an FTS5 table of words, never of text.

Each message is indexed as its words (text.search_words: accents removed, case-folded),
plus two tokens that say whose it is: ``§u<seq>`` for each participant and ``§c<a>x<b>``
for the conversation. A search is then one FTS5 query that intersects the caller's token
(or the conversation's) with each word's prefix, walked newest first and stopped at the
page's end. "§" never occurs in a word (search_words keeps letters and digits), and the
``ascii`` tokenizer splits only on ASCII separators, so the words go in exactly as
search_words made them and every store matches the same way.

The table keeps each row's words (not the text) beside the index. That is what lets a
delete find every word of the row and, with the ``secure-delete`` option, take each one
out of the index pages at once (PRAGMA secure_delete zeroes the freed bytes). A
contentless table (``content=''``, ``contentless_delete``) cannot: it marks a deleted row
with a tombstone and leaves its words in the index until segments happen to merge.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING, Final

from chat_server.text import search_words

if TYPE_CHECKING:
    from chat_server.stores.sqlite_lib import Connection

INDEX_CHUNK: Final = 5000


def index_text(content: str, a: int, b: int) -> str:
    """What the index holds for a message of conversation (a, b) saying ``content``."""
    return " ".join((*search_words(content), f"§u{a}", f"§u{b}", f"§c{a}x{b}"))


def match_query(words: Iterable[str], me: int, conversation: tuple[int, int] | None) -> str:
    """The FTS5 query: the caller's messages (or one conversation's) holding every word.
    Words are letters and digits only: nothing to escape."""
    scope = f'"§c{conversation[0]}x{conversation[1]}"' if conversation else f'"§u{me}"'
    return " AND ".join([scope, *(f'"{w}"' for w in words)])


def index_rows(db: Connection, rows: Iterable[tuple[int, str, int, int]]) -> None:
    """Index (id, content, a, b) rows, in the caller's transaction."""
    db.executemany(
        "INSERT INTO search (rowid, words) VALUES (?, ?)",
        [(msg_id, index_text(content, a, b)) for msg_id, content, a, b in rows],
    )


def unindex(db: Connection, message_id: int) -> None:
    db.execute("DELETE FROM search WHERE rowid = ?", (message_id,))


def index_all(db: Connection) -> None:
    """Schema v5: index the messages stored before it (in chunks, one transaction)."""
    last = 0
    while True:
        rows = db.execute(
            "SELECT id, content, a, b FROM messages WHERE id > ? AND deleted = 0"
            " ORDER BY id LIMIT ?",
            (last, INDEX_CHUNK),
        ).fetchall()
        if not rows:
            return
        index_rows(db, rows)
        last = rows[-1][0]
