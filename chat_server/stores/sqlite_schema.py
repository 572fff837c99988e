"""The SQLite store's schema: numbered migrations, applied at open (PRAGMA user_version).

Never edit a released entry: append a new one. A step is an SQL statement, or a function
of the connection for what SQL cannot do (recomputing keys in Python)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Final

from chat_server.protocol import username_key
from chat_server.stores import sqlite_lib
from chat_server.stores.sqlite_search import index_all, mark_all_indexed

Step = str | Callable[[sqlite_lib.Connection], None]


def _rekey_names(conn: sqlite_lib.Connection) -> None:
    """v3: names are compared by their look-alike skeleton, not only case-folded."""
    rows = conn.execute("SELECT seq, username FROM users").fetchall()
    conn.executemany(
        "UPDATE users SET name_key = ? WHERE seq = ?",
        [(username_key(name), seq) for seq, name in rows],
    )


# Each entry upgrades the schema by one version (PRAGMA user_version). Never edit a
# released entry: append a new one.
MIGRATIONS: Final[list[list[Step]]] = [
    [
        """CREATE TABLE users (
            seq INTEGER PRIMARY KEY AUTOINCREMENT,
            user_id TEXT NOT NULL UNIQUE,
            username TEXT NOT NULL,
            name_key TEXT NOT NULL,
            created_ms INTEGER NOT NULL
        )""",
        "CREATE INDEX users_name_key ON users(name_key)",
        """CREATE TABLE sessions (
            token_hash BLOB PRIMARY KEY,
            user_id TEXT NOT NULL REFERENCES users(user_id),
            created_ms INTEGER NOT NULL
        ) WITHOUT ROWID""",
        "CREATE INDEX sessions_user ON sessions(user_id)",
        # a <= b: the conversation key, so one index serves both directions
        """CREATE TABLE messages (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            a TEXT NOT NULL,
            b TEXT NOT NULL,
            from_id TEXT NOT NULL,
            to_id TEXT NOT NULL,
            content TEXT NOT NULL,
            ts INTEGER NOT NULL,
            client_id TEXT
        )""",
        "CREATE INDEX messages_conv ON messages(a, b, id)",
        """CREATE UNIQUE INDEX messages_client ON messages(from_id, client_id)
            WHERE client_id IS NOT NULL""",
        # who has talked to whom, so a connect does not scan a user's messages
        """CREATE TABLE peers (
            user_id TEXT NOT NULL,
            peer_id TEXT NOT NULL,
            PRIMARY KEY (user_id, peer_id)
        ) WITHOUT ROWID""",
    ],
    # v2: users are referred to by their integer users.seq, not their 36-character
    # userID. The conversation index is then a few bytes per message instead of ~80, and
    # a commit of a batch writes about half the pages (docs/performance.md).
    [
        """CREATE TABLE messages_v2 (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            a INTEGER NOT NULL,
            b INTEGER NOT NULL,
            from_seq INTEGER NOT NULL,
            content TEXT NOT NULL,
            ts INTEGER NOT NULL,
            client_id TEXT
        )""",
        """INSERT INTO messages_v2 (id, a, b, from_seq, content, ts, client_id)
            SELECT m.id, min(f.seq, t.seq), max(f.seq, t.seq), f.seq, m.content, m.ts,
                   m.client_id
            FROM messages m
            JOIN users f ON f.user_id = m.from_id
            JOIN users t ON t.user_id = m.to_id
            ORDER BY m.id""",
        # ids are never reused, even those of messages that retention deleted
        """INSERT INTO sqlite_sequence (name, seq)
            SELECT 'messages_v2', 0 WHERE NOT EXISTS
                (SELECT 1 FROM sqlite_sequence WHERE name = 'messages_v2')""",
        """UPDATE sqlite_sequence SET seq = max(seq, coalesce(
                (SELECT seq FROM sqlite_sequence WHERE name = 'messages'), 0))
            WHERE name = 'messages_v2'""",
        "DROP TABLE messages",
        "ALTER TABLE messages_v2 RENAME TO messages",
        "CREATE INDEX messages_conv ON messages(a, b, id)",
        """CREATE UNIQUE INDEX messages_client ON messages(from_seq, client_id)
            WHERE client_id IS NOT NULL""",
        """CREATE TABLE peers_v2 (
            user_seq INTEGER NOT NULL,
            peer_seq INTEGER NOT NULL,
            PRIMARY KEY (user_seq, peer_seq)
        ) WITHOUT ROWID""",
        """INSERT INTO peers_v2 (user_seq, peer_seq)
            SELECT u.seq, p.seq FROM peers
            JOIN users u ON u.user_id = peers.user_id
            JOIN users p ON p.user_id = peers.peer_id""",
        "DROP TABLE peers",
        "ALTER TABLE peers_v2 RENAME TO peers",
    ],
    # v3: when each user was last seen (pruning, "last seen"), names keyed by skeleton,
    # and a log of deleted users that running servers follow
    [
        "ALTER TABLE users ADD COLUMN last_seen_ms INTEGER",
        _rekey_names,
        """CREATE TABLE removals (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            user_id TEXT NOT NULL,
            at_ms INTEGER NOT NULL
        )""",
    ],
    # v4: read markers. up_to: the user's marker on the peer's messages (any read);
    # shown_up_to / shown_at: the last public one, the peer's receipt
    [
        """CREATE TABLE reads (
            user_seq INTEGER NOT NULL,
            peer_seq INTEGER NOT NULL,
            up_to INTEGER NOT NULL,
            shown_up_to INTEGER,
            shown_at INTEGER,
            PRIMARY KEY (user_seq, peer_seq)
        ) WITHOUT ROWID""",
        "CREATE INDEX reads_peer ON reads(peer_seq)",
    ],
    # v5: edits, deletes (tombstones), replies, and the search index (sqlite_search.py)
    # of each message's words; with secure-delete a deleted row's words leave the index
    # pages at once
    [
        "ALTER TABLE messages ADD COLUMN edited_at INTEGER",
        "ALTER TABLE messages ADD COLUMN deleted INTEGER NOT NULL DEFAULT 0",
        "ALTER TABLE messages ADD COLUMN reply_to INTEGER",
        """CREATE VIRTUAL TABLE search USING fts5(
            words, content='', tokenize='ascii', detail='none', columnsize=0
        )""",
        "INSERT INTO search (search, rank) VALUES ('secure-delete', 1)",
        "CREATE TABLE meta (name TEXT PRIMARY KEY, value BLOB NOT NULL) WITHOUT ROWID",
        "INSERT INTO meta (name, value) VALUES ('search_key', randomblob(16))",
        index_all,
    ],
    # v6: the search index may trail the messages (sqlite_search.py): the id up to which
    # it is complete
    [mark_all_indexed],
]
SCHEMA_VERSION: Final = len(MIGRATIONS)


def migrate(conn: sqlite_lib.Connection) -> int:
    """Bring the schema to SCHEMA_VERSION; returns the version found before."""
    (found,) = conn.execute("PRAGMA user_version").fetchone()
    if found > SCHEMA_VERSION:
        raise RuntimeError(
            f"database schema version {found} is newer than this chat-server ({SCHEMA_VERSION})"
        )
    for version in range(found, SCHEMA_VERSION):
        conn.execute("BEGIN IMMEDIATE")
        try:
            for step in MIGRATIONS[version]:
                if isinstance(step, str):
                    conn.execute(step)
                else:
                    step(conn)
            conn.execute(f"PRAGMA user_version = {version + 1}")
            conn.execute("COMMIT")
        except BaseException:
            conn.execute("ROLLBACK")
            raise
    return int(found)
