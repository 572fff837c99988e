"""SQLite specifics: WAL, schema versions and migrations, the paging index, hashed sessions."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest

from chat_server.stores import UsernameTaken, make_store, sqlite_lib
from chat_server.stores.sqlite import SqliteStore
from chat_server.stores.sqlite_admin import RETENTION_CHUNK
from chat_server.stores.sqlite_schema import MIGRATIONS, SCHEMA_VERSION, migrate
from chat_server.stores.sqlite_search import indexed_upto
from tests.conftest import Harness


async def test_wal_schema_version_and_reopen(tmp_path: Path) -> None:
    path = tmp_path / "sub" / "chat.db"
    store = SqliteStore(path)
    await store.open()
    await store.create_user("u1", "alice", b"h" * 32)
    await store.close()
    await store.close()  # idempotent
    with sqlite_lib.connect(path) as db:
        assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        assert db.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
    again = SqliteStore(path)
    await again.open()
    assert [u.username for u in await again.list_users()] == ["alice"]
    await again.close()


def test_migrate_from_empty_and_refuse_newer(tmp_path: Path) -> None:
    db = sqlite_lib.connect(tmp_path / "m.db", isolation_level=None)
    assert migrate(db) == 0
    assert migrate(db) == SCHEMA_VERSION  # nothing left to do
    db.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
    with pytest.raises(RuntimeError, match="newer"):
        migrate(db)


async def test_a_version_1_database_keeps_its_messages(tmp_path: Path) -> None:
    """Schema v2 refers to users by integer; a v1 file (userIDs in every row) migrates
    with its messages, clientIds, peers and never-reused ids intact."""
    path = tmp_path / "v1.db"
    db = sqlite_lib.connect(path, isolation_level=None)
    for stmt in MIGRATIONS[0]:
        db.execute(stmt)
    db.execute("PRAGMA user_version = 1")
    for uid, name in (("uid-bob", "bob"), ("uid-alice", "alice"), ("uid-carol", "carol")):
        db.execute(
            "INSERT INTO users (user_id, username, name_key, created_ms) VALUES (?,?,?,1)",
            (uid, name, name),
        )
    rows = [
        (1, "uid-alice", "uid-bob", "uid-alice", "uid-bob", "hi bob", 100, "c1"),
        (2, "uid-alice", "uid-bob", "uid-bob", "uid-alice", "hi alice", 101, None),
        (3, "uid-alice", "uid-carol", "uid-carol", "uid-alice", "hey", 102, None),
    ]
    db.executemany("INSERT INTO messages VALUES (?,?,?,?,?,?,?,?)", rows)
    db.executemany(
        "INSERT INTO peers VALUES (?,?)",
        [
            ("uid-alice", "uid-bob"),
            ("uid-bob", "uid-alice"),
            ("uid-alice", "uid-carol"),
            ("uid-carol", "uid-alice"),
        ],
    )
    # ids 4..10 were used and then deleted by retention: never hand them out again
    db.execute("UPDATE sqlite_sequence SET seq = 10 WHERE name = 'messages'")
    db.close()

    store = SqliteStore(path)
    await store.open()
    try:
        page = await store.history("uid-bob", "uid-alice", None, 10)
        got = [(m.id, m.from_id, m.to_id, m.content, m.ts, m.client_id) for m in page.messages]
        assert got == [
            (1, "uid-alice", "uid-bob", "hi bob", 100, "c1"),
            (2, "uid-bob", "uid-alice", "hi alice", 101, None),
        ]
        convs = await store.conversations("uid-alice")
        assert convs == [("uid-carol", 3), ("uid-bob", 2)]
        latest = await store.latest_pages("uid-alice", [peer for peer, _ in convs], 10)
        assert sorted(latest) == ["uid-bob", "uid-carol"]
        assert [m.content for m in latest["uid-carol"].messages] == ["hey"]
        # v5 indexed the messages stored before it, and v6 marks them indexed
        assert await store.io.read(indexed_upto, store.io.rdb) == 3
        found, _ = await store.search_messages("uid-alice", ["hi"], None, None, 10)
        assert [m.id for m in found] == [2, 1]
        again = await store.save_message("uid-alice", "uid-bob", "hi bob", "c1")
        assert (again.created, again.message.id) == (False, 1)
        new = await store.save_message("uid-bob", "uid-carol", "new", None)
        assert new.created and new.message.id == 11
        assert (await store.counts())["messages"] == 4
        # v3 keys names by look-alike skeleton: a v1 name key is recomputed
        with pytest.raises(UsernameTaken):
            await store.create_user("uid-x", "\u0430lice", b"x" * 32, unique=True)
    finally:
        await store.close()
    with sqlite_lib.connect(path) as check:
        assert check.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
        assert check.execute("PRAGMA integrity_check").fetchone()[0] == "ok"


async def test_paging_query_is_an_index_seek(tmp_path: Path) -> None:
    store = SqliteStore(tmp_path / "p.db")
    await store.open()
    plan = " | ".join(await store.explain_page_query())
    await store.close()
    assert "USING" in plan and "INDEX messages_conv" in plan, plan
    assert "SCAN messages" not in plan and "TEMP B-TREE" not in plan, plan


async def chat_store(path: Path) -> SqliteStore:
    store = SqliteStore(path)
    await store.open()
    for uid in ("a", "b"):
        await store.create_user(uid, f"user-{uid}", uid.encode() * 32)
    return store


async def test_an_unread_count_with_nothing_new_from_the_peer_reads_nothing(
    tmp_path: Path,
) -> None:
    """A reconnect of someone who sent 20,000 messages and got no answer counted through
    all of them at every connect. The store now remembers each conversation's last
    message per sender, from what it stores or from one scan the first time: with nothing
    from the peer past the marker, a count runs no query at all."""
    path = tmp_path / "u.db"
    store = await chat_store(path)
    try:
        for i in range(20):
            await store.save_message("a", "b", f"m{i}")
        for process in ("this one", "the next"):
            queries: list[str] = []
            store.io.rdb.set_trace_callback(queries.append)
            assert (await store.read_states("a", ["b"]))["b"].unread == 0
            assert [q for q in queries if "max(id)" in q or "count(*)" in q] == [
                "SELECT max(id) FROM messages WHERE a = 1 AND b = 2 AND from_seq = 2"
            ], (process, queries)  # b's last message: none, found once
            queries.clear()
            assert (await store.read_states("a", ["b"]))["b"].unread == 0
            assert [q for q in queries if "max(id)" in q or "count(*)" in q] == []
            assert (await store.read_states("b", ["a"]))["a"].unread == 20
            if process == "this one":  # it stored a's messages: it knows a's last
                assert [q for q in queries if "max(id)" in q] == [], queries
            await store.close()
            store = SqliteStore(path)
            await store.open()
        await store.save_message("b", "a", "at last")
        assert (await store.read_states("a", ["b"]))["b"].unread == 1
    finally:
        await store.close()


async def test_a_message_stored_during_a_scan_is_not_forgotten(tmp_path: Path) -> None:
    """The scan of a conversation runs on the reader, on a snapshot: a message from the
    peer committed meanwhile is newer than what the scan found, and its id wins."""
    store = await chat_store(tmp_path / "r.db")
    try:
        await store.save_message("a", "b", "hello?")
        real_read = store.io.read

        async def read_then_b_answers(fn: Any, *args: Any) -> Any:
            result = await real_read(fn, *args)  # found nothing from b
            await store.save_message("b", "a", "here")
            return result

        store.io.read = read_then_b_answers  # type: ignore[method-assign]
        assert (await store.read_states("a", ["b"]))["b"].unread == 0
        store.io.read = real_read  # type: ignore[method-assign]
        assert (await store.read_states("a", ["b"]))["b"].unread == 1
    finally:
        await store.close()


def test_store_urls(tmp_path: Path) -> None:
    store = make_store(f"sqlite://{tmp_path}/a.db?synchronous=full")
    assert isinstance(store, SqliteStore)
    assert store.path == tmp_path / "a.db" and store.synchronous == "full"
    assert isinstance(make_store(f"sqlite:///{tmp_path}/a.db"), SqliteStore)
    with pytest.raises(ValueError, match="unsupported store URL"):
        make_store("postgres://x")
    with pytest.raises(ValueError, match="synchronous"):
        make_store(f"sqlite://{tmp_path}/a.db?synchronous=maybe")


async def test_the_database_holds_no_session_id(hs: Harness) -> None:
    srv = await hs.server()
    alice = await hs.login(srv, "alice")
    await alice.call("private message", {"content": "hi", "to": alice.user_id})
    await hs.stop(srv)
    raw = b"".join(p.read_bytes() for p in hs.tmp_path.glob("chat.db*"))
    assert alice.user_id.encode() in raw  # the file is readable: the check means something
    assert alice.session_id.encode() not in raw
    assert bytes.fromhex(alice.session_id) not in raw


async def test_wal_is_checkpointed_in_the_background(tmp_path: Path) -> None:
    """Commits never run a checkpoint (wal_autocheckpoint=0); a background connection
    does, so the main file alone soon holds what was committed."""
    import shutil

    from tests.conftest import wait_until

    store = SqliteStore(tmp_path / "w.db")
    await store.open()
    try:
        await store.create_user("a", "alice", b"a" * 32)
        await store.create_user("b", "bob", b"b" * 32)
        for i in range(300):
            await store.save_message("a", "b", f"m{i}")

        def main_file_has_them() -> bool:
            copy = tmp_path / "copy.db"
            shutil.copyfile(tmp_path / "w.db", copy)  # the main file only, no WAL
            with sqlite_lib.connect(copy) as db:
                try:
                    return bool(db.execute("SELECT count(*) FROM messages").fetchone()[0] == 300)
                except sqlite_lib.Error:
                    return False

        await wait_until(main_file_has_them, "a background checkpoint", within=10)
    finally:
        await store.close()


@pytest.mark.parametrize("synchronous", ["normal", "full"])
async def test_writes_inline_or_on_a_writer_thread(tmp_path: Path, synchronous: str) -> None:
    """normal commits on the event loop (no fsync per commit); full waits for the disk, so
    its writes run on a thread of their own. Both save, read back and revoke alike."""
    store = SqliteStore(tmp_path / "s.db", synchronous=synchronous)
    assert store.inline_writes is (synchronous == "normal")
    await store.open()
    try:
        for uid in ("a", "b"):
            await store.create_user(uid, uid, uid.encode() * 32)
        saved = await asyncio.gather(*(store.save_message("a", "b", f"m{i}") for i in range(50)))
        page = await store.history("b", "a", None, 100)
        assert [m.id for m in page.messages] == [s.message.id for s in saved]
        assert await store.revoke_sessions("a") == 1
        assert await store.user_for_session(b"a" * 32) is None
    finally:
        await store.close()


async def test_retention_deletes_in_short_transactions(tmp_path: Path) -> None:
    """Senders share the writer with retention: it deletes in transactions of at most
    RETENTION_CHUNK rows, never all at once."""
    store = SqliteStore(tmp_path / "r.db", retention_days=1)
    await store.open()
    deleted_per_transaction: list[int] = []
    real_transaction = store.io.transaction

    def messages() -> int:
        return int(store.io.db.execute("SELECT count(*) FROM messages").fetchall()[0][0])

    def counting(work: Any) -> Any:
        before = messages()  # not total_changes: that counts the search index's rows too
        result = real_transaction(work)
        deleted_per_transaction.append(before - messages())
        return result

    try:
        for uid in ("a", "b"):
            await store.create_user(uid, uid, uid.encode() * 32)
        total = 2 * RETENTION_CHUNK + 17
        await asyncio.gather(*(store.save_message("a", "b", f"m{i}") for i in range(total)))
        latest = (await store.history("a", "b", None, 1)).messages[0]
        store.io.transaction = counting  # type: ignore[method-assign]
        assert await store.apply_retention(latest.ts + 2 * 86_400_000) == total
        store.io.transaction = real_transaction  # type: ignore[method-assign]
        assert deleted_per_transaction == [RETENTION_CHUNK, RETENTION_CHUNK, 17]
        assert (await store.counts())["messages"] == 0
        again = await store.save_message("a", "b", "after")
        assert again.message.id == latest.id + 1  # ids are never reused
    finally:
        await store.close()
