"""A connection without a server, for chat-tui tests that need to decide exactly what the
server says and when (the end-to-end tests use the real ChatClient and chat-server)."""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import Callable
from typing import Any

from chat_server import protocol as p
from chat_tui import messages as m
from chat_tui.client import Post
from chat_tui.records import ChatMessage, RosterEntry

ME, BOB, CAROL = "me00000000000000", "b0b0000000000000", "ca40100000000000"


def entry(user_id: str, username: str, connected: bool = True, **kw: Any) -> RosterEntry:
    return RosterEntry(user_id, username, connected, **kw)


class FakeLink:
    """Implements chat_tui.client.Link; the test speaks for the server."""

    url = "http://fake.invalid:3000"

    def __init__(self) -> None:
        self.auth: dict[str, str] = {}
        self.logins: list[dict[str, str]] = []
        self.post: Post | None = None
        self.is_connected = False
        self.sent: list[tuple[str, Any]] = []
        self.shutdowns = 0
        self.retries_now = 0
        self.refuse_sends = ""  # the error every send is answered with, when set
        self.on_shutdown: Callable[[], None] = lambda: None
        self.held: dict[str, asyncio.Event] = {}  # event -> answered once this is set
        self.asked: list[str] = []  # the events called, in order
        self._stopped = asyncio.Event()
        self._ids = itertools.count(1)

    @property
    def connected(self) -> bool:
        return self.is_connected

    async def run(self, post: Post) -> None:
        self.post = post
        await self._stopped.wait()
        self.is_connected = False

    def login(self, auth: dict[str, str]) -> None:
        self.auth = dict(auth)
        self.logins.append(dict(auth))

    def retry_now(self) -> None:
        self.retries_now += 1

    async def shutdown(self) -> None:
        self.shutdowns += 1
        self.on_shutdown()
        self._stopped.set()

    async def emit(self, event: str, data: Any) -> None:
        if not self.is_connected:
            raise ConnectionError("not connected")
        self.sent.append((event, data))

    async def call(self, event: str, data: Any) -> Any:
        await self.emit(event, data)
        self.asked.append(event)
        if event in self.held:
            await self.held[event].wait()
        if event == p.PRIVATE_MESSAGE and self.refuse_sends:
            return {"error": self.refuse_sends}
        if event == p.PRIVATE_MESSAGE:
            return {"message": {**data, "id": next(self._ids), "ts": 1, "from": ME}}
        if event == p.HISTORY:
            return {"messages": [], "hasMore": False}
        if event == p.READ:
            return {"ok": True, "upTo": data["upTo"]}
        return {"error": p.ERR_UNKNOWN_EVENT}

    # -- the server's side -------------------------------------------------------------

    def say(self, message: m.ServerMessage) -> None:
        assert self.post is not None, "the app has not started the link yet"
        self.post(message)

    def accept(
        self,
        *others: RosterEntry,
        user_id: str = ME,
        username: str = "amy",
        max_length: int | None = None,
    ) -> None:
        """The handshake succeeds: session, users, connected, as chat-server sends them."""
        self.is_connected = True
        self.say(m.SessionStarted("5" * 32, user_id, max_length))
        self.say(m.RosterReceived([entry(user_id, username), *others], extended=True))
        self.say(m.Connected())


def late_messages() -> dict[str, Callable[[], m.ServerMessage]]:
    """One of each kind of server message, as they could arrive at any moment."""
    return {
        "connected": m.Connected,
        "users": lambda: m.RosterReceived([entry(ME, "amy"), entry(BOB, "bob")], True),
        "private message": lambda: m.MessageReceived(ChatMessage("late", BOB, ME, id=99, ts=1)),
        "disconnect": m.Disconnected,
        "retrying": lambda: m.Retrying(1, 0.5, "connection lost"),
        "refused": lambda: m.Refused(p.INVALID_USERNAME, "username taken"),
        "session": lambda: m.SessionStarted("6" * 32, ME),
        "user connected": lambda: m.UserOnline(entry(CAROL, "carol")),
        "user disconnected": lambda: m.UserOffline(BOB),
    }
