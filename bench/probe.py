"""Shared by the bench scripts: a chat-server process to measure, its RSS, and a quiet pair
of users whose message latency shows what a load or an attack does to everyone else."""

from __future__ import annotations

import asyncio
import os
import socket
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import aiohttp
import socketio

ROOT = Path(__file__).resolve().parents[1]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def cpu_s(pid: int) -> float:
    """User and system CPU seconds a process has used so far."""
    f = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(f[11]) + int(f[12])) / os.sysconf("SC_CLK_TCK")


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return round(int(line.split()[1]) / 1024, 1)
    return 0.0


class ServerProcess:
    """``python -m chat_server`` on a free port, with extra flags; stopped with SIGTERM."""

    def __init__(self, *flags: str) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "chat_server", "--port", str(self.port), *flags],
            cwd=ROOT,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 20
        while True:
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.2):
                    break
            except OSError:
                if self.proc.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"chat-server did not start: {flags}") from None
                time.sleep(0.05)

    @property
    def rss_mb(self) -> float:
        return rss_mb(self.proc.pid)

    def stop(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(15)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


def client_from(address: str | None) -> socketio.AsyncClient:
    """A python-socketio client whose connections leave from ``address`` (any of
    127.0.0.0/8 reaches a server on 127.0.0.1): each party of a benchmark gets its own
    address, as users would, so the per-address limits apply to each separately."""
    if address is None:
        return socketio.AsyncClient(reconnection=False)
    connector = aiohttp.TCPConnector(local_addr=(address, 0))
    return socketio.AsyncClient(
        reconnection=False, http_session=aiohttp.ClientSession(connector=connector)
    )


async def connect_user(
    url: str, auth: dict[str, str], transport: str = "websocket", address: str | None = None
) -> tuple[Any, dict[str, str]]:
    """A connected python-socketio client and its session ({sessionID, userID})."""
    sio = client_from(address)
    session: dict[str, str] = {}
    got = asyncio.Event()

    def on_session(data: dict[str, str]) -> None:
        session.update(data)
        got.set()

    refusals: list[Any] = []
    sio.on("session", on_session)
    sio.on("connect_error", refusals.append)
    try:
        await sio.connect(url, auth=auth, transports=[transport], wait_timeout=10)
    except socketio.exceptions.ConnectionError as exc:
        raise ConnectionError(f"{auth} refused: {refusals or exc}") from None
    await asyncio.wait_for(got.wait(), 10)
    return sio, session


async def login(
    url: str, name: str, transport: str = "websocket", address: str | None = None
) -> tuple[Any, str]:
    """A new user, connected: the client and its userID."""
    sio, session = await connect_user(url, {"username": name}, transport, address)
    return sio, session["userID"]


async def session_of(url: str, name: str, address: str | None = None) -> tuple[str, str]:
    """A new user's sessionID and userID (logged in once, then gone)."""
    sio, session = await connect_user(url, {"username": name}, address=address)
    await sio.disconnect()
    return session["sessionID"], session["userID"]


async def quiet_pair(url: str, messages: int = 100) -> list[float]:
    """Two users talking one message at a time (each waits for its delivery, like a person
    typing): the delivery latency of each message, in ms, from the send the server took
    to its arrival. A send refused for the sender's own rate is retried after the time
    the server names (that wait is not latency: the pair is held to its own rate)."""
    carol, _ = await login(url, f"quiet-carol-{time.time_ns()}", address="127.0.0.2")
    dave, dave_id = await login(url, f"quiet-dave-{time.time_ns()}", address="127.0.0.3")
    arrived: dict[str, float] = {}
    waiting: dict[str, asyncio.Event] = {}

    def on_message(m: dict[str, Any]) -> None:
        arrived.setdefault(m["content"], time.perf_counter())
        if m["content"] in waiting:
            waiting[m["content"]].set()

    dave.on("private message", on_message)
    latencies = []
    try:
        for i in range(messages):
            content = f"quiet {i} {time.time()}"
            waiting[content] = asyncio.Event()
            payload = {"content": content, "to": dave_id}
            while True:
                start = time.perf_counter()
                ack = await carol.call("private message", payload, timeout=30)
                if not (isinstance(ack, dict) and ack.get("error") == "rate limited"):
                    break
                await asyncio.sleep(ack["retryAfter"] / 1000)
            await asyncio.wait_for(waiting.pop(content).wait(), 30)
            latencies.append((arrived[content] - start) * 1000)
    finally:
        for sio in (carol, dave):
            await sio.disconnect()
            if sio.eio.http is not None:
                await sio.eio.http.close()
    return latencies


def summary(latencies: list[float]) -> str:
    """``p50 1.2 ms, p99 3.4 ms`` (p99 of fewer than 2 values: their maximum)."""
    if not latencies:
        return "no messages"
    p50 = statistics.median(latencies)
    p99 = statistics.quantiles(latencies, n=100)[98] if len(latencies) > 1 else latencies[0]
    return f"p50 {p50:.1f} ms, p99 {p99:.1f} ms"
