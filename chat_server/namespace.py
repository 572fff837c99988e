"""The Socket.IO handlers of the private-messaging protocol, as one AsyncNamespace.

Handlers run with ``async_handlers=False`` (see app.py): python-socketio then awaits each
event in its connection's own read loop, so the events of one connection are handled, stored
and delivered in the order they were sent, whatever the store's speed, while different
connections still run concurrently.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import socketio

from chat_server import protocol as p
from chat_server.config import Config
from chat_server.limits import TokenBuckets
from chat_server.presence import Presence
from chat_server.stores import Message, Store, StoreUnavailable, User, UserIdTaken, UsernameTaken
from chat_server.tokens import hash_session_id, new_session_id, new_user_id

log = logging.getLogger(__name__)

Handler = Callable[[str, object], Awaitable[dict[str, Any]]]


@dataclass(frozen=True, slots=True)
class Connection:
    """What the server knows about one open socket."""

    user_id: str
    username: str
    session_hash: bytes  # to notice a revoked session (app.session_watch)


def refuse(message: str, reason: str) -> Exception:
    """A connect refusal: ``message`` is what clients read as err.message."""
    error: Exception = socketio.exceptions.ConnectionRefusedError(message, {"reason": reason})
    return error


def wire_message(msg: Message) -> dict[str, Any]:
    """A stored message as sent on the wire."""
    return p.message_payload(msg.id, msg.ts, msg.content, msg.from_id, msg.to_id, msg.client_id)


class ChatNamespace(socketio.AsyncNamespace):  # type: ignore[misc]
    """The default namespace ``/``: handshake, roster, presence, messages, history."""

    def __init__(self, config: Config, store: Store, presence: Presence) -> None:
        super().__init__("/")
        self.config = config
        self.store = store
        self.presence = presence
        self.connections: dict[str, Connection] = {}
        self.shutting_down = False  # no presence broadcasts while every socket closes
        # flood control, one bucket per user for each kind of event (limits.py)
        self.limits = {
            event: TokenBuckets(config.rate_burst, config.rate_per_second)
            for event in (p.PRIVATE_MESSAGE, p.HISTORY)
        }
        self._events: dict[str, Handler] = {
            p.PRIVATE_MESSAGE: self.handle_private_message,
            p.HISTORY: self.handle_history,
        }

    # python-socketio maps "private message" to on_private message, which cannot be a
    # method name, so events are dispatched here, through one table, and every handler
    # is guarded: a bad or unexpected payload never escapes as an exception.
    async def trigger_event(self, event: str, *args: Any) -> Any:
        if event in ("connect", "disconnect") and p.FROM_CLIENT.get():
            # a client emitting these names must not run the lifecycle handlers (it could
            # mark itself offline while connected, or log in again on the same socket)
            log.debug("refused a client event named %r from %s", event, args[0])
            return p.error_ack(p.ERR_UNKNOWN_EVENT)
        if event == "connect":
            sid, _environ, auth = (*args, None)[:3]
            try:
                return await self.on_connect(sid, auth)
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
        if event == "disconnect":
            return await self.on_disconnect(args[0])
        sid, data = args[0], (args[1] if len(args) > 1 else None)
        handler = self._events.get(event)
        if handler is None:
            log.debug("unknown event %.64r from %s", event, sid)
            return p.error_ack(p.ERR_UNKNOWN_EVENT)
        conn = self.connections.get(sid)
        if conn is None:
            return p.error_ack(p.ERR_INTERNAL)
        buckets = self.limits.get(event)
        if buckets is not None and (wait := buckets.take(conn.user_id)):
            if p.ACK_WANTED.get():
                log.debug("rate limited %r from %s", event, sid)
                return p.rate_limited_ack(wait)
            # nobody to tell: hold this connection's events back instead (limits.py)
            while wait:
                await asyncio.sleep(wait)
                if sid not in self.connections:  # gone while it waited
                    return None
                wait = buckets.take(conn.user_id)
        try:
            return await handler(sid, data)
        except p.ProtocolError as exc:
            log.debug("refused %r from %s: %s", event, sid, exc.reason)
            return p.error_ack(exc.reason)
        except StoreUnavailable as exc:
            log.warning("store unavailable while handling %r: %s", event, exc)
            return p.error_ack(p.ERR_UNAVAILABLE)
        except Exception:
            log.exception("handler for %r failed", event)
            return p.error_ack(p.ERR_INTERNAL)

    # -- connection -------------------------------------------------------------------

    async def revoked_sids(self) -> list[str]:
        """The sockets whose session no longer exists in the store (revoked)."""
        conns = dict(self.connections)
        if not conns:
            return []
        live = await self.store.live_sessions(list({c.session_hash for c in conns.values()}))
        return [sid for sid, c in conns.items() if c.session_hash not in live]

    async def _authenticate(self, auth: object) -> tuple[str, bytes, User]:
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
        session_id = new_session_id()
        session_hash = hash_session_id(session_id)
        for _ in range(5):  # a userID collision is astronomically rare; draw again
            try:
                user = await self.store.create_user(
                    new_user_id(), username, session_hash, unique=self.config.unique_usernames
                )
                return session_id, session_hash, user
            except UsernameTaken:
                raise refuse(p.INVALID_USERNAME, p.REASON_USERNAME_TAKEN) from None
            except UserIdTaken:
                continue
        raise RuntimeError("could not draw a free userID")

    async def roster(self, user: User) -> list[dict[str, Any]]:
        """The ``users`` payload for ``user``: everyone, with the latest messages of each
        conversation and whether older ones exist."""
        users = await self.store.list_users()
        online = await self.presence.online()
        limit = self.config.history_limit
        pages = await self.store.latest_by_peer(user.user_id, limit) if limit else {}
        out = []
        for u in users:
            page = pages.get(u.user_id)
            out.append(
                p.user_payload(
                    u.user_id,
                    u.username,
                    u.user_id in online,
                    [wire_message(m) for m in page.messages] if page else [],
                    page.has_more if page else False,
                )
            )
        return out

    async def on_connect(self, sid: str, auth: object) -> None:
        session_id, session_hash, user = await self._authenticate(auth)
        cap = self.config.max_connections_per_user
        if cap and await self.presence.count(user.user_id) >= cap:
            raise refuse(p.ERR_TOO_MANY_CONNECTIONS, p.ERR_TOO_MANY_CONNECTIONS)
        await self.presence.add(user.user_id, sid)
        self.connections[sid] = Connection(user.user_id, user.username, session_hash)
        try:
            await self.enter_room(sid, user.user_id)
            # session must precede users: clients derive "self" from the userID
            # to this socket only: never through the cross-process bus
            session = {"sessionID": session_id, "userID": user.user_id}
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
        # python-socketio calls this before the sid leaves its rooms, so the room cannot
        # tell whether this was the user's last socket; presence can.
        try:
            last = await self.presence.remove(conn.user_id, sid)
        except StoreUnavailable as exc:
            # presence reconciles itself when Redis is back, and reports the user then
            log.warning("presence unavailable on disconnect: %s", exc)
            return
        # a single process shutting down has nobody left to tell
        if last and not (self.shutting_down and not self.presence.shared):
            log.debug("user %s went offline", conn.user_id)
            await self.emit(p.USER_DISCONNECTED, conn.user_id, skip_sid=sid)

    async def announce_offline(self, user_id: str) -> None:
        """A user whose last socket was on a process that died is now offline."""
        await self.emit(p.USER_DISCONNECTED, user_id)

    # -- events -----------------------------------------------------------------------

    async def handle_private_message(self, sid: str, data: object) -> dict[str, Any]:
        conn = self.connections[sid]
        req = p.parse_send(data, self.config.max_message_length)
        if await self.store.get_user(req.to) is None:
            raise p.ProtocolError(p.ERR_UNKNOWN_RECIPIENT)
        saved = await self.store.save_message(conn.user_id, req.to, req.content, req.client_id)
        payload = wire_message(saved.message)
        if saved.created:
            # the recipient's sockets and the sender's other sockets, one copy each
            rooms = [req.to] if req.to == conn.user_id else [req.to, conn.user_id]
            await self.emit(p.PRIVATE_MESSAGE, payload, room=rooms, skip_sid=sid)
        return {"message": payload}

    async def handle_history(self, sid: str, data: object) -> dict[str, Any]:
        conn = self.connections[sid]
        req = p.parse_history(data)
        if await self.store.get_user(req.peer) is None:
            raise p.ProtocolError(p.ERR_UNKNOWN_USER)
        page = await self.store.history(conn.user_id, req.peer, req.before, req.limit)
        return {"messages": [wire_message(m) for m in page.messages], "hasMore": page.has_more}
