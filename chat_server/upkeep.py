"""The server's background work: the watch loop (unjoined connections, revoked sessions,
deleted users, stock output bounds), retention, pruning and the bus probe (--metrics).
Each loop runs supervised: an unexpected error is logged and the loop starts again, it
never ends the loop for the life of the process."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable

import socketio

from chat_server.config import Config
from chat_server.namespace import ChatNamespace
from chat_server.stores import Store, StoreUnavailable
from chat_server.transport import is_stock, stock_output_sweep
from chat_server.transport.emit import FastRedisEmit

log = logging.getLogger(__name__)


async def supervise(name: str, run: Callable[[], Awaitable[None]], pause: float = 1.0) -> None:
    """Run a loop for the life of the server: restart it after any unexpected error."""
    while True:
        try:
            await run()
            return
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("%s failed; starting it again in %.0f s", name, pause)
            await asyncio.sleep(pause)


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
        if is_stock(sio):  # the lean build bounds output as it is queued
            await stock_output_sweep(sio, config.max_output_buffer)
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
    """Apply the store's retention now and then every ``every`` seconds. A store that
    cannot be reached skips a round; the loop never ends by itself."""
    while True:
        try:
            removed = await store.apply_retention()
            if removed:
                log.info("retention removed %d old messages", removed)
        except StoreUnavailable as exc:
            log.warning("retention skipped: %s", exc)
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
        await asyncio.sleep(every)


def loops(
    sio: socketio.AsyncServer, namespace: ChatNamespace, config: Config
) -> dict[str, Callable[[], Awaitable[None]]]:
    """The loops a server runs, by name."""
    run: dict[str, Callable[[], Awaitable[None]]] = {
        "the watch loop": lambda: watch(sio, namespace, config)
    }
    if config.retention:
        run["retention"] = lambda: retention_loop(namespace.store)
    if config.prune_idle_users:
        run["pruning"] = lambda: prune_loop(namespace, config.prune_idle_users)
    if namespace.metrics is not None and config.bus_url and isinstance(sio.manager, FastRedisEmit):
        from chat_server.metrics import BusProbe  # prometheus-client: only with --metrics

        run["the bus probe"] = BusProbe(namespace.metrics, sio.manager, config.bus_url).run
    return run
