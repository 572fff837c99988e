"""The Store contract of issue 14 on every back end (edit, delete, reply, search, pages
after a message), and that a deleted message's text is gone from the store's files and
keys: the SQLite file, its WAL and search index, and every Redis key."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from chat_server.stores import (
    NoSuchMessage,
    NotYourMessage,
    Store,
    make_store,
    sqlite_batch,
    sqlite_lib,
)
from chat_server.stores.sqlite import SqliteStore
from chat_server.stores.sqlite_lib import Connection
from chat_server.stores.sqlite_search import indexed_upto, token
from chat_server.text import search_words
from chat_server.tokens import hash_session_id
from tests.conftest import Harness, redis_for, wait_until


async def test_edits_change_the_text_and_only_the_senders(chat: Store) -> None:
    m = (await chat.save_message("a", "b", "first draft")).message
    edited = await chat.edit_message("a", m.id, "final text", 1234)
    assert (edited.content, edited.edited_at, edited.id, edited.ts) == (
        "final text",
        1234,
        m.id,
        m.ts,
    )
    assert await chat.get_message("b", m.id) == edited
    assert (await chat.history("a", "b", None, 10)).messages == [edited]
    with pytest.raises(NotYourMessage):
        await chat.edit_message("b", m.id, "mine now", 1)
    with pytest.raises(NoSuchMessage):
        await chat.edit_message("c", m.id, "mine now", 1)  # not c's conversation
    with pytest.raises(NoSuchMessage):
        await chat.edit_message("a", m.id + 1000, "x", 1)
    assert await chat.get_message("c", m.id) is None


async def test_deletes_leave_tombstones_that_stay_deleted(chat: Store) -> None:
    m = (await chat.save_message("a", "b", "regret this", client_id="k1")).message
    later = (await chat.save_message("b", "a", "what?", reply_to=m.id)).message
    assert later.reply_to == m.id
    with pytest.raises(NotYourMessage):
        await chat.delete_message("b", m.id)
    gone, now = await chat.delete_message("a", m.id)
    assert now and gone.deleted and gone.content == "" and gone.id == m.id
    again, now = await chat.delete_message("a", m.id)
    assert not now and again.deleted
    with pytest.raises(NoSuchMessage):
        await chat.edit_message("a", m.id, "undo", 1)
    page = (await chat.history("b", "a", None, 10)).messages
    assert [(x.id, x.deleted, x.content) for x in page] == [
        (m.id, True, ""),
        (later.id, False, "what?"),
    ]
    assert (await chat.latest_pages("b", ["a"], 10))["a"].messages[0].deleted
    # a resend with the same clientId answers with the message as it is now
    assert (await chat.save_message("a", "b", "regret this", client_id="k1")).message.deleted
    assert (await chat.read_states("b", ["a"]))["a"].unread == 0  # not the tombstone
    assert (await chat.read_states("a", ["b"]))["b"].unread == 1
    assert await chat.search_messages("b", ["regret"], None, None, 10) == ([], False)


async def test_search_words_scope_order_and_pages(chat: Store) -> None:
    texts = ["Grüße aus KÖLN", "koln again", "nothing here", "KÖLN dom", "bye"]
    sent = []
    for i, content in enumerate(texts):
        frm, to = ("a", "b") if i % 2 == 0 else ("b", "a")
        sent.append((await chat.save_message(frm, to, content)).message)
    elsewhere = (await chat.save_message("b", "c", "koln for c")).message
    note = (await chat.save_message("a", "a", "koln note to self")).message

    async def ids(
        user: str, query: str, peer: str | None = None, before: int | None = None, limit: int = 10
    ) -> tuple[list[int], bool]:
        found, more = await chat.search_messages(user, search_words(query), peer, before, limit)
        return [m.id for m in found], more

    assert await ids("a", "koln") == ([note.id, sent[3].id, sent[1].id, sent[0].id], False)
    assert await ids("a", "köln", "b") == ([sent[3].id, sent[1].id, sent[0].id], False)
    assert await ids("a", "koln", "a") == ([note.id], False)
    assert await ids("a", "GRUSSE koln") == ([sent[0].id], False)
    assert await ids("a", "koln dom") == ([sent[3].id], False)
    assert await ids("a", "zzz") == ([], False)
    assert await ids("c", "koln") == ([elsewhere.id], False)
    assert await ids("a", "koln", limit=2) == ([note.id, sent[3].id], True)
    assert await ids("a", "koln", before=sent[3].id, limit=2) == ([sent[1].id, sent[0].id], False)
    await chat.edit_message("b", sent[1].id, "now about bonn", 5)
    assert await ids("a", "bonn") == ([sent[1].id], False)
    assert sent[1].id not in (await ids("a", "koln"))[0]


async def test_pages_after_a_message_say_what_lies_on_both_sides(chat: Store) -> None:
    ids = [(await chat.save_message("a", "b", f"m{i}")).message.id for i in range(5)]
    after = await chat.history("a", "b", None, 2, after=ids[0])
    assert [m.id for m in after.messages] == ids[1:3]
    assert after.has_more and after.has_newer
    tail = await chat.history("b", "a", None, 5, after=ids[2])
    assert [m.id for m in tail.messages] == ids[3:]
    assert tail.has_more and not tail.has_newer
    before = await chat.history("a", "b", ids[2], 5)
    assert [m.id for m in before.messages] == ids[:2]
    assert not before.has_more and before.has_newer
    assert not (await chat.history("a", "b", None, 5)).has_newer
    assert (await chat.history("a", "b", None, 5, after=ids[-1])).messages == []


SECRET = "zanzibarquokka7 is the passphrase"


def files_holding(folder: Path, needle: bytes) -> list[str]:
    return [p.name for p in folder.iterdir() if p.is_file() and needle in p.read_bytes()]


@pytest.mark.parametrize("index_every", [1, 128])  # indexed at once, or still past the mark
async def test_sqlite_a_deleted_text_leaves_every_file_within_two_seconds(
    tmp_path: Path, index_every: int
) -> None:
    store = SqliteStore(tmp_path / "chat.db")
    store.index_every = index_every
    await store.open()
    try:
        for uid in ("a", "b"):
            await store.create_user(uid, uid, hash_session_id(uid))
        filler = [(await store.save_message("a", "b", f"filler {i}")).message for i in range(50)]
        m = (await store.save_message("b", "a", SECRET)).message
        await store.save_message("a", "b", "after it")
        await store.edit_message("a", filler[3].id, "edited filler", 1)
        needle = b"zanzibarquokka7"
        assert files_holding(tmp_path, needle)  # the test can see it while it is there
        await store.delete_message("b", m.id)
        # nor any part of it: FTS5's page index keeps the first letters of a page's first
        # word, so the index holds hashes of words, never words
        parts = [needle[:n] for n in (5, 6, 8)] + [b"passphrase"]
        await wait_until(
            lambda: not any(files_holding(tmp_path, p) for p in (needle, *parts)),
            "no file holds it, or a part of it",
            2.5,
        )
        assert await store.search_messages("a", ["zanzibarquokka7"], None, None, 5) == ([], False)
        for word in ("zanzibarquokka7", "passphrase"):  # nor a hash of its words
            assert await store.io.read(index_hits, store.io.rdb, word, store.search_key) == []
        # the index stays consistent through edits, deletes, a deleted user and retention
        await store.create_user("c", "c", hash_session_id("c"))
        await store.save_message("c", "a", "filler from c")
        await store.delete_user("c")
        store.retention_days = 1
        last = (await store.save_message("a", "b", "after it all")).message
        assert await store.apply_retention(last.ts + 2 * 86_400_000) > 0
        assert await store.search_messages("a", ["filler"], None, None, 50) == ([], False)
        fresh = (await store.save_message("b", "a", "fresh filler")).message
        assert (await store.search_messages("a", ["filler"], None, None, 50))[0] == [fresh]

        await integrity_check(store)
    finally:
        await store.close()
    assert not files_holding(tmp_path, b"zanzibarquokka7")


@contextlib.asynccontextmanager
async def redis_chat(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Store]:
    """A Redis store (a flushed redis-server) with users a and b."""
    url = Harness(tmp_path, "redis", redis_for(request, "redis")).store_url()
    store = make_store(url)
    await store.open()
    try:
        for uid in ("a", "b"):
            await store.create_user(uid, uid, hash_session_id(uid))
        yield store
    finally:
        await store.close()


async def test_redis_a_deleted_text_is_in_no_key(
    request: pytest.FixtureRequest, tmp_path: Path
) -> None:
    async with redis_chat(request, tmp_path) as store:
        for i in range(20):
            await store.save_message("a", "b", f"filler {i}")
        m = (await store.save_message("b", "a", SECRET, client_id="c-1")).message
        await store.save_message("a", "b", "after it")
        r = store.redis  # type: ignore[attr-defined]

        async def keys_holding(needle: bytes) -> list[str]:
            found = []
            async for key in r.scan_iter(count=1000):
                if needle in (await r.dump(key) or b""):
                    found.append(key.decode())
            return found

        assert await keys_holding(b"zanzibarquokka7")  # DUMP shows what a key keeps
        await store.delete_message("b", m.id)
        assert await keys_holding(b"zanzibarquokka7") == []


async def test_redis_an_unread_count_with_nothing_new_from_the_peer_reads_no_stream(
    request: pytest.FixtureRequest, tmp_path: Path
) -> None:
    """The count of the peer's messages past the reader's marker scanned the whole
    conversation when the peer had written nothing since (66 ms a reconnect after 20,000
    messages). chat:last:<a>:<b> keeps each sender's latest id; a conversation stored
    before it existed learns it once."""
    async with redis_chat(request, tmp_path) as store:
        for i in range(30):
            await store.save_message("a", "b", f"m{i}")
        r = store.redis  # type: ignore[attr-defined]

        async def stream_reads() -> int:
            stats = await r.info("commandstats")
            return sum(
                stats.get(f"cmdstat_{c}", {}).get("calls", 0) for c in ("xrange", "xrevrange")
            )

        for stored_before_the_hash in (False, True):
            if stored_before_the_hash:
                await r.delete("chat:last:a:b")
            assert (await store.read_states("a", ["b"]))["b"].unread == 0  # learns: none
            await r.config_resetstat()
            assert (await store.read_states("a", ["b"]))["b"].unread == 0
            assert await stream_reads() == 0
            assert (await store.read_states("b", ["a"]))["a"].unread == 30
        answer = (await store.save_message("b", "a", "at last")).message
        assert (await store.read_states("a", ["b"]))["b"].unread == 1
        await store.mark_read("a", "b", answer.id, private=True, at_ms=1)
        await r.config_resetstat()
        assert (await store.read_states("a", ["b"]))["b"].unread == 0  # read: no scan
        assert await stream_reads() == 0
        await store.delete_user("b")
        assert not await r.exists("chat:last:a:b")
        assert (await store.read_states("a", ["b"]))["b"].unread == 0
        assert not await r.exists("chat:last:a:b")  # a count leaves no key for nothing

        # learning from the newest end over more than one batch of 500 entries
        await store.create_user("c", "c", hash_session_id("c"))
        first = (await store.save_message("c", "a", "once")).message
        for i in range(600):
            await store.save_message("a", "c", f"n{i}")
        await r.delete("chat:last:a:c")
        assert (await store.read_states("a", ["c"]))["c"].unread == 1
        assert int(await r.hget("chat:last:a:c", "c")) == first.id
        await store.delete_message("c", first.id)
        assert (await store.read_states("a", ["c"]))["c"].unread == 0


async def test_a_store_opened_on_text_in_streams_moves_it_out(
    request: pytest.FixtureRequest, tmp_path: Path
) -> None:
    """Redis layout 2 kept the text in the conversation's stream; layout 3 moves it out
    at open, so that old messages can be searched and deleted for real."""
    server = redis_for(request, "redis")
    url = Harness(tmp_path, "redis", server).store_url()
    store = make_store(url)
    await store.open()
    for uid in ("a", "b"):
        await store.create_user(uid, uid, hash_session_id(uid))
    await store.close()
    r = make_store(url)
    await r.open()
    raw = r.redis  # type: ignore[attr-defined]
    # what layout 2 wrote for two messages, then its version
    await raw.xadd(
        "chat:conv:a:b", {"f": "a", "t": "b", "c": "old Café", "ts": 5, "cid": ""}, id="1-0"
    )
    await raw.xadd(
        "chat:conv:a:b", {"f": "b", "t": "a", "c": "older reply", "ts": 6, "cid": ""}, id="2-0"
    )
    await raw.sadd("chat:convs", "chat:conv:a:b")
    await raw.sadd("chat:peers:a", "b")
    await raw.sadd("chat:peers:b", "a")
    await raw.set("chat:msgid", 2)
    await raw.set("chat:schema", 2)
    await r.close()
    again = make_store(url)
    await asyncio.gather(again.open(), (other := make_store(url)).open())  # migrate once
    try:
        page = await again.history("a", "b", None, 10)
        assert [(m.id, m.content) for m in page.messages] == [(1, "old Café"), (2, "older reply")]
        found, _ = await again.search_messages("b", ["cafe"], None, None, 5)
        assert [m.id for m in found] == [1]
        entries = await again.redis.xrange("chat:conv:a:b")  # type: ignore[attr-defined]
        assert all(b"c" not in fields for _, fields in entries)
        assert (await other.get_message("a", 2)) is not None
    finally:
        await again.close()
        await other.close()


def test_sqlite_index_tokens_keep_their_format() -> None:
    """Files indexed by an earlier chat-server are searched with the tokens it wrote: a
    word's token is 12 hex digits of BLAKE2b-48 keyed with the file's key, and a message
    adds its participants and conversation. A change here would make every stored index
    miss without an error."""
    import hashlib

    from chat_server.stores.sqlite_search import WORD_CACHE, Tokens, index_text, token

    key = bytes(range(16))
    want = hashlib.blake2b(b"caf\xc3\xa9", key=key, digest_size=6).hexdigest()
    assert token("café", key) == want
    plain = hashlib.blake2b(b"cafe", key=key, digest_size=6).hexdigest()  # accents go
    assert index_text("Café au lait, CAFE!", 3, 9, key) == " ".join(
        [plain, token("au", key), token("lait", key), "§u3 §u9 §c3x9"]
    )
    tokens = Tokens(key)  # a full cache starts again and still answers the same
    for n in range(WORD_CACHE + 5):
        tokens.word(str(n))
    assert tokens.word("café") == want


async def integrity_check(store: SqliteStore) -> None:
    """FTS5's own check of the search index (it raises on a damaged index)."""

    def check() -> None:
        store.io.db.execute("INSERT INTO search (search) VALUES ('integrity-check')")

    await store.io.write(check)


def index_hits(db: Connection, word: str, key: bytes) -> list[int]:
    """The rowids the search index holds for one word."""
    query = f'"{token(word, key)}"'
    return [r[0] for r in db.execute("SELECT rowid FROM search WHERE search MATCH ?", (query,))]


@pytest.mark.parametrize(
    ("index_every", "synchronous"),
    [(1, "normal"), (7, "normal"), (7, "full"), (10_000, "normal")],  # full: a writer thread
)
async def test_sqlite_search_finds_messages_on_both_sides_of_the_index_mark(
    tmp_path: Path, index_every: int, synchronous: str
) -> None:
    """The index trails the messages by fewer than index_every: whatever the mark, a
    search finds every stored message at once, newest first, paged without a gap or a
    repeat, through edits and deletes on both sides of the mark; once caught up (at the
    next open), the index holds exactly the messages' current words."""
    store = SqliteStore(tmp_path / "chat.db", synchronous)
    store.index_every = index_every
    await store.open()
    try:
        for uid in ("a", "b", "c"):
            await store.create_user(uid, uid, hash_session_id(uid))
        sent = []
        for i in range(40):
            frm, to = [("a", "b"), ("b", "a"), ("a", "c"), ("c", "b")][i % 4]
            words = "otter" if i % 3 else "otter heron"
            sent.append((await store.save_message(frm, to, f"{words} {i}")).message)
        upto = await store.io.read(indexed_upto, store.io.rdb)
        assert sent[-1].id - upto < index_every
        # an edit and a delete of the oldest messages and of the newest
        for m in (sent[0], sent[-4]):
            await store.edit_message(m.from_id, m.id, f"heron only {m.id}", 1)
        for m in (sent[3], sent[-1]):
            await store.delete_message(m.from_id, m.id)
        texts = {m.id: m.content for m in sent}
        texts.update({m.id: f"heron only {m.id}" for m in (sent[0], sent[-4])})
        gone = {sent[3].id, sent[-1].id}

        def expected(user: str, word: str, peer: str | None = None) -> list[int]:
            return sorted(
                (
                    m.id
                    for m in sent
                    if m.id not in gone
                    and user in (m.from_id, m.to_id)
                    and (peer is None or peer in (m.from_id, m.to_id))
                    and word in texts[m.id].split()
                ),
                reverse=True,
            )

        async def all_pages(chat: SqliteStore) -> None:
            for user, word, peer in [
                ("a", "otter", None),
                ("a", "heron", None),
                ("b", "otter", "c"),
                ("c", "heron", None),
                ("a", "otter", "b"),
            ]:
                got, before, more = [], None, True
                while more:  # pages of 4
                    page, more = await chat.search_messages(user, [word], peer, before, 4)
                    got += [m.id for m in page]
                    before = page[-1].id if page else None
                assert got == expected(user, word, peer), (user, word, peer)

        await all_pages(store)
        # nothing past the mark is in the index; nothing deleted or edited away is either
        key = store.search_key
        upto = await store.io.read(indexed_upto, store.io.rdb)
        otters = await store.io.read(index_hits, store.io.rdb, "otter", key)
        assert set(otters) == {
            m.id
            for m in sent
            if m.id <= upto and m.id not in gone and "otter" in texts[m.id].split()
        }

        await integrity_check(store)
    finally:
        await store.close()
    # the next server process indexes what is left when idle, exactly the current words
    again = SqliteStore(tmp_path / "chat.db")
    again.index_every, again.index_step, again.index_idle = 10_000, 1, 0.01
    await again.open()
    try:
        db = again.io.rdb
        await wait_until(lambda: again.unindexed == 0 and again._idle_task is None, "catch-up")
        assert await again.io.read(indexed_upto, db) == sent[-1].id
        for word in ("otter", "heron"):
            held = await again.io.read(index_hits, db, word, key)
            assert sorted(held) == sorted(
                m.id for m in sent if m.id not in gone and word in texts[m.id].split()
            ), word
        await all_pages(again)  # now all through the index

        await integrity_check(again)
    finally:
        await again.close()


async def test_sqlite_index_catches_up_with_what_a_crash_left(tmp_path: Path) -> None:
    """Messages past the mark when the process died are indexed by the next server
    process, when idle; a user deleted meanwhile by another process (chat-server users
    delete, which leaves the index to the server) leaves nothing in the index, before or
    after."""
    path = tmp_path / "chat.db"
    crashed = SqliteStore(path)
    crashed.index_every = 10_000
    await crashed.open()
    try:
        for uid in ("a", "b", "c"):
            await crashed.create_user(uid, uid, hash_session_id(uid))
        kept = [(await crashed.save_message("a", "b", f"walrus {i}")).message for i in range(5)]
        key = crashed.search_key
        assert await crashed.io.read(index_hits, crashed.io.rdb, "walrus", key) == []
        admin = SqliteStore(path, keep_index=False)  # the command line, while this runs
        await admin.open()
        try:
            for i in range(5):  # past the mark again
                await crashed.save_message("c", "a", f"narwhal {i}")
            assert await admin.delete_user("c") == 5
            assert await crashed.io.read(index_hits, crashed.io.rdb, "narwhal", key) == []
        finally:
            await admin.close()
        more = (await crashed.save_message("b", "a", "walrus again")).message
        # this process "dies" here: its connections go away without a close()
        await crashed.io.close()
        crashed.unindexed = 0
    finally:
        await crashed.close()
    reopened = SqliteStore(path)
    reopened.index_step, reopened.index_idle = 1, 0.01
    await reopened.open()
    try:
        db = reopened.io.rdb
        assert reopened.unindexed == 6  # counted at open: 5 walruses and one more
        await wait_until(lambda: reopened.unindexed == 0 and reopened._idle_task is None, "")
        assert await reopened.io.read(indexed_upto, db) == more.id
        walruses = await reopened.io.read(index_hits, db, "walrus", key)
        assert sorted(walruses) == [m.id for m in kept] + [more.id]
        assert await reopened.io.read(index_hits, db, "narwhal", key) == []
        found, _ = await reopened.search_messages("a", ["walrus"], None, None, 10)
        assert [m.id for m in found] == [more.id, *reversed([m.id for m in kept])]

        await integrity_check(reopened)
    finally:
        await reopened.close()


async def test_sqlite_a_failed_catch_up_costs_the_batch_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The index catching up fails (say, a damaged index): the batch's messages are
    stored all the same and found by search, the mark stays, and a later batch catches
    up."""
    store = SqliteStore(tmp_path / "chat.db")
    store.index_every = 3
    await store.open()
    try:
        for uid in ("a", "b"):
            await store.create_user(uid, uid, hash_session_id(uid))
        failures = []

        def broken(db: Connection, key: bytes, limit: int | None = None) -> int:
            db.execute("INSERT INTO search (rowid, words) VALUES (?, ?)", (10**9, "x"))
            failures.append(1)
            raise sqlite_lib.OperationalError("simulated: the index is damaged")

        monkeypatch.setattr(sqlite_batch, "catch_up", broken)
        first = [(await store.save_message("a", "b", f"puffin {i}")).message for i in range(4)]
        assert failures  # it was tried, and undone alone
        assert await store.io.read(indexed_upto, store.io.rdb) == 0
        assert await store.io.read(index_hits, store.io.rdb, "x", store.search_key) == []
        found, _ = await store.search_messages("b", ["puffin"], None, None, 10)
        assert [m.id for m in found] == [m.id for m in reversed(first)]
        monkeypatch.undo()
        last = (await store.save_message("b", "a", "puffin again")).message
        assert await store.io.read(indexed_upto, store.io.rdb) == last.id
        held = await store.io.read(index_hits, store.io.rdb, "puffin", store.search_key)
        assert sorted(held) == [m.id for m in first] + [last.id]
    finally:
        await store.close()
