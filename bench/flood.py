#!/usr/bin/env python3
"""A quiet pair's delivery latency, alone and while another user floods the server.

    .venv/bin/python bench/flood.py [--store memory://] [--quiet 200]

Starts chat-server with its default flood control (burst 20, 5/s), measures a quiet pair
talking one message at a time, then again while one user floods from every connection it
may open (4 x 150 messages of 2 KB, no acks, as fast as it can). Prints p50 and p99 of
each run, their ratio, and how much of the flood was delivered meanwhile. This is the
figure tests/server/test_flood.py leaves to a benchmark (it counts instead of timing).
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import tempfile
from pathlib import Path

from probe import ServerProcess, login, quiet_pair, session_of, summary


async def flood(url: str, victim_id: str, session_id: str, tabs: int, each: int) -> list[object]:
    """Connect ``tabs`` connections of one user and send ``each`` messages on each."""
    import socketio

    clients = []
    for _ in range(tabs):
        sio = socketio.AsyncClient(reconnection=False)
        await sio.connect(url, auth={"sessionID": session_id}, transports=["websocket"])
        clients.append(sio)
    for sio in clients:
        for i in range(each):
            await sio.emit(
                "private message", {"content": f"flood {i} " + "x" * 2000, "to": victim_id}
            )
    return clients


async def main_async(store: str, quiet: int) -> None:
    server = ServerProcess("--store", store, "--log-level", "warning")
    try:
        baseline = await quiet_pair(server.url, quiet)
        victim, victim_id = await login(server.url, "victim")
        received = [0]
        victim.on("private message", lambda _m: received.__setitem__(0, received[0] + 1))
        mallory, _ = await session_of(server.url, "mallory")
        tabs = await flood(server.url, victim_id, mallory, tabs=4, each=150)
        flooded = await quiet_pair(server.url, quiet)
        print(f"store {store}, {quiet} quiet messages each run")
        print(f"  alone:         {summary(baseline)}")
        print(
            f"  under a flood: {summary(flooded)} (flood delivered meanwhile: {received[0]} of 600)"
        )
        ratio = statistics.quantiles(flooded, n=100)[98] / statistics.quantiles(baseline, n=100)[98]
        print(f"  p99 ratio flood/alone: {ratio:.2f}")
        print(f"  server RSS: {server.rss_mb} MB")
        for sio in tabs:
            await sio.eio.disconnect(abort=True)  # type: ignore[attr-defined]
        await victim.disconnect()
    finally:
        server.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    default_store = f"sqlite:///{Path(tempfile.mkdtemp()) / 'flood.db'}"
    parser.add_argument("--store", default=default_store)
    parser.add_argument("--quiet", type=int, default=200, help="quiet messages per run")
    args = parser.parse_args()
    asyncio.run(main_async(args.store, args.quiet))


if __name__ == "__main__":
    main()
