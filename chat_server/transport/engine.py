"""The Engine.IO and Socket.IO server classes chat-server swaps in (reaches into
python-engineio, python-socketio and aiohttp; reaches.py lists each with its canary and
what it buys, docs/performance.md and docs/security.md the figures).

- PlainWebSocket: websockets without permessage-deflate (the driver's table).
- LeanSocket: a websocket read loop without a task per packet, frames written straight to
  the transport; closes on a cancelled handler, a malformed long-polling body.
- OutputQueue / EngineServer: output bounded on every transport; disconnects that never
  wait for a long-polling client to come back.
- ChatSocketServer: a client whose packet cannot be handled is closed; handlers learn
  whether an event asked for an ack (limits.ACK_WANTED); event packets go from
  LeanSocket's read loop straight to the event's handling (take_event).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
from collections.abc import Awaitable, Callable
from typing import Any, Final

import engineio
import engineio.async_socket
import engineio.exceptions
import socketio
from aiohttp import web
from engineio import packet as eio_packet
from engineio.async_drivers import aiohttp as engineio_aiohttp

from chat_server.limits import ACK_WANTED
from chat_server.transport.frames import SLOW_CONSUMER_BYTES, Corker, ws_frame

log = logging.getLogger(__name__)

# a Socket.IO EVENT in an Engine.IO MESSAGE, default namespace: "42", an optional ack id,
# then the JSON array (ChatSocketServer.take_event)
EVENT_PACKET: Final = re.compile(r"42([0-9]{0,15})\[")
# what python-socketio raises when it cannot handle a packet: its client is closed
UNHANDLEABLE: Final = (ValueError, TypeError, IndexError, KeyError, AttributeError)


def parse_event(text: str, loads: Callable[[str], Any]) -> tuple[int | None, list[Any]] | None:
    """An Engine.IO message holding a Socket.IO event of the default namespace: its ack id
    and its array (an event name, then the arguments), as python-socketio's packets decode
    it; None for anything else (another packet type or namespace, an ack id of more than
    15 digits, JSON that is not such an array)."""
    found = EVENT_PACKET.match(text)
    if found is None:
        return None
    try:
        data = loads(text[found.end() - 1 :])
    except ValueError:
        return None
    if type(data) is not list or not data or type(data[0]) is not str:
        return None
    ack = found.group(1)
    return (int(ack) if ack else None), data


class PlainWebSocket(engineio_aiohttp.WebSocket):  # type: ignore[misc]
    """Engine.IO's aiohttp websocket, without permessage-deflate.

    aiohttp negotiates compression by default, and compressing every small chat frame
    costs more CPU than it saves bandwidth (docs/performance.md). The Node.js server
    does not compress either.
    """

    async def __call__(self, environ: dict[str, Any]) -> web.WebSocketResponse:
        request = environ["aiohttp.request"]
        self._sock = web.WebSocketResponse(
            max_msg_size=self.server.max_http_buffer_size,
            compress=False,
            # websocket pings find dead peers, so LeanSocket needs no per-packet timeout
            heartbeat=self.server.ping_interval,
        )
        await self._sock.prepare(request)
        self.environ = environ
        await self.handler(self)
        return self._sock


class OutputQueue(asyncio.Queue[Any]):
    """A socket's queue of packets to send, bounded in bytes.

    Long-polling clients take their packets with GET requests; one that stops asking (and
    keeps answering pings) would have every message for it buffered here for ever. Past
    ``limit`` bytes the socket is cut off instead, like a websocket that stops reading
    (Corker): the client reconnects and gets what it missed from the store.
    """

    def __init__(self, server: EngineServer) -> None:
        super().__init__()
        self.server = server
        self.bytes = 0
        self.cut = False

    @staticmethod
    def _size(pkt: Any) -> int:
        if pkt is None:
            return 0
        data = getattr(pkt, "data", None)
        return len(data) + 8 if isinstance(data, str | bytes) else 64

    def put_nowait(self, item: Any) -> None:
        if self.cut and item is not None:
            return  # being closed: nothing more is kept for it
        size = self._size(item)
        if item is not None and self.bytes + size > self.server.max_output_buffer:
            self.cut = True
            self.server.cut_off(self)
            return
        self.bytes += size
        super().put_nowait(item)

    def get_nowait(self) -> Any:
        item = super().get_nowait()
        self.bytes -= self._size(item)
        return item


class EngineServer(engineio.AsyncServer):  # type: ignore[misc]
    """Engine.IO server using PlainWebSocket, with bounded output queues, and
    disconnects that never wait for a long-polling client to come and read."""

    max_output_buffer = SLOW_CONSUMER_BYTES
    # an event packet's text -> True when it was handled (ChatSocketServer.take_event)
    take_event: Callable[[str, str], Awaitable[bool]] | None = None

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.corker = Corker()
        self._cutting: set[asyncio.Task[None]] = set()
        # a copy: the driver's table is shared by every Engine.IO server in the process
        driver: dict[str, Any] = getattr(self, "_async")  # noqa: B009 - untyped base
        setattr(self, "_async", {**driver, "websocket": PlainWebSocket})  # noqa: B010

    def set_output_limit(self, limit: int) -> None:
        self.max_output_buffer = self.corker.limit = limit

    def create_queue(self, *args: Any, **kwargs: Any) -> asyncio.Queue[Any]:
        """Every socket's queue is an OutputQueue (Engine.IO's public factory)."""
        return OutputQueue(self)

    def cut_off(self, queue: OutputQueue) -> None:
        """The socket owning ``queue`` has more output waiting than allowed: close it."""
        for sid, sock in list(self.sockets.items()):
            if sock.queue is queue:
                self.logger.info("%s: reads too slowly; closing", sid)
                log.warning("a client reads too slowly; closing its connection")
                task = asyncio.ensure_future(self._abort(sid))
                self._cutting.add(task)
                task.add_done_callback(self._cutting.discard)
                return

    async def _abort(self, sid: str) -> None:
        sock = self.sockets.get(sid)
        if sock is not None:
            await sock.close(wait=False, abort=True, reason=self.reason.TRANSPORT_ERROR)
            sock.queue.put_nowait(None)  # a waiting poll returns; a writer task exits
            self.sockets.pop(sid, None)

    async def disconnect(self, sid: str | None = None) -> None:
        """As Engine.IO's, without waiting for the client to read its CLOSE packet: a
        long-polling client that sent a bad packet may never ask again, and its request
        (and the server's shutdown) would wait for it for ever."""
        if sid is None:
            await super().disconnect()
            return
        sock = self.sockets.get(sid)
        if sock is not None:
            await sock.close(wait=False, reason=self.reason.SERVER_DISCONNECT)
            sock.queue.put_nowait(None)
            self.sockets.pop(sid, None)


class LeanSocket(engineio.async_socket.AsyncSocket):  # type: ignore[misc]
    """An Engine.IO socket whose websocket read loop awaits each packet directly.

    python-engineio wraps every received packet in a new task plus ``wait_for`` (a read
    timeout); that was about 12% of the server's CPU per message (docs/performance.md).
    Dead peers are found instead by aiohttp's websocket heartbeat (PlainWebSocket) and by
    Engine.IO's own ping checks. Outgoing packets are written as finished websocket frames
    straight to the transport, in the order they are sent. Upgrades from long-polling keep
    the library's handler and queue.
    """

    transport: asyncio.Transport | None = None  # set while frames go straight out

    def write_frame(self, data: bytes) -> None:
        """Write a ready websocket frame (at the end of this loop pass, joined with the
        others for this client); a client that stopped reading is cut off."""
        transport = self.transport
        if transport is not None:
            self.server.corker.write(transport, data)

    def _flush(self) -> None:
        if self.transport is not None:
            self.server.corker.flush(self.transport)

    async def send(self, pkt: Any) -> None:
        if self.transport is None:
            await super().send(pkt)
            return
        if await self.check_ping_timeout():
            self.write_frame(ws_frame(pkt))

    async def close(self, wait: bool = True, abort: bool = False, reason: Any = None) -> None:
        """As Engine.IO's close, then the transport this socket writes to is closed too,
        after what was written before (the CLOSE packet, unless aborted); the library's
        sockets have their writer task do that."""
        self._flush()  # what was sent before the close goes out before it
        await super().close(wait=wait, abort=abort, reason=reason)
        if self.transport is not None:
            self._flush()
            self.transport.close()  # the read loop then ends

    async def handle_post_request(self, environ: dict[str, Any]) -> None:
        """A long-polling POST whose body is not Engine.IO closes its socket (the server
        answers 400), instead of being logged and leaving the socket open."""
        try:
            await super().handle_post_request(environ)
        except (ValueError, TypeError, IndexError, KeyError, UnicodeDecodeError) as exc:
            self.server.logger.info("%s: malformed long-polling body (%r)", self.sid, exc)
            raise engineio.exceptions.UnknownPacketError() from exc

    async def _websocket_handler(self, ws: Any) -> None:
        """The read loop. aiohttp cancels it when the client's connection is lost
        (handler cancellation): the socket is closed at once, and its user shown
        offline, instead of after the next ping timeout."""
        try:
            await self._read_loop(ws)
        except asyncio.CancelledError:
            await self.close(wait=False, abort=True, reason=self.server.reason.TRANSPORT_CLOSE)
            raise

    async def _read_loop(self, ws: Any) -> None:
        if getattr(self, "connected", False):  # an upgrade from long-polling: the library's path
            await super()._websocket_handler(ws)
            return
        self.connected = True
        self.upgraded = True
        # frames go straight to the transport from now on: no queue, no writer task, and
        # no aiohttp frame building per send (PlainWebSocket turned compression off)
        transport = ws._sock._writer.transport
        while not self.queue.empty():  # what was queued before (the OPEN packet)
            pkt = self.queue.get_nowait()
            self.queue.task_done()
            if pkt is not None:
                transport.write(ws_frame(pkt))
        self.transport = transport
        limit = self.server.max_http_buffer_size
        fast = self.server.take_event
        try:
            while True:
                try:
                    data = await ws.wait()
                except Exception:  # closed, or not a text/binary frame
                    break
                if data is None or len(data) > limit:
                    break
                try:
                    # an event, the bulk of the traffic: straight to python-socketio's
                    # event handling (ChatSocketServer.take_event); anything else, or
                    # an event it does not take, through Engine.IO's packet handling
                    if fast is None or type(data) is not str or not await fast(self.sid, data):
                        try:
                            pkt = eio_packet.Packet(encoded_packet=data)
                        except Exception:  # not an Engine.IO packet at all: close this client
                            self.server.logger.info("%s: malformed Engine.IO packet", self.sid)
                            break
                        await self.receive(pkt)
                except engineio.exceptions.SocketIsClosedError:
                    break
                except Exception as exc:  # a packet the libraries cannot handle
                    self.server.logger.info("%s: closing after a bad packet (%r)", self.sid, exc)
                    break
        finally:
            self._flush()
            self.transport = None
            with contextlib.suppress(Exception):
                await ws.close()
        await self.close(wait=False, abort=True, reason=self.server.reason.TRANSPORT_CLOSE)


class ChatSocketServer(socketio.AsyncServer):  # type: ignore[misc]
    """python-socketio's server on EngineServer, with LeanSocket for websockets."""

    lean_sockets = True

    def _engineio_server_class(self) -> type[engineio.AsyncServer]:
        return EngineServer

    async def _handle_eio_message(self, eio_sid: str, data: Any) -> None:
        """A packet that is not valid Socket.IO (bad JSON, unknown type, a CONNECT payload
        that is not an object...) closes that one client, instead of being logged and
        leaving the client waiting for an answer that never comes."""
        try:
            await super()._handle_eio_message(eio_sid, data)
        except UNHANDLEABLE as exc:
            await self._close_malformed(eio_sid, exc)

    async def _close_malformed(self, eio_sid: str, exc: Exception) -> None:
        """python-socketio failed on a client's packet (the handlers themselves never
        raise: ChatNamespace.trigger_event guards them): that client is closed."""
        self.logger.info("closing %s: malformed packet (%r)", eio_sid, exc)
        await self.eio.disconnect(eio_sid)

    async def _handle_event_internal(
        self, server: Any, sid: str, eio_sid: str, data: Any, namespace: str, id: Any
    ) -> None:
        """As python-socketio's, telling the handler whether the event asked for an ack
        (limits.ACK_WANTED): flood control answers acked events and holds back the
        others."""
        ack = ACK_WANTED.set(id is not None)
        try:
            await super()._handle_event_internal(server, sid, eio_sid, data, namespace, id)
        finally:
            ACK_WANTED.reset(ack)

    def take_events(self) -> None:
        """Event packets of LeanSocket's read loop come to take_event directly (it awaits
        each event where it is read, as python-socketio does with async_handlers=False)."""
        if isinstance(self.eio, EngineServer) and not self.async_handlers:
            self.eio.take_event = self.take_event

    async def take_event(self, eio_sid: str, text: str) -> bool:
        """An event a client sent on the default namespace, handled as python-socketio
        handles it with ``async_handlers=False`` (``_handle_event``, then
        ``_handle_event_internal``: the handler, then its ack), without the two packet
        objects and four layers of dispatch between the websocket and that call (an
        Engine.IO packet, its ``receive``, its ``_trigger_event``, a Socket.IO packet and
        ``_handle_eio_message``; docs/performance.md). False when it is anything else
        (parse_event), or its socket is not connected: the libraries' path then takes
        it, refusals and closing included. Errors end as they do on that path: what
        python-socketio cannot handle closes the client, anything else is logged."""
        event = parse_event(text, self.packet_class.json.loads)
        if event is None:
            return False
        sid = self.manager.sid_from_eio_sid(eio_sid, "/")
        if sid is None or not self.manager.is_connected(sid, "/"):
            return False
        ack, data = event
        try:
            await self._handle_event_internal(self, sid, eio_sid, data, "/", ack)
        except UNHANDLEABLE as exc:  # as _handle_eio_message
            await self._close_malformed(eio_sid, exc)
        except Exception:  # as Engine.IO's _trigger_event
            log.exception("handling an event failed")
        return True

    async def _handle_eio_connect(self, eio_sid: str, environ: dict[str, Any]) -> Any:
        sock = self.eio.sockets.get(eio_sid)
        if self.lean_sockets and type(sock) is engineio.async_socket.AsyncSocket:
            sock.__class__ = LeanSocket  # the same object, a leaner read loop
        return await super()._handle_eio_connect(eio_sid, environ)
