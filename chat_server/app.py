"""create_app(config, store=None): the aiohttp Application with Socket.IO attached."""

from __future__ import annotations

import logging
from typing import Any

import socketio
from aiohttp import web

from chat_server import __version__
from chat_server.config import Config
from chat_server.namespace import ChatNamespace
from chat_server.presence import LocalPresence, Presence
from chat_server.stores import Store, make_store

log = logging.getLogger(__name__)

SIO_KEY = web.AppKey("sio", socketio.AsyncServer)
STORE_KEY = web.AppKey("store", Store)
NAMESPACE_KEY = web.AppKey("namespace", ChatNamespace)
CONFIG_KEY = web.AppKey("config", Config)


def create_sio(config: Config) -> socketio.AsyncServer:
    """The Socket.IO server with the settings the protocol relies on."""
    return socketio.AsyncServer(
        async_mode="aiohttp",
        # events of one connection are awaited in order (see namespace.py)
        async_handlers=False,
        max_http_buffer_size=config.max_payload,
        # same-origin only: browsers from other origins are refused until configured
        cors_allowed_origins=None,
        # keep python-socketio's own loggers quiet: at debug level they would print
        # handshake payloads, and those carry sessionIDs
        logger=False,
        engineio_logger=False,
    )


async def drop_transports(sio: socketio.AsyncServer) -> None:
    """Close every client's transport without an Engine.IO CLOSE packet.

    Clients then see what a crash looks like, a dropped connection, and reconnect by
    themselves; after a CLOSE packet (or a Socket.IO disconnect) the python-socketio and
    JavaScript clients give up instead. Relies on python-engineio's socket internals
    (``close(abort=True)`` and the writer's ``None`` sentinel): pinned in pyproject.toml,
    covered by tests/server/test_lifecycle.py.
    """
    for sock in list(sio.eio.sockets.values()):
        await sock.close(wait=False, abort=True)
        sock.queue.put_nowait(None)  # the writer task exits and closes the websocket
    sio.eio.sockets.clear()


async def healthz(request: web.Request) -> web.Response:
    """Liveness and a few figures: version, store kind, sockets, users."""
    app = request.app
    namespace = app[NAMESPACE_KEY]
    store = app[STORE_KEY]
    body: dict[str, Any] = {
        "status": "ok",
        "version": __version__,
        "store": store.kind,
        "sockets": await namespace.presence.socket_count(),
        "online": len(await namespace.presence.online()),
    }
    body.update(await store.counts())
    return web.json_response(body)


def create_app(
    config: Config, store: Store | None = None, presence: Presence | None = None
) -> web.Application:
    """Build the application. The store is opened on start-up and closed on clean-up."""
    store = store if store is not None else make_store(config.store)
    presence = presence if presence is not None else LocalPresence()
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

    async def open_store(_app: web.Application) -> None:
        await store.open()

    async def close_connections(_app: web.Application) -> None:
        namespace.shutting_down = True
        await drop_transports(sio)
        await sio.shutdown()

    async def close_store(_app: web.Application) -> None:
        await store.close()

    app.on_startup.append(open_store)
    app.on_shutdown.append(close_connections)
    app.on_cleanup.append(close_store)
    return app
