"""create_app(config, store=None): the aiohttp Application with Socket.IO attached."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
from typing import Any

import socketio
from aiohttp import web

from chat_server import __version__
from chat_server.config import Config
from chat_server.fanout import (
    ChatSocketServer,
    FastEmit,
    FastRedisEmit,
    OrjsonCodec,
    TextPacket,
)
from chat_server.namespace import ChatNamespace
from chat_server.presence import LocalPresence, Presence, RedisPresence
from chat_server.stores import Store, StoreUnavailable, make_store

log = logging.getLogger(__name__)

SIO_KEY = web.AppKey("sio", socketio.AsyncServer)
STORE_KEY = web.AppKey("store", Store)
NAMESPACE_KEY = web.AppKey("namespace", ChatNamespace)
CONFIG_KEY = web.AppKey("config", Config)


def levers_off() -> set[str]:
    """Speed levers turned off for an A/B measurement (docs/performance.md):
    CHAT_SERVER_BENCH_OFF=fanout,compression,orjson,uvloop,gc,switch,leanread,textpacket.
    Empty in normal use."""
    return {x.strip() for x in os.environ.get("CHAT_SERVER_BENCH_OFF", "").split(",") if x}


def create_sio(config: Config) -> socketio.AsyncServer:
    """The Socket.IO server with the settings the protocol relies on. With a bus URL,
    emits reach the sockets of every process through Redis pub/sub."""
    off = levers_off()
    json_codec = None if "orjson" in off else OrjsonCodec
    manager: socketio.AsyncManager
    if config.bus_url is not None:
        kind = socketio.AsyncRedisManager if "fanout" in off else FastRedisEmit
        manager = kind(config.bus_url, channel="chat-server", json=json_codec)
    else:
        manager = socketio.AsyncManager() if "fanout" in off else FastEmit()
    server_class = socketio.AsyncServer if "compression" in off else ChatSocketServer
    sio: socketio.AsyncServer = server_class(
        client_manager=manager,
        # our own packet class: the json hook then stays off python-socketio's global one
        serializer=socketio.packet.Packet if "textpacket" in off else TextPacket,
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
    return sio


async def drop_transports(sio: socketio.AsyncServer) -> None:
    """Close every client's transport without an Engine.IO CLOSE packet.

    Clients then see what a crash looks like, a dropped connection, and reconnect by
    themselves; after a CLOSE packet (or a Socket.IO disconnect) the python-socketio and
    JavaScript clients give up instead. Relies on python-engineio's socket internals
    (``close(abort=True)`` and the writer's ``None`` sentinel; fanout.LeanSocket closes
    its transport on an abort): pinned in pyproject.toml, covered by
    ``test_a_server_restart_is_survived_by_reconnecting_clients`` and tests/server/test_cli.py.
    """
    for sock in list(sio.eio.sockets.values()):
        await sock.close(wait=False, abort=True)
        sock.queue.put_nowait(None)  # a library socket's writer task exits and closes
    sio.eio.sockets.clear()


async def stop_bus(sio: socketio.AsyncServer) -> None:
    """Stop the Redis manager's listener task and close its connections (python-socketio
    leaves both running after shutdown). Bounded: redis-py can swallow a cancellation
    while it reads, so the connections are closed to break the read, and shutdown never
    waits more than a few seconds here."""
    manager = sio.manager
    task = getattr(manager, "thread", None)
    clients = [getattr(manager, "pubsub", None), getattr(manager, "redis", None)]
    if isinstance(task, asyncio.Task) and not task.done():
        task.cancel()
        await asyncio.wait([task], timeout=1)
    for client in clients:
        if client is not None:
            with contextlib.suppress(Exception):
                await client.aclose()
    if isinstance(task, asyncio.Task) and not task.done():
        task.cancel()
        await asyncio.wait([task], timeout=2)
        if not task.done():
            log.warning("the Redis bus listener did not stop")


async def healthz(request: web.Request) -> web.Response:
    """Health and a few figures: version, store kind, sockets, users. 503 while the
    store (or shared presence) cannot be reached."""
    app = request.app
    namespace = app[NAMESPACE_KEY]
    store = app[STORE_KEY]
    body: dict[str, Any] = {
        "status": "ok",
        "version": __version__,
        "pid": os.getpid(),
        "store": store.kind,
        "sockets": await namespace.presence.socket_count(),
    }
    try:
        body["online"] = len(await namespace.presence.online())
        body.update(await store.counts())
    except StoreUnavailable as exc:
        body.update(status="unavailable", error=str(exc))
        return web.json_response(body, status=503)
    return web.json_response(body)


async def session_watch(
    sio: socketio.AsyncServer, namespace: ChatNamespace, every: float = 2.0
) -> None:
    """Disconnect the sockets of revoked sessions (``chat-server sessions revoke`` runs in
    another process and only changes the store). A Socket.IO disconnect: clients do not
    reconnect by themselves, and a new attempt with the old sessionID is refused. The
    same tick forgets rate buckets that have filled up again (limits.py)."""
    while True:
        await asyncio.sleep(every)
        for buckets in namespace.limits.values():
            buckets.prune()
        try:
            for sid in await namespace.revoked_sids():
                log.info("closing %s: its session was revoked", sid)
                await sio.disconnect(sid)
        except StoreUnavailable as exc:
            log.warning("session check skipped: %s", exc)


async def retention_loop(store: Store, every: float = 3600.0) -> None:
    """Apply the store's retention now and then every ``every`` seconds."""
    while True:
        try:
            removed = await store.apply_retention()
            if removed:
                log.info("retention removed %d old messages", removed)
        except StoreUnavailable as exc:
            log.warning("retention skipped: %s", exc)
        await asyncio.sleep(every)


def create_app(
    config: Config, store: Store | None = None, presence: Presence | None = None
) -> web.Application:
    """Build the application. The store is opened on start-up and closed on clean-up."""
    store = store if store is not None else make_store(config.store, config.retention)
    if presence is None:
        presence = RedisPresence(config.bus_url) if config.bus_url else LocalPresence()
    sio = create_sio(config)
    namespace = ChatNamespace(config, store, presence)
    sio.register_namespace(namespace)

    app = web.Application()
    app[SIO_KEY] = sio
    app[STORE_KEY] = store
    app[NAMESPACE_KEY] = namespace
    app[CONFIG_KEY] = config
    sio.attach(app)
    app.router.add_get("/healthz", healthz)

    tasks: list[asyncio.Task[None]] = []

    async def open_store(_app: web.Application) -> None:
        await store.open()
        await presence.start(namespace.announce_offline)
        tasks.append(asyncio.create_task(session_watch(sio, namespace)))
        if config.retention:
            tasks.append(asyncio.create_task(retention_loop(store)))

    async def close_connections(_app: web.Application) -> None:
        namespace.shutting_down = True
        await drop_transports(sio)
        await sio.shutdown()
        await stop_bus(sio)

    async def close_store(_app: web.Application) -> None:
        for task in tasks:
            task.cancel()
        await presence.stop()
        await store.close()

    app.on_startup.append(open_store)
    app.on_shutdown.append(close_connections)
    app.on_cleanup.append(close_store)
    return app
