"""Read markers, receipts, typing and last seen across two chat-server processes on one
Redis, and last seen right after one of them is killed with SIGKILL."""

from __future__ import annotations

import signal
import time
from pathlib import Path

from chat_server import protocol as p
from tests.conftest import Peer, Proc, RedisServer, barrier, wait_until


async def login(url: str, name: str, auth: dict[str, str] | None = None) -> Peer:
    peer = Peer(url, name)
    await peer.connect(auth or {"username": name})
    return peer


async def test_reads_receipts_typing_and_last_seen_cross_processes(tmp_path: Path) -> None:
    redis = RedisServer(tmp_path / "redis")
    a = await Proc.start("--store", redis.url)
    b = await Proc.start("--store", redis.url)
    peers: list[Peer] = []
    try:
        amy = await login(a.url, "amy")
        amy_b = await login(b.url, "amy", {"sessionID": amy.session_id})  # her other tab
        bob = await login(b.url, "bob")
        carol = await login(a.url, "carol")  # only on A, which will die
        peers += [amy, amy_b, bob, carol]

        # a receipt from B reaches the sender on A
        ack = await amy.call(p.PRIVATE_MESSAGE, {"to": bob.user_id, "content": "hi"})
        msg_id = ack["message"]["id"]
        assert await bob.call(p.READ, {"with": amy.user_id, "upTo": msg_id}) == {
            "ok": True,
            "upTo": msg_id,
        }
        await wait_until(lambda: bool(amy.of(p.READ)), "the receipt on A")
        assert amy.of(p.READ)[0]["by"] == bob.user_id and amy.of(p.READ)[0]["upTo"] == msg_id

        # a marker moved on A reaches the same user's tab on B
        ack = await bob.call(p.PRIVATE_MESSAGE, {"to": amy.user_id, "content": "yo"})
        reply = ack["message"]["id"]
        await amy.call(p.READ, {"with": bob.user_id, "upTo": reply})
        await wait_until(
            lambda: any(r["by"] == amy.user_id for r in amy_b.of(p.READ)), "tabs in sync"
        )
        fresh = await login(b.url, "amy", {"sessionID": amy.session_id})
        peers.append(fresh)
        assert fresh.entry(bob.user_id)["unread"] == 0
        assert fresh.entry(bob.user_id)["readUpTo"] == reply
        assert fresh.entry(bob.user_id)["peerReadUpTo"] == msg_id

        # typing from B reaches both of amy's tabs, and not bob's own
        await bob.call(p.TYPING, {"to": amy.user_id, "typing": True})
        await wait_until(lambda: bool(amy.of(p.TYPING)), "typing on A")
        assert amy.of(p.TYPING) == [{"from": bob.user_id, "typing": True}]
        await wait_until(lambda: bool(amy_b.of(p.TYPING)), "typing on B")
        await barrier(bob)
        assert bob.of(p.TYPING) == []

        # carol's process dies: the survivor reports her offline (once its heartbeat has
        # expired), last seen at its last heartbeat: within one beat (3 s) before the kill
        killed_at = time.time() * 1000
        a.proc.send_signal(signal.SIGKILL)
        await wait_until(lambda: carol.user_id in bob.of(p.USER_DISCONNECTED), "carol offline", 30)
        look = await login(b.url, "bob", {"sessionID": bob.session_id})
        peers.append(look)
        carol_entry = look.entry(carol.user_id)
        assert carol_entry["connected"] is False
        assert killed_at - 3500 <= carol_entry["lastSeen"] <= killed_at
        assert look.entry(bob.user_id)["lastSeen"] is None  # online: none
    finally:
        for peer in peers:
            await peer.close()
        await a.kill()
        await b.kill()
        redis.stop()
