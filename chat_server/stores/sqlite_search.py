"""The SQLite store's search index: an FTS5 table of keyed hashes of words, never of text.

Each message is indexed as its words (text.search_words: accents removed, case-folded),
each replaced by a keyed hash (BLAKE2b, 48 bits, with a random key kept in the ``meta``
table), plus two tokens that say whose it is: ``§u<seq>`` for each participant and
``§c<a>x<b>`` for the conversation. A search hashes its words the same way and is one
FTS5 query that intersects the caller's token (or the conversation's) with each word,
walked newest first and stopped at the page's end.

Why hashes: FTS5's page index (``search_idx``) keeps the leading characters of the first
word of every index page, and a delete does not rewrite them. With words in the index, a
deleted message's word could stay in the file in part; with hashes only the start of a
hash can, which says nothing of the text. ``detail='none'`` and ``columnsize=0``: the
index keeps which rows hold a word, not where, and no row sizes (nothing is ranked).

The table is contentless (``content=''``): it keeps no copy of the tokens, so indexing a
message is one insert into FTS5's in-memory segment, written out once per transaction.

Indexing trails the messages: FTS5 writes a segment and rewrites its structure record at
every transaction that touched the index, which cost more than the messages' own rows when
every group commit (a dozen messages under load) indexed its own; and the index's own work
(the words' hashes in Python, FTS5's new terms) was then still about a sixth of the
message path's time. The ``meta`` row ``search_upto`` says up to which message id the
index is complete. What the messages past it weigh (1 each, WIDE for a text beyond ASCII)
is ``SqliteStore.unindexed``, counted at open and kept by the store. Group commits index
nothing until that reaches ``index_every`` (16,384); then each indexes the oldest,
``index_step`` (128) at least, in its own transaction (catch_up). In the server
(``keep_index``), the index also catches up a step per transaction once the store has seen
no group commit and no read for ``index_idle`` seconds, resting twice a step's length
between steps, and a step every ``index_pace`` seconds whatever the load. A command-line
process on the same file indexes nothing (it would hold the write lock the server's
inline writer waits for); neither open nor close catches up. So a burst is indexed in the
quiet after it, not on its senders' path; a load that never stops pays the index on its
path once index_every is reached, as before. A search matches the messages past the mark
by their text (unindexed_hits), in the same read transaction as its index query, so every
stored message is found at once; SQLite sifts the ASCII texts, Python the others (hence
WIDE): about 4 ms for 16,384 ASCII messages past the mark spread over 50 users, 7 to 18 ms
when they are all the caller's (bench/search_tail.py).
Edits and deletes touch the index only for messages it already holds; catch_up reads
what is stored when it runs, so a message edited or deleted before it was indexed is
indexed as it is then, or not at all (also when another process, ``chat-server users
delete``, did it). A
row leaves the index through FTS5's ``delete`` command, given the tokens it was indexed
with (index_text of the row's current text, which is why every change of a message's
text goes through index_rows / unindex_rows); with the ``secure-delete`` option its
entries are taken out of the index pages at once (PRAGMA secure_delete zeroes the freed
bytes). ``contentless_delete=1`` would not need the tokens, but it only marks a deleted
row with a tombstone and leaves its entries in the index until segments happen to merge.
"""

from __future__ import annotations

import functools
import hashlib
from collections.abc import Iterable
from typing import TYPE_CHECKING, Final

from chat_server.text import matches, may_hold, search_words

if TYPE_CHECKING:
    from chat_server.stores.sqlite_lib import Connection

INDEX_CHUNK: Final = 5000
# What a message past the mark weighs in SqliteStore.unindexed (which index_every bounds):
# 1, or WIDE when its text has characters beyond ASCII, which a search matches in Python
# (unindexed_hits), several times slower than the ASCII texts SQLite sifts.
WIDE: Final = 16
WIDE_SQL: Final = "length(CAST(content AS BLOB)) != length(content)"


def weight(content: str) -> int:
    """What a message saying ``content`` weighs past the mark (WIDE): as WIDE_SQL counts
    at open, a NUL makes a text wide too (SQLite's length and LIKE stop at it)."""
    return 1 if content.isascii() and "\x00" not in content else WIDE


def weight_past(db: Connection) -> int:
    """What the messages past the mark weigh (WIDE)."""
    (total,) = db.execute(
        f"SELECT coalesce(sum(CASE WHEN {WIDE_SQL} THEN {WIDE} ELSE 1 END), 0)"
        " FROM messages WHERE id > ?",
        (indexed_upto(db),),
    ).fetchone()
    return int(total)


def load_key(db: Connection) -> bytes:
    """The key of the word hashes (made by schema v5)."""
    row = db.execute("SELECT value FROM meta WHERE name = 'search_key'").fetchone()
    return bytes(row[0])


WORD_CACHE: Final = 1 << 16  # words whose tokens are kept (chat words repeat)


class Tokens:
    """The index tokens of one key: a BLAKE2b state with the key already absorbed
    (copying it is several times cheaper than a new keyed hash), the tokens of recent
    words and of conversations. Indexing is on the message path: a cached word costs a
    dict look-up, a new one a hash."""

    def __init__(self, key: bytes) -> None:
        self._state = hashlib.blake2b(key=key, digest_size=6)
        self._words: dict[str, str] = {}
        self._convs: dict[tuple[int, int], str] = {}

    def word(self, word: str) -> str:
        """12 hex digits of the word's keyed hash."""
        found = self._words.get(word)
        if found is not None:
            return found
        if len(self._words) >= WORD_CACHE:
            self._words.clear()  # cheaper than keeping an order; the common words come back
        state = self._state.copy()
        state.update(word.encode())
        made = self._words[word] = state.hexdigest()
        return made

    def text(self, content: str, a: int, b: int) -> str:
        """What the index holds for a message of conversation (a, b) saying ``content``."""
        words = self._words
        out = [words.get(w) or self.word(w) for w in dict.fromkeys(search_words(content))]
        conv = self._convs.get((a, b))
        if conv is None:
            if len(self._convs) >= WORD_CACHE:
                self._convs.clear()
            conv = self._convs[(a, b)] = f"§u{a} §u{b} §c{a}x{b}"
        out.append(conv)
        return " ".join(out)


@functools.lru_cache(maxsize=4)
def tokens_for(key: bytes) -> Tokens:
    """The Tokens of ``key`` (one per store file, in practice)."""
    return Tokens(key)


def token(word: str, key: bytes) -> str:
    """What the index holds for one word."""
    return tokens_for(key).word(word)


def index_text(content: str, a: int, b: int, key: bytes) -> str:
    """What the index holds for a message of conversation (a, b) saying ``content``."""
    return tokens_for(key).text(content, a, b)


def match_query(
    words: Iterable[str], me: int, conversation: tuple[int, int] | None, key: bytes
) -> str:
    """The FTS5 query: the caller's messages (or one conversation's) holding every word.
    Tokens are hex digits and §: nothing to escape."""
    scope = f'"§c{conversation[0]}x{conversation[1]}"' if conversation else f'"§u{me}"'
    return " AND ".join([scope, *(f'"{token(w, key)}"' for w in words)])


def index_rows(db: Connection, rows: Iterable[tuple[int, str, int, int]], key: bytes) -> None:
    """Index (id, content, a, b) rows, in the caller's transaction."""
    text = tokens_for(key).text
    db.executemany(
        "INSERT INTO search (rowid, words) VALUES (?, ?)",
        [(msg_id, text(content, a, b)) for msg_id, content, a, b in rows],
    )


def unindex_rows(db: Connection, rows: Iterable[tuple[int, str, int, int]], key: bytes) -> None:
    """Take (id, content, a, b) rows out of the index, in the caller's transaction. The
    content must be what was indexed (the row's current text): a contentless table finds
    a row's entries only through the tokens it is given."""
    db.executemany(
        "INSERT INTO search (search, rowid, words) VALUES ('delete', ?, ?)",
        [(msg_id, index_text(content, a, b, key)) for msg_id, content, a, b in rows],
    )


def unindex_where(db: Connection, where: str, params: tuple[object, ...], key: bytes) -> None:
    """Take the (not deleted) messages ``where`` selects out of the index, before they are
    deleted wholesale (a deleted user, retention); those past the mark are not in it."""
    rows = db.execute(
        f"SELECT id, content, a, b FROM messages WHERE deleted = 0 AND id <= ? AND ({where})",
        (indexed_upto(db), *params),
    ).fetchall()
    unindex_rows(db, rows, key)


def indexed_upto(db: Connection) -> int:
    """The id up to which every stored message is in the index (schema v6)."""
    (upto,) = db.execute("SELECT value FROM meta WHERE name = 'search_upto'").fetchone()
    return int(upto)


def catch_up(db: Connection, key: bytes, limit: int | None = None) -> tuple[int, int]:
    """Index the messages past the mark as they are stored now (the oldest ``limit`` of
    them, or all), in the caller's transaction, and move the mark past them; returns how
    many stored messages the mark passed (fewer than ``limit``: none is left past it) and
    what they weighed (WIDE)."""
    upto, passed, weighed = indexed_upto(db), 0, 0
    while limit is None or passed < limit:
        rows = db.execute(
            "SELECT id, content, a, b, deleted FROM messages WHERE id > ? ORDER BY id LIMIT ?",
            (upto, INDEX_CHUNK if limit is None else min(INDEX_CHUNK, limit - passed)),
        ).fetchall()
        if not rows:
            break
        live = [(i, content, a, b) for i, content, a, b, deleted in rows if not deleted]
        index_rows(db, live, key)
        passed += len(rows)
        weighed += sum(weight(content) for _, content, _, _, _ in rows)
        upto = rows[-1][0]
    db.execute("UPDATE meta SET value = ? WHERE name = 'search_upto'", (upto,))
    return passed, weighed


def unindexed_hits(
    db: Connection,
    upto: int,
    me: int,
    conversation: tuple[int, int] | None,
    words: list[str],
    before: int,
    limit: int,
) -> list[int]:
    """The ids of the messages past the mark (not in the index yet) that a search finds:
    the caller's (or the conversation's), before ``before``, holding every word; newest
    first, ``limit`` at most.

    Up to SqliteStore.index_every of them after a burst, so they are sifted before their
    words are: an ASCII text holds an ASCII word only if it holds its letters in any case
    (SQLite's LIKE, without reaching Python), another text only if text.may_hold says it
    may; search_words decides for the rest. Python's share is why a text beyond ASCII
    weighs WIDE in the count of messages past the mark."""
    if conversation is not None:
        scope, params = "a = ? AND b = ?", conversation
    else:
        scope, params = "(a = ? OR b = ?)", (me, me)
    plain = [w for w in words if w.isascii()]
    sift = ""
    if plain:
        each = " AND ".join(["content LIKE ? ESCAPE '\\'"] * len(plain))
        # a text's length in bytes differs from its length in characters when it has a
        # character beyond ASCII, or a NUL (SQLite's length stops there, and so does
        # LIKE: such a text goes to Python too)
        sift = f" AND (({each}) OR {WIDE_SQL})"
    found: list[int] = []
    for msg_id, content in db.execute(
        "SELECT id, content FROM messages WHERE id > ? AND id < ? AND deleted = 0"
        f" AND {scope}{sift} ORDER BY id DESC",
        (upto, before, *params, *(_like(w) for w in plain)),
    ):
        if plain and not content.isascii() and not may_hold(content, plain):
            continue
        if matches(words, search_words(content)):
            found.append(msg_id)
            if len(found) >= limit:
                break
    return found


def _like(word: str) -> str:
    """A LIKE pattern for text holding ``word`` (search words hold none of LIKE's
    wildcards, or its escape; escaped all the same)."""
    return "%" + word.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"


def mark_all_indexed(db: Connection) -> None:
    """Schema v6: the index v5 made holds every message stored before it."""
    db.execute(
        "INSERT INTO meta (name, value) VALUES ('search_upto', (SELECT coalesce(max(id), 0)"
        " FROM messages))"
    )


def index_all(db: Connection) -> None:
    """Schema v5: index the messages stored before it (in chunks, one transaction)."""
    key = load_key(db)
    last = 0
    while True:
        rows = db.execute(
            "SELECT id, content, a, b FROM messages WHERE id > ? AND deleted = 0"
            " ORDER BY id LIMIT ?",
            (last, INDEX_CHUNK),
        ).fetchall()
        if not rows:
            return
        index_rows(db, rows, key)
        last = rows[-1][0]
