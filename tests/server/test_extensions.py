"""Our additive extensions: ids, timestamps, acks, idempotent clientId, paging, usernames."""

from __future__ import annotations

import time
from typing import Any

import pytest

from tests.conftest import Harness, Login, Server, barrier

# every store, and the stock transport (--stock-transport) on one of them: the protocol
# holds on the libraries as shipped too
pytestmark = pytest.mark.stores("memory", "sqlite", "redis", "memory-stock")


async def test_messages_carry_increasing_ids_and_server_timestamps(login: Login) -> None:
    alice = await login("alice")
    bob = await login("bob")
    before = time.time() * 1000
    acks = [
        await alice.call("private message", {"content": f"m{i}", "to": bob.user_id})
        for i in range(5)
    ]
    after = time.time() * 1000
    ids = [a["message"]["id"] for a in acks]
    assert ids == sorted(ids) and len(set(ids)) == 5
    assert all(before - 1 <= a["message"]["ts"] <= after + 1 for a in acks)
    live = await bob.wait_for("private message", 5)
    assert [m["id"] for m in live] == ids
    assert [m["ts"] for m in live] == [a["message"]["ts"] for a in acks]


async def test_ack_returns_the_stored_message(login: Login) -> None:
    alice = await login("alice")
    bob = await login("bob")
    ack = await alice.call("private message", {"content": "hi", "to": bob.user_id, "from": "x"})
    msg = ack["message"]
    assert {k: msg[k] for k in ("content", "from", "to")} == {
        "content": "hi",
        "from": alice.user_id,
        "to": bob.user_id,
    }
    (live,) = await bob.wait_for("private message")
    assert live == msg


async def test_client_id_makes_a_send_idempotent(h: Harness, srv: Server, login: Login) -> None:
    alice = await login("alice")
    bob = await login("bob")
    payload = {"content": "only once", "to": bob.user_id, "clientId": "c-1"}
    first = await alice.call("private message", payload)
    # a retry, as after a reconnect: same sender, same clientId, even another socket
    alice2 = await h.resume(srv, alice.session_id)
    second = await alice2.call("private message", {**payload, "content": "changed"})
    assert second == first
    assert first["message"]["clientId"] == "c-1"
    await alice.call("private message", {"content": "next", "to": bob.user_id})
    live = await bob.wait_for("private message", 2)
    assert [m["content"] for m in live] == ["only once", "next"]
    page = await bob.call("history", {"with": alice.user_id})
    assert [m["content"] for m in page["messages"]] == ["only once", "next"]


async def test_client_ids_are_per_sender(login: Login) -> None:
    alice = await login("alice")
    bob = await login("bob")
    a = await alice.call("private message", {"content": "a", "to": bob.user_id, "clientId": "same"})
    b = await bob.call("private message", {"content": "b", "to": alice.user_id, "clientId": "same"})
    assert a["message"]["id"] != b["message"]["id"]


async def test_users_holds_the_latest_page_of_each_conversation(h: Harness) -> None:
    srv = await h.server(history_limit=5)
    alice = await h.login(srv, "alice")
    bob = await h.login(srv, "bob")
    carol = await h.login(srv, "carol")
    for i in range(12):
        await alice.call("private message", {"content": f"b{i}", "to": bob.user_id})
    for i in range(3):
        await alice.call("private message", {"content": f"c{i}", "to": carol.user_id})
    again = await h.resume(srv, alice.session_id)
    with_bob = again.entry(bob.user_id)
    assert [m["content"] for m in with_bob["messages"]] == [f"b{i}" for i in range(7, 12)]
    assert with_bob["hasMore"] is True
    with_carol = again.entry(carol.user_id)
    assert [m["content"] for m in with_carol["messages"]] == ["c0", "c1", "c2"]
    assert with_carol["hasMore"] is False


async def test_history_pages_back_to_the_first_message(h: Harness) -> None:
    srv = await h.server(history_limit=10)
    alice = await h.login(srv, "alice")
    bob = await h.login(srv, "bob")
    sent = []
    for i in range(45):
        sender, to = (alice, bob.user_id) if i % 3 else (bob, alice.user_id)
        ack = await sender.call("private message", {"content": f"m{i}", "to": to})
        sent.append(ack["message"])
    again = await h.resume(srv, alice.session_id)
    entry = again.entry(bob.user_id)
    got = entry["messages"]
    pages = 0
    while entry["hasMore"]:
        entry = await again.call(
            "history", {"with": bob.user_id, "before": got[0]["id"], "limit": 7}
        )
        assert 0 < len(entry["messages"]) <= 7
        got = entry["messages"] + got
        pages += 1
    assert got == sent
    assert pages == 5  # 35 older messages in pages of 7
    # bob sees the same conversation from his side
    page = await bob.call("history", {"with": alice.user_id, "limit": 200})
    assert page == {"messages": sent, "hasMore": False, "hasNewer": False}


async def test_history_without_before_is_the_latest_page(login: Login) -> None:
    alice = await login("alice")
    bob = await login("bob")
    for i in range(4):
        await alice.call("private message", {"content": f"m{i}", "to": bob.user_id})
    page = await bob.call("history", {"with": alice.user_id, "limit": 3})
    assert [m["content"] for m in page["messages"]] == ["m1", "m2", "m3"]
    assert page["hasMore"] is True
    empty = await bob.call("history", {"with": bob.user_id})
    assert empty == {"messages": [], "hasMore": False, "hasNewer": False}


async def test_history_only_shows_your_own_conversations(
    h: Harness, srv: Server, login: Login
) -> None:
    """Eve tries every way there is to read alice and bob's conversation."""
    alice = await login("alice")
    bob = await login("bob")
    eve = await login("eve")
    ack = await alice.call("private message", {"content": "secret", "to": bob.user_id})
    secret_id = ack["message"]["id"]
    empty = {"messages": [], "hasMore": False, "hasNewer": False}
    # every pairing she can name: only her own (empty) conversations come back
    for peer in (alice.user_id, bob.user_id, eve.user_id):
        assert await eve.call("history", {"with": peer, "limit": 200}) == empty
        # paging from an id of their conversation, or from beyond every id
        for before in (secret_id, secret_id + 1, 2**53):
            assert await eve.call("history", {"with": peer, "before": before}) == empty
        # naming a second party in fields the server does not read
        for extra in ({"from": alice.user_id}, {"userID": alice.user_id}, {"a": alice.user_id}):
            assert await eve.call("history", {"with": peer, **extra}) == empty
    # both of them at once, in any shape: refused, not answered
    for shape in ([alice.user_id, bob.user_id], {"a": alice.user_id, "b": bob.user_id}):
        assert await eve.call("history", {"with": shape}) == {"error": "unknown user"}
    # a send naming alice as its sender is from eve (the server sets `from`)
    forged = await eve.call(
        "private message", {"content": "hi", "to": bob.user_id, "from": alice.user_id}
    )
    assert forged["message"]["from"] == eve.user_id
    # userIDs are public: using one as a sessionID makes a new user, never alice
    for auth in ({"sessionID": alice.user_id, "username": "x"}, {"userID": alice.user_id}):
        other = h.peer(srv)
        if "username" in auth:
            await other.connect(auth)
            assert other.user_id != alice.user_id
            assert "secret" not in str(other.users)
        else:
            await other.expect_refused(auth)
    # the roster eve gets on a new connection holds no trace of their conversation
    again = await h.resume(srv, eve.session_id)
    assert "secret" not in str(again.users)
    assert [m["content"] for m in eve.of("private message")] == []  # nor live


@pytest.mark.parametrize(
    ("username", "reason"),
    [
        ("   ", "username required"),
        ("x" * 33, "username too long"),
        ("bad\nname", "username contains control characters"),
        ("bell\x07", "username contains control characters"),
        ("\u202eevil", "username contains invisible characters"),
        # invisible or blank characters that would let one name pass for another
        *[
            (f"ali{ch}ce", "username contains invisible characters")
            for ch in (
                "\u200b",  # zero width space
                "\u2060",  # word joiner
                "\ufeff",  # zero width no-break space
                "\u00ad",  # soft hyphen
                "\u200d",  # zero width joiner
                "\u034f",  # combining grapheme joiner
                "\U000e0041",  # tag latin capital letter a
                "\u3164",  # hangul filler
                "\u2800",  # braille pattern blank
                "\ufe0f",  # variation selector-16
            )
        ],
        ("\ue000", "username contains control characters"),  # private use
        (42, "username must be a string"),
        (["alice"], "username must be a string"),
    ],
)
async def test_bad_usernames_are_refused_with_a_reason(
    h: Harness, srv: Server, username: Any, reason: str
) -> None:
    error = await h.peer(srv).expect_refused({"username": username})
    assert error == {"message": "invalid username", "data": {"reason": reason}}


async def test_usernames_are_trimmed_and_may_be_32_characters(h: Harness, srv: Server) -> None:
    p = await h.login(srv, "  spaced  ")
    assert p.entry(p.user_id)["username"] == "spaced"
    long = await h.login(srv, "é" * 32)
    assert long.entry(long.user_id)["username"] == "é" * 32
    emoji = await h.login(srv, "👩 dev")
    assert emoji.entry(emoji.user_id)["username"] == "👩 dev"
    other_script = await h.login(srv, "Андрей")
    assert other_script.entry(other_script.user_id)["username"] == "Андрей"


async def test_unique_usernames_refuses_a_taken_name(h: Harness) -> None:
    srv = await h.server(unique_usernames=True)
    alice = await h.login(srv, "Alice")
    error = await h.peer(srv).expect_refused({"username": " aLICE "})
    assert error == {"message": "invalid username", "data": {"reason": "username taken"}}
    # names that look the same on screen are the same name: fullwidth, Cyrillic a
    for lookalike in ("\uff41\uff4c\uff49\uff43\uff45", "\u0430lice", "ALİCE"):
        error = await h.peer(srv).expect_refused({"username": lookalike})
        assert error["data"] == {"reason": "username taken"}, lookalike
    # the owner's own session still works, and other names are fine
    await alice.close()
    again = await h.resume(srv, alice.session_id)
    assert again.user_id == alice.user_id
    await h.login(srv, "bob")


async def test_duplicate_usernames_are_allowed_by_default(h: Harness, srv: Server) -> None:
    one = await h.login(srv, "Alice")
    two = await h.login(srv, "alice")
    assert one.user_id != two.user_id


async def test_unknown_events_with_an_ack_get_an_error(login: Login) -> None:
    alice = await login("alice")
    assert await alice.call("shouting", {"to": "x"}) == {"error": "unknown event"}
    # the server's own lifecycle names, sent by a client, are unknown events too: they
    # neither mark alice offline nor log her in again on the same socket
    bob = await login("bob")
    for name, payload in (("disconnect", None), ("connect", {"username": "mallory"})):
        assert await alice.call(name, payload) == {"error": "unknown event"}
    assert "message" in await alice.call("private message", {"content": "hi", "to": bob.user_id})
    assert bob.of("user disconnected") == []
    assert all(u["username"] != "mallory" for u in bob.of("user connected"))
    carol = await login("carol")  # a fresh roster still has alice online
    assert carol.entry(alice.user_id)["connected"] is True
    await alice.sio.emit("shouting", {"to": "x"})  # without an ack: dropped
    await barrier(alice)
    assert alice.sio.connected
