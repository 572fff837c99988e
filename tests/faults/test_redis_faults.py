"""Scale-out under faults: two chat-server processes on one Redis, 20 clients sending with
acks and clientIds; one process is killed with SIGKILL, then Redis itself is killed with
SIGKILL and started again (AOF, fsync always). Clients do what a client should: on a
lost connection or an ``unavailable`` answer they reconnect (to whichever process is
alive) and send the same message again with the same clientId. In the end every
sender's messages are in history exactly once each, in the order sent, and every acked
message among them."""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import signal
from pathlib import Path

import pytest

from tests.conftest import Peer, Proc, RedisServer, full_history, register, wait_until

SENDERS = 20
PER_SENDER = 30


class Sender:
    """One user sending tag:0, tag:1, ... to the sink, retrying each until it is acked."""

    def __init__(self, tag: str, session_id: str, urls: list[str], sink_id: str) -> None:
        self.tag, self.session_id, self.sink_id = tag, session_id, sink_id
        self.urls = itertools.cycle(urls)
        self.alive = set(urls)
        self.acked: list[int] = []
        self.retries = 0
        self.peer: Peer | None = None

    async def _connect(self) -> Peer:
        while True:
            url = next(self.urls)
            if url not in self.alive:
                continue
            peer = Peer(url, self.tag)
            try:
                await peer.connect({"sessionID": self.session_id})
                return peer
            except Exception:  # refused (store unavailable) or nobody listening
                with contextlib.suppress(Exception):
                    await peer.close()
                await asyncio.sleep(0.05)  # a client's back-off, not a test's wait

    async def run(self) -> None:
        n = 0
        while n < PER_SENDER:
            if self.peer is None or not self.peer.sio.connected:
                self.peer = await self._connect()
            payload = {"content": f"{self.tag}:{n}", "to": self.sink_id, "clientId": f"{n}"}
            try:
                ack = await self.peer.sio.call("private message", payload, timeout=5)
            except Exception:  # the connection died with the message in flight
                self.retries += 1
                with contextlib.suppress(Exception):
                    await self.peer.close()
                self.peer = None
                continue
            if ack.get("error") == "unavailable":  # Redis is down: nothing was stored
                self.retries += 1
                await asyncio.sleep(0.05)
                continue
            assert "message" in ack, ack
            self.acked.append(n)
            n += 1

    async def close(self) -> None:
        if self.peer is not None:
            await self.peer.close()


@pytest.mark.timeout(180)
async def test_a_killed_process_and_a_redis_restart_lose_and_double_nothing(
    tmp_path: Path,
) -> None:
    redis = RedisServer(tmp_path / "redis")
    a = await Proc.start("--store", redis.url)
    b = await Proc.start("--store", redis.url)
    senders: list[Sender] = []
    reader: Peer | None = None
    try:
        sink_session, sink_id = await register(b.url, "sink")
        for i in range(SENDERS):
            first = Peer((a.url, b.url)[i % 2], f"s{i}")  # half on each process
            await first.connect({"username": f"s{i}"})
            sender = Sender(f"s{i}", first.session_id, [a.url, b.url], sink_id)
            sender.peer = first
            senders.append(sender)
        tasks = [asyncio.create_task(s.run()) for s in senders]

        def acked() -> int:
            return sum(len(s.acked) for s in senders)

        await wait_until(lambda: acked() >= 150, "150 acked messages", 60)
        a.proc.send_signal(signal.SIGKILL)  # process A dies with messages in flight
        for s in senders:
            s.alive.discard(a.url)
        await wait_until(lambda: acked() >= 300, "300 acked messages after the kill", 60)
        assert redis.proc is not None
        redis.proc.kill()  # and Redis itself, mid-stream
        redis.proc.wait(10)
        redis.start()  # same port, same folder: its append-only file
        done = asyncio.gather(*tasks)
        await asyncio.wait_for(done, 120)

        reader = Peer(b.url, "sink")
        await reader.connect({"sessionID": sink_session})
        checked = 0
        for s in senders:
            history = await full_history(reader, s.peer.user_id if s.peer else "")
            got = [int(m["content"].split(":")[1]) for m in history]
            assert got == list(range(PER_SENDER)), f"{s.tag}: {got}"  # once each, in order
            assert s.acked == list(range(PER_SENDER))
            assert [m["id"] for m in history] == sorted(m["id"] for m in history)
            checked += len(got)
        assert checked == SENDERS * PER_SENDER
        assert sum(s.retries for s in senders) > 0  # the faults did hit messages in flight
    finally:
        for s in senders:
            await s.close()
        if reader is not None:
            await reader.close()
        await a.kill()
        await b.kill()
        redis.stop()
