"""``--metrics``: Prometheus metrics on ``/metrics`` (the maintained prometheus-client
package), off by default.

What is counted: connections and online users (read when scraped), messages stored and
delivered, events refused by reason (``rate limited`` among them), how long the store
takes to save a message and how long the message path takes (a ``private message`` from
its arrival to its acknowledgement), as histograms. With --workers each process keeps
its own figures: scrape each (they are per process, as Prometheus expects).

Off, nothing of this runs: the handlers test one attribute and go on. The figures hold
no user's data (no userID, no text); who may read them is the operator's choice: the
endpoint is on the server's own port, so keep it off the public side of a reverse proxy
(docs/deploy.md forwards only /socket.io/ and /healthz).
"""

from __future__ import annotations

import contextlib
from typing import TYPE_CHECKING, Final

from aiohttp import web
from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram
from prometheus_client.exposition import CONTENT_TYPE_LATEST, generate_latest

from chat_server.stores import StoreUnavailable

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
