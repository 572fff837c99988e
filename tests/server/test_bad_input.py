"""Bad input gets a clear error and changes nothing: a table of payloads per event."""

from __future__ import annotations

from typing import Any

import pytest

from tests.conftest import Harness, Peer, Server, barrier

BOB = "<bob>"  # replaced by bob's userID


def fill(value: Any, bob: str) -> Any:
    if value == BOB:
        return bob
    if isinstance(value, dict):
        return {k: fill(v, bob) for k, v in value.items()}
    return value


BAD_SENDS: list[tuple[Any, str]] = [
    (None, "invalid payload"),
    ("hello", "invalid payload"),
    (42, "invalid payload"),
    (True, "invalid payload"),
    ([], "invalid payload"),
    (["hello", BOB], "invalid payload"),
    ({}, "invalid content"),
    ({"to": BOB}, "invalid content"),
    ({"content": None, "to": BOB}, "invalid content"),
    ({"content": 5, "to": BOB}, "invalid content"),
    ({"content": ["a"], "to": BOB}, "invalid content"),
    ({"content": {"$gt": ""}, "to": BOB}, "invalid content"),
    ({"content": "", "to": BOB}, "empty content"),
    ({"content": " \n\t ", "to": BOB}, "empty content"),
    ({"content": "x" * 4001, "to": BOB}, "content too long"),
    ({"content": "hi"}, "invalid recipient"),
    ({"content": "hi", "to": None}, "invalid recipient"),
    ({"content": "hi", "to": ""}, "invalid recipient"),
    ({"content": "hi", "to": 7}, "invalid recipient"),
    ({"content": "hi", "to": [BOB]}, "invalid recipient"),
    ({"content": "hi", "to": "x" * 129}, "invalid recipient"),
    ({"content": "hi", "to": "0123456789abcdef"}, "unknown recipient"),
    ({"content": "hi", "to": BOB, "clientId": 5}, "invalid clientId"),
    ({"content": "hi", "to": BOB, "clientId": ""}, "invalid clientId"),
    ({"content": "hi", "to": BOB, "clientId": "c" * 65}, "invalid clientId"),
]

BAD_HISTORY: list[tuple[Any, str]] = [
    (None, "invalid payload"),
    ("bob", "invalid payload"),
    ([], "invalid payload"),
    ({}, "unknown user"),
    ({"with": 5}, "unknown user"),
    ({"with": "0123456789abcdef"}, "unknown user"),
    ({"with": BOB, "before": "10"}, "invalid before"),
    ({"with": BOB, "before": True}, "invalid before"),
    ({"with": BOB, "before": 1.5}, "invalid before"),
    ({"with": BOB, "limit": 0}, "invalid limit"),
    ({"with": BOB, "limit": 201}, "invalid limit"),
    ({"with": BOB, "limit": "10"}, "invalid limit"),
    ({"with": BOB, "limit": False}, "invalid limit"),
]


async def assert_still_serving(srv: Server, alice: Peer, bob: Peer) -> None:
    """The sender is still connected, nothing was stored, and others are served."""
    assert alice.sio.connected
    assert (await srv.store.counts())["messages"] == 0
    assert alice.of("private message") == [] and bob.of("private message") == []
    ack = await bob.call("private message", {"content": "still here", "to": alice.user_id})
    assert "message" in ack
    await alice.wait_for("private message")


@pytest.fixture
async def pair(h: Harness, srv: Server) -> tuple[Peer, Peer]:
    return await h.login(srv, "alice"), await h.login(srv, "bob")


@pytest.mark.parametrize(("payload", "error"), BAD_SENDS)
async def test_bad_private_message_with_ack(
    srv: Server, pair: tuple[Peer, Peer], payload: Any, error: str
) -> None:
    alice, bob = pair
    ack = await alice.call("private message", fill(payload, bob.user_id))
    assert ack == {"error": error}
    await assert_still_serving(srv, alice, bob)


@pytest.mark.parametrize(("payload", "error"), BAD_SENDS)
async def test_bad_private_message_without_ack_is_dropped(
    srv: Server, pair: tuple[Peer, Peer], payload: Any, error: str
) -> None:
    alice, bob = pair
    await alice.sio.emit("private message", fill(payload, bob.user_id))
    await barrier(alice)
    assert [n for n in alice.names() if n not in ("session", "users", "user connected")] == []
    await assert_still_serving(srv, alice, bob)


@pytest.mark.parametrize(("payload", "error"), BAD_HISTORY)
async def test_bad_history_requests(
    srv: Server, pair: tuple[Peer, Peer], payload: Any, error: str
) -> None:
    alice, bob = pair
    assert await alice.call("history", fill(payload, bob.user_id)) == {"error": error}
    await assert_still_serving(srv, alice, bob)


async def test_extra_arguments_are_ignored(srv: Server, pair: tuple[Peer, Peer]) -> None:
    alice, bob = pair
    ack = await alice.sio.call("private message", ({"content": "hi", "to": bob.user_id}, "junk", 3))
    assert ack["message"]["content"] == "hi"


async def test_a_frame_above_the_size_limit_disconnects_only_its_sender(
    h: Harness,
) -> None:
    srv = await h.server(max_payload=8192)
    alice, bob, carol = [await h.login(srv, n) for n in ("alice", "bob", "carol")]
    await alice.sio.emit("private message", {"content": "x" * 20000, "to": bob.user_id})
    await carol.wait_for("user disconnected")
    assert not alice.sio.connected or alice.sio.eio.state != "connected"
    assert (await srv.store.counts())["messages"] == 0
    ack = await carol.call("private message", {"content": "fine", "to": bob.user_id})
    assert "message" in ack
    await bob.wait_for("private message")


@pytest.mark.parametrize(
    "auth",
    [
        "alice",
        42,
        ["alice"],
        {"username": None},
        {"username": {"name": "alice"}},
        {"sessionID": 5},
        {"sessionID": ["a"], "username": ""},
        {"sessionID": "x" * 10000},
    ],
)
async def test_strange_auth_shapes_are_refused_cleanly(h: Harness, srv: Server, auth: Any) -> None:
    error = await h.peer(srv).expect_refused(auth)
    assert error["message"] == "invalid username"
    alice = await h.login(srv, "alice")  # the server still serves everyone else
    assert alice.sio.connected


@pytest.mark.parametrize(
    "auth", [{"sessionID": 5, "username": "alice"}, {"sessionID": None, "username": "alice"}]
)
async def test_a_bad_session_id_with_a_username_is_a_new_login(
    h: Harness, srv: Server, auth: Any
) -> None:
    p = h.peer(srv)
    await p.connect(auth)
    assert p.entry(p.user_id)["username"] == "alice"
