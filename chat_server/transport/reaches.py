"""Every place chat-server relies on a library's internals, with what it buys and a canary.

A reach is anything a library does not promise: an overridden or called private method, a
private attribute, a class swapped on a live object, or a copy of library code. Each is
listed here with the version it was checked against and a canary: a quick check that the
library still looks the way the reach assumes. tests/server/test_reaches.py runs every
canary, so a library upgrade that breaks a reach fails with a message naming it, instead
of as a mystery somewhere in the protocol suite. The fallback is ``--stock-transport``
(server.py): the libraries as shipped, through public hooks only.

The pins in pyproject.toml (compatible releases, ``~=``) keep the versions these were
checked against.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from dataclasses import dataclass
from importlib.metadata import version
from typing import Final

import aiohttp.web
import engineio
import engineio.async_socket
import socketio
from engineio.async_drivers import aiohttp as engineio_aiohttp


@dataclass(frozen=True)
class Reach:
    """One reliance on a library's internals."""

    name: str
    library: str  # the distribution reached into
    checked: str  # the version it was checked against
    buys: str  # what it is for, and where the figure or the test is
    canary: Callable[[], str | None]  # None when the library still looks as assumed


def _params(func: object, *names: str) -> str | None:
    """None when ``func`` exists and takes these parameters (after self), in order."""
    if not callable(func):
        return "is gone"
    found = [p for p in inspect.signature(func).parameters if p != "self"]
    if found[: len(names)] != list(names):
        return f"takes {found}, expected {list(names)}"
    return None


def _has(obj: object, *attrs: str) -> str | None:
    missing = [a for a in attrs if not hasattr(obj, a)]
    return f"has no {', '.join(missing)}" if missing else None


def _sets(cls: type, *attrs: str) -> str | None:
    """None when the class's code assigns these attributes on self."""
    source = "".join(inspect.getsource(c) for c in cls.__mro__ if c is not object)
    missing = [a for a in attrs if f"self.{a} =" not in source]
    return f"no longer sets {', '.join(missing)}" if missing else None


def _socket_queue_from_server() -> str | None:
    """AsyncSocket takes its queue from server.create_queue() (OutputQueue relies on it)."""
    marker = object()

    class Server:
        def create_queue(self) -> object:
            return marker

    sock = engineio.async_socket.AsyncSocket(Server(), "canary")
    return None if sock.queue is marker else "no longer asks server.create_queue() for its queue"


def _aiohttp_ws_writer() -> str | None:
    """WebSocketResponse keeps its writer as ``_writer`` (LeanSocket writes frames to its
    transport)."""
    slots = getattr(aiohttp.web.WebSocketResponse, "__slots__", ())
    names = set(slots) | set(vars(aiohttp.web.WebSocketResponse))
    return None if "_writer" in names else "WebSocketResponse has no _writer"


def _take_event_canary() -> str | None:
    """What take_event stands in for still does only that."""
    receive = inspect.getsource(engineio.async_socket.AsyncSocket.receive)
    message = inspect.getsource(socketio.AsyncServer._handle_eio_message)
    event = inspect.getsource(socketio.AsyncServer._handle_event)
    if "'message', self.sid, pkt.data" not in receive or "last_ping" in receive:
        return "AsyncSocket.receive no longer only triggers 'message' for a MESSAGE"
    if "await self._handle_event(eio_sid, pkt.namespace, pkt.id," not in message:
        return "_handle_eio_message no longer hands an EVENT to _handle_event"
    wanted = (
        "sid_from_eio_sid(eio_sid, namespace)",
        "is_connected(sid, namespace)",
        "await self._handle_event_internal(self, sid, eio_sid, data,",
    )
    if any(step not in event for step in wanted):
        return "_handle_event no longer looks up, checks and calls _handle_event_internal"
    # what take_event takes, python-socketio's packet decodes the same way
    from socketio import packet

    from chat_server.transport.engine import parse_event
    from chat_server.transport.hooks import OrjsonCodec

    for text in TAKEN_SAMPLES:
        taken = parse_event(text, OrjsonCodec.loads)
        pkt = packet.Packet(encoded_packet=text[1:])
        if taken is None or (pkt.packet_type, pkt.namespace or "/", pkt.id, pkt.data) != (
            packet.EVENT,
            "/",
            *taken,
        ):
            return f"python-socketio decodes {text!r} otherwise than take_event"
    return _has(socketio.AsyncServer(json=None).packet_class, "json")


# event packets take_event handles itself (engine.parse_event)
TAKEN_SAMPLES: Final = (
    '42["private message",{"content":"hi","to":"x"}]',
    '420["history",{"with":"x","before":12}]',
    '42007["read",{"from":"x","upTo":9}]',
    '42123456789012345["typing",{"to":"x"}]',
    '42["directory",{"prefix":"b"},"extra",1] ',
    '42["a",[1,{"b":null}],-2.5e3,"\\u00e9\u00e9"]',
)


SIO, EIO, AIO = "python-socketio", "python-engineio", "aiohttp"
_SIO_V, _EIO_V, _AIO_V = "5.18.1", "4.15.1", "3.14.5"
_Server = socketio.AsyncServer
_Socket = engineio.async_socket.AsyncSocket

REACHES: list[Reach] = [
    Reach(
        "socketio.AsyncServer._engineio_server_class()",
        SIO,
        _SIO_V,
        "makes python-socketio use EngineServer (everything below on the Engine.IO side)",
        lambda: _params(_Server._engineio_server_class),
    ),
    Reach(
        "socketio.AsyncServer._handle_eio_connect(eio_sid, environ) and the class swap "
        "of its AsyncSocket to LeanSocket",
        SIO,
        _SIO_V,
        "the lean websocket read loop: -12% CPU per message (docs/performance.md)",
        lambda: _params(_Server._handle_eio_connect, "eio_sid", "environ"),
    ),
    Reach(
        "engineio.async_socket.AsyncSocket._websocket_handler(ws)",
        EIO,
        _EIO_V,
        "LeanSocket's read loop: no task and wait_for per received packet",
        lambda: _params(_Socket._websocket_handler, "ws"),
    ),
    Reach(
        "engineio AsyncSocket attributes queue, closed, last_ping, upgraded, connected, "
        "and close(wait, abort, reason), send(pkt), handle_post_request(environ)",
        EIO,
        _EIO_V,
        "LeanSocket, FastEmit, drop_transports; a malformed long-polling body closes its "
        "socket (docs/security.md)",
        lambda: (
            _params(_Socket.close, "wait", "abort", "reason")
            or _params(_Socket.send, "pkt")
            or _params(_Socket.handle_post_request, "environ")
        ),
    ),
    Reach(
        "engineio.AsyncServer._async['websocket'] (the driver's table)",
        EIO,
        _EIO_V,
        "PlainWebSocket, websockets without permessage-deflate: storm RSS 315 -> 86 MB, "
        "+14% messages/s (docs/performance.md)",
        lambda: (
            _has(engineio_aiohttp, "WebSocket")
            or (None if "websocket" in engineio_aiohttp._async else "no websocket driver")
        ),
    ),
    Reach(
        "aiohttp WebSocketResponse._writer.transport",
        AIO,
        _AIO_V,
        "LeanSocket writes finished frames to the transport; Corker joins a loop pass's "
        "frames in one write (-6% CPU)",
        _aiohttp_ws_writer,
    ),
    Reach(
        "engineio AsyncSocket gets its queue from AsyncServer.create_queue()",
        EIO,
        _EIO_V,
        "OutputQueue bounds long-polling output in bytes (docs/security.md, attack 2)",
        _socket_queue_from_server,
    ),
    Reach(
        "socketio.AsyncServer._handle_eio_message(eio_sid, data)",
        SIO,
        _SIO_V,
        "a client whose packet python-socketio cannot handle (SafePacket's refusal of "
        "binary data among them) is closed instead of left waiting (docs/security.md)",
        lambda: _params(_Server._handle_eio_message, "eio_sid", "data"),
    ),
    Reach(
        "socketio.AsyncServer._handle_event_internal(server, sid, eio_sid, data, namespace, id)",
        SIO,
        _SIO_V,
        "limits.ACK_WANTED: flood control answers an acked event 'rate limited' and holds "
        "an unacked one back",
        lambda: _params(
            _Server._handle_event_internal, "server", "sid", "eio_sid", "data", "namespace", "id"
        ),
    ),
    Reach(
        "ChatSocketServer.take_event does for an event packet what python-engineio's "
        "AsyncSocket.receive and python-socketio's _handle_eio_message and _handle_event "
        "do with async_handlers=False: manager.sid_from_eio_sid, manager.is_connected, "
        "then _handle_event_internal(server, sid, eio_sid, data, namespace, id); "
        "packet_class.json decodes",
        SIO,
        _SIO_V,
        "event packets skip two packet objects and four dispatch layers (docs/performance.md)",
        _take_event_canary,
    ),
    Reach(
        "socketio.AsyncManager.emit(event, data, namespace, room, skip_sid, callback, to) "
        "copied by FastEmit, with rooms, get_participants and server.packet_class",
        SIO,
        _SIO_V,
        "broadcasts without a task per recipient: +9% messages/s, storm p99 82 -> 49 ms "
        "(docs/performance.md)",
        lambda: (
            _params(
                socketio.AsyncManager.emit,
                "event",
                "data",
                "namespace",
                "room",
                "skip_sid",
                "callback",
                "to",
            )
            or _has(socketio.AsyncManager(), "rooms", "get_participants")
        ),
    ),
    Reach(
        "socketio.AsyncRedisManager attributes thread, pubsub, redis",
        SIO,
        _SIO_V,
        "stop_bus: the Redis listener and its connections are closed on shutdown; the bus"
        " probe (metrics.BusProbe) closes its publisher's connection",
        lambda: _sets(socketio.AsyncRedisManager, "thread", "pubsub", "redis"),
    ),
    Reach(
        "socketio.AsyncRedisManager hooks _publish(data), _listen(), "
        "_redis_listen_with_retries(), _redis_connect() and attributes host_id, pubsub, "
        "redis; AsyncPubSubManager._thread dispatches what _listen() yields; "
        "AsyncManager.basic_leave_room(sid, namespace, room)",
        SIO,
        _SIO_V,
        "bus.RoutedRedisEmit: each event only to the processes holding its recipients, "
        "published in one pipeline per loop pass (docs/scaling.md, docs/performance.md)",
        lambda: (
            _params(socketio.AsyncRedisManager._publish, "data")
            or _params(socketio.AsyncManager.basic_leave_room, "sid", "namespace", "room")
            or _has(
                socketio.AsyncRedisManager,
                "_listen",
                "_redis_listen_with_retries",
                "_redis_connect",
            )
            or _sets(socketio.AsyncRedisManager, "host_id", "pubsub", "redis")
            or (
                None
                if "self._listen()" in inspect.getsource(socketio.AsyncRedisManager._thread)
                else "_thread no longer reads _listen()"
            )
        ),
    ),
    Reach(
        "python-socketio calls a namespace's connect and disconnect handlers while "
        "manager.is_connected(sid) is false (pending_connect, pre_disconnect)",
        SIO,
        _SIO_V,
        "ChatNamespace.lifecycle: 'connect' or 'disconnect' sent as events by a client "
        "are not taken for the server's own calls (docs/security.md)",
        lambda: (
            None
            if "pre_disconnect" in inspect.getsource(_Server._handle_disconnect)
            else "_handle_disconnect no longer marks the socket before calling the handler"
        ),
    ),
    Reach(
        "aiohttp web.Server.connection_made(handler, transport), connection_lost(handler, exc)",
        AIO,
        _AIO_V,
        "guard.ConnectionCap: at most --max-connections-per-ip per address",
        lambda: (
            _params(aiohttp.web.Server.connection_made, "handler", "transport")
            or _params(aiohttp.web.Server.connection_lost, "handler", "exc")
        ),
    ),
    Reach(
        "python-engineio's aiohttp driver puts the request in environ['aiohttp.request']",
        EIO,
        _EIO_V,
        "guard.client_address: the client's address (the driver's REMOTE_ADDR is always 127.0.0.1)",
        lambda: (
            None
            if "aiohttp.request" in inspect.getsource(engineio_aiohttp.translate_request)
            else "translate_request no longer keeps the request"
        ),
    ),
]


def installed(library: str) -> str:
    return version(library)
