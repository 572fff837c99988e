"""The Redis bus routes each event to the processes that hold its recipients
(transport/bus.py): per-user channels, subscribed while a user has a socket on a process,
confirmed before the user's snapshot is sent, restored after Redis comes back."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import redis.asyncio as aioredis

from chat_server.app import SIO_KEY
from chat_server.transport.bus import RoutedRedisEmit, envelope, open_envelope
from tests.conftest import Harness, Peer, RedisServer, Server, barrier, wait_until


def manager(srv: Server) -> RoutedRedisEmit:
    m = srv.app[SIO_KEY].manager
    assert isinstance(m, RoutedRedisEmit)
    return m


async def subscribers(r: aioredis.Redis, user_id: str) -> int:
    ((_, n),) = await r.pubsub_numsub(f"chat-server#{user_id}")
    return int(n)


async def until_subscribers(r: aioredis.Redis, user_id: str, n: int, within: float = 10) -> None:
    """Poll Redis until ``user_id``'s channel has ``n`` subscribers."""
    deadline = asyncio.get_running_loop().time() + within
    while (now := await subscribers(r, user_id)) != n:
        assert asyncio.get_running_loop().time() < deadline, f"{now} subscribers, not {n}"
        await asyncio.sleep(0.02)


@pytest.fixture
async def r(redis_server: RedisServer) -> AsyncIterator[aioredis.Redis]:
    redis_server.flush()
    client = aioredis.Redis.from_url(redis_server.url)
    yield client
    await client.aclose()


async def test_an_event_reaches_only_the_processes_of_its_recipients(
    tmp_path: Path, redis_server: RedisServer, r: aioredis.Redis
) -> None:
    h = Harness(tmp_path, "redis", redis_server)
    try:
        a, b = await h.server(), await h.server()
        alice, bob = await h.login(a, "alice"), await h.login(a, "bob")
        carol = await h.login(b, "carol")
        # each user's channel has one subscriber: the process holding their socket, and
        # it was confirmed before the snapshot reached the client
        assert [await subscribers(r, p.user_id) for p in (alice, bob, carol)] == [1, 1, 1]
        # everything A published so far has reached B once carol got this
        await bob.call("private message", {"content": "sync", "to": carol.user_id})
        await carol.wait_for("private message")
        before = manager(b).received
        ack = await alice.call("private message", {"content": "A only", "to": bob.user_id})
        assert (await bob.wait_for("private message"))[0] == ack["message"]
        await alice.call("private message", {"content": "to B", "to": carol.user_id})
        await carol.wait_for("private message", 2)
        assert manager(b).received == before + 1  # "A only" never crossed to B
        # a second socket of alice's on B subscribes B to her channel: her echo reaches it
        alice_b = h.peer(b, "alice@B")
        await alice_b.connect({"sessionID": alice.session_id})
        assert await subscribers(r, alice.user_id) == 2
        await alice.call("private message", {"content": "echo", "to": bob.user_id})
        (echo,) = await alice_b.wait_for("private message")
        assert echo["content"] == "echo"
        # one event for two users both on B: two copies, each delivered (not taken for a
        # copy sent again)
        await alice.call("private message", {"content": "both on B", "to": carol.user_id})
        assert (await carol.wait_for("private message", 3))[-1]["content"] == "both on B"
        assert (await alice_b.wait_for("private message", 2))[-1]["content"] == "both on B"
        # the last socket of a user on a process leaves: that process unsubscribes
        await alice_b.close()
        await carol.close()
        await wait_until(lambda: manager(b).wanted == set(), "B wants no user channel", 10)
        await until_subscribers(r, alice.user_id, 1)
        await until_subscribers(r, carol.user_id, 0)
        # broadcasts still reach every process: B's new user hears A's users come and go
        dave = await h.login(b, "dave")
        erin = await h.login(a, "erin")
        (joined,) = await dave.wait_for("user connected")
        assert joined["userID"] == erin.user_id
        await erin.close()
        # (carol's going offline may reach dave too: it can be announced after he joined)
        await wait_until(lambda: erin.user_id in dave.of("user disconnected"), "erin left")
    finally:
        await h.close()


async def test_leaving_and_coming_back_at_once_ends_subscribed(
    tmp_path: Path, redis_server: RedisServer, r: aioredis.Redis
) -> None:
    """An unsubscribe and the next subscribe of one channel go out in order: a user who
    drops and reconnects at once is still reached."""
    h = Harness(tmp_path, "redis", redis_server)
    try:
        a, b = await h.server(), await h.server()
        alice = await h.login(a, "alice")
        carol = await h.login(b, "carol")
        session = carol.session_id
        for round_ in range(5):
            await carol.close()
            carol = h.peer(b, f"carol{round_}")
            await carol.connect({"sessionID": session})
            assert await subscribers(r, carol.user_id) == 1
            # the server may handle the goodbye after the new join: once it has, and
            # every (un)subscription went out, carol's channel is still subscribed
            await wait_until(lambda: not manager(b).ops and manager(b).syncer is None, "synced")
            await barrier(carol)
            assert await subscribers(r, carol.user_id) == 1
            await alice.call("private message", {"content": f"#{round_}", "to": carol.user_id})
            (got,) = await carol.wait_for("private message")
            assert got["content"] == f"#{round_}"
    finally:
        await h.close()


async def test_subscriptions_come_back_with_redis(tmp_path: Path, own_redis: RedisServer) -> None:
    h = Harness(tmp_path, "redis", own_redis)
    try:
        a, b = await h.server(), await h.server()
        alice = await h.login(a, "alice")
        carol = await h.login(b, "carol")
        listens = manager(b).listens
        own_redis.stop()
        own_redis.start()
        # B's listener subscribed again on a new connection, to every user it holds
        await wait_until(lambda: manager(b).listens > listens, "B listening again", 30)
        client = aioredis.Redis.from_url(own_redis.url)
        try:
            await until_subscribers(client, carol.user_id, 1)
        finally:
            await client.aclose()
        # a send may meet a connection the restart broke ("unavailable"): resent as
        # clients do, with its clientId, it is stored once and is live on B
        send = {"content": "back", "to": carol.user_id, "clientId": "c1"}
        for _ in range(5):
            ack = await alice.call("private message", send, 15)
            if "message" in ack:
                break
            assert ack == {"error": "unavailable"}
        assert ack["message"]["content"] == "back"
        (got,) = await carol.wait_for("private message", within=15)
        assert got == ack["message"]
        await barrier(carol)
    finally:
        await h.close()


def test_an_envelope_carries_the_packet_as_it_was_encoded() -> None:
    packet = '2["private message",{"content":"héllo \\n 👋","to":"x"}]'
    host = b"f" * 32
    for room, skip in ((None, None), ("0123456789abcdef", "sid1"), (["r1", "r2"], ["s1"])):
        data = envelope(host, 7, "/", room, skip, packet)
        assert data[:1] == b"\x1e" and data.count(b"\n") == 1
        assert open_envelope(data) == (host, 7, "/", room, skip, packet)


def bare_manager() -> RoutedRedisEmit:
    """A manager that is not attached to a server (its Redis is never reached)."""
    return RoutedRedisEmit("redis://127.0.0.1:1/0", "chat-server", None, routable=bool)


async def test_an_event_sent_again_is_delivered_once() -> None:
    """A pipeline sent again after an error whose first try Redis did run: receivers
    drop what they already had, by the sender's sequence numbers."""
    m = bare_manager()
    other = b"a" * 32
    for seq in (1, 2, 1, 2, 3, 3):
        await m._receive(envelope(other, seq, "/", None, None, '2["x"]'))
    await m._receive(envelope(b"b" * 32, 1, "/", None, None, '2["x"]'))  # its own numbers
    assert m.received == 4


async def test_a_join_waits_for_the_answer_to_the_last_subscribe() -> None:
    """A socket joined and left before Redis answered its SUBSCRIBE, and another joined:
    the older answer must not let the new join read its snapshot before its own
    SUBSCRIBE is in place."""
    m = bare_manager()
    channel = b"chat-server#0123456789abcdef"
    waiting = asyncio.get_running_loop().create_future()
    m.confirming[channel] = waiting
    m.unanswered.update([channel, channel])  # the old SUBSCRIBE and the new one
    m._answered(channel)
    assert not waiting.done()
    m._answered(channel)
    assert waiting.done() and channel not in m.unanswered


async def test_an_unreachable_bus_loses_the_events_and_holds_nobody(
    caplog: pytest.LogCaptureFixture,
) -> None:
    m = bare_manager()
    try:
        await asyncio.wait_for(m._publish({"method": "disconnect", "sid": "x"}), 15)
        await asyncio.wait_for(m._route("/", "0123456789abcdef", None, '2["x"]'), 15)
        assert m.published == 0 and m.flusher is None and not m.backlog
        assert "events not published" in caplog.text
    finally:
        if m.redis is not None:
            await m.redis.aclose()


async def test_peers_on_one_process_need_no_bus_round_trip(
    tmp_path: Path, redis_server: RedisServer, r: aioredis.Redis
) -> None:
    """Local recipients get an event from the emitting process itself: the other
    process, holding nobody, receives nothing routed."""
    h = Harness(tmp_path, "redis", redis_server)
    try:
        a, b = await h.server(), await h.server()
        alice, bob = await h.login(a, "alice"), await h.login(a, "bob")
        watcher = await h.login(b, "watcher")  # starts B's listener
        peers: list[Peer] = [alice, bob]
        await barrier(watcher)
        before = manager(b).received
        for i in range(20):
            await alice.call("private message", {"content": f"{i}", "to": bob.user_id})
        await bob.wait_for("private message", 20)
        for p in peers:
            await barrier(p)
        # B got nothing routed for alice or bob (user connected came before `before`)
        await watcher.call("private message", {"content": "x", "to": alice.user_id})
        await alice.wait_for("private message")
        assert manager(b).received == before
    finally:
        await h.close()
