#!/usr/bin/env python3
"""Attacks on a running chat-server, with its RSS and a quiet pair's latency during each.

    .venv/bin/python bench/abuse.py [--store memory://] [--seconds 10]

Starts chat-server on its default settings (a fresh SQLite file unless --store) and runs,
one after another, the attacks of docs/security.md:
  1 binary     a logged-in client sends a BINARY_EVENT announcing 10^9 attachments, then
               streams 60 KB binary frames
  2 polling    a long-polling client reads once, then never again, while 25 users write
               to it
  3 lockout    10 users each send one victim 20 messages of 4,000 control characters;
               then the victim logs in with a stock python-socketio client
  4 signup     one address creates users as fast as it can
  7 posts      50 long-polling sessions each POST a body above --max-payload or not
               Engine.IO at all; then SIGTERM
  9 trickle    200 connections trickle HTTP headers, 200 websockets never send CONNECT
For each it prints what happened, the server's RSS before and after, and the p50/p99 of
a quiet pair talking meanwhile (bench/probe.py). Figures go in docs/security.md.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import signal
import socket
import tempfile
import time
import traceback
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import aiohttp
import socketio
from probe import ServerProcess, client_from, login, quiet_pair, session_of, summary

SEP = "\x1e"


async def raw_ws_login(http: aiohttp.ClientSession, url: str, name: str) -> Any:
    ws = await http.ws_connect(f"{url}/socket.io/?EIO=4&transport=websocket")
    await ws.receive_str()  # OPEN
    await ws.send_str("40" + json.dumps({"username": name}))
    while not (await ws.receive_str()).startswith("40"):
        pass
    return ws


async def polling_session(http: aiohttp.ClientSession, url: str, name: str) -> str:
    """A long-polling session logged in as ``name``; returns its polling URL."""
    async with http.get(f"{url}/socket.io/?EIO=4&transport=polling") as resp:
        sid = json.loads((await resp.text())[1:])["sid"]
    poll = f"{url}/socket.io/?EIO=4&transport=polling&sid={sid}"
    async with http.post(poll, data="40" + json.dumps({"username": name})) as resp:
        await resp.read()
    return poll


async def attack_binary(url: str, seconds: float) -> str:
    async with aiohttp.ClientSession() as http:
        ws = await raw_ws_login(http, url, "binary")
        await ws.send_str('451000000000-["private message",{"_placeholder":true,"num":0}]')
        closing = asyncio.create_task(until_closed(ws))
        sent = 0
        deadline = time.monotonic() + seconds
        try:
            while time.monotonic() < deadline and not closing.done():
                await ws.send_bytes(b"\x00" * 60_000)
                sent += 1
                await asyncio.sleep(0)
        except (ConnectionError, aiohttp.ClientError):
            pass
        closed = await asyncio.wait_for(closing, 5)
        return f"closed by the server after {sent} frames of 60 KB: {closed}"


async def until_closed(ws: Any) -> bool:
    """Read a websocket until the server closes it."""
    while True:
        msg = await ws.receive()
        if msg.type != aiohttp.WSMsgType.TEXT:
            return True


async def attack_polling(url: str, seconds: float) -> str:
    async with aiohttp.ClientSession() as http:
        poll = await polling_session(http, url, "stops-reading")
        async with http.get(poll) as resp:
            packets = (await resp.text()).split(SEP)
        users = next(p for p in packets if p.startswith('42["users"'))
        me = next(u for u in json.loads(users[2:])[1] if u["username"] == "stops-reading")
        writers = [await login(url, f"writer{i}", address=f"127.0.3.{i + 1}") for i in range(25)]
        deadline = time.monotonic() + seconds
        sent = 0
        while time.monotonic() < deadline:
            for sio, _ in writers:  # 24 KB each in JSON, the most a message can weigh
                payload = {"content": "\x01" * 4000, "to": me["userID"]}
                await sio.emit("private message", payload)
                sent += 1
            await asyncio.sleep(0.01)
        async with http.post(poll, data="3") as resp:  # a pong: is the session alive?
            alive = resp.status == 200
        for sio, _ in writers:
            await sio.disconnect()
        return f"{sent} messages of 24 KB sent to it; still connected: {alive}"


async def attack_lockout(url: str, _seconds: float) -> str:
    session_id, victim_id = await session_of(url, "victim", "127.0.4.1")
    for n in range(10):  # throw-away users, each from an address of its own
        sio, _ = await login(url, f"spammer{n}", address=f"127.0.4.{n + 10}")
        for _ in range(20):
            await sio.call("private message", {"content": "\x01" * 4000, "to": victim_id})
        await sio.disconnect()
    again = client_from("127.0.4.1")  # the victim, with a stock python-socketio client
    size: list[int] = []
    again.on("users", lambda users: size.append(len(json.dumps(users))))
    try:
        await again.connect(url, auth={"sessionID": session_id}, transports=["websocket"])
        ok = True
    except socketio.exceptions.ConnectionError:
        ok = False
    await again.disconnect()
    got = f"{size[0]:,} bytes" if size else "none"
    return f"the victim logs in with a stock client: {ok}; their users event: {got}"


async def attack_signup(url: str, seconds: float) -> str:
    made = refused = 0
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        sio = socketio.AsyncClient(reconnection=False)
        try:
            await sio.connect(url, auth={"username": f"bot{made}"}, transports=["websocket"])
            made += 1
            await sio.disconnect()
        except socketio.exceptions.ConnectionError:
            refused += 1
            await asyncio.sleep(0.01)
    return f"{made} users created, {refused} handshakes refused in {seconds:.0f} s"


async def attack_posts(url: str, _seconds: float) -> str:
    answered = 0
    started = time.monotonic()
    async with aiohttp.ClientSession() as http:
        for i in range(50):
            poll = await polling_session(http, url, f"poster{i}")
            body = "4" + "x" * 100_000 if i % 2 else "\x00\x01garbage"
            async with asyncio.timeout(10), http.post(poll, data=body) as resp:
                await resp.read()
                answered += 1
    took = time.monotonic() - started
    return f"{answered} of 50 bad POSTs answered in {took:.1f} s"


async def attack_trickle(url: str, seconds: float) -> str:
    host, port = url.rsplit("/", 1)[-1].split(":")
    trickling: list[asyncio.StreamWriter] = []
    readers: list[asyncio.StreamReader] = []
    for i in range(200):  # from 10 addresses: 20 each, under the per-address cap
        reader, writer = await asyncio.open_connection(
            host, int(port), local_addr=(f"127.0.5.{i % 10 + 1}", 0)
        )
        writer.write(b"GET /healthz HTTP/1.1\r\n")
        trickling.append(writer)
        readers.append(reader)
    silent = []
    sessions = []
    for i in range(200):
        connector = aiohttp.TCPConnector(local_addr=(f"127.0.6.{i % 10 + 1}", 0))
        http = aiohttp.ClientSession(connector=connector)
        sessions.append(http)
        try:
            ws = await http.ws_connect(f"{url}/socket.io/?EIO=4&transport=websocket")
            await ws.receive_str()  # OPEN; then never a CONNECT
            silent.append(ws)
        except (aiohttp.ClientError, ConnectionError):
            pass
    deadline = time.monotonic() + max(seconds, 15)
    while time.monotonic() < deadline:
        for w in trickling:
            if not w.is_closing():
                with contextlib.suppress(OSError):
                    w.write(b"X-a: b\r\n")
        await asyncio.sleep(1)
    open_headers = 0
    for r in readers:
        try:
            while await asyncio.wait_for(r.read(4096), 0.05):
                pass
        except TimeoutError:
            open_headers += 1
        except OSError:  # reset by the server: closed
            pass
    open_ws = 0
    for ws in silent:
        try:
            while (await ws.receive(timeout=0.05)).type == aiohttp.WSMsgType.TEXT:
                pass
        except TimeoutError:
            open_ws += 1
    for w in trickling:
        w.close()
    for http in sessions:
        await http.close()
    return (
        f"after {max(seconds, 15):.0f} s: {open_headers} of 200 header tricklers and "
        f"{open_ws} of {len(silent)} silent websockets still open"
    )


Attack = Callable[[str, float], Awaitable[str]]
ATTACKS: dict[str, Attack] = {
    "1 binary": attack_binary,
    "2 polling": attack_polling,
    "3 lockout": attack_lockout,
    "4 signup": attack_signup,
    "7 posts": attack_posts,
    "9 trickle": attack_trickle,
}


async def run_one(server: ServerProcess, name: str, attack: Attack, seconds: float) -> None:
    before = server.rss_mb
    quiet = asyncio.create_task(quiet_pair(server.url, 60))
    try:
        what = await attack(server.url, seconds)
    except Exception as exc:  # a benchmark reports, it does not stop
        what = f"attack failed: {exc!r}"
        traceback.print_exc()
    latencies = await quiet
    print(f"{name:10} {what}")
    print(f"{'':10} RSS {before} -> {server.rss_mb} MB; quiet pair {summary(latencies)}")


async def main_async(store: str, seconds: float, only: list[str]) -> None:
    server = ServerProcess("--store", store, "--log-level", "error")
    try:
        for name, attack in ATTACKS.items():
            if not only or name.split()[0] in only:
                await run_one(server, name, attack, seconds)
        started = time.monotonic()
        server.proc.send_signal(signal.SIGTERM)
        server.proc.wait(60)
        print(
            f"SIGTERM after all that: exited {server.proc.returncode} "
            f"in {time.monotonic() - started:.2f} s"
        )
    finally:
        if server.proc.poll() is None:
            server.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--store", default=f"sqlite:///{Path(tempfile.mkdtemp()) / 'abuse.db'}")
    parser.add_argument("--seconds", type=float, default=10.0, help="length of each attack")
    parser.add_argument("--only", default="", help="attack numbers, comma-separated")
    args = parser.parse_args()
    only = [x.strip() for x in args.only.split(",") if x.strip()]
    socket.setdefaulttimeout(30)
    asyncio.run(main_async(args.store, args.seconds, only))


if __name__ == "__main__":
    main()
