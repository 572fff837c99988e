"""The Store contract, run against every back end through one parametrized fixture."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from chat_server.stores import Store, UserIdTaken, UsernameTaken, make_store
from chat_server.stores.base import Marked, ReadState, Saved
from chat_server.tokens import hash_session_id
from tests.conftest import Harness, redis_for


async def test_users_sessions_and_creation_order(store: Store) -> None:
    a = await store.create_user("a1", "Alice", hash_session_id("sa"))
    b = await store.create_user("b1", "bob", hash_session_id("sb"))
    assert await store.user_for_session(hash_session_id("sa")) == a
    assert await store.user_for_session(hash_session_id("nope")) is None
    assert await store.get_user("b1") == b
    assert await store.get_user("zz") is None
    assert [u.user_id for u in await store.list_users()] == ["a1", "b1"]
    assert (await store.counts())["users"] == 2


async def test_unique_names_and_taken_ids(store: Store) -> None:
    await store.create_user("a1", "Alice", hash_session_id("sa"))
    with pytest.raises(UsernameTaken):
        await store.create_user("a2", "aLiCe", hash_session_id("sb"), unique=True)
    with pytest.raises(UserIdTaken):
        await store.create_user("a1", "other", hash_session_id("sc"))
    # look-alikes count as the same name: fullwidth, Cyrillic a, another case
    for n, lookalike in enumerate(["\uff41\uff4c\uff49\uff43\uff45", "\u0430lice"]):
        with pytest.raises(UsernameTaken):
            await store.create_user(f"x{n}", lookalike, hash_session_id(f"x{n}"), unique=True)
    # not unique: same name is fine
    await store.create_user("a3", "ALICE", hash_session_id("sd"))
    assert [u.user_id for u in await store.list_users()] == ["a1", "a3"]


async def test_concurrent_saves_complete_in_call_order(chat: Store) -> None:
    store = chat
    results = await asyncio.gather(*(store.save_message("a", "b", f"m{i}") for i in range(300)))
    ids = [r.message.id for r in results]
    assert ids == sorted(ids) and len(set(ids)) == 300
    assert [r.message.content for r in results] == [f"m{i}" for i in range(300)]
    ts = [r.message.ts for r in results]
    assert ts == sorted(ts)
    page = await store.history("b", "a", None, 200)
    assert [m.content for m in page.messages] == [f"m{i}" for i in range(100, 300)]
    assert page.has_more


async def test_client_id_idempotency_even_within_one_batch(chat: Store) -> None:
    store = chat
    first, again, other = await asyncio.gather(
        store.save_message("a", "b", "x", "c1"),
        store.save_message("a", "b", "y", "c1"),
        store.save_message("b", "a", "z", "c1"),
    )
    assert first.created and not again.created and other.created
    assert again.message == first.message
    assert (await store.counts())["messages"] == 2


async def test_conversations_newest_first_and_their_latest_pages(chat: Store) -> None:
    store = chat
    for i in range(5):
        await store.save_message("a", "b", f"ab{i}")
    await store.save_message("c", "a", "ca")
    last = await store.save_message("a", "a", "self")
    await store.save_message("b", "c", "bc")
    convs = await store.conversations("a")
    assert [peer for peer, _ in convs] == ["a", "c", "b"]  # the newest conversation first
    assert convs[0][1] == last.message.id
    latest = await store.latest_pages("a", ["b", "c", "a", "nobody"], 3)
    assert set(latest) == {"b", "c", "a"}
    assert [m.content for m in latest["b"].messages] == ["ab2", "ab3", "ab4"]
    assert latest["b"].has_more
    assert [m.content for m in latest["c"].messages] == ["ca"] and not latest["c"].has_more
    assert [m.content for m in latest["a"].messages] == ["self"]
    assert await store.latest_pages("a", [], 3) == {}
    assert await store.conversations("nobody") == []


async def test_history_pages_are_exact(chat: Store) -> None:
    store = chat
    saved = [(await store.save_message("a", "b", f"m{i}")).message for i in range(10)]
    page = await store.history("a", "b", saved[5].id, 3)
    assert page.messages == saved[2:5] and page.has_more
    page = await store.history("b", "a", saved[3].id, 3)
    assert page.messages == saved[0:3] and not page.has_more
    page = await store.history("a", "b", saved[0].id, 3)
    assert page.messages == [] and not page.has_more
    assert (await store.history("a", "zz", None, 3)).messages == []
    assert (await store.history("a", "zz", 5, 3)).messages == []


async def test_retention_deletes_old_messages_and_keeps_sessions(
    request: pytest.FixtureRequest, tmp_path: Path, store_kind: str
) -> None:
    url = Harness(tmp_path, store_kind, redis_for(request, store_kind)).store_url()
    s = make_store(url, retention_days=2)
    await s.open()
    try:
        await s.create_user("a", "alice", hash_session_id("sa"))
        await s.create_user("b", "bob", hash_session_id("sb"))
        for i in range(5):
            await s.save_message("a", "b", f"m{i}")
        now = (await s.history("a", "b", None, 1)).messages[0].ts
        assert await s.apply_retention(now + 86_400_000) == 0  # a day later: kept
        assert await s.apply_retention(now + 3 * 86_400_000) == 5  # three days: gone
        assert (await s.history("a", "b", None, 50)).messages == []
        assert await s.latest_pages("a", ["b"], 10) == {}
        assert await s.conversations("a") == []
        assert (await s.counts())["messages"] == 0
        assert await s.user_for_session(hash_session_id("sa")) is not None
        fresh = await s.save_message("a", "b", "new")
        assert [m.id for m in (await s.history("a", "b", None, 50)).messages] == [fresh.message.id]
    finally:
        await s.close()
    keep = make_store(url)  # no retention: keep forever
    await keep.open()
    try:
        assert await keep.apply_retention(10**15) == 0
    finally:
        await keep.close()


async def test_sessions_are_listed_revoked_and_checked(store: Store) -> None:
    a = await store.create_user("a1", "alice", hash_session_id("sa"))
    b = await store.create_user("b1", "bob", hash_session_id("sb"))
    listed = await store.list_sessions()
    assert [s.user for s in listed] == [a, b]
    assert all(s.created_ms is None or s.created_ms > 0 for s in listed)
    hashes = [hash_session_id(x) for x in ("sa", "sb", "nope")]
    assert await store.live_sessions(hashes) == {hash_session_id("sa"), hash_session_id("sb")}
    assert await store.revoke_sessions("a1") == 1
    assert await store.revoke_sessions("a1") == 0
    assert await store.user_for_session(hash_session_id("sa")) is None  # the secret is dead
    assert await store.live_sessions(hashes) == {hash_session_id("sb")}
    assert [s.user for s in await store.list_sessions()] == [b]
    assert await store.get_user("a1") == a  # the user and their history stay


async def test_the_directory_finds_names_by_prefix_page_by_page(store: Store) -> None:
    names = ["bob", "Bobby", "alice", "bo", "carol", "\u0432ob"]  # the last: Cyrillic "v"ob
    for i, name in enumerate(names):
        await store.create_user(f"u{i}", name, hash_session_id(f"s{i}"))
    found, more = await store.search_users("bo", None, 2)
    assert [u.username for u in found] == ["bo", "bob"] and more
    found, more = await store.search_users("bo", found[-1].user_id, 2)
    # the look-alike is found with the name it looks like
    assert [u.username for u in found] == ["\u0432ob", "Bobby"] and not more
    found, _ = await store.search_users("", None, 10)
    assert [u.username for u in found][:2] == ["alice", "bo"]
    assert (await store.search_users("zz", None, 10)) == ([], False)


async def test_last_seen_and_the_users_list(store: Store) -> None:
    await store.create_user("a1", "alice", hash_session_id("sa"))
    await store.create_user("b1", "bob", hash_session_id("sb"))
    await store.set_last_seen("a1", 1_800_000_000_000)
    await store.set_last_seen("ghost", 5)  # an unknown user changes nothing
    infos = {i.user.user_id: i for i in await store.user_infos()}
    assert set(infos) == {"a1", "b1"}
    assert infos["a1"].last_seen_ms == 1_800_000_000_000 and infos["b1"].last_seen_ms is None
    assert infos["a1"].sessions == 1 and (infos["a1"].created_ms or 0) > 0


async def test_deleting_a_user_erases_their_conversations_and_is_logged(chat: Store) -> None:
    store = chat
    await store.save_message("a", "b", "ab", "cid-1")
    await store.save_message("b", "a", "ba")
    await store.save_message("c", "b", "cb")
    await store.save_message("a", "a", "note")
    assert await store.removed_since(0) == ([], 0)
    assert await store.delete_user("a") == 3
    assert await store.get_user("a") is None
    assert [u.user_id for u in await store.list_users()] == ["b", "c"]
    assert await store.user_for_session(hash_session_id("sa")) is None
    assert (await store.history("b", "a", None, 10)).messages == []
    assert [m.content for m in (await store.history("b", "c", None, 10)).messages] == ["cb"]
    assert [peer for peer, _ in await store.conversations("b")] == ["c"]
    assert (await store.counts()) == {"users": 2, "messages": 1}
    removed, cursor = await store.removed_since(0)
    assert removed == ["a"] and (await store.removed_since(cursor)) == ([], cursor)
    assert await store.delete_user("a") == 0  # gone already
    assert (await store.search_users("user-a", None, 5)) == ([], False)


async def test_idle_users_never_wrote_and_were_not_seen_since_the_cutoff(chat: Store) -> None:
    store = chat
    await store.save_message("a", "b", "hi")
    await store.set_last_seen("c", 1_000)
    assert await store.idle_users(2_000) == ["c"]  # a and b have a conversation
    assert await store.idle_users(500) == []  # c was seen after that


async def test_read_markers_move_forward_and_never_past_what_exists(chat: Store) -> None:
    store = chat
    sent = [(await store.save_message("a", "b", f"m{i}")).message for i in range(5)]
    assert await store.mark_read("b", "a", sent[2].id, private=False, at_ms=7) == Marked(
        sent[2].id, True
    )
    # never back, and never past the conversation's latest message
    assert await store.mark_read("b", "a", sent[1].id, private=False, at_ms=8) == Marked(
        sent[2].id, False
    )
    assert await store.mark_read("b", "a", 2**62, private=False, at_ms=9) == Marked(
        sent[4].id, True
    )
    # no conversation: nothing to mark
    assert await store.mark_read("b", "c", 5, private=False, at_ms=9) == Marked(None, False)
    states = await store.read_states("b", ["a", "c"])
    assert states["a"] == ReadState(sent[4].id, None, None, 0)
    assert states["c"] == ReadState(None, None, None, 0)
    # a sees b's receipt on her messages, with when it was made
    assert (await store.read_states("a", ["b"]))["b"] == ReadState(None, sent[4].id, 9, 0)


async def test_unread_counts_only_the_peers_messages_above_the_marker(chat: Store) -> None:
    store = chat
    first = (await store.save_message("a", "b", "1")).message
    await store.save_message("b", "a", "mine")  # b's own messages are never unread for b
    await store.save_message("a", "b", "2")
    await store.save_message("a", "b", "3")
    assert (await store.read_states("b", ["a"]))["a"].unread == 3
    await store.mark_read("b", "a", first.id, private=False, at_ms=1)
    assert (await store.read_states("b", ["a"]))["a"].unread == 2
    await store.save_message("a", "a", "note")  # notes to yourself are never unread
    assert (await store.read_states("a", ["a"]))["a"].unread == 0


async def test_unread_counts_follow_messages_stored_after_a_count(chat: Store) -> None:
    """A count taken once (the SQLite store then remembers the peer's last message) stays
    right as the peer writes, a message is deleted, and the reader marks."""
    store = chat
    for i in range(30):  # a long one-sided conversation: b writes nothing
        await store.save_message("a", "b", f"a{i}")
    assert (await store.read_states("a", ["b"]))["b"].unread == 0
    assert (await store.read_states("a", ["b"]))["b"].unread == 0
    from_b = [(await store.save_message("b", "a", f"b{i}")).message for i in range(3)]
    await store.save_message("a", "b", "after")
    assert (await store.read_states("a", ["b"]))["b"].unread == 3
    await store.delete_message("b", from_b[2].id)
    assert (await store.read_states("a", ["b"]))["b"].unread == 2
    await store.mark_read("a", "b", from_b[0].id, private=True, at_ms=1)
    assert (await store.read_states("a", ["b"]))["b"].unread == 1
    await store.mark_read("a", "b", 2**62, private=True, at_ms=2)
    assert (await store.read_states("a", ["b"]))["b"].unread == 0


async def test_a_private_read_moves_the_marker_but_not_the_receipt(chat: Store) -> None:
    store = chat
    sent = [(await store.save_message("a", "b", f"m{i}")).message for i in range(3)]
    await store.mark_read("b", "a", sent[0].id, private=False, at_ms=1)
    await store.mark_read("b", "a", sent[2].id, private=True, at_ms=2)
    assert (await store.read_states("b", ["a"]))["a"].read_up_to == sent[2].id
    receipt = (await store.read_states("a", ["b"]))["b"]
    assert (receipt.peer_read_up_to, receipt.peer_read_at) == (sent[0].id, 1)


async def test_markers_go_through_the_same_group_commit_as_messages(chat: Store) -> None:
    store = chat
    results = await asyncio.gather(
        store.save_message("a", "b", "x"),
        store.mark_read("b", "a", 2**40, private=False, at_ms=1),
        store.save_message("a", "b", "y"),
    )
    x, marked, y = results
    assert isinstance(x, Saved) and isinstance(y, Saved) and isinstance(marked, Marked)
    assert marked.up_to == x.message.id  # the mark saw the message stored before it
    assert (await store.read_states("b", ["a"]))["a"].unread == 1  # y came after


async def test_last_seen_is_kept_per_user(store: Store) -> None:
    await store.create_user("a1", "alice", hash_session_id("sa"))
    await store.create_user("b1", "bob", hash_session_id("sb"))
    await store.set_last_seen("a1", 1_800_000_000_000)
    assert await store.last_seen(["a1", "b1", "nobody"]) == {"a1": 1_800_000_000_000}


async def test_overlapping_roster_reads_never_skip_users_made_by_another_process(
    request: pytest.FixtureRequest, tmp_path: Path
) -> None:
    """Two overlapping list_users() on one process, while another process creates the
    users: every user is still listed, then and later (a race once skipped some for good)."""
    url = Harness(tmp_path, "redis", redis_for(request, "redis")).store_url()
    maker, reader = make_store(url), make_store(url)
    await maker.open()
    await reader.open()
    try:
        for uid in ("a", "b", "c"):
            await maker.create_user(uid, f"user-{uid}", hash_session_id(f"s{uid}"))
        first, second = await asyncio.gather(reader.list_users(), reader.list_users())
        assert [u.user_id for u in first] == [u.user_id for u in second] == ["a", "b", "c"]
        await maker.create_user("d", "user-d", hash_session_id("sd"))
        assert [u.user_id for u in await reader.list_users()] == ["a", "b", "c", "d"]
    finally:
        await maker.close()
        await reader.close()


async def test_a_redis_that_lost_its_scripts_stores_each_write_once(
    request: pytest.FixtureRequest, tmp_path: Path
) -> None:
    """Group commits send EVALSHA without redis-py's SCRIPT EXISTS check first. A Redis
    that lost a script (SCRIPT FLUSH, a restart) answers NOSCRIPT for the writes that need
    it: the scripts are loaded and only those writes are sent again; the others, already
    applied, are not (sends without a clientId would be stored twice)."""
    import redis.asyncio as aioredis

    from chat_server.stores.redis_scripts import SAVE_MESSAGE

    url = Harness(tmp_path, "redis", redis_for(request, "redis")).store_url()
    store = make_store(url)
    await store.open()
    raw = aioredis.Redis.from_url(url)
    try:
        first = await store.save_message("a", "b", "first")
        await raw.script_flush()
        await raw.script_load(SAVE_MESSAGE)  # the sends' script is there, the marker's not
        await raw.config_resetstat()
        sends = [store.save_message("a", "b", f"m{i}") for i in range(3)]
        marks = [
            store.mark_read(u, p, first.message.id, private=False, at_ms=1)
            for u, p in (("b", "a"), ("a", "b"))
        ]
        done = await asyncio.gather(*sends, *marks)
        assert [s.message.content for s in done[:3]] == ["m0", "m1", "m2"]
        stats = await raw.info("commandstats")
        assert "cmdstat_script|exists" not in stats  # no check before each pipeline
        assert stats["cmdstat_evalsha"]["calls"] == 3 + 2 + 2  # the markers twice
        page = await store.history("a", "b", None, 10)
        assert [m.content for m in page.messages] == ["first", "m0", "m1", "m2"]
    finally:
        await store.close()
        await raw.aclose()
