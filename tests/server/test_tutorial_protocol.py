"""The tutorial's protocol, checklist items 1-34 of ../shared/seed/protocol-spec.md,
against every store back end."""

from __future__ import annotations

import re
from typing import Any

import pytest

from tests.conftest import Harness, Login, Server, barrier, wait_until

HEX16 = re.compile(r"^[0-9a-f]{16}$")
HEX32 = re.compile(r"^[0-9a-f]{32}$")


# every store, and the stock transport (--stock-transport) on one of them: the protocol
# holds on the libraries as shipped too
pytestmark = pytest.mark.stores("memory", "sqlite", "redis", "memory-stock")


def tutorial_fields(msg: dict[str, Any]) -> dict[str, Any]:
    return {k: msg[k] for k in ("content", "from", "to")}


# -- handshake and session ------------------------------------------------------------


async def test_01_username_login_succeeds(login: Login) -> None:
    alice = await login("alice")
    assert alice.sio.connected
    assert alice.session["userID"]


@pytest.mark.parametrize("auth", [None, {}, {"username": ""}])
async def test_02_missing_username_is_refused(h: Harness, srv: Server, auth: Any) -> None:
    error = await h.peer(srv).expect_refused(auth)
    assert error["message"] == "invalid username"


async def test_03_unknown_session_without_username_is_refused(h: Harness, srv: Server) -> None:
    error = await h.peer(srv).expect_refused({"sessionID": "0" * 32})
    assert error["message"] == "invalid username"


async def test_04_unknown_session_with_username_gets_a_new_session(h: Harness, srv: Server) -> None:
    p = h.peer(srv)
    await p.connect({"sessionID": "f" * 32, "username": "alice"})
    assert p.session_id != "f" * 32
    assert HEX32.match(p.session_id)


async def test_05_known_session_ignores_a_sent_username(
    h: Harness, srv: Server, login: Login
) -> None:
    alice = await login("alice")
    await alice.close()
    again = h.peer(srv)
    await again.connect({"sessionID": alice.session_id, "username": "mallory"})
    assert again.user_id == alice.user_id
    assert again.entry(alice.user_id)["username"] == "alice"


async def test_06_session_is_the_first_event_and_precedes_users(login: Login) -> None:
    alice = await login("alice")
    assert alice.names()[:2] == ["session", "users"]


async def test_07_ids_are_fresh_random_and_distinct(login: Login) -> None:
    a, b = await login("alice"), await login("bob")
    for p in (a, b):
        assert HEX32.match(p.session_id), "sessionID: 128 bits as 32 hex characters"
        assert HEX16.match(p.user_id), "userID: the tutorial's 16 hex characters"
        assert p.session_id != p.user_id
    assert a.session_id != b.session_id and a.user_id != b.user_id


async def test_08_reconnect_keeps_session_and_user(h: Harness, srv: Server, login: Login) -> None:
    alice = await login("alice")
    await alice.close()
    again = await h.resume(srv, alice.session_id)
    assert again.session == alice.session


async def test_09_same_username_twice_gives_two_users(login: Login) -> None:
    one, two = await login("bob"), await login("bob")
    assert one.user_id != two.user_id
    ids = {u["userID"] for u in two.users if u["username"] == "bob"}
    assert ids == {one.user_id, two.user_id}


# -- roster ---------------------------------------------------------------------------


async def test_10_users_goes_only_to_the_connecting_socket(login: Login) -> None:
    alice = await login("alice")
    await login("bob")
    await barrier(alice)
    assert len(alice.of("users")) == 1
    entry = alice.users[0]
    assert {"userID", "username", "connected", "messages"} <= set(entry)


async def test_11_to_14_roster_lists_everyone_with_status(login: Login) -> None:
    alice = await login("alice")
    bob = await login("bob")
    await bob.close()
    carol = await login("carol")
    by_id = {u["userID"]: u for u in carol.users}
    assert set(by_id) == {alice.user_id, bob.user_id, carol.user_id}  # 11: self included
    assert by_id[carol.user_id]["connected"] is True  # 12
    assert by_id[bob.user_id]["connected"] is False  # 13
    assert by_id[alice.user_id]["connected"] is True
    assert all(u["messages"] == [] for u in carol.users)  # 14
    assert [u["username"] for u in carol.users] == ["alice", "bob", "carol"]  # creation order


# -- presence -------------------------------------------------------------------------


async def test_15_16_user_connected_reaches_everyone_else(
    h: Harness, srv: Server, login: Login
) -> None:
    alice = await login("alice")
    bob = await login("bob")
    (event,) = await alice.wait_for("user connected")
    assert event == {
        "userID": bob.user_id,
        "username": "bob",
        "connected": True,
        "messages": [],
        "hasMore": False,
    }
    await barrier(bob)
    assert bob.of("user connected") == []  # not to the connecting socket
    bob2 = await h.resume(srv, bob.session_id)  # a second tab of bob
    await bob.wait_for("user connected")  # 16: bob's first tab hears about it too
    assert bob.of("user connected")[0]["userID"] == bob.user_id
    await alice.wait_for("user connected", 2)
    await barrier(bob2)
    assert bob2.of("user connected") == []


async def test_17_closing_one_of_two_tabs_is_silent(h: Harness, srv: Server, login: Login) -> None:
    alice = await login("alice")
    bob = await login("bob")
    bob2 = await h.resume(srv, bob.session_id)
    await bob2.close()
    carol = await login("carol")  # a later roster
    assert carol.entry(bob.user_id)["connected"] is True
    await barrier(alice)
    assert alice.of("user disconnected") == []


async def test_18_to_20_last_tab_closing_and_coming_back(
    h: Harness, srv: Server, login: Login
) -> None:
    alice = await login("alice")
    bob = await login("bob")
    await bob.close()
    (gone,) = await alice.wait_for("user disconnected")
    assert gone == bob.user_id  # 18: the bare userID string
    carol = await login("carol")
    assert carol.entry(bob.user_id)["connected"] is False  # 19
    await h.resume(srv, bob.session_id)
    connected = await alice.wait_for("user connected", 3)  # bob, carol, bob again
    assert connected[-1]["userID"] == bob.user_id  # 20
    dave = await login("dave")
    assert dave.entry(bob.user_id)["connected"] is True


# -- messaging ------------------------------------------------------------------------


async def test_21_22_message_without_ack_reaches_every_recipient_socket(
    h: Harness, srv: Server, login: Login
) -> None:
    alice = await login("alice")
    bob = await login("bob")
    bob2 = await h.resume(srv, bob.session_id)
    await alice.send(bob.user_id, "hello")  # 21: no ack asked
    for tab in (bob, bob2):
        (msg,) = await tab.wait_for("private message")
        assert tutorial_fields(msg) == {
            "content": "hello",
            "from": alice.user_id,
            "to": bob.user_id,
        }


async def test_23_from_cannot_be_spoofed(login: Login) -> None:
    alice = await login("alice")
    bob = await login("bob")
    carol = await login("carol")
    await alice.send(bob.user_id, "it's carol", **{"from": carol.user_id})
    (msg,) = await bob.wait_for("private message")
    assert msg["from"] == alice.user_id


async def test_24_to_26_echo_to_own_tabs_never_to_the_emitter_nor_third_users(
    h: Harness, srv: Server, login: Login
) -> None:
    alice = await login("alice")
    alice2 = await h.resume(srv, alice.session_id)
    bob = await login("bob")
    carol = await login("carol")
    await alice.send(bob.user_id, "hi bob")
    (to_bob,) = await bob.wait_for("private message")
    (echo,) = await alice2.wait_for("private message")
    assert echo == to_bob  # 24: identical event
    for quiet in (alice, carol):
        await barrier(quiet)
        assert quiet.of("private message") == []  # 25, 26


async def test_27_message_to_yourself_reaches_the_other_tab_once(
    h: Harness, srv: Server, login: Login
) -> None:
    alice = await login("alice")
    alice2 = await h.resume(srv, alice.session_id)
    await alice.send(alice.user_id, "note to self")
    await alice2.wait_for("private message")
    await barrier(alice2)
    await barrier(alice)
    assert len(alice2.of("private message")) == 1
    assert alice.of("private message") == []


async def test_28_message_to_offline_user_arrives_through_history(
    h: Harness, srv: Server, login: Login
) -> None:
    alice = await login("alice")
    bob = await login("bob")
    await bob.close()
    await alice.send(bob.user_id, "while you were out")
    await barrier(alice)
    assert alice.of("error") == []
    bob_again = await h.resume(srv, bob.session_id)
    msgs = bob_again.entry(alice.user_id)["messages"]
    assert [m["content"] for m in msgs] == ["while you were out"]


async def test_29_message_to_unknown_user_is_silently_dropped(login: Login) -> None:
    alice = await login("alice")
    bob = await login("bob")
    await alice.send("0123456789abcdef", "into the void")
    await alice.send(bob.user_id, "after")
    await bob.wait_for("private message")
    assert alice.sio.connected
    assert [
        name for name in alice.names() if name not in ("session", "users", "user connected")
    ] == []
    page = await alice.call("history", {"with": "0123456789abcdef"})
    assert page == {"error": "unknown user"}


# -- history --------------------------------------------------------------------------


async def test_30_to_32_history_per_peer_in_receipt_order(
    h: Harness, srv: Server, login: Login
) -> None:
    alice = await login("alice")
    bob = await login("bob")
    carol = await login("carol")
    await alice.send(bob.user_id, "a1")
    await bob.wait_for("private message")
    await bob.send(alice.user_id, "b1")
    await alice.wait_for("private message")
    await alice.send(bob.user_id, "a2")
    await bob.wait_for("private message", 2)
    await alice.send(alice.user_id, "self")
    await bob.send(carol.user_id, "not for alice")
    await carol.wait_for("private message")
    await barrier(alice)
    alice2 = await h.resume(srv, alice.session_id)
    with_bob = alice2.entry(bob.user_id)["messages"]
    assert [tutorial_fields(m) for m in with_bob] == [
        {"content": "a1", "from": alice.user_id, "to": bob.user_id},
        {"content": "b1", "from": bob.user_id, "to": alice.user_id},
        {"content": "a2", "from": alice.user_id, "to": bob.user_id},
    ]  # 30
    own = alice2.entry(alice.user_id)["messages"]
    assert [m["content"] for m in own] == ["self"]  # 31: exactly once
    assert alice2.entry(carol.user_id)["messages"] == []  # 32
    everything = [m["content"] for u in alice2.users for m in u["messages"]]
    assert "not for alice" not in everything


async def test_33_history_survives_reconnects_of_both(
    h: Harness, srv: Server, login: Login
) -> None:
    alice = await login("alice")
    bob = await login("bob")
    await alice.send(bob.user_id, "kept")
    await bob.wait_for("private message")
    await alice.close()
    await bob.close()
    bob2 = await h.resume(srv, bob.session_id)
    alice2 = await h.resume(srv, alice.session_id)
    assert [m["content"] for m in bob2.entry(alice.user_id)["messages"]] == ["kept"]
    assert [m["content"] for m in alice2.entry(bob.user_id)["messages"]] == ["kept"]


async def test_34_a_quick_burst_keeps_its_order(h: Harness, srv: Server, login: Login) -> None:
    alice = await login("alice")
    bob = await login("bob")
    sent = [f"m{i}" for i in range(60)]
    for content in sent:
        await alice.send(bob.user_id, content)
    received = await bob.wait_for("private message", len(sent))
    assert [m["content"] for m in received] == sent
    await bob.close()
    bob2 = await h.resume(srv, bob.session_id)
    assert [m["content"] for m in bob2.entry(alice.user_id)["messages"]] == sent


async def test_long_polling_clients_work_too(h: Harness, srv: Server, login: Login) -> None:
    alice = await login("alice")
    bob = await h.login(srv, "bob", transport="polling")
    await alice.send(bob.user_id, "over polling")
    (msg,) = await bob.wait_for("private message")
    assert msg["content"] == "over polling"
    await bob.send(alice.user_id, "and back")
    await alice.wait_for("private message")
    await wait_until(lambda: bool(alice.of("user connected")), "user connected")
