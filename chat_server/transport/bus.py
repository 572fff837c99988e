"""The Redis bus between processes: each event goes only to the processes that hold its
recipients, and what a loop pass publishes goes to Redis in one round trip.

python-socketio's Redis manager publishes every emit on one channel, so every process
receives, decodes and dispatches every event of every other process (and its own), and
every emit waits for its own PUBLISH. RoutedRedisEmit does what Socket.IO's sharded Redis
adapter does in its dynamic mode:

- a room named by a userID has its own channel, ``<channel>#<room>``; a process
  subscribes to it while one of its sockets is in the room, and unsubscribes when the last
  one leaves. An emit to users is published once on each of their channels, so it reaches
  only the processes where they are connected. Everything else (broadcasts to everyone,
  rooms that are not users, python-socketio's own messages: remote disconnects,
  callbacks, the bus probes of --metrics) stays on the shared channel;
- the event crosses the bus already encoded, behind a short header (see ``envelope``): a
  receiver writes it to its sockets without decoding the event, and skips its own echo by
  looking at 32 bytes;
- what a loop pass publishes is queued in order and sent as one pipeline by a single
  flusher, so the order of one process's events is kept (one connection, one pipeline at
  a time); an emit waits for its pipeline, so an ack still follows the publication. Each
  PUBLISH carries its process's sequence number: a pipeline sent again after an error
  (Redis may have run it and failed to answer) is not delivered twice.

A socket's join waits (at most SUBSCRIBE_WAIT_S) until Redis confirms the subscription, so
an event published after the connecting client's snapshot was read reaches it (unless
Redis is down or the listener is reconnecting: the client then finds it in history).

Rooms are joined by the process holding the socket (python-socketio's enter_room for a
socket of another process goes through the stock path and subscribes nothing; chat-server
does not do that).

Reaches (reaches.py): python-socketio's pub/sub hooks ``_publish``, ``_listen``,
``_redis_listen_with_retries``, ``_redis_connect``, ``host_id``, and the manager's
``basic_leave_room``. ``--stock-transport`` or CHAT_SERVER_BENCH_OFF=routing use the
library's manager (every process receives everything).
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import logging
from collections.abc import AsyncIterator, Callable
from typing import Any, Final

import orjson
from engineio import packet as eio_packet

from chat_server.transport.emit import FastEmit, FastRedisEmit

log = logging.getLogger(__name__)

# the first byte of a routed event on the bus; python-socketio's own messages are JSON
# objects and start with "{"
MARK: Final = b"\x1e"
HOST_BYTES: Final = 32  # python-socketio's host_id: 32 hex characters
# how long a join waits for Redis to confirm its room's subscription
SUBSCRIBE_WAIT_S: Final = 5.0
# after a failed SUBSCRIBE or UNSUBSCRIBE, when the subscriptions are compared again
RESYNC_AFTER_S: Final = 1.0


def envelope(host: bytes, seq: int, namespace: str, room: Any, skip: Any, packet: str) -> bytes:
    """A routed event: MARK, the sender's host id, a JSON header (the sender's sequence
    number, namespace, room, skipped sids), a newline, then the Socket.IO packet exactly
    as the receivers write it to their sockets."""
    head = orjson.dumps([seq, namespace, room, skip])
    return b"".join((MARK, host, head, b"\n", packet.encode()))


def open_envelope(data: bytes) -> tuple[bytes, int, str, Any, Any, str]:
    """The sender, sequence number, namespace, room, skipped sids and packet."""
    head, _, body = data[1 + HOST_BYTES :].partition(b"\n")
    seq, namespace, room, skip = orjson.loads(head)
    return data[1 : 1 + HOST_BYTES], seq, namespace, room, skip, body.decode()


class RoutedRedisEmit(FastRedisEmit):
    """python-socketio's Redis manager with per-user channels and batched publishing
    (module docstring). ``routable(room)`` says which rooms have their own channel; it
    must be the same function in every process."""

    def __init__(self, url: str, channel: str, json: Any, routable: Callable[[Any], bool]) -> None:
        super().__init__(url, channel=channel, json=json)
        self.routable = routable
        self.prefix = channel + "#"
        self.shared = channel.encode()  # the shared channel, as Redis names it in replies
        self.host = self.host_id.encode()
        self.backlog: list[tuple[str, bytes]] = []  # (channel, payload) waiting for Redis
        self.flusher: asyncio.Task[None] | None = None
        self.sent: asyncio.Future[None] | None = None  # done when the backlog's batch is sent
        self.seq = 0  # this process's routed events so far
        self.seen: dict[bytes, int] = {}  # another process -> its last sequence number seen
        # room channels this process wants, and those not yet confirmed by Redis
        self.wanted: set[bytes] = set()
        self.confirming: dict[bytes, asyncio.Future[None]] = {}
        # SUBSCRIBEs sent on the current pub/sub and not answered yet, per channel: a join
        # is confirmed by the answer to the last one, not by an older one's
        self.unanswered: collections.Counter[bytes] = collections.Counter()
        self.ops: collections.deque[tuple[bool, bytes]] = collections.deque()  # (subscribe?, ch)
        self.syncer: asyncio.Task[None] | None = None
        self.resync: asyncio.TimerHandle | None = None
        self.listening = False  # the listener's subscriptions are in place
        self.listens = 0  # how many times the listener subscribed (again)
        self.published = 0  # events put on the bus (tests, docs/scaling.md)
        self.received = 0  # routed events from other processes handled here

    # -- publishing -----------------------------------------------------------------

    async def emit(
        self,
        event: str,
        data: Any,
        namespace: str | None = None,
        room: Any = None,
        skip_sid: Any = None,
        callback: Any = None,
        to: Any = None,
        **kwargs: Any,
    ) -> None:
        room = to or room
        namespace = namespace or "/"
        if kwargs.get("ignore_queue"):  # this process's sockets only
            await FastEmit.emit(self, event, data, namespace, room=room, skip_sid=skip_sid)
            return
        frames = self._frames(event, data, namespace)
        if callback is not None or len(frames) != 1:  # an ack wanted, or binary attachments
            await super().emit(
                event, data, namespace, room=room, skip_sid=skip_sid, callback=callback
            )
            return
        if namespace in self.rooms:
            await self._deliver(frames, namespace, room, skip_sid)
        sent = self._route(namespace, room, skip_sid, frames[0].data)
        if sent is not None:
            await asyncio.shield(sent)

    def _route(
        self, namespace: str, room: Any, skip: Any, packet: str
    ) -> asyncio.Future[None] | None:
        """Queue the PUBLISHes of one event: on each user's channel, the rest on the
        shared one. Returns the future of their pipeline (None: no room, nothing sent)."""
        if room is None:
            return self._queue(
                self.channel, envelope(self.host, self._next(), namespace, None, skip, packet)
            )
        rooms = room if isinstance(room, (list, tuple)) else [room]
        if not rooms:  # nobody
            return None
        shared = []
        sent = None
        for name in dict.fromkeys(rooms):  # each once, in order
            if self.routable(name):
                wrapped = envelope(self.host, self._next(), namespace, name, skip, packet)
                sent = self._queue(self.prefix + name, wrapped)
            else:
                shared.append(name)
        if shared or sent is None:
            where = shared[0] if len(shared) == 1 else shared
            wrapped = envelope(self.host, self._next(), namespace, where, skip, packet)
            sent = self._queue(self.channel, wrapped)
        return sent

    def _next(self) -> int:
        """The sequence number of the next PUBLISH (one per copy: an event for two users
        is two PUBLISHes, and a process holding both receives both)."""
        self.seq += 1
        return self.seq

    async def _publish(self, data: Any) -> None:
        """python-socketio's own messages (remote disconnects, callbacks, emits with an
        ack), on the shared channel, in order with the routed events."""
        await asyncio.shield(self._queue(self.channel, self.json.dumps(data).encode()))

    def _queue(self, channel: str, payload: bytes) -> asyncio.Future[None]:
        """Queue a PUBLISH; the future is done when its pipeline went out (or failed)."""
        self.backlog.append((channel, payload))
        loop = asyncio.get_running_loop()
        if self.sent is None:
            self.sent = loop.create_future()
        if self.flusher is None:
            self.flusher = loop.create_task(self._flush())
        return self.sent

    async def _flush(self) -> None:
        try:
            while self.backlog:
                batch, self.backlog = self.backlog, []
                sent, self.sent = self.sent, None
                try:
                    await self._send(batch)
                finally:
                    if sent is not None and not sent.done():
                        sent.set_result(None)
        finally:
            self.flusher = None

    async def _send(self, batch: list[tuple[str, bytes]]) -> None:
        """One pipeline, tried twice: a connection that a Redis restart broke fails the
        first try. If Redis ran the first one and its answer was lost, the receivers drop
        the events sent again by their sequence numbers."""
        for attempt in (1, 2):
            try:
                if self.redis is None:
                    self._redis_connect()
                async with self.redis.pipeline(transaction=False) as pipe:
                    for channel, payload in batch:
                        pipe.publish(channel, payload)
                    await pipe.execute()
                self.published += len(batch)
                return
            except Exception as exc:  # Redis down: the events are lost (docs/scaling.md)
                if attempt == 2:
                    log.error("bus: %d events not published: %s", len(batch), exc)

    async def stop(self, within: float = 2.0) -> None:
        """At shutdown: what was emitted so far goes out (waited for at most ``within``),
        then no more (un)subscriptions or publishing."""
        if self.flusher is not None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(asyncio.shield(self.flusher), within)
        self.listening = False
        if self.resync is not None:
            self.resync.cancel()
        for task in (self.syncer, self.flusher):
            if task is not None:
                task.cancel()
                with contextlib.suppress(BaseException):
                    await task

    # -- subscriptions ----------------------------------------------------------------

    async def enter_room(self, sid: str, namespace: str, room: Any, eio_sid: Any = None) -> None:
        await super().enter_room(sid, namespace, room, eio_sid=eio_sid)
        if self.write_only or not self.routable(room) or room not in self.rooms.get(namespace, {}):
            return
        channel = (self.prefix + room).encode()
        if channel not in self.wanted:
            self.wanted.add(channel)
            self.confirming[channel] = asyncio.get_running_loop().create_future()
            self._order(True, channel)
        waiting = self.confirming.get(channel)
        if waiting is not None:
            try:
                await asyncio.wait_for(asyncio.shield(waiting), SUBSCRIBE_WAIT_S)
            except TimeoutError:
                log.warning("bus: Redis did not confirm a subscription in time")

    def basic_leave_room(self, sid: str, namespace: str, room: Any) -> None:
        super().basic_leave_room(sid, namespace, room)
        if room is None or self.write_only or not self.routable(room):
            return
        if any(room in rooms for rooms in self.rooms.values()):
            return
        channel = (self.prefix + room).encode()
        if channel in self.wanted:
            self.wanted.discard(channel)
            self._release(channel)
            self._order(False, channel)

    def _order(self, subscribe: bool, channel: bytes) -> None:
        self.ops.append((subscribe, channel))
        if self.syncer is None:
            self.syncer = asyncio.get_running_loop().create_task(self._sync())

    async def _sync(self) -> None:
        """Send the (un)subscriptions in the order they were asked for, consecutive ones
        of a kind in one command. While the listener is (re)connecting nothing is sent:
        it subscribes to everything wanted once it is connected."""
        try:
            while self.ops:
                subscribe, first = self.ops.popleft()
                channels = [first]
                while self.ops and self.ops[0][0] == subscribe:
                    channels.append(self.ops.popleft()[1])
                if not self.listening or self.pubsub is None:
                    continue
                try:
                    if subscribe:
                        self.unanswered.update(channels)
                        await self.pubsub.subscribe(*channels)
                    else:
                        await self.pubsub.unsubscribe(*channels)
                except Exception as exc:
                    log.warning("bus: could not change subscriptions: %s", exc)
                    loop = asyncio.get_running_loop()
                    self.resync = loop.call_later(RESYNC_AFTER_S, self._resync)
        finally:
            self.syncer = None

    def _resync(self) -> None:
        """Subscribe to what is wanted and not subscribed, and the reverse."""
        self.resync = None
        if not self.listening or self.pubsub is None:
            return
        have = set(self.pubsub.channels) - {self.shared}
        for channel in self.wanted - have:
            self._order(True, channel)
        for channel in have - self.wanted:
            self._order(False, channel)

    def _answered(self, channel: bytes) -> None:
        """Redis answered a SUBSCRIBE: the join waiting for it goes on, if it was the
        last one sent for that channel."""
        self.unanswered[channel] -= 1
        if self.unanswered[channel] > 0:
            return
        del self.unanswered[channel]
        self._release(channel)

    def _release(self, channel: bytes) -> None:
        """The joins waiting for ``channel``'s subscription go on."""
        waiting = self.confirming.pop(channel, None)
        if waiting is not None and not waiting.done():
            waiting.set_result(None)

    # -- listening --------------------------------------------------------------------

    def _redis_connect(self) -> None:
        if self.redis is None:
            super()._redis_connect()
        # subscription confirmations are wanted (enter_room waits for them)
        self.pubsub = self.redis.pubsub()
        self.unanswered.clear()  # the old pub/sub's answers will not come

    async def _redis_listen_with_retries(self) -> AsyncIterator[dict[str, Any]]:
        retry = 0
        while True:
            try:
                self._redis_connect()
                await self._subscribe_all()
                self.listening = True
                self.listens += 1
                retry = 0
                async for message in self.pubsub.listen():
                    yield message
            except Exception as exc:
                # the broken pub/sub goes at once: redis-py may reconnect it and subscribe
                # it again by itself, and then nobody would read what it receives
                self.listening = False
                with contextlib.suppress(Exception):
                    await asyncio.wait_for(self.pubsub.aclose(), 2)
                log.error("bus: cannot receive from Redis (%s); retrying in %d s", exc, retry)
                await asyncio.sleep(retry)  # at once the first time (a restarted Redis)
                retry = min(max(retry * 2, 1), 60)

    async def _subscribe_all(self) -> None:
        """Subscribe a fresh pub/sub to the shared channel and every wanted room channel,
        until what is wanted stops changing under the awaits."""
        shared = self.shared
        subscribed: set[bytes] = set()
        while True:
            add = self.wanted - subscribed
            drop = subscribed - self.wanted - {shared}
            if shared in subscribed and not add and not drop:
                return
            if shared not in subscribed or add:
                self.unanswered.update(add)
                await self.pubsub.subscribe(shared, *add)
                subscribed |= {shared, *add}
            if drop:
                await self.pubsub.unsubscribe(*drop)
                subscribed -= drop

    async def _listen(self) -> AsyncIterator[Any]:
        shared = self.shared
        async for message in self._redis_listen_with_retries():
            kind = message.get("type")
            if kind == "message":
                data = message["data"]
                if data[:1] == MARK:
                    if data[1 : 1 + HOST_BYTES] != self.host:
                        await self._receive(data)
                elif message["channel"] == shared:
                    yield data  # python-socketio's own: its _thread dispatches it
            elif kind == "subscribe" and message["channel"] != shared:
                self._answered(message["channel"])

    async def _receive(self, data: bytes) -> None:
        try:
            host, seq, namespace, room, skip, packet = open_envelope(data)
            if seq <= self.seen.get(host, 0):
                return  # sent again after an error, and already delivered
            self.seen[host] = seq
            self.received += 1
            if namespace in self.rooms:
                frames = [eio_packet.Packet(eio_packet.MESSAGE, packet)]
                await self._deliver(frames, namespace, room, skip)
        except Exception:
            log.exception("bus: an event could not be delivered")
