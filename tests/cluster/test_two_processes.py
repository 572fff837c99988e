"""Several chat-server processes on one Redis: delivery, presence and history across
processes, a process killed with SIGKILL, and Redis going away and coming back."""

from __future__ import annotations

import asyncio
import signal
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import pytest

from chat_tui import messages
from chat_tui.client import ChatClient
from tests.conftest import Harness, Peer, Proc, RedisServer, barrier, wait_until


@pytest.fixture
async def peers() -> AsyncIterator[list[Peer]]:
    made: list[Peer] = []
    yield made
    for p in made:
        await p.close()


async def test_two_processes_share_users_messages_presence_and_history(
    own_redis: RedisServer, peers: list[Peer]
) -> None:
    store = ["--store", own_redis.url]
    a = await Proc.start(*store)
    b = await Proc.start(*store)
    try:

        async def join(proc: Proc, auth: dict[str, str], name: str) -> Peer:
            p = Peer(proc.url, name)
            peers.append(p)
            await p.connect(auth)
            return p

        alice = await join(a, {"username": "alice"}, "alice@A")
        bob = await join(b, {"username": "bob"}, "bob@B")
        # rosters and presence across processes
        assert bob.entry(alice.user_id)["connected"] is True
        (joined,) = await alice.wait_for("user connected")
        assert joined["userID"] == bob.user_id
        # messages both ways, stored once, delivered once
        ack = await alice.call("private message", {"content": "A to B", "to": bob.user_id})
        assert "message" in ack
        (got,) = await bob.wait_for("private message")
        assert got == ack["message"]
        await bob.call("private message", {"content": "B to A", "to": alice.user_id})
        await alice.wait_for("private message")
        # alice's second connection, on B, gets the echo of what she sends from A
        alice_b = await join(b, {"sessionID": alice.session_id}, "alice@B")
        await alice.call("private message", {"content": "echo me", "to": bob.user_id})
        (echo,) = await alice_b.wait_for("private message")
        assert echo["content"] == "echo me"
        await bob.wait_for("private message", 2)
        for p in (alice, alice_b, bob):
            await barrier(p)
        assert len(alice_b.of("private message")) == 1 and len(bob.of("private message")) == 2
        assert len(alice.of("private message")) == 1  # only bob's message, no echo of her own
        # history is the same whichever process serves it
        again_a = await join(a, {"sessionID": bob.session_id}, "bob@A")
        page_b = await bob.call("history", {"with": alice.user_id})
        assert again_a.entry(alice.user_id)["messages"] == page_b["messages"]
        assert [m["content"] for m in page_b["messages"]] == ["A to B", "B to A", "echo me"]
        await again_a.close()
        # alice's tab on B closes: she is still online on A, nobody hears otherwise
        await alice_b.close()
        carol_a = await join(a, {"username": "carol"}, "carol@A")
        carol_b = await join(b, {"sessionID": carol_a.session_id}, "carol@B")
        await barrier(bob)
        assert bob.of("user disconnected") == []

        # A dies without a word: alice (only on A) goes offline for bob, carol (also on B)
        # stays online
        a.proc.send_signal(signal.SIGKILL)
        await a.proc.wait()
        gone = await bob.wait_for("user disconnected", within=15)
        assert gone == [alice.user_id]
        dave = await join(b, {"username": "dave"}, "dave@B")
        assert dave.entry(alice.user_id)["connected"] is False
        assert dave.entry(carol_b.user_id)["connected"] is True
        await barrier(bob)
        assert bob.of("user disconnected") == [alice.user_id]  # exactly once

        # A comes back; alice reconnects there; nothing lost or doubled
        a2 = await Proc.start(*store)
        try:
            seen = len(bob.of("user connected"))
            alice2 = await join(a2, {"sessionID": alice.session_id}, "alice@A2")
            back = await bob.wait_for("user connected", seen + 1)
            assert back[-1]["userID"] == alice.user_id
            history = [m["content"] for m in alice2.entry(bob.user_id)["messages"]]
            assert history == ["A to B", "B to A", "echo me"]
            await bob.call("private message", {"content": "welcome back", "to": alice.user_id})
            (hello,) = await alice2.wait_for("private message")
            assert hello["content"] == "welcome back"
        finally:
            await a2.stop()
    finally:
        for proc in (a, b):
            await proc.kill()


async def test_edits_deletes_replies_and_search_cross_processes(
    own_redis: RedisServer, peers: list[Peer]
) -> None:
    store = ["--store", own_redis.url]
    a = await Proc.start(*store)
    b = await Proc.start(*store)
    try:
        alice, bob = Peer(a.url, "alice@A"), Peer(b.url, "bob@B")
        peers.extend((alice, bob))
        await alice.connect({"username": "alice"})
        await bob.connect({"username": "bob"})
        sent = await alice.call("private message", {"content": "see you at 5", "to": bob.user_id})
        first = sent["message"]
        await bob.wait_for("private message")
        reply = await bob.call(
            "private message", {"content": "ok", "to": alice.user_id, "replyTo": first["id"]}
        )
        assert reply["message"]["replyTo"] == first["id"]
        edited = await alice.call("edit message", {"id": first["id"], "content": "see you at 6"})
        (told,) = await bob.wait_for("message edited")
        assert told == edited["message"]
        found = await bob.call("search", {"query": "SIX"})  # no such word: nothing
        assert found["messages"] == []
        found = await bob.call("search", {"query": "see 6"})
        assert [m["id"] for m in found["messages"]] == [first["id"]]
        assert await alice.call("delete message", {"id": first["id"]}) == {"ok": True}
        (deleted,) = await bob.wait_for("message deleted")
        assert deleted["id"] == first["id"]
        page = await bob.call("history", {"with": alice.user_id, "around": reply["message"]["id"]})
        assert page["messages"][0]["deleted"] is True and page["hasNewer"] is False
    finally:
        for proc in (a, b):
            await proc.kill()


async def test_a_redis_outage_answers_unavailable_and_recovers(
    tmp_path: Path, own_redis: RedisServer
) -> None:
    h = Harness(tmp_path, "redis", own_redis)
    try:
        srv = await h.server()
        alice = await h.login(srv, "alice")
        bob = await h.login(srv, "bob")
        own_redis.stop()
        ack = await alice.call(
            "private message", {"content": "lost?", "to": bob.user_id}, within=15
        )
        assert ack == {"error": "unavailable"}
        async with aiohttp.ClientSession() as http, http.get(f"{srv.url}/healthz") as resp:
            assert resp.status == 503
            assert (await resp.json())["status"] == "unavailable"
        # chat-tui's connection, started during the outage, is refused with "unavailable"
        # and keeps retrying by itself until Redis is back
        events: list[object] = []
        client = ChatClient(srv.url)
        client.login({"username": "late"})
        running = asyncio.create_task(client.run(events.append))
        await wait_until(
            lambda: any(
                isinstance(e, messages.Retrying) and "unavailable" in e.reason for e in events
            ),
            "a refusal during the outage",
            15,
        )
        own_redis.start()
        await wait_until(
            lambda: any(isinstance(e, messages.Connected) for e in events), "reconnected", 30
        )
        await client.shutdown()
        await running
        ack = await alice.call("private message", {"content": "back", "to": bob.user_id})
        assert ack["message"]["content"] == "back"
        (got,) = await bob.wait_for("private message")
        assert got["content"] == "back"
        page = await bob.call("history", {"with": alice.user_id})
        assert [m["content"] for m in page["messages"]] == ["back"]  # nothing half-stored
        async with aiohttp.ClientSession() as http, http.get(f"{srv.url}/healthz") as resp:
            assert resp.status == 200
    finally:
        await h.close()
