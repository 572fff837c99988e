"""The Socket.IO server chat-server runs on, and its upkeep and shutdown.

Two builds. The default swaps in the pieces of this package that reach into the
libraries (reaches.py lists each: what it buys, the version it was checked against, the
canary test). ``--stock-transport`` runs python-socketio and python-engineio as shipped,
configured only through their public hooks (serializer, json codec, options): the
fallback when a library upgrade breaks a reach. What the stock build does differently:

- broadcasts make a task per recipient, websockets negotiate permessage-deflate and read
  with a task per packet (slower: docs/performance.md);
- output waiting for a client is bounded by a once-a-second sweep of its queue's length
  (stock_output_sweep) instead of by bytes as it is queued;
- a client whose packet cannot be handled, or whose long-polling body is malformed, is
  left to its ping timeout instead of being closed at once, and a long-polling request
  whose client is gone may wait for it;
- flood control cannot tell acked events from others: an event over the rate always
  waits for its token (nothing refused, nothing lost).
"""

from __future__ import annotations

import asyncio
import logging

import socketio

from chat_server.config import Config
from chat_server.levers import levers_off
from chat_server.tasks import cancel_and_wait
from chat_server.tokens import is_user_id
from chat_server.transport.bus import RoutedRedisEmit
from chat_server.transport.emit import FastEmit, FastRedisEmit
from chat_server.transport.engine import ChatSocketServer, EngineServer
from chat_server.transport.hooks import OrjsonCodec, SafePacket, TextPacket

log = logging.getLogger(__name__)

# the stock build bounds a socket's queue by packets: a message is at most 24 KB in JSON
STOCK_PACKET_BYTES = 1024
# the Redis pub/sub channel of the bus (bus.py adds one per user: "chat-server#<userID>")
BUS = "chat-server"


def create_sio(config: Config) -> socketio.AsyncServer:
    """The Socket.IO server with the settings the protocol relies on. With a bus URL,
    emits reach the sockets of every process through Redis pub/sub."""
    off = levers_off()
    if config.stock_transport:
        off |= {"fanout", "compression", "leanread", "takeevent"}
    json_codec = None if "orjson" in off else OrjsonCodec
    manager: socketio.AsyncManager
    if config.bus_url is not None:
        if "fanout" in off:
            manager = socketio.AsyncRedisManager(config.bus_url, channel=BUS, json=json_codec)
        elif "routing" in off:
            manager = FastRedisEmit(config.bus_url, channel=BUS, json=json_codec)
        else:
            manager = RoutedRedisEmit(config.bus_url, BUS, json_codec, routable=is_user_id)
    else:
        manager = socketio.AsyncManager() if "fanout" in off else FastEmit()
    server_class = socketio.AsyncServer if "compression" in off else ChatSocketServer
    sio: socketio.AsyncServer = server_class(
        client_manager=manager,
        # our own packet class: it refuses binary packets, and the json hook then stays
        # off python-socketio's global one
        serializer=SafePacket if "textpacket" in off else TextPacket,
        json=json_codec,
        async_mode="aiohttp",
        # events of one connection are awaited in order (see namespace.py)
        async_handlers=False,
        max_http_buffer_size=config.max_payload,
        # browsers from other origins are refused unless --cors-origin names them
        cors_allowed_origins=config.cors_origins,
        # keep python-socketio's own loggers quiet: at debug level they would print
        # handshake payloads, and those carry sessionIDs
        logger=False,
        engineio_logger=False,
    )
    if isinstance(sio, ChatSocketServer):
        sio.lean_sockets = "leanread" not in off
        if "takeevent" not in off:
            sio.take_events()
    if isinstance(sio.eio, EngineServer):
        sio.eio.set_output_limit(config.max_output_buffer)
    return sio


def is_stock(sio: socketio.AsyncServer) -> bool:
    return not isinstance(sio.eio, EngineServer)


async def stock_output_sweep(sio: socketio.AsyncServer, limit_bytes: int) -> int:
    """The stock build's bound on output: close the sockets with more packets waiting
    than ``limit_bytes`` allows (a packet counted as STOCK_PACKET_BYTES). Returns how
    many were closed."""
    most = max(1, limit_bytes // STOCK_PACKET_BYTES)
    cut = 0
    for sid, sock in list(sio.eio.sockets.items()):
        queue = getattr(sock, "queue", None)
        if queue is not None and queue.qsize() > most:
            log.warning("a client reads too slowly; closing its connection")
            await sock.close(wait=False, abort=True)
            queue.put_nowait(None)
            sio.eio.sockets.pop(sid, None)
            cut += 1
    return cut


async def drop_transports(sio: socketio.AsyncServer) -> None:
    """Close every client's transport without an Engine.IO CLOSE packet.

    Clients then see what a crash looks like, a dropped connection, and reconnect by
    themselves; after a CLOSE packet (or a Socket.IO disconnect) the python-socketio and
    JavaScript clients give up instead. A reach (reaches.py): python-engineio's
    ``close(abort=True)`` and its writer's ``None`` sentinel.
    """
    for sock in list(sio.eio.sockets.values()):
        await sock.close(wait=False, abort=True)
        sock.queue.put_nowait(None)  # a library socket's writer task exits and closes
    sio.eio.sockets.clear()


async def stop_bus(sio: socketio.AsyncServer) -> None:
    """Stop the Redis manager's listener task and close its connections (python-socketio
    leaves both running after shutdown; a reach, reaches.py). Bounded: redis-py can
    swallow a cancellation (tasks.py), so the listener is cancelled until it ends and its
    connections are closed to break a read; shutdown never waits more than a few
    seconds here."""
    manager = sio.manager
    if isinstance(manager, RoutedRedisEmit):
        await manager.stop()  # what was emitted before the shutdown still goes out
    task = getattr(manager, "thread", None)
    clients = [getattr(manager, "pubsub", None), getattr(manager, "redis", None)]
    if isinstance(task, asyncio.Task):  # a listener stuck in a read may not stop yet
        await cancel_and_wait([task], within=1, warn=False)
    for client in clients:
        if client is not None:
            # bounded too: a pub/sub's aclose waits for a lock that a listener stuck in a
            # read still holds (a teardown once hung here for minutes)
            closing = asyncio.ensure_future(client.aclose())
            await asyncio.wait([closing], timeout=2)
            if not closing.done():
                closing.cancel()
            elif not closing.cancelled():
                closing.exception()  # retrieved: a failed close is not worth a warning
    if isinstance(task, asyncio.Task):
        await cancel_and_wait([task], within=2)
