"""What one network address may do: how many connections it holds open, how many
Socket.IO handshakes it makes and how many users it creates.

Per-user limits (limits.py, --max-connections-per-user) are no help against a stranger
who creates a new user for every connection; these are per address. Behind a reverse
proxy every connection comes from the proxy: with --trust-forwarded-for the address is
the last X-Forwarded-For entry (the one the proxy added) and the TCP cap is not applied.
"""

from __future__ import annotations

import asyncio
import ipaddress
import logging
from collections.abc import Mapping
from typing import Any

from aiohttp import web

from chat_server.config import Config
from chat_server.limits import TokenBuckets

log = logging.getLogger(__name__)


def client_address(environ: Mapping[str, Any], trust_forwarded_for: bool) -> str:
    """The address a Socket.IO connection comes from: the peer of its HTTP request
    (python-engineio's aiohttp driver puts the request in the environ; its REMOTE_ADDR
    is always 127.0.0.1), or the last X-Forwarded-For entry when trusted."""
    if trust_forwarded_for:
        forwarded = str(environ.get("HTTP_X_FORWARDED_FOR", ""))
        last = forwarded.rsplit(",", 1)[-1].strip()
        if last:
            return last
    request = environ.get("aiohttp.request")
    remote = getattr(request, "remote", None)
    return str(remote or "unknown")


def is_ip_literal(host: str) -> bool:
    """``127.0.0.1``, ``[::1]``, ``10.0.0.5:3000``: an address, not a name to resolve."""
    name = host.strip().lower()
    if name.startswith("["):
        name = name[1:].split("]", 1)[0]
    elif name.count(":") == 1:
        name = name.split(":", 1)[0]
    try:
        ipaddress.ip_address(name)
    except ValueError:
        return False
    return True


def host_name(host: str) -> str:
    """The name part of a Host header (no port, lower case)."""
    name = host.strip().lower()
    if name.startswith("["):
        return name[1:].split("]", 1)[0]
    return name.rsplit(":", 1)[0] if name.count(":") == 1 else name


class AddressLimits:
    """Token buckets per address: Socket.IO handshakes (per minute) and new users (per
    hour). A limit of 0 turns that bucket off."""

    def __init__(self, config: Config) -> None:
        self.trust_forwarded_for = config.trust_forwarded_for
        self.handshakes = TokenBuckets(
            config.max_handshakes_per_ip, config.max_handshakes_per_ip / 60
        )
        self.new_users = TokenBuckets(
            config.max_new_users_per_ip, config.max_new_users_per_ip / 3600
        )

    def address(self, environ: Mapping[str, Any]) -> str:
        return client_address(environ, self.trust_forwarded_for)

    def prune(self) -> None:
        self.handshakes.prune()
        self.new_users.prune()


class ConnectionCap:
    """At most ``limit`` open TCP connections per peer address.

    aiohttp's server calls its ``connection_made`` and ``connection_lost`` for every
    connection (the request handler's manager API); this wraps them on the runner's
    server. A connection over the cap is closed before any byte of it is read.
    """

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.open: dict[str, int] = {}
        self.refused = 0
        self._counted: dict[int, str] = {}  # id of a counted handler -> its address

    def install(self, runner: web.BaseRunner) -> None:
        server = runner.server
        if server is None or self.limit <= 0:
            return
        made, lost = server.connection_made, server.connection_lost

        def connection_made(handler: Any, transport: asyncio.Transport) -> None:
            made(handler, transport)
            peer = transport.get_extra_info("peername")
            address = str(peer[0]) if isinstance(peer, tuple) and peer else "unknown"
            if self.open.get(address, 0) >= self.limit:
                self.refused += 1
                if self.refused in (1, 10, 100) or self.refused % 1000 == 0:
                    log.warning("%s holds %d connections: refusing more", address, self.limit)
                transport.close()
                return
            self.open[address] = self.open.get(address, 0) + 1
            self._counted[id(handler)] = address

        def connection_lost(handler: Any, exc: BaseException | None) -> None:
            lost(handler, exc)
            address = self._counted.pop(id(handler), None)
            if address is not None:
                left = self.open.get(address, 1) - 1
                if left:
                    self.open[address] = left
                else:
                    self.open.pop(address, None)

        server.connection_made = connection_made  # type: ignore[method-assign]
        server.connection_lost = connection_lost  # type: ignore[method-assign,assignment]
