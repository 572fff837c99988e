"""chat-server --workers N: one port, N processes, dead workers replaced, clean stop."""

from __future__ import annotations

import os
import signal

import aiohttp

from tests.conftest import Peer, Proc, RedisServer


async def pids_behind(url: str, want: int, tries: int = 300) -> set[int]:
    """Ask /healthz on fresh connections until ``want`` different worker pids answered."""
    seen: set[int] = set()
    for _ in range(tries):
        async with aiohttp.ClientSession() as http, http.get(f"{url}/healthz") as resp:
            seen.add((await resp.json())["pid"])
        if len(seen) >= want:
            break
    return seen


async def test_workers_share_a_port_restart_and_stop(own_redis: RedisServer) -> None:
    proc = await Proc.start("--store", own_redis.url, "--workers", "2", "--health-details")
    try:
        first = await pids_behind(proc.url, 2)
        assert len(first) == 2
        # users on whichever worker talk to each other
        alice, bob = Peer(proc.url, "alice"), Peer(proc.url, "bob")
        await alice.connect({"username": "alice"})
        await bob.connect({"username": "bob"})
        for _ in range(3):
            await alice.call("private message", {"content": "hi", "to": bob.user_id})
        await bob.wait_for("private message", 3)
        await alice.close()
        await bob.close()
        # a worker killed: the master starts another
        victim = min(first)
        os.kill(victim, signal.SIGKILL)
        later: set[int] = set()

        async def replaced() -> bool:
            later.update(await pids_behind(proc.url, 2, tries=50))
            return any(pid not in first for pid in later)

        for _ in range(100):
            if await replaced():
                break
        assert any(pid not in first for pid in later), (first, later)
        code, out, err = await proc.stop()
        assert code == 0, err
        assert "shutting down" in out
    finally:
        await proc.kill()
