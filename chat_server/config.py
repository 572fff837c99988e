"""Every chat-server setting in one frozen dataclass: CLI flag = environment variable = field."""

from __future__ import annotations

import ssl
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import platformdirs

from chat_server.logs import LOG_FORMATS

ENV_PREFIX = "CHAT_SERVER_"
LOG_LEVELS = ("debug", "info", "warning", "error")


def default_store_url() -> str:
    """A SQLite file in the user's data folder (e.g. ~/.local/share/chat-server/chat.db)."""
    path = Path(platformdirs.user_data_dir("chat-server", appauthor=False)) / "chat.db"
    return f"sqlite://{path}"


def _opt(help_text: str, **meta: Any) -> Any:
    return {"help": help_text, **meta}


@dataclass(frozen=True, slots=True)
class Config:
    """Settings of one chat-server process. The ``help`` metadata feeds ``--help``."""

    host: str = field(default="127.0.0.1", metadata=_opt("address to listen on"))
    port: int = field(default=3000, metadata=_opt("TCP port to listen on (0: any free port)"))
    store: str = field(
        default_factory=default_store_url,
        metadata=_opt(
            "where data lives: sqlite:///PATH (default: a file in the user's data folder; "
            "add ?synchronous=full to fsync every commit) or memory:// (lost on exit)",
            metavar="URL",
        ),
    )
    history_limit: int = field(
        default=100,
        metadata=_opt("messages per conversation sent in the 'users' event", metavar="N"),
    )
    roster_limit: int = field(
        default=1000,
        metadata=_opt(
            "users listed in the 'users' event: yourself, conversation partners (newest "
            "first), online users, then the newest others; everyone is found with the "
            "'directory' event",
            metavar="N",
        ),
    )
    roster_history_bytes: int = field(
        default=1024 * 1024,
        metadata=_opt(
            "message bytes in one 'users' event, across conversations (newest first); "
            "the rest is marked hasMore and fetched with 'history'",
            metavar="BYTES",
        ),
    )
    max_message_length: int = field(
        default=4000, metadata=_opt("longest message content, in characters", metavar="N")
    )
    max_payload: int = field(
        default=64 * 1024,
        metadata=_opt("largest Socket.IO packet accepted, in bytes", metavar="BYTES"),
    )
    retention: int = field(
        default=0,
        metadata=_opt("delete messages older than DAYS days (0: keep forever)", metavar="DAYS"),
    )
    bus: str = field(
        default="",
        metadata=_opt(
            "Redis URL that carries events between processes (default: the store's URL "
            "when it is redis://)",
            metavar="URL",
        ),
    )
    workers: int = field(
        default=1,
        metadata=_opt(
            "processes sharing the port (more than 1 needs a redis:// store)", metavar="N"
        ),
    )
    max_output_buffer: int = field(
        default=8 * 1024 * 1024,
        metadata=_opt(
            "output queued for a client that does not read it (any transport); past it the "
            "client is cut off and reconnects",
            metavar="BYTES",
        ),
    )
    max_connections_per_user: int = field(
        default=10,
        metadata=_opt("open connections one user may have at once (0: no limit)", metavar="N"),
    )
    rate_burst: int = field(
        default=20,
        metadata=_opt(
            "messages (and, separately, history requests) a user may send at once", metavar="N"
        ),
    )
    rate_per_second: float = field(
        default=5.0,
        metadata=_opt(
            "then this many per second; over it, an acked send is answered 'rate limited' "
            "with retryAfter, an unacked one waits (0: no limit)",
            metavar="R",
        ),
    )
    max_connections_per_ip: int = field(
        default=64,
        metadata=_opt(
            "open TCP connections from one address (0: no limit; not applied with "
            "--trust-forwarded-for, where every connection comes from the proxy)",
            metavar="N",
        ),
    )
    max_handshakes_per_ip: int = field(
        default=120,
        metadata=_opt(
            "Socket.IO connections one address may open per minute (a burst of as many); "
            "over it they are refused 'rate limited' (0: no limit)",
            metavar="N",
        ),
    )
    max_new_users_per_ip: int = field(
        default=20,
        metadata=_opt(
            "new users one address may create per hour (a burst of as many); over it the "
            "handshake is refused 'rate limited' (0: no limit)",
            metavar="N",
        ),
    )
    trust_forwarded_for: bool = field(
        default=False,
        metadata=_opt(
            "take the client's address from the last X-Forwarded-For entry (only behind a "
            "reverse proxy that sets it)"
        ),
    )
    header_timeout: float = field(
        default=10.0,
        metadata=_opt(
            "seconds a connection may take to send its first request, and may stay idle "
            "between requests",
            metavar="S",
        ),
    )
    connect_timeout: float = field(
        default=10.0,
        metadata=_opt(
            "seconds an Engine.IO connection may go without joining with a Socket.IO "
            "CONNECT before it is closed",
            metavar="S",
        ),
    )
    prune_idle_users: int = field(
        default=30,
        metadata=_opt(
            "delete users who never sent or received a message and have been offline this "
            "many days (0: keep them)",
            metavar="DAYS",
        ),
    )
    allowed_hosts: str = field(
        default="",
        metadata=_opt(
            "Host header values a browser may connect with, comma-separated (default: "
            "localhost and IP addresses only, against DNS rebinding; * for any). Origins "
            "other than the Host's still need --cors-origin",
            metavar="HOSTS",
        ),
    )
    stock_transport: bool = field(
        default=False,
        metadata=_opt(
            "run python-socketio and python-engineio as shipped, without the pieces that "
            "reach into them (a fallback for a library upgrade that breaks one: slower, "
            "some bounds coarser; docs/architecture.md)"
        ),
    )
    metrics: bool = field(
        default=False,
        metadata=_opt(
            "Prometheus metrics on /metrics (keep it private: docs/deploy.md)",
        ),
    )
    health_details: bool = field(
        default=False,
        metadata=_opt("/healthz also shows version, store kind and counts (off: only the status)"),
    )
    cors_origin: str = field(
        default="",
        metadata=_opt(
            "browser origins allowed to connect, comma-separated, or * for any "
            "(default: none; clients that are not browsers send no origin)",
            metavar="ORIGINS",
        ),
    )
    certfile: str = field(
        default="",
        metadata=_opt("TLS certificate chain (PEM): serve https and wss", metavar="PATH"),
    )
    keyfile: str = field(
        default="", metadata=_opt("TLS private key (PEM) of --certfile", metavar="PATH")
    )
    unique_usernames: bool = field(
        default=False,
        metadata=_opt("refuse a username already in use (case-insensitively)"),
    )
    log_level: str = field(
        default="info", metadata=_opt("logging level", choices=LOG_LEVELS, metavar="LEVEL")
    )
    log_format: str = field(
        default="text",
        metadata=_opt(
            "log lines as text, or as JSON objects for log collectors (never a sessionID)",
            choices=LOG_FORMATS,
            metavar="FORMAT",
        ),
    )

    def __post_init__(self) -> None:
        if not 0 <= self.port <= 65535:
            raise ValueError("port must be between 0 and 65535")
        if self.history_limit < 0:
            raise ValueError("history limit must be 0 or more")
        if self.max_message_length < 1:
            raise ValueError("max message length must be at least 1")
        if self.max_payload < 1024:
            raise ValueError("max payload must be at least 1024 bytes")
        if self.retention < 0:
            raise ValueError("retention must be 0 (keep forever) or more days")
        if self.max_connections_per_user < 0:
            raise ValueError("max connections per user must be 0 or more")
        if self.roster_limit < 1:
            raise ValueError("roster limit must be at least 1")
        if self.roster_history_bytes < 0:
            raise ValueError("roster history bytes must be 0 or more")
        if self.max_output_buffer < 64 * 1024:
            raise ValueError("max output buffer must be at least 65536 bytes")
        for name in ("max_connections_per_ip", "max_handshakes_per_ip", "max_new_users_per_ip"):
            if getattr(self, name) < 0:
                raise ValueError(f"{name.replace('_', ' ')} must be 0 (no limit) or more")
        if self.header_timeout <= 0 or self.connect_timeout <= 0:
            raise ValueError("timeouts must be more than 0 seconds")
        if self.prune_idle_users < 0:
            raise ValueError("prune idle users must be 0 (keep them) or more days")
        if self.rate_burst < 1:
            raise ValueError("rate burst must be at least 1")
        if self.rate_per_second < 0:
            raise ValueError("rate per second must be 0 (no limit) or more")
        if self.workers < 1:
            raise ValueError("workers must be at least 1")
        if self.workers > 1 and not self.store.startswith("redis"):
            raise ValueError("--workers above 1 needs a redis:// store shared by the workers")
        if bool(self.certfile) != bool(self.keyfile):
            raise ValueError("--certfile and --keyfile go together")
        if self.log_format not in LOG_FORMATS:
            raise ValueError(f"log format must be one of {', '.join(LOG_FORMATS)}")
        if self.log_level not in LOG_LEVELS:
            raise ValueError(f"log level must be one of {', '.join(LOG_LEVELS)}")

    @property
    def bus_url(self) -> str | None:
        """Where cross-process events go: --bus, else a redis:// store, else nowhere."""
        if self.bus:
            return self.bus
        return self.store if self.store.startswith(("redis://", "rediss://", "unix://")) else None

    @property
    def scheme(self) -> str:
        return "https" if self.certfile else "http"

    def ssl_context(self) -> ssl.SSLContext | None:
        """The server's TLS context, or None for plain http."""
        if not self.certfile:
            return None
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        context.load_cert_chain(self.certfile, self.keyfile)
        return context

    @property
    def allowed_host_names(self) -> list[str] | None:
        """Host names a browser may use (None: any); IP addresses are always allowed."""
        hosts = [h.strip().lower() for h in self.allowed_hosts.split(",") if h.strip()]
        if "*" in hosts:
            return None
        return sorted({"localhost", self.host.lower(), *hosts})

    @property
    def cors_origins(self) -> list[str] | str | None:
        """python-socketio's cors_allowed_origins: None (same origin only), '*' or a list."""
        origins = [o.strip() for o in self.cors_origin.split(",") if o.strip()]
        if not origins:
            return None
        return "*" if "*" in origins else origins


def redact_url(url: str) -> str:
    """A store URL fit for printing: any password replaced by ***."""
    parts = urlsplit(url)
    if parts.password:
        netloc = parts.netloc.replace(f":{parts.password}@", ":***@")
        return urlunsplit(parts._replace(netloc=netloc))
    return url


def env_name(field_name: str) -> str:
    """The environment variable of a setting: ``history_limit`` -> CHAT_SERVER_HISTORY_LIMIT."""
    return ENV_PREFIX + field_name.upper()


def config_fields() -> list[Any]:
    """The dataclass fields, in declaration order (for building the CLI)."""
    return list(fields(Config))
