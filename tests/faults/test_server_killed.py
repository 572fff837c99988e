"""kill -9 of chat-server (SQLite) while 20 clients send with acks and clientIds: after a
restart every acked message is stored exactly once, every unacked one arrives exactly
once after the clients retry, and each sender's order is kept."""

from __future__ import annotations

import asyncio
import signal
from pathlib import Path

from tests.conftest import Peer, Proc, full_history, register, wait_until

SENDERS = 20


async def send_until_it_fails(
    peer: Peer, to: str, tag: str, start: int, acked: list[int]
) -> int | None:
    """Send tag:0, tag:1, ... with clientIds; return the first number not acked."""
    n = start
    while True:
        payload = {"content": f"{tag}:{n}", "to": to, "clientId": f"{tag}-{n}"}
        try:
            ack = await peer.sio.call("private message", payload, timeout=5)
        except Exception:  # the server died under us
            return n
        assert "message" in ack, ack
        acked.append(n)
        n += 1


async def test_kill_9_under_load_loses_and_doubles_nothing(tmp_path: Path) -> None:
    db = f"sqlite://{tmp_path / 'chat.db'}"
    server = await Proc.start("--store", db)
    port = server.url.rsplit(":", 1)[1]
    peers: list[Peer] = []
    try:
        sink_session, sink_id = await register(server.url, "sink")
        for i in range(SENDERS):
            p = Peer(server.url, f"s{i}")
            await p.connect({"username": f"s{i}"})
            peers.append(p)
        acked: list[list[int]] = [[] for _ in range(SENDERS)]
        senders = [
            asyncio.create_task(send_until_it_fails(p, sink_id, f"s{i}", 0, acked[i]))
            for i, p in enumerate(peers)
        ]
        await wait_until(lambda: sum(map(len, acked)) >= 400, "400 acked messages", 30)
        server.proc.send_signal(signal.SIGKILL)
        unacked = await asyncio.gather(*senders)
        assert all(n is not None for n in unacked)
        await server.kill()

        server = await Proc.start("--store", db, "--port", port)
        retried: list[list[int]] = [[] for _ in range(SENDERS)]
        for i, p in enumerate(peers):
            session = p.session_id
            await p.close()
            again = Peer(server.url, f"s{i}")
            await again.connect({"sessionID": session})
            peers[i] = again
            # retry the one in flight (same clientId), then two more
            for n in (unacked[i], unacked[i] + 1, unacked[i] + 2):
                payload = {"content": f"s{i}:{n}", "to": sink_id, "clientId": f"s{i}-{n}"}
                ack = await again.call("private message", payload)
                assert "message" in ack
                retried[i].append(n)

        reader = Peer(server.url, "sink")
        peers.append(reader)
        await reader.connect({"sessionID": sink_session})
        checked = 0
        for i, p in enumerate(peers[:SENDERS]):
            history = await full_history(reader, p.user_id)
            got = [int(m["content"].split(":")[1]) for m in history]
            expected = sorted(set(acked[i]) | set(retried[i]))
            assert got == expected, f"sender {i}: {got[:5]}... != {expected[:5]}..."
            assert [m["id"] for m in history] == sorted(m["id"] for m in history)
            checked += len(got)
        assert checked >= 400 + 3 * SENDERS
    finally:
        for p in peers:
            await p.close()
        await server.kill()
