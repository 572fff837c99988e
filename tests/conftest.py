"""Real fixtures: chat-server on 127.0.0.1 port 0 and real python-socketio clients."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import socketio
from aiohttp import web

from chat_server.app import STORE_KEY, create_app, start_runner
from chat_server.config import Config
from chat_server.stores import Store

WAIT = 5.0
# seconds: how long a test waits for a condition before it fails


class Server:
    """A chat-server application served on a free port of 127.0.0.1."""

    def __init__(self, config: Config, store: Store | None = None) -> None:
        self.config = config
        self.app = create_app(config, store=store)
        self.store: Store = self.app[STORE_KEY]
        self.runner: web.AppRunner | None = None
        self.port = 0

    @property
    def url(self) -> str:
        return f"{self.config.scheme}://127.0.0.1:{self.port}"

    async def start(self, port: int = 0) -> Server:
        self.runner = await start_runner(self.app)  # as the chat-server command does
        ssl_context = self.config.ssl_context()
        await web.TCPSite(self.runner, "127.0.0.1", port, ssl_context=ssl_context).start()
        self.port = self.runner.addresses[0][1]
        return self

    async def stop(self) -> None:
        if self.runner is not None:
            await self.runner.cleanup()


async def wait_until(predicate: Callable[[], bool], what: str, within: float = WAIT) -> None:
    """Wait until ``predicate()`` is true, polling on every loop turn; fail after timeout."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + within
    while not predicate():
        if loop.time() > deadline:
            raise AssertionError(f"timed out after {within}s waiting for {what}")
        await asyncio.sleep(0.005)


class Peer:
    """A python-socketio client that records every event it receives."""

    def __init__(self, url: str, name: str = "", **client_options: Any) -> None:
        self.url = url
        self.name = name
        options = {"reconnection": False, **client_options}
        self.sio = socketio.AsyncClient(**options)
        self.events: list[tuple[str, Any]] = []
        self.session: dict[str, str] = {}
        self.connect_errors: list[Any] = []
        self.sio.on("*", self._record)
        self.sio.on("connect_error", self._connect_error)
        self.sio.on("session", self._session)

    def _record(self, event: str, *args: Any) -> None:
        self.events.append((event, args[0] if len(args) == 1 else list(args)))

    def _session(self, data: Any) -> None:
        self.session = dict(data)
        self.events.append(("session", data))

    def _connect_error(self, data: Any = None) -> None:
        self.connect_errors.append(data)

    @property
    def user_id(self) -> str:
        return self.session["userID"]

    @property
    def session_id(self) -> str:
        return self.session["sessionID"]

    def of(self, event: str) -> list[Any]:
        """Payloads of every received ``event``, in arrival order."""
        return [data for name, data in self.events if name == event]

    def names(self) -> list[str]:
        return [name for name, _ in self.events]

    @property
    def users(self) -> list[dict[str, Any]]:
        """The latest ``users`` snapshot."""
        return self.of("users")[-1]

    def entry(self, user_id: str) -> dict[str, Any]:
        return next(u for u in self.users if u["userID"] == user_id)

    async def connect(self, auth: Any, transport: str = "websocket") -> None:
        await self.sio.connect(self.url, auth=auth, transports=[transport], wait_timeout=WAIT)
        await wait_until(lambda: bool(self.of("users")), f"{self.name}: users event")

    async def expect_refused(self, auth: Any) -> Any:
        """Connect, expect a connect_error, return its payload."""
        with pytest.raises(socketio.exceptions.ConnectionError):
            await self.sio.connect(self.url, auth=auth, transports=["websocket"], wait_timeout=WAIT)
        await wait_until(lambda: bool(self.connect_errors), "connect_error")
        return self.connect_errors[-1]

    async def wait_for(self, event: str, count: int = 1, within: float = WAIT) -> list[Any]:
        await wait_until(
            lambda: len(self.of(event)) >= count, f"{self.name}: {count}x {event}", within
        )
        return self.of(event)

    async def send(self, to: str, content: str, **extra: Any) -> None:
        """Emit a private message without asking for an ack (the tutorial's way)."""
        await self.sio.emit("private message", {"content": content, "to": to, **extra})

    async def call(self, event: str, data: Any = None, within: float = WAIT) -> Any:
        """Emit with an ack and return the ack payload."""
        return await self.sio.call(event, data, timeout=within)

    async def close(self) -> None:
        if self.sio.connected:
            await self.sio.disconnect()


async def barrier(peer: Peer) -> None:
    """Round trip through ``peer``'s socket: every event queued for it before this call
    has been received when it returns (one socket's packets are delivered in order)."""
    await peer.call("history", {"with": peer.user_id, "limit": 1})


async def register(url: str, name: str) -> tuple[str, str]:
    """Log a new user in once and leave; returns its sessionID and userID."""
    peer = Peer(url, name)
    await peer.connect({"username": name})
    await peer.close()
    return peer.session_id, peer.user_id


async def full_history(peer: Peer, with_id: str) -> list[dict[str, Any]]:
    page = await peer.call("history", {"with": with_id, "limit": 200})
    messages = page["messages"]
    while page["hasMore"]:
        page = await peer.call(
            "history", {"with": with_id, "limit": 200, "before": messages[0]["id"]}
        )
        messages = page["messages"] + messages
    return messages


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class RedisServer:
    """A real redis-server on a free port, its data (AOF) in its own folder."""

    def __init__(self, folder: Path) -> None:
        binary = shutil.which("redis-server")
        if binary is None:
            pytest.skip("redis-server is not installed (.ci/run installs it with apt-get)")
        self.binary, self.folder, self.port = binary, folder, free_port()
        self.proc: subprocess.Popen[bytes] | None = None
        folder.mkdir(parents=True, exist_ok=True)
        self.start()

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        self.proc = subprocess.Popen(
            [
                self.binary,
                "--port",
                str(self.port),
                "--bind",
                "127.0.0.1",
                "--dir",
                str(self.folder),
                "--appendonly",
                "yes",
                "--appendfsync",
                "always",
                "--save",
                "",
                "--protected-mode",
                "no",
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 10
        while True:
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.2) as c:
                    c.sendall(b"PING\r\n")
                    if c.recv(16).startswith(b"+PONG"):
                        return
            except OSError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError("redis-server did not start")
            time.sleep(0.02)

    def stop(self) -> None:
        if self.proc is not None:
            self.proc.terminate()
            self.proc.wait(10)
            self.proc = None

    def flush(self) -> None:
        with socket.create_connection(("127.0.0.1", self.port), timeout=2) as c:
            c.sendall(b"FLUSHALL\r\n")
            assert c.recv(16).startswith(b"+OK")


@pytest.fixture(scope="session")
def redis_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RedisServer]:
    """One redis-server for the whole run; each test that uses it starts from FLUSHALL."""
    server = RedisServer(tmp_path_factory.mktemp("redis"))
    yield server
    server.stop()


@dataclasses.dataclass
class Harness:
    """Starts servers and peers for one test and closes them all at the end."""

    tmp_path: Path
    store_kind: str
    redis: RedisServer | None = None
    stock: bool = False  # --stock-transport: the libraries as shipped
    servers: list[Server] = dataclasses.field(default_factory=list)
    peers: list[Peer] = dataclasses.field(default_factory=list)

    def store_url(self) -> str:
        if self.store_kind == "memory":
            return "memory://"
        if self.store_kind == "redis":
            assert self.redis is not None
            return self.redis.url
        return f"sqlite://{self.tmp_path / 'chat.db'}"

    async def server(self, store: Store | None = None, port: int = 0, **settings: Any) -> Server:
        # flood control and the per-address limits are off unless a test turns them on:
        # tests send faster, and from one address, than people do
        config = Config(
            **{
                "store": self.store_url(),
                "port": 0,
                "rate_per_second": 0,
                "max_handshakes_per_ip": 0,
                "max_new_users_per_ip": 0,
                "stock_transport": self.stock,
                **settings,
            }
        )
        srv = await Server(config, store=store).start(port)
        self.servers.append(srv)
        return srv

    async def stop(self, srv: Server) -> None:
        self.servers.remove(srv)
        await srv.stop()

    def peer(self, srv: Server, name: str = "", **options: Any) -> Peer:
        p = Peer(srv.url, name, **options)
        self.peers.append(p)
        return p

    async def login(self, srv: Server, username: str, transport: str = "websocket") -> Peer:
        p = self.peer(srv, username)
        await p.connect({"username": username}, transport)
        return p

    async def resume(self, srv: Server, session_id: str, name: str = "") -> Peer:
        p = self.peer(srv, name)
        await p.connect({"sessionID": session_id})
        return p

    async def close(self) -> None:
        for p in self.peers:
            await p.close()
        for srv in self.servers:
            await srv.stop()


ALL_STORES = ("memory", "sqlite", "redis")


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers",
        "stores(*kinds): the store back ends a test's harness runs on (default: memory, "
        "sqlite, redis; 'memory-stock': memory on --stock-transport)",
    )


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    """``store_kind`` (and so the ``h`` harness) runs once per store the test's
    ``stores`` mark names, every store without one. Tests of the transport, the
    handshake or the limits use ``hm`` (memory, once); durability ``hs`` (SQLite)."""
    if "store_kind" in metafunc.fixturenames:
        marker = metafunc.definition.get_closest_marker("stores")
        metafunc.parametrize("store_kind", list(marker.args) if marker else ALL_STORES)


def redis_for(request: pytest.FixtureRequest, store_kind: str) -> RedisServer | None:
    """The shared redis-server, flushed, when the test runs on the Redis back end."""
    if store_kind != "redis":
        return None
    server: RedisServer = request.getfixturevalue("redis_server")
    server.flush()
    return server


@pytest.fixture
async def h(
    request: pytest.FixtureRequest, tmp_path: Path, store_kind: str
) -> AsyncIterator[Harness]:
    """A harness on each store back end ("memory-stock": the memory store on
    --stock-transport, for the modules that run the protocol on both transports)."""
    kind, _, variant = store_kind.partition("-")
    harness = Harness(tmp_path, kind, redis_for(request, kind), stock=variant == "stock")
    yield harness
    await harness.close()


@pytest.fixture
async def hs(tmp_path: Path) -> AsyncIterator[Harness]:
    """A harness on SQLite only (durability, schema)."""
    harness = Harness(tmp_path, "sqlite")
    yield harness
    await harness.close()


@pytest.fixture
def own_redis(tmp_path: Path) -> Iterator[RedisServer]:
    """A redis-server of this test's own: the test stops and starts it."""
    server = RedisServer(tmp_path / "redis")
    yield server
    server.stop()


@pytest.fixture
async def hm(tmp_path: Path) -> AsyncIterator[Harness]:
    """A harness on the memory store only: for tests of the transport, the handshake and
    the limits, which do not depend on where data is kept (they run once, not per store)."""
    harness = Harness(tmp_path, "memory")
    yield harness
    await harness.close()


@pytest.fixture
async def srv(h: Harness) -> Server:
    return await h.server()


Login = Callable[[str], Awaitable[Peer]]


@pytest.fixture
def login(h: Harness, srv: Server) -> Login:
    async def do(username: str) -> Peer:
        return await h.login(srv, username)

    return do


URL_LINE = re.compile(r"listening on (https?://127\.0\.0\.1:\d+)")


class Proc:
    """``python -m chat_server`` in a subprocess, with its output collected."""

    def __init__(self, proc: asyncio.subprocess.Process) -> None:
        self.proc = proc
        self.stdout: list[str] = []
        self.url = ""

    @classmethod
    async def start(cls, *args: str, env: dict[str, str] | None = None) -> Proc:
        proc = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "chat_server",
            "--port",
            "0",
            *args,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
            # flood control and per-address limits off unless a test passes a flag (a
            # flag wins): tests connect many users from one address
            env={
                **os.environ,
                "CHAT_SERVER_RATE_PER_SECOND": "0",
                "CHAT_SERVER_MAX_HANDSHAKES_PER_IP": "0",
                "CHAT_SERVER_MAX_NEW_USERS_PER_IP": "0",
                "CHAT_SERVER_MAX_CONNECTIONS_PER_IP": "0",
                **(env or {}),
            },
            start_new_session=True,  # its own process group: kill() takes workers too
        )
        self = cls(proc)
        assert proc.stdout is not None
        async with asyncio.timeout(20):
            while not self.url:
                line = (await proc.stdout.readline()).decode()
                assert line, "chat-server exited before printing its URL"
                self.stdout.append(line)
                if m := URL_LINE.search(line):
                    self.url = m.group(1)
            self.stdout.append((await proc.stdout.readline()).decode())  # the store line
        return self

    async def kill(self) -> None:
        """SIGKILL the process and everything it started, if still running."""
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.proc.pid, signal.SIGKILL)
        # communicate() drains the pipes: wait() alone can hang on a full, unread pipe
        async with asyncio.timeout(20):
            await self.proc.communicate()

    async def stop(self, sig: int = signal.SIGTERM) -> tuple[int, str, str]:
        self.proc.send_signal(sig)
        async with asyncio.timeout(20):
            out, err = await self.proc.communicate()
        return self.proc.returncode or 0, "".join(self.stdout) + out.decode(), err.decode()


@pytest.fixture
async def procs() -> AsyncIterator[list[Proc]]:
    """chat-server processes a test starts (Proc.start); killed at its end if still up."""
    started: list[Proc] = []
    yield started
    for p in started:
        await p.kill()
