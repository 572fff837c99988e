"""The Socket.IO handlers of the private-messaging protocol, as one AsyncNamespace.

Handlers run with ``async_handlers=False`` (see app.py): python-socketio then awaits each
event in its connection's own read loop, so the events of one connection are handled, stored
and delivered in the order they were sent, whatever the store's speed, while different
connections still run concurrently.

Store writes that deliver something run shielded: aiohttp cancels a request whose client
went away (so that a dropped long-poll is noticed at once), and a cancelled handler must
not leave a message stored but undelivered, or a user half-created.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import socketio

from chat_server import protocol as p
from chat_server import roster
from chat_server.config import Config
from chat_server.guard import AddressLimits
from chat_server.limits import ACK_WANTED, TokenBuckets
from chat_server.message_ops import MessageOps
from chat_server.presence import Presence
from chat_server.roster import wire_message
from chat_server.stores import Saved, Store, StoreUnavailable, User, UserIdTaken, UsernameTaken
from chat_server.tokens import hash_session_id, new_session_id, new_user_id

if TYPE_CHECKING:
    from chat_server.metrics import Metrics

log = logging.getLogger(__name__)

TYPING_BURST, TYPING_PER_SECOND = 10, 2.0  # clients repeat typing every ~3 s

Handler = Callable[["Connection", object], Awaitable[dict[str, Any]]]


@dataclass(frozen=True, slots=True)
class Connection:
    """What the server knows about one open socket."""

    sid: str
    user_id: str
    username: str
    session_hash: bytes  # to notice a revoked session (app.session_watch)


def refuse(message: str, reason: str) -> Exception:
    """A connect refusal: ``message`` is what clients read as err.message."""
    error: Exception = socketio.exceptions.ConnectionRefusedError(message, {"reason": reason})
    return error


def now_ms() -> int:
    return time.time_ns() // 1_000_000


class ChatNamespace(MessageOps, socketio.AsyncNamespace):  # type: ignore[misc]
    """The default namespace ``/``: handshake, roster, presence, messages, history."""

    def __init__(self, config: Config, store: Store, presence: Presence) -> None:
        super().__init__("/")
        self.config = config
        self.store = store
        self.presence = presence
        self.connections: dict[str, Connection] = {}
        self.shutting_down = False  # no presence broadcasts while every socket closes
        # disconnects being handled (they outlive a cancelled connection task)
        self.goodbyes: set[asyncio.Future[None]] = set()
        self.metrics: Metrics | None = None  # --metrics (chat_server/metrics.py)
        # flood control, one bucket per user for each kind of event (limits.py); the
        # directory and search share the history bucket (they read the store), edits and
        # deletes the sending one (they write it)
        history = TokenBuckets(config.rate_burst, config.rate_per_second)
        sending = TokenBuckets(config.rate_burst, config.rate_per_second)
        self.limits = {
            p.PRIVATE_MESSAGE: sending,
            p.EDIT_MESSAGE: sending,
            p.DELETE_MESSAGE: sending,
            p.HISTORY: history,
            p.DIRECTORY: history,
            p.SEARCH: history,
            p.READ: TokenBuckets(config.rate_burst, config.rate_per_second),
            # typing is a hint: over its rate it is dropped, never held back
            p.TYPING: TokenBuckets(
                TYPING_BURST, TYPING_PER_SECOND if config.rate_per_second else 0
            ),
        }
        self.addresses = AddressLimits(config)
        self._events: dict[str, Handler] = {
            p.PRIVATE_MESSAGE: self.handle_private_message,
            p.HISTORY: self.handle_history,
            p.DIRECTORY: self.handle_directory,
            p.READ: self.handle_read,
            p.TYPING: self.handle_typing,
            p.EDIT_MESSAGE: self.handle_edit,
            p.DELETE_MESSAGE: self.handle_delete,
            p.SEARCH: self.handle_search,
        }

    # python-socketio maps "private message" to on_private message, which cannot be a
    # method name, so events are dispatched here, through one table.
    async def trigger_event(self, event: str, *args: Any) -> Any:
        if event in ("connect", "disconnect") and self.lifecycle(args[0]):
            if event == "disconnect":
                return await self.on_disconnect(args[0])
            sid, environ, auth = (*args, None)[:3]
            return await self.guarded_connect(sid, environ, auth)
        return await self.client_event(event, args[0], args[1] if len(args) > 1 else None)

    def lifecycle(self, sid: str) -> bool:
        """Whether a "connect" or "disconnect" is python-socketio's own call. It makes them
        while the socket is connecting or disconnecting (the manager does not count it as
        connected); a client can only send events from a connected socket, and one named
        like these must not log it in again, or mark its user offline while online."""
        return not self.server.manager.is_connected(sid, self.namespace)

    async def client_event(self, event: str, sid: str, data: object) -> Any:
        """An event a client sent: flood control, then its handler, every error mapped to
        an ack. "connect" and "disconnect" sent by a client are not the server's own
        lifecycle calls (it could mark itself offline, or log in again on its socket)."""
        handler = self._events.get(event)
        if handler is None:
            log.debug("unknown event %.64r from %s", event, sid)
            return p.error_ack(p.ERR_UNKNOWN_EVENT)
        conn = self.connections.get(sid)
        if conn is None:
            return p.error_ack(p.ERR_INTERNAL)
        if (refusal := await self.admit(event, conn)) is not None:
            return refusal
        try:
            return await handler(conn, data)
        except p.ProtocolError as exc:
            log.debug("refused %r from %s: %s", event, sid, exc.reason)
            return p.error_ack(exc.reason)
        except StoreUnavailable as exc:
            log.warning("store unavailable while handling %r: %s", event, exc)
            return p.error_ack(p.ERR_UNAVAILABLE)
        except Exception:
            log.exception("handler for %r failed", event)
            return p.error_ack(p.ERR_INTERNAL)

    def measure(self, metrics: Metrics) -> None:
        """Turn --metrics on: every client event goes through _measured (without it,
        the event path has no extra step)."""
        self.metrics = metrics
        self.client_event = functools.partial(self._measured, metrics)  # type: ignore[method-assign]

    async def _measured(self, metrics: Metrics, event: str, sid: str, data: object) -> Any:
        """An event with --metrics: refusals counted by reason (an event name the
        protocol does not have counts as "unknown": clients choose names), and the
        message path timed."""
        started = time.perf_counter()
        ack = await ChatNamespace.client_event(self, event, sid, data)
        if event == p.PRIVATE_MESSAGE:
            metrics.message_seconds.observe(time.perf_counter() - started)
        if isinstance(ack, dict) and isinstance(ack.get("error"), str):
            metrics.refuse(event if event in self._events else "unknown", ack["error"])
        return ack

    async def admit(self, event: str, conn: Connection) -> dict[str, Any] | None:
        """Flood control (limits.py): None when the event may run now. An event over the
        rate with an ack is answered at once; one without waits for its token, holding
        back only its own connection."""
        buckets = self.limits[event]
        wait = buckets.take(conn.user_id)
        if not wait:
            return None
        if event == p.TYPING:  # a hint, not worth holding a connection back for
            return {"ok": True}
        if ACK_WANTED.get():
            log.debug("rate limited %r from %s", event, conn.sid)
            return p.rate_limited_ack(wait)
        while wait:  # nobody to tell
            await asyncio.sleep(wait)
            if conn.sid not in self.connections:  # gone while it waited
                return {}
            wait = buckets.take(conn.user_id)
        return None

    # -- connection -------------------------------------------------------------------

    async def guarded_connect(self, sid: str, environ: Mapping[str, Any], auth: object) -> None:
        try:
            await self.on_connect(sid, environ, auth)
        except socketio.exceptions.ConnectionRefusedError:
            raise
        except StoreUnavailable as exc:
            log.warning("store unavailable during handshake: %s", exc)
            raise refuse(p.ERR_UNAVAILABLE, p.ERR_UNAVAILABLE) from None
        except Exception:
            # python-socketio retries a connect handler that raises TypeError with
            # fewer arguments; refuse cleanly instead of running it twice
            log.exception("connect handler failed")
            raise refuse(p.ERR_INTERNAL, p.ERR_INTERNAL) from None

    async def revoked_sids(self) -> list[str]:
        """The sockets whose session no longer exists in the store (revoked)."""
        conns = dict(self.connections)
        if not conns:
            return []
        live = await self.store.live_sessions(list({c.session_hash for c in conns.values()}))
        return [sid for sid, c in conns.items() if c.session_hash not in live]

    async def _authenticate(self, auth: object, address: str) -> tuple[str, bytes, User]:
        """Find or create the session the handshake asks for; refuse like the tutorial.
        Returns the sessionID, its hash and the user."""
        req = p.parse_auth(auth)
        if req.session_id is not None:
            session_hash = hash_session_id(req.session_id)
            user = await self.store.user_for_session(session_hash)
            if user is not None:
                return req.session_id, session_hash, user
        try:
            username = p.validate_username(req.username)
        except p.ProtocolError as exc:
            raise refuse(p.INVALID_USERNAME, exc.reason) from None
        if self.addresses.new_users.take(address):
            log.info("%s creates users too fast: refused", address)
            raise refuse(p.ERR_RATE_LIMITED, p.ERR_RATE_LIMITED)
        session_id = new_session_id()
        session_hash = hash_session_id(session_id)
        # shielded: a handshake dropped half-way must not leave a user half-created
        user = await asyncio.shield(self._create_user(username, session_hash))
        return session_id, session_hash, user

    async def _create_user(self, username: str, session_hash: bytes) -> User:
        for _ in range(5):  # a userID collision is astronomically rare; draw again
            try:
                return await self.store.create_user(
                    new_user_id(), username, session_hash, unique=self.config.unique_usernames
                )
            except UsernameTaken:
                raise refuse(p.INVALID_USERNAME, p.REASON_USERNAME_TAKEN) from None
            except UserIdTaken:
                continue
        raise RuntimeError("could not draw a free userID")

    async def roster(self, user: User) -> list[dict[str, Any]]:
        """The ``users`` payload for ``user`` (roster.py: bounded in entries and bytes)."""
        return await roster.build(
            self.store,
            user,
            await self.presence.online(),
            limit=self.config.roster_limit,
            per_conversation=self.config.history_limit,
            budget=self.config.roster_history_bytes,
        )

    async def on_connect(self, sid: str, environ: Mapping[str, Any], auth: object) -> None:
        address = self.addresses.address(environ or {})
        if self.addresses.handshakes.take(address):
            log.info("%s connects too fast: refused", address)
            raise refuse(p.ERR_RATE_LIMITED, p.ERR_RATE_LIMITED)
        session_id, session_hash, user = await self._authenticate(auth, address)
        cap = self.config.max_connections_per_user
        if cap and await self.presence.count(user.user_id) >= cap:
            raise refuse(p.ERR_TOO_MANY_CONNECTIONS, p.ERR_TOO_MANY_CONNECTIONS)
        await self.presence.add(user.user_id, sid)
        self.connections[sid] = Connection(sid, user.user_id, user.username, session_hash)
        try:
            await self.enter_room(sid, user.user_id)
            # session must precede users: clients derive "self" from the userID
            # to this socket only: never through the cross-process bus
            session = {
                "sessionID": session_id,
                "userID": user.user_id,
                "limits": {"maxMessageLength": self.config.max_message_length},
            }
            await self.emit(p.SESSION, session, to=sid, ignore_queue=True)
            await self.emit(p.USERS, await self.roster(user), to=sid, ignore_queue=True)
        except BaseException:
            # python-socketio does not call on_disconnect for a refused connection
            del self.connections[sid]
            await self.presence.remove(user.user_id, sid)
            raise
        log.debug("user %s (%s) connected as %s", user.user_id, user.username, sid)
        await self.emit(
            p.USER_CONNECTED,
            p.user_payload(user.user_id, user.username, True, []),
            skip_sid=sid,
        )

    async def on_disconnect(self, sid: str) -> None:
        conn = self.connections.pop(sid, None)
        if conn is None:
            return
        # aiohttp cancels a connection's task when its client hangs up (app.py), which
        # can happen while this runs: a client sends its disconnect, then closes. The
        # work goes on, shielded; and python-socketio, whose handler call was cancelled,
        # would leave the socket in its rooms (a leak, and on a Redis bus a channel kept
        # subscribed), so it is taken out of them here.
        goodbye = asyncio.ensure_future(self._gone(conn, sid))
        self.goodbyes.add(goodbye)
        goodbye.add_done_callback(self.goodbyes.discard)
        try:
            await asyncio.shield(goodbye)
        except asyncio.CancelledError:
            goodbye.add_done_callback(_report)  # nobody awaits it any more
            await self.server.manager.disconnect(sid, self.namespace, ignore_queue=True)
            raise

    async def goodbyes_done(self, within: float = 5.0) -> None:
        """At shutdown: wait (bounded) for the disconnects still being handled."""
        if self.goodbyes:
            await asyncio.wait(list(self.goodbyes), timeout=within)

    async def _gone(self, conn: Connection, sid: str) -> None:
        # python-socketio calls this before the sid leaves its rooms, so the room cannot
        # tell whether this was the user's last socket; presence can.
        try:
            last = await self.presence.remove(conn.user_id, sid)
        except StoreUnavailable as exc:
            # presence reconciles itself when Redis is back, and reports the user then
            log.warning("presence unavailable on disconnect: %s", exc)
            return
        if not last:
            return
        log.debug("user %s went offline", conn.user_id)
        await self.went_offline(conn.user_id, announce=not self.shutting_down)

    async def went_offline(
        self, user_id: str, announce: bool = True, at_ms: int | None = None
    ) -> None:
        """A user's last socket closed (here, or on a process that died, last known alive
        at ``at_ms``): remember when, and tell everyone else (a single process shutting
        down has nobody left to tell)."""
        try:
            await self.store.set_last_seen(user_id, at_ms if at_ms is not None else now_ms())
        except StoreUnavailable as exc:
            log.warning("could not record when %s was last seen: %s", user_id, exc)
        if announce or self.presence.shared:
            await self.emit(p.USER_DISCONNECTED, user_id)

    async def announce_offline(self, user_id: str, last_seen_ms: int | None) -> None:
        """A user whose last socket was on a process that died is now offline."""
        await self.went_offline(user_id, at_ms=last_seen_ms)

    async def forget_users(self, user_ids: list[str], sio: socketio.AsyncServer) -> None:
        """Users deleted from the store (``chat-server users delete``, pruning), here or
        by another process: close their sockets on this process and tell the clients
        here (each process tells its own, so the event is not sent through the bus)."""
        gone = set(user_ids)
        for sid, conn in list(self.connections.items()):
            if conn.user_id in gone:
                await sio.disconnect(sid)
        for user_id in user_ids:
            await self.emit(p.USER_DELETED, user_id, ignore_queue=True)

    # -- events -----------------------------------------------------------------------

    async def handle_private_message(self, conn: Connection, data: object) -> dict[str, Any]:
        req = p.parse_send(data, self.config.max_message_length)
        if await self.store.get_user(req.to) is None:
            raise p.ProtocolError(p.ERR_UNKNOWN_RECIPIENT)
        if req.reply_to is not None:
            await self.reply_target(conn.user_id, req.to, req.reply_to)
        # shielded: stored means delivered, even if this request is cancelled meanwhile
        saved = await asyncio.shield(self._store_and_deliver(conn, req))
        return {"message": wire_message(saved.message)}

    async def _store_and_deliver(self, conn: Connection, req: p.SendRequest) -> Saved:
        metrics, started = self.metrics, time.perf_counter()
        saved = await self.store.save_message(
            conn.user_id, req.to, req.content, req.client_id, req.reply_to
        )
        if metrics is not None:
            metrics.save_seconds.observe(time.perf_counter() - started)
        if saved.created:
            # the recipient's sockets and the sender's other sockets, one copy each
            rooms = [req.to] if req.to == conn.user_id else [req.to, conn.user_id]
            payload = wire_message(saved.message)
            await self.emit(p.PRIVATE_MESSAGE, payload, room=rooms, skip_sid=conn.sid)
            if metrics is not None:
                metrics.stored.inc()
                metrics.delivered.inc(len(rooms))
        return saved

    async def handle_history(self, conn: Connection, data: object) -> dict[str, Any]:
        req = p.parse_history(data)
        if await self.store.get_user(req.peer) is None:
            raise p.ProtocolError(p.ERR_UNKNOWN_USER)
        return await self.history_page(conn.user_id, req)

    async def handle_directory(self, conn: Connection, data: object) -> dict[str, Any]:
        req = p.parse_directory(data)
        users, more = await self.store.search_users(req.prefix, req.after, req.limit)
        online = await self.presence.online()
        return {
            "users": [p.directory_entry(u.user_id, u.username, u.user_id in online) for u in users],
            "hasMore": more,
        }

    async def handle_read(self, conn: Connection, data: object) -> dict[str, Any]:
        req = p.parse_read(data)
        if await self.store.get_user(req.peer) is None:
            raise p.ProtocolError(p.ERR_UNKNOWN_USER)
        at = now_ms()
        marked = await self.store.mark_read(
            conn.user_id, req.peer, req.up_to, private=req.private, at_ms=at
        )
        if marked.moved and marked.up_to is not None:
            # the reader's other tabs, and unless private, the peer (the receipt)
            mine_only = req.private or req.peer == conn.user_id
            rooms = [conn.user_id] if mine_only else [conn.user_id, req.peer]
            payload = p.read_payload(conn.user_id, req.peer, marked.up_to, at)
            await self.emit(p.READ, payload, room=rooms, skip_sid=conn.sid)
        return {"ok": True, "upTo": marked.up_to}

    async def handle_typing(self, conn: Connection, data: object) -> dict[str, Any]:
        req = p.parse_typing(data)
        if req.to != conn.user_id:  # never echoed to the sender's own tabs
            if await self.store.get_user(req.to) is None:
                raise p.ProtocolError(p.ERR_UNKNOWN_RECIPIENT)
            payload = {"from": conn.user_id, "typing": req.typing}
            await self.emit(p.TYPING, payload, room=req.to)
        return {"ok": True}


def _report(goodbye: asyncio.Future[None]) -> None:
    """Log the failure of a disconnect whose connection's task was cancelled meanwhile."""
    if not goodbye.cancelled() and (exc := goodbye.exception()) is not None:
        log.error("a disconnect was not handled to its end", exc_info=exc)
