"""The server URL as people type it, and why a connection to it failed, in words.

``127.0.0.1:4201`` (no scheme) is the most common first try: it means http. A scheme other
than http(s) or ws(s), or no host at all, is refused at start instead of being retried
for ever. A failed connect says which failure it was (nothing listening, unknown host,
TLS spoken to a plain server, a web server that is not a chat server...), from the
exception python-socketio chains to aiohttp's.
"""

from __future__ import annotations

import asyncio
import socket
import ssl
from urllib.parse import urlsplit, urlunsplit

import aiohttp

SCHEMES = {"http": "http", "https": "https", "ws": "http", "wss": "https"}


def normalise_url(raw: str) -> str:
    """The server URL to connect to; ValueError says what is wrong with ``raw``."""
    text = raw.strip()
    if not text:
        raise ValueError("the server URL is empty")
    if "://" not in text:
        text = "http://" + text
    try:
        parts = urlsplit(text)
    except ValueError as exc:  # e.g. an IPv6 address without its closing bracket
        raise ValueError(f"{raw!r}: {exc}") from None
    try:
        port = parts.port  # raises on a port that is not a number in range
    except ValueError:
        raise ValueError(f"{raw!r}: the port must be a number from 1 to 65535") from None
    scheme = SCHEMES.get(parts.scheme.lower())
    if scheme is None:
        raise ValueError(f"{raw!r}: chat-tui speaks http:// and https:// (not {parts.scheme}://)")
    if not parts.hostname:
        raise ValueError(f"{raw!r}: no host name (try http://HOST:PORT)")
    if port == 0:
        raise ValueError(f"{raw!r}: the port must be a number from 1 to 65535")
    if parts.username is not None or parts.password is not None:
        raise ValueError(f"{raw!r}: chat-tui takes no user name or password in the URL")
    if parts.path not in ("", "/"):
        raise ValueError(
            f"{raw!r}: chat-tui connects to the server's own path (/socket.io/); leave out the path"
        )
    return urlunsplit((scheme, parts.netloc, "", parts.query, ""))


def host_port(url: str) -> str:
    """``host:port`` of ``url`` for messages (never anything else of the URL)."""
    parts = urlsplit(url)
    host = parts.hostname or url
    if ":" in host:
        host = f"[{host}]"
    try:
        port = parts.port
    except ValueError:
        port = None
    return f"{host}:{port}" if port else host


def _chain(exc: BaseException) -> list[BaseException]:
    """``exc`` and what it was raised from or during, outermost first."""
    seen: list[BaseException] = []
    current: BaseException | None = exc
    while current is not None and current not in seen:
        seen.append(current)
        current = current.__cause__ or current.__context__
    return seen


def explain_failure(exc: BaseException, url: str) -> str:
    """Why connecting to ``url`` failed, as a user can act on it."""
    parts = urlsplit(url)
    where = host_port(url)
    chain = _chain(exc)
    for err in chain:
        if isinstance(err, aiohttp.ClientConnectorCertificateError):
            return f"the server's TLS certificate is not trusted ({where}; see --cafile)"
        if isinstance(err, aiohttp.WSServerHandshakeError):
            return (
                f"not a chat server: {where} answered HTTP {err.status} where Socket.IO should be"
            )
        if isinstance(err, ssl.SSLError | aiohttp.ClientConnectorSSLError):
            if parts.scheme == "https":
                return f"TLS failed with {where}: is it a plain http:// server?"
            return f"TLS failed with {where}"
        if isinstance(err, socket.gaierror):
            return f"unknown host: {parts.hostname}"
        if isinstance(err, ConnectionRefusedError):
            return f"connection refused: nothing listens on {where}"
        if isinstance(err, aiohttp.ServerDisconnectedError):
            hint = " (is it an https:// server?)" if parts.scheme == "http" else ""
            return f"{where} closed the connection without answering{hint}"
        if isinstance(err, asyncio.TimeoutError | TimeoutError):
            return f"{where} did not answer in time"
    for err in chain:
        if isinstance(err, OSError) and err.strerror:
            return f"{where}: {err.strerror.lower()}"
    return str(exc) or type(exc).__name__
