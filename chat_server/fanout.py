"""The Socket.IO and Engine.IO pieces chat-server swaps in for speed.

Broadcasts without a task per recipient, websockets without per-frame compression, and
orjson for JSON. Each is measured in docs/performance.md.

python-socketio's AsyncManager.emit encodes a broadcast once, then creates one asyncio task
per recipient and waits for them all. A 1,000-user connect storm makes about 500,000 such
tasks for the ``user connected`` broadcasts alone (docs/performance.md). An Engine.IO
socket's send only checks the socket and appends to its unbounded queue, so this manager
does that inline for every recipient.

Relies on python-engineio's AsyncSocket (``closed``, ``last_ping``, ``queue``, ``send``)
and python-socketio's manager API, pinned in pyproject.toml and covered by every test that
broadcasts (tests/server/test_tutorial_protocol.py) and by tests/server/test_fanout.py;
and on python-socketio's ``_handle_event_internal(server, sid, eio_sid, data, namespace,
id)`` for whether an event asked for an ack (tests/server/test_flood.py answers acked and
unacked sends differently, so it fails if that call changes).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from typing import Any

import engineio
import engineio.async_socket
import engineio.exceptions
import orjson
import socketio
from aiohttp import web
from engineio import packet as eio_packet
from engineio.async_drivers import aiohttp as engineio_aiohttp
from socketio import packet

from chat_server.limits import ACK_WANTED

log = logging.getLogger(__name__)

# a client that reads slower than this much queued output is cut off, not buffered forever
# (--max-output-buffer; EngineServer.max_output_buffer)
SLOW_CONSUMER_BYTES = 8 * 1024 * 1024


def ws_frame(eio_pkt: Any) -> bytes:
    """An Engine.IO packet as a complete, unmasked websocket frame (server to client).

    Server frames are not masked, so one broadcast's frame is the same bytes for every
    recipient: it is built once and written to each transport."""
    encoded = eio_pkt.encode()
    if isinstance(encoded, str):
        opcode, payload = 0x81, encoded.encode()
    else:
        opcode, payload = 0x82, encoded
    n = len(payload)
    if n < 126:
        header = bytes((opcode, n))
    elif n < 65536:
        header = bytes((opcode, 126)) + n.to_bytes(2, "big")
    else:
        header = bytes((opcode, 127)) + n.to_bytes(8, "big")
    return header + payload


class Corker:
    """Frames written during one pass of the event loop leave as one write per transport.

    A write to a socket is a system call that also runs the receiver's side of the TCP
    stack on loopback; under load many messages for the same client are delivered in the
    same pass (a group commit wakes all their handlers at once), so they are joined and
    written together when the pass ends (``call_soon``: no timer, no added wait). Frames
    of one transport keep their order; ``flush`` must run before anything else writes to
    or closes that transport (LeanSocket does this).
    """

    MAX_FRAMES = 64

    def __init__(self, limit: int = SLOW_CONSUMER_BYTES) -> None:
        self.limit = limit
        self._pending: dict[asyncio.Transport, list[bytes]] = {}
        self._loop: asyncio.AbstractEventLoop | None = None

    def write(self, transport: asyncio.Transport, data: bytes) -> None:
        frames = self._pending.get(transport)
        if frames is not None:
            frames.append(data)
            if len(frames) >= self.MAX_FRAMES:  # bounded: a long pass flushes early
                self.flush(transport)
            return
        if not self._pending:
            loop = self._loop
            if loop is None:
                loop = self._loop = asyncio.get_running_loop()
            loop.call_soon(self.flush_all)
        self._pending[transport] = [data]

    def flush(self, transport: asyncio.Transport) -> None:
        """Write out what is waiting for one transport, now."""
        frames = self._pending.pop(transport, None)
        if frames is not None:
            self._write(transport, frames)

    def flush_all(self) -> None:
        pending, self._pending = self._pending, {}
        for transport, frames in pending.items():
            self._write(transport, frames)

    def _write(self, transport: asyncio.Transport, frames: list[bytes]) -> None:
        if transport.is_closing():
            return
        if transport.get_write_buffer_size() > self.limit:
            log.warning("a client reads too slowly; closing its connection")
            transport.close()
            return
        transport.write(frames[0] if len(frames) == 1 else b"".join(frames))


class FastEmit(socketio.AsyncManager):  # type: ignore[misc]
    """AsyncManager whose callback-less emits go straight onto the sockets' queues."""

    async def emit(
        self,
        event: str,
        data: Any,
        namespace: str,
        room: Any = None,
        skip_sid: Any = None,
        callback: Any = None,
        to: Any = None,
        **kwargs: Any,
    ) -> None:
        room = to or room
        if callback is not None or namespace not in self.rooms:
            await super().emit(
                event, data, namespace, room=room, skip_sid=skip_sid, callback=callback, **kwargs
            )
            return
        if isinstance(data, tuple):
            args = list(data)
        elif data is not None:
            args = [data]
        else:
            args = []
        skip = skip_sid if isinstance(skip_sid, list) else [skip_sid]
        encoded = self.server.packet_class(
            packet.EVENT, namespace=namespace, data=[event, *args]
        ).encode()
        frames = [
            eio_packet.Packet(eio_packet.MESSAGE, p)
            for p in (encoded if isinstance(encoded, list) else [encoded])
        ]
        wire = [ws_frame(frame) for frame in frames]  # built once for every recipient
        eio = self.server.eio
        sockets = eio.sockets
        ping_timeout = eio.ping_timeout
        now = time.time()
        for sid, eio_sid in self.get_participants(namespace, room):
            if sid in skip:
                continue
            sock = sockets.get(eio_sid)
            if sock is None or sock.closed:
                continue
            if sock.last_ping and now - sock.last_ping > ping_timeout:
                for frame in frames:  # let Engine.IO close the silent socket its own way
                    await eio.send_packet(eio_sid, frame)
                continue
            if getattr(sock, "transport", None) is not None:
                for data in wire:
                    sock.write_frame(data)
            else:
                for frame in frames:
                    sock.queue.put_nowait(frame)


class FastRedisEmit(socketio.AsyncRedisManager, FastEmit):  # type: ignore[misc]
    """The Redis pub/sub manager, delivering to local sockets through FastEmit.

    The method order puts FastEmit.emit right under the pub/sub layer, so an emit is
    still published to the other processes and delivered locally without tasks.
    """


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
        try:
            while True:
                try:
                    data = await ws.wait()
                except Exception:  # closed, or not a text/binary frame
                    break
                if data is None or len(data) > limit:
                    break
                try:
                    pkt = eio_packet.Packet(encoded_packet=data)
                except Exception:  # not an Engine.IO packet at all: close this client
                    self.server.logger.info("%s: malformed Engine.IO packet", self.sid)
                    break
                try:
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
        except (ValueError, TypeError, IndexError, KeyError, AttributeError) as exc:
            # the handlers themselves never raise (ChatNamespace.trigger_event guards
            # them), so this is python-socketio failing on the packet itself
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

    async def _handle_eio_connect(self, eio_sid: str, environ: dict[str, Any]) -> Any:
        sock = self.eio.sockets.get(eio_sid)
        if self.lean_sockets and type(sock) is engineio.async_socket.AsyncSocket:
            sock.__class__ = LeanSocket  # the same object, a leaner read loop
        return await super()._handle_eio_connect(eio_sid, environ)


class SafePacket(packet.Packet):  # type: ignore[misc]
    """Socket.IO packets of a protocol without binary data (python-socketio's public
    ``serializer=`` hook, so the stock paths use it too).

    A client's BINARY_EVENT or BINARY_ACK, or any binary frame, is refused as it is
    decoded: python-socketio would otherwise collect the attachments such a packet
    announces in memory, up to a billion of them, until the connection closed
    (docs/security.md). The packet raises ValueError; ChatSocketServer closes its sender.
    """

    def decode(self, encoded_packet: Any) -> Any:
        if not isinstance(encoded_packet, str):
            raise ValueError("binary data is not part of this protocol")
        if encoded_packet[:1] in ("5", "6"):  # BINARY_EVENT, BINARY_ACK
            raise ValueError("binary packets are not part of this protocol")
        return super().decode(encoded_packet)


class TextPacket(SafePacket):
    """SafePacket, without the search for bytes in what the server sends.

    python-socketio walks every outgoing payload to look for bytes (``data_is_binary``):
    for each 1,000-entry ``users`` roster of a connect storm that was about 15% of the
    server's time. This server never sends bytes.
    """

    uses_binary_events = False


class OrjsonCodec:
    """The json module interface python-socketio and python-engineio call, on orjson."""

    @staticmethod
    def dumps(obj: Any, **_: Any) -> str:
        return orjson.dumps(obj).decode()

    @staticmethod
    def loads(text: str | bytes, **_: Any) -> Any:
        return orjson.loads(text)
