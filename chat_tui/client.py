"""The Socket.IO connection: turns server events into Textual messages, nothing else.

It runs its own reconnect loop (exponential backoff with jitter) instead of
python-socketio's, so the status line can say which attempt is next and when, and so a
refused session stops the loop until the user logs in again.
"""

from __future__ import annotations

import asyncio
import contextlib
import ssl
from collections.abc import Callable
from typing import Any, Protocol

import aiohttp
import socketio

from chat_server import protocol as p
from chat_tui import messages as m
from chat_tui import wire
from chat_tui.render import safe_reason
from chat_tui.state import backoff_delay
from chat_tui.urls import explain_failure

Post = Callable[[m.ServerMessage], object]
MAX_FRAME = 64 * 1024 * 1024  # the largest websocket message accepted from a server


def _nowhere(_: m.ServerMessage) -> None:
    """Where messages go before run() is given a destination."""


class Link(Protocol):
    """What the app needs of a connection (ChatClient; tests inject a fake)."""

    url: str
    auth: dict[str, str]

    @property
    def connected(self) -> bool: ...

    async def run(self, post: Post) -> None:
        """Connect, stay connected, reconnect; post messages.ServerMessage to ``post``;
        until shutdown(). Nothing is posted once shutdown() has begun."""

    def login(self, auth: dict[str, str]) -> None:
        """Use these credentials from now on, and try at once."""

    def retry_now(self) -> None:
        """Skip the wait before the next connection attempt."""

    async def shutdown(self) -> None:
        """Stop: close the connection; returns when run() has returned. Idempotent."""

    async def emit(self, event: str, data: Any) -> None:
        """Send without an ack; ConnectionError when not connected."""

    async def call(self, event: str, data: Any) -> Any:
        """Send and return the ack; ConnectionError or TimeoutError."""


class ChatClient:
    """One server, one identity: a Socket.IO connection that posts typed messages."""

    def __init__(
        self,
        url: str,
        *,
        cafile: str | None = None,
        ack_timeout: float = 10.0,
        handshake_timeout: float = 5.0,
        max_frame: int = MAX_FRAME,
        backoff: Callable[[int], float] = backoff_delay,
    ) -> None:
        self.url = url
        self.backoff = backoff  # seconds before attempt n + 1, after n failed
        self.max_frame = max_frame
        self.post: Post = _nowhere
        self.auth: dict[str, str] = {}
        self.ack_timeout = ack_timeout
        self.handshake_timeout = handshake_timeout
        # TLS: the system's trusted CAs, or only the one in --cafile
        self.ssl = ssl.create_default_context(cafile=cafile) if cafile else None
        self._http: aiohttp.ClientSession | None = None
        self.sio: socketio.AsyncClient | None = None
        self._wake = asyncio.Event()
        self._stopped = False
        self._lost = asyncio.Event()  # set when the current connection drops
        self._running: asyncio.Event | None = None  # set when run() has returned

    @property
    def connected(self) -> bool:
        return self.sio is not None and self.sio.connected

    def _new_client(self) -> socketio.AsyncClient:
        options: dict[str, Any] = {"reconnection": False}
        if self.ssl is not None:
            if self._http is None or self._http.closed:
                self._http = aiohttp.ClientSession(connector=aiohttp.TCPConnector(ssl=self.ssl))
            options["http_session"] = self._http
        # frames up to MAX_FRAME: chat-server's largest (a bounded users event) is a few
        # MiB; aiohttp's default of 4 MiB refused the tutorial's unbounded ones for good
        options["websocket_extra_options"] = {"max_msg_size": self.max_frame}
        sio = socketio.AsyncClient(**options)
        sio.on(p.SESSION, self._on_session)
        sio.on(p.USERS, self._on_users)
        sio.on(p.USER_CONNECTED, self._on_user_connected)
        sio.on(p.USER_DISCONNECTED, self._on_user_disconnected)
        sio.on(p.PRIVATE_MESSAGE, self._on_private_message)
        sio.on(p.USER_DELETED, self._on_user_deleted)
        sio.on(p.READ, self._on_read)
        sio.on(p.TYPING, self._on_typing)
        sio.on(p.MESSAGE_EDITED, self._on_message_edited)
        sio.on(p.MESSAGE_DELETED, self._on_message_deleted)
        return sio

    # server events -> typed messages; malformed payloads are dropped here

    def _on_session(self, data: Any = None) -> None:
        if (parsed := wire.parse_session(data)) is not None:
            self.post(m.SessionStarted(*parsed))

    def _on_users(self, data: Any = None) -> None:
        self.post(m.RosterReceived(*wire.parse_roster(data)))

    def _on_user_connected(self, data: Any = None) -> None:
        if (entry := wire.parse_roster_entry(data)) is not None:
            self.post(m.UserOnline(entry))

    def _on_user_disconnected(self, data: Any = None) -> None:
        if (user_id := wire.parse_user_id(data)) is not None:
            self.post(m.UserOffline(user_id))

    def _on_user_deleted(self, data: Any = None) -> None:
        if (user_id := wire.parse_user_id(data)) is not None:
            self.post(m.UserDeleted(user_id))

    def _on_private_message(self, data: Any = None) -> None:
        if (msg := wire.parse_message(data)) is not None:
            self.post(m.MessageReceived(msg))

    def _on_read(self, data: Any = None) -> None:
        if (parsed := wire.parse_read(data)) is not None:
            self.post(m.ReadReceived(*parsed))

    def _on_message_edited(self, data: Any = None) -> None:
        if (msg := wire.parse_message(data)) is not None and msg.id is not None:
            self.post(m.MessageEdited(msg))

    def _on_message_deleted(self, data: Any = None) -> None:
        if (parsed := wire.parse_deleted(data)) is not None:
            self.post(m.MessageDeleted(*parsed))

    def _on_typing(self, data: Any = None) -> None:
        if (parsed := wire.parse_typing(data)) is not None:
            self.post(m.TypingReceived(*parsed))

    @staticmethod
    def _refusal_recorder(into: list[dict[str, Any]]) -> Callable[..., None]:
        def record(data: Any = None) -> None:
            into.append(data if isinstance(data, dict) else {})

        return record

    def login(self, auth: dict[str, str]) -> None:
        """Use these credentials from now on, and try at once."""
        self.auth = dict(auth)
        self._wake.set()

    async def _sleep(self, delay: float) -> None:
        """Wait ``delay`` seconds, or less when woken (new credentials, Ctrl+R, shutdown;
        a wake that came during the attempt before counts too)."""
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._wake.wait(), delay)
        self._wake.clear()

    async def run(self, post: Post) -> None:
        """Connect, stay connected, reconnect with backoff; until shutdown(). Nothing is
        posted once shutdown() has begun."""
        self.post = post
        self._running = asyncio.Event()
        try:
            await self._run()
        finally:
            self.sio = None
            self._running.set()

    async def _run(self) -> None:
        attempt = 0  # attempts since the last success
        while not self._stopped:
            if not self.auth:
                await self._sleep(3600)  # until login() gives credentials
                continue
            attempt = await self._attempt(attempt)

    async def _attempt(self, attempt: int) -> int:
        """One connection attempt, and the connection while it lasts; returns the number
        of failed attempts so far (0 after a connection, or a refusal)."""
        self._wake.clear()  # a wake from now on (Ctrl+R) skips the wait after this attempt
        sio = self._new_client()
        refused: list[dict[str, Any]] = []
        lost = asyncio.Event()
        # sio.wait() would notice a lost link a second late; this hears it at once
        sio.on("disconnect", lambda *_: lost.set())
        sio.on("connect_error", self._refusal_recorder(refused))
        self.post(m.Connecting(attempt + 1))
        try:
            await self._connect(sio)
        except (socketio.exceptions.ConnectionError, OSError, ValueError) as exc:
            return await self._failed(sio, refused, explain_failure(exc, self.url), attempt + 1)
        if self._stopped:
            await self._close(sio)
            return 0
        self.sio, self._lost = sio, lost
        self.post(m.Connected())
        await lost.wait()
        self.sio = None
        too_big = self._too_big(sio)
        await self._close(sio)
        if self._stopped:
            return 0
        self.post(m.Disconnected())
        if too_big:
            await self._give_up_on_size()
            return 0
        await self._retry_later(1, "connection lost")
        return 1

    async def _failed(
        self, sio: socketio.AsyncClient, refused: list[dict[str, Any]], error: str, attempt: int
    ) -> int:
        """A connect that did not succeed: a refusal of the credentials (ask the user),
        a frame too big (stop), or anything else (retry after a while)."""
        too_big = self._too_big(sio)
        await self._close(sio)
        if self._stopped:
            return 0
        if too_big:
            await self._give_up_on_size()
            return 0
        message = str(refused[-1].get("message", "")) if refused else ""
        if message == p.INVALID_USERNAME:
            data = refused[-1].get("data")
            reason = str(data.get("reason", "")) if isinstance(data, dict) else ""
            self.auth = {}
            self.post(m.Refused(message, safe_reason(reason)))
            return 0
        await self._retry_later(attempt, message or error or "unreachable")
        return attempt

    async def _retry_later(self, attempt: int, why: str) -> None:
        delay = self.backoff(attempt)
        self.post(m.Retrying(attempt, delay, safe_reason(why)))
        await self._sleep(delay)

    @staticmethod
    def _too_big(sio: socketio.AsyncClient) -> bool:
        """Whether the link closed because the server sent a frame over MAX_FRAME."""
        ws = getattr(sio.eio, "ws", None)
        return ws is not None and ws.close_code == aiohttp.WSCloseCode.MESSAGE_TOO_BIG

    async def _give_up_on_size(self) -> None:
        """Retrying would fetch the same oversized frame: say so, and wait for the user
        (retry_now(), or new credentials) instead of reconnecting for ever."""
        size = f"{self.max_frame / 2**20:g} MiB"
        self.post(m.Stopped(f"the server sent a message larger than {size}"))
        await self._sleep(86_400)

    def retry_now(self) -> None:
        """Skip the wait before the next attempt."""
        self._wake.set()

    async def _connect(self, sio: socketio.AsyncClient) -> None:
        """Connect; give up at once when the link drops during the handshake or the
        client is shut down.

        python-socketio's connect() would otherwise wait its whole ``wait_timeout`` for a
        namespace answer that can no longer come (seen with a proxy cutting connections).
        """
        connecting = asyncio.ensure_future(
            sio.connect(self.url, auth=self.auth, transports=["websocket"], wait_timeout=10)
        )
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.handshake_timeout
        linked = False
        while not connecting.done():
            await asyncio.wait({connecting}, timeout=0.05)
            state = sio.eio.state
            linked = linked or state == "connected"
            dropped = linked and state != "connected"
            if not connecting.done() and (dropped or self._stopped or loop.time() > deadline):
                connecting.cancel()
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await connecting
                why = (
                    "stopped"
                    if self._stopped
                    else "connection lost during the handshake"
                    if dropped
                    else "handshake timed out"
                )
                raise socketio.exceptions.ConnectionError(why)
        connecting.result()

    async def _close(self, sio: socketio.AsyncClient) -> None:
        with contextlib.suppress(Exception):
            await sio.disconnect()
        # python-engineio leaves the HTTP session it made open when a connect fails; one
        # per retry would pile up during a long outage
        http = getattr(sio.eio, "http", None)
        if http is not None and http is not self._http and not http.closed:
            with contextlib.suppress(Exception):
                await http.close()

    async def shutdown(self, within: float = 5.0) -> None:
        """Stop and close; returns when run() has returned (at most ``within`` s)."""
        self._stopped = True
        self._wake.set()
        if self.sio is not None:
            await self._close(self.sio)
        if self._running is not None:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._running.wait(), within)
        if self._http is not None:
            await self._http.close()

    async def emit(self, event: str, data: Any) -> None:
        """Send without an ack (servers that speak only the tutorial's protocol)."""
        if self.sio is None:
            raise ConnectionError("not connected")
        await self.sio.emit(event, data)

    async def call(self, event: str, data: Any) -> Any:
        """Send and wait for the ack; raises ConnectionError or TimeoutError. A call
        fails as soon as its connection drops: the ack can no longer come, and waiting
        out the timeout would hold the outbox back after every network blip."""
        if self.sio is None:
            raise ConnectionError("not connected")
        acked = asyncio.ensure_future(self.sio.call(event, data, timeout=self.ack_timeout))
        dropped = asyncio.ensure_future(self._lost.wait())
        try:
            await asyncio.wait({acked, dropped}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            dropped.cancel()
        if not acked.done():
            acked.cancel()
            raise ConnectionError("connection lost before the server answered")
        try:
            return acked.result()
        except socketio.exceptions.TimeoutError as exc:
            raise TimeoutError(str(exc)) from None
        except socketio.exceptions.BadNamespaceError as exc:
            raise ConnectionError(str(exc)) from None
