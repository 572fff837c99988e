"""create_app(config, store=None): the aiohttp Application with Socket.IO attached."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import time
from typing import Any

import socketio
from aiohttp import web

from chat_server import __version__
from chat_server.config import Config
from chat_server.fanout import (
    ChatSocketServer,
    EngineServer,
    FastEmit,
    FastRedisEmit,
    OrjsonCodec,
    SafePacket,
    TextPacket,
)
from chat_server.guard import ConnectionCap, host_name, is_ip_literal
from chat_server.levers import levers_off
from chat_server.namespace import ChatNamespace
from chat_server.presence import LocalPresence, Presence, RedisPresence
from chat_server.stores import Store, StoreUnavailable, make_store

log = logging.getLogger(__name__)

SIO_KEY = web.AppKey("sio", socketio.AsyncServer)
STORE_KEY = web.AppKey("store", Store)
NAMESPACE_KEY = web.AppKey("namespace", ChatNamespace)
CONFIG_KEY = web.AppKey("config", Config)


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
    if isinstance(sio.eio, EngineServer):
        sio.eio.set_output_limit(config.max_output_buffer)
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
    """Whether the server can serve: 200 ``{"status": "ok"}``, or 503 while the store
    (or shared presence) cannot be reached. With --health-details also the version,
    store kind and counts (who may read them is the operator's choice: see
    docs/security.md)."""
    app = request.app
    namespace = app[NAMESPACE_KEY]
    store = app[STORE_KEY]
    body: dict[str, Any] = {"status": "ok"}
    try:
        online = len(await namespace.presence.online())
        counts = await store.counts()
    except StoreUnavailable as exc:
        body["status"] = "unavailable"
        if app[CONFIG_KEY].health_details:
            body["error"] = str(exc)
        return web.json_response(body, status=503)
    if app[CONFIG_KEY].health_details:
        body.update(
            version=__version__,
            pid=os.getpid(),
            store=store.kind,
            sockets=await namespace.presence.socket_count(),
            online=online,
            **counts,
        )
    return web.json_response(body)


async def watch(
    sio: socketio.AsyncServer, namespace: ChatNamespace, config: Config, every: float = 1.0
) -> None:
    """Upkeep, every second:
    - close Engine.IO connections that never sent a Socket.IO CONNECT (--connect-timeout);
    - every other tick: disconnect the sockets of revoked sessions (``chat-server sessions
      revoke`` runs in another process and only changes the store; a Socket.IO
      disconnect, so clients do not reconnect by themselves); drop users deleted from the
      store and tell this process's clients; forget rate buckets that filled up again."""
    unjoined: dict[str, float] = {}  # Engine.IO sid -> when first seen without a CONNECT
    loop = asyncio.get_running_loop()
    _, cursor = await namespace.store.removed_since(0)
    tick = 0
    while True:
        await asyncio.sleep(every)
        tick += 1
        await close_unjoined(sio, unjoined, loop.time(), config.connect_timeout)
        if tick % 2:
            continue
        for buckets in {id(b): b for b in namespace.limits.values()}.values():
            buckets.prune()
        namespace.addresses.prune()
        try:
            for sid in await namespace.revoked_sids():
                log.info("closing %s: its session was revoked", sid)
                await sio.disconnect(sid)
            removed, cursor = await namespace.store.removed_since(cursor)
            if removed:
                log.info("%d users were deleted", len(removed))
                await namespace.forget_users(removed, sio)
        except StoreUnavailable as exc:
            log.warning("session check skipped: %s", exc)


async def close_unjoined(
    sio: socketio.AsyncServer, unjoined: dict[str, float], now: float, within: float
) -> None:
    """Close Engine.IO connections that have not joined the namespace ``within`` seconds."""
    for eio_sid in list(sio.eio.sockets):
        if sio.manager.sid_from_eio_sid(eio_sid, "/") is not None:
            unjoined.pop(eio_sid, None)
        elif now - unjoined.setdefault(eio_sid, now) >= within:
            log.info("closing %s: no Socket.IO CONNECT within %.0fs", eio_sid, within)
            unjoined.pop(eio_sid, None)
            await sio.eio.disconnect(eio_sid)
    for eio_sid in list(unjoined):
        if eio_sid not in sio.eio.sockets:
            del unjoined[eio_sid]


async def retention_loop(store: Store, every: float = 3600.0) -> None:
    """Apply the store's retention now and then every ``every`` seconds. Any failure
    is logged and retried at the next round: the loop never ends by itself."""
    while True:
        try:
            removed = await store.apply_retention()
            if removed:
                log.info("retention removed %d old messages", removed)
        except StoreUnavailable as exc:
            log.warning("retention skipped: %s", exc)
        except Exception:
            log.exception("retention failed; trying again later")
        await asyncio.sleep(every)


async def prune_idle(namespace: ChatNamespace, cutoff_ms: int) -> int:
    """Delete the users who never exchanged a message and were last seen (or created)
    before ``cutoff_ms``, unless online; the watch loop tells clients. Returns how many."""
    idle = set(await namespace.store.idle_users(cutoff_ms))
    idle -= await namespace.presence.online()
    for user_id in idle:
        await namespace.store.delete_user(user_id)
    return len(idle)


async def prune_loop(namespace: ChatNamespace, days: int, every: float = 3600.0) -> None:
    """--prune-idle-users: prune_idle now and then every ``every`` seconds."""
    while True:
        try:
            cutoff = time.time_ns() // 1_000_000 - days * 86_400_000
            if pruned := await prune_idle(namespace, cutoff):
                log.info("pruned %d users who never wrote and were idle %d days", pruned, days)
        except StoreUnavailable as exc:
            log.warning("pruning skipped: %s", exc)
        except Exception:
            log.exception("pruning failed; trying again later")
        await asyncio.sleep(every)


@web.middleware
async def browser_hosts(request: web.Request, handler: Any) -> web.StreamResponse:
    """Against DNS rebinding: a browser (a request with an Origin) must name this server
    by an IP address or an allowed host name (--allowed-hosts), else a page of
    evil.example could make evil.example resolve to this server and pass the same-origin
    check with its own Host."""
    allowed = request.app[CONFIG_KEY].allowed_host_names
    if allowed is not None and "Origin" in request.headers:
        host = request.headers.get("Host", "")
        if not is_ip_literal(host) and host_name(host) not in allowed:
            log.info("refused a browser request for host %.64r", host)
            raise web.HTTPForbidden(text="unknown host")
    response: web.StreamResponse = await handler(request)
    return response


async def server_header(_request: web.Request, response: web.StreamResponse) -> None:
    """Name the program, not the versions of aiohttp and Python."""
    response.headers["Server"] = "chat-server"


async def start_runner(app: web.Application) -> web.AppRunner:
    """The runner every server uses (the CLI and the tests): aiohttp cancels a handler
    whose client went away, so a dropped long-poll is noticed at once; a connection gets
    --header-timeout to send a request; at most --max-connections-per-ip per address."""
    config = app[CONFIG_KEY]
    runner = web.AppRunner(
        app,
        handle_signals=False,
        access_log=None,
        handler_cancellation=True,
        keepalive_timeout=config.header_timeout,
    )
    await runner.setup()
    if not config.trust_forwarded_for:
        ConnectionCap(config.max_connections_per_ip).install(runner)
    return runner


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

    app = web.Application(middlewares=[browser_hosts])
    app[SIO_KEY] = sio
    app[STORE_KEY] = store
    app[NAMESPACE_KEY] = namespace
    app[CONFIG_KEY] = config
    sio.attach(app)
    app.router.add_get("/healthz", healthz)
    app.on_response_prepare.append(server_header)

    tasks: list[asyncio.Task[None]] = []

    async def open_store(_app: web.Application) -> None:
        await store.open()
        await presence.start(namespace.announce_offline)
        tasks.append(asyncio.create_task(watch(sio, namespace, config)))
        if config.retention:
            tasks.append(asyncio.create_task(retention_loop(store)))
        if config.prune_idle_users:
            tasks.append(asyncio.create_task(prune_loop(namespace, config.prune_idle_users)))

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
