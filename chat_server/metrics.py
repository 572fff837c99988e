"""``--metrics``: Prometheus metrics on ``/metrics`` (the maintained prometheus-client
package), off by default.

What is counted: connections and online users (read when scraped), messages stored and
delivered, events refused by reason (``rate limited`` among them), how long the store
takes to save a message and how long the message path takes (a ``private message`` from
its arrival to its acknowledgement), as histograms, and with a Redis bus how long an event
takes to cross it (BusProbe). With --workers each process keeps its own figures: scrape
each (they are per process, as Prometheus expects).

Off, nothing of this runs: the handlers test one attribute and go on. The figures hold
no user's data (no userID, no text); who may read them is the operator's choice: the
endpoint is on the server's own port, so keep it off the public side of a reverse proxy
(docs/deploy.md forwards only /socket.io/ and /healthz).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import secrets
import time
from typing import TYPE_CHECKING, Any, Final

import socketio
from aiohttp import web
from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram
from prometheus_client.exposition import CONTENT_TYPE_LATEST, generate_latest

from chat_server.stores import StoreUnavailable
from chat_server.transport.emit import PROBE_NAMESPACE, FastRedisEmit
from chat_server.transport.hooks import OrjsonCodec

if TYPE_CHECKING:
    from chat_server.namespace import ChatNamespace

# seconds: from a fraction of a millisecond (a group commit) to a stalled store
BUCKETS: Final = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5)


class Metrics:
    """One process's figures, in a registry of its own (several servers in one process,
    as in the tests, do not mix theirs)."""

    def __init__(self, namespace: ChatNamespace) -> None:
        self.namespace = namespace
        self.registry = CollectorRegistry()
        r = self.registry
        self.connections = Gauge("chat_connections", "open Socket.IO connections", registry=r)
        self.online = Gauge("chat_online_users", "users with at least one connection", registry=r)
        self.stored = Counter("chat_messages_stored", "private messages stored", registry=r)
        self.delivered = Counter(
            "chat_messages_delivered",
            "copies of stored messages sent on: one to the recipient's connections, one to"
            " the sender's other connections",
            registry=r,
        )
        self.refused = Counter(
            "chat_events_refused",
            "client events answered with an error, by event and reason",
            ["event", "reason"],
            registry=r,
        )
        self.save_seconds = Histogram(
            "chat_store_save_seconds",
            "time the store takes to save (commit) one message",
            buckets=BUCKETS,
            registry=r,
        )
        self.message_seconds = Histogram(
            "chat_message_path_seconds",
            "a private message from its arrival to its acknowledgement",
            buckets=BUCKETS,
            registry=r,
        )
        if namespace.config.bus_url is not None:
            self.bus_lag = Histogram(
                "chat_bus_lag_seconds",
                "a probe published on the Redis bus until this process's listener handles"
                " it (the wait of every event that crosses processes)",
                buckets=BUCKETS,
                registry=r,
            )
            self.bus_probes_lost = Counter(
                "chat_bus_probes_lost",
                f"bus probes not back within {PROBE_LOST_S:.0f} s (Redis down, or its"
                " listener stuck)",
                registry=r,
            )

    def refuse(self, event: str, reason: str) -> None:
        self.refused.labels(event=event, reason=reason).inc()

    async def handler(self, _request: web.Request) -> web.Response:
        """GET /metrics: the text format, the gauges read now."""
        namespace = self.namespace
        self.connections.set(len(namespace.connections))
        # shared presence down: the rest still answers (the gauge keeps its last value)
        with contextlib.suppress(StoreUnavailable):
            self.online.set(len(await namespace.presence.online()))
        body = generate_latest(self.registry)
        return web.Response(body=body, headers={"Content-Type": CONTENT_TYPE_LATEST})


PROBE_EVERY_S: Final = 2.0
PROBE_LOST_S: Final = 10.0


class BusProbe:
    """The Redis bus lag: every PROBE_EVERY_S, a probe is published on the bus the way
    an outside emitter would (python-socketio's write-only Redis manager, its public
    seam), so every process's listener takes it, this one's too; the time until this
    process's listener hands it to FastEmit is observed. The probe carries only a random
    token: another process's probes are left to it.

    python-socketio starts a process's listener with its first client, so probing starts
    then, and a probe counts as lost (not back within PROBE_LOST_S: Redis down, or the
    listener stuck) only once one has come back. Needs the default build's FastEmit
    (--stock-transport has no lag figure)."""

    def __init__(self, metrics: Metrics, manager: FastRedisEmit, url: str) -> None:
        self.metrics, self.manager, self.url = metrics, manager, url
        self.pending: dict[str, float] = {}  # token -> when published (monotonic)
        self.seen = False  # a probe came back: the listener runs

    def received(self, data: Any) -> None:
        sent = self.pending.pop(data, None) if isinstance(data, str) else None
        if sent is not None:
            self.seen = True
            self.metrics.bus_lag.observe(time.monotonic() - sent)

    def expire(self, now: float) -> None:
        for token, sent in list(self.pending.items()):
            if now - sent > PROBE_LOST_S:
                del self.pending[token]
                if self.seen:
                    self.metrics.bus_probes_lost.inc()

    async def run(self) -> None:
        quiet = logging.getLogger("chat_server.metrics.probe")  # a down Redis: counted, not logged
        quiet.disabled = True
        publisher = socketio.AsyncRedisManager(
            self.url, channel=self.manager.channel, write_only=True, logger=quiet, json=OrjsonCodec
        )
        self.manager.probe_sink = self.received
        try:
            started = False
            while True:
                await asyncio.sleep(PROBE_EVERY_S)
                started = started or bool(self.metrics.namespace.connections)
                if not started:
                    continue  # no listener yet
                now = time.monotonic()
                self.expire(now)
                token = secrets.token_hex(8)
                self.pending[token] = now
                await publisher.emit("probe", token, namespace=PROBE_NAMESPACE)
        finally:
            self.manager.probe_sink = None
            if publisher.redis is not None:
                with contextlib.suppress(Exception):
                    await asyncio.wait_for(publisher.redis.aclose(), 2)
