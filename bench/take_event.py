#!/usr/bin/env python3
"""What ChatSocketServer.take_event saves per event packet, measured in the process.

    .venv/bin/python bench/take_event.py [--packets 20000] [--rounds 5]

Starts chat-server (memory store) in this process, logs in one websocket client, then
hands the same event packet to the server many times, alternating rounds, by the two
paths its read loop has: ``take_event`` and python-engineio's packet and ``receive``
(what the ``takeevent`` lever off, or any packet take_event leaves, goes through). The
event is one no handler knows, answered with an "unknown event" ack: the dispatch is the
whole cost, no store, no delivery. Prints the median CPU microseconds per packet of each
path. docs/performance.md has the figures.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import sys
import time
from pathlib import Path

import aiohttp
from aiohttp import web
from engineio import packet as eio_packet

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from chat_server.app import SIO_KEY, create_app, start_runner
from chat_server.config import Config

PACKET = '421["no such event",{"to":"x"}]'


async def measure(packets: int, rounds: int) -> dict[str, list[float]]:
    app = create_app(Config(store="memory://", port=0, rate_per_second=0))
    runner = await start_runner(app)
    await web.TCPSite(runner, "127.0.0.1", 0).start()
    url = f"http://127.0.0.1:{runner.addresses[0][1]}/socket.io/?EIO=4&transport=websocket"
    http = aiohttp.ClientSession()
    ws = await http.ws_connect(url)
    eio_sid = json.loads((await ws.receive_str())[1:])["sid"]
    await ws.send_str("40" + json.dumps({"username": "bench"}))
    while not (await ws.receive_str()).startswith("40"):
        pass
    sio = app[SIO_KEY]
    sock = sio.eio.sockets[eio_sid]
    drain = asyncio.ensure_future(drain_acks(ws))

    async def taken() -> None:
        assert await sio.take_event(eio_sid, PACKET)

    async def library() -> None:
        await sock.receive(eio_packet.Packet(encoded_packet=PACKET))

    out: dict[str, list[float]] = {"take_event": [], "library path": []}
    try:
        for _ in range(rounds):
            for name, path in (("take_event", taken), ("library path", library)):
                start = time.process_time()
                for _ in range(packets):
                    await path()
                out[name].append((time.process_time() - start) / packets * 1e6)
                await asyncio.sleep(0)  # the acks leave
    finally:
        drain.cancel()
        await ws.close()
        await http.close()
        await runner.cleanup()
    return out


async def drain_acks(ws: aiohttp.ClientWebSocketResponse) -> None:
    while True:
        await ws.receive()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--packets", type=int, default=20000)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    out = asyncio.run(measure(args.packets, args.rounds))
    for name, values in out.items():
        print(
            f"{name:13s} median {statistics.median(values):6.1f} us/packet "
            f"({', '.join(f'{v:.1f}' for v in values)})"
        )


if __name__ == "__main__":
    main()
