"""Real fixtures: chat-server on 127.0.0.1 port 0 and real python-socketio clients."""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest
import socketio
from aiohttp import web

from chat_server.app import STORE_KEY, create_app
from chat_server.config import Config
from chat_server.stores import Store

WAIT = 5.0  # seconds: how long a test waits for a condition before it fails


class Server:
    """A chat-server application served on a free port of 127.0.0.1."""

    def __init__(self, config: Config, store: Store | None = None) -> None:
        self.config = config
        self.app = create_app(config, store=store)
        self.store: Store = self.app[STORE_KEY]
        self.runner = web.AppRunner(self.app)
        self.port = 0

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    async def start(self, port: int = 0) -> Server:
        await self.runner.setup()
        await web.TCPSite(self.runner, "127.0.0.1", port).start()
        self.port = self.runner.addresses[0][1]
        return self

    async def stop(self) -> None:
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


@dataclasses.dataclass
class Harness:
    """Starts servers and peers for one test and closes them all at the end."""

    tmp_path: Path
    store_kind: str
    servers: list[Server] = dataclasses.field(default_factory=list)
    peers: list[Peer] = dataclasses.field(default_factory=list)

    def store_url(self) -> str:
        if self.store_kind == "memory":
            return "memory://"
        return f"sqlite://{self.tmp_path / 'chat.db'}"

    async def server(self, store: Store | None = None, port: int = 0, **settings: Any) -> Server:
        config = Config(**{"store": self.store_url(), "port": 0, **settings})
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


@pytest.fixture(params=["memory", "sqlite"])
def store_kind(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
async def h(tmp_path: Path, store_kind: str) -> AsyncIterator[Harness]:
    """A harness on each store back end."""
    harness = Harness(tmp_path, store_kind)
    yield harness
    await harness.close()


@pytest.fixture
async def hs(tmp_path: Path) -> AsyncIterator[Harness]:
    """A harness on SQLite only (durability, schema)."""
    harness = Harness(tmp_path, "sqlite")
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
