"""create_app(config, store=None): the aiohttp Application with Socket.IO attached."""

from __future__ import annotations

import asyncio
import logging
import os
from collections.abc import AsyncIterator
from typing import Any

import socketio
from aiohttp import web

from chat_server import __version__
from chat_server.config import Config
from chat_server.guard import ConnectionCap, host_name, is_ip_literal
from chat_server.namespace import ChatNamespace
from chat_server.presence import LocalPresence, Presence, RedisPresence
from chat_server.stores import Store, StoreUnavailable, make_store
from chat_server.tasks import cancel_and_wait
from chat_server.transport import create_sio, drop_transports, stop_bus
from chat_server.upkeep import loops, supervise

log = logging.getLogger(__name__)

SIO_KEY = web.AppKey("sio", socketio.AsyncServer)
STORE_KEY = web.AppKey("store", Store)
NAMESPACE_KEY = web.AppKey("namespace", ChatNamespace)
CONFIG_KEY = web.AppKey("config", Config)


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
    if config.metrics:
        from chat_server.metrics import Metrics  # prometheus-client loads only when asked

        metrics = Metrics(namespace)
        namespace.measure(metrics)
        app.router.add_get("/metrics", metrics.handler)
    app.on_response_prepare.append(server_header)

    async def store_presence_and_loops(_app: web.Application) -> AsyncIterator[None]:
        """Open the store and presence and start the loops (upkeep.py); on clean-up, stop
        the loops, then presence, then the store, whatever happened in between."""
        await store.open()
        try:
            await presence.start(namespace.announce_offline)
            tasks = [
                asyncio.create_task(supervise(name, run), name=name)
                for name, run in loops(sio, namespace, config).items()
            ]
            yield
            await cancel_and_wait(tasks)
            await presence.stop()
        finally:
            await store.close()

    async def close_connections(_app: web.Application) -> None:
        namespace.shutting_down = True
        await drop_transports(sio)
        await sio.shutdown()
        await namespace.goodbyes_done()  # before the bus and the store close
        await stop_bus(sio)

    app.cleanup_ctx.append(store_presence_and_loops)
    app.on_shutdown.append(close_connections)
    return app
