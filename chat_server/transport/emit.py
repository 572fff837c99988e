"""Broadcasts without a task per recipient (a reach into python-socketio's manager).

python-socketio's AsyncManager.emit encodes a broadcast once, then creates one asyncio task
per recipient and waits for them all. A 1,000-user connect storm makes about 500,000 such
tasks for the ``user connected`` broadcasts alone (docs/performance.md). An Engine.IO
socket's send only checks the socket and appends to its queue, so FastEmit does that
inline for every recipient, and writes finished frames for lean websockets.

Relies on python-engineio's AsyncSocket (``closed``, ``last_ping``, ``queue``) and
python-socketio's manager API (``rooms``, ``get_participants``, ``server.packet_class``):
reaches.py lists them with their canaries.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any, Final

import socketio
from engineio import packet as eio_packet
from socketio import packet

from chat_server.transport.frames import ws_frame

# the namespace of the Redis bus probes (metrics.BusProbe): no client can join it (the
# server accepts only the namespaces it has handlers for), and an emit to it reaches the
# probe's sink instead of any socket
PROBE_NAMESPACE: Final = "/chat-server-bus-probe"


class FastEmit(socketio.AsyncManager):  # type: ignore[misc]
    """AsyncManager whose callback-less emits go straight onto the sockets' queues."""

    # set by --metrics on a bus: called with the data of each bus probe this process
    # receives (its own and the other processes')
    probe_sink: Callable[[Any], None] | None = None

    async def emit(
        self,
        event: str,
        data: Any,
        namespace: str,
        room: Any = None,
        skip_sid: Any = None,
        callback: Any = None,
        to: Any = None,
        **kwargs: Any,
    ) -> None:
        room = to or room
        if namespace == PROBE_NAMESPACE:
            if self.probe_sink is not None:
                self.probe_sink(data)
            return
        if callback is not None or namespace not in self.rooms:
            await super().emit(
                event, data, namespace, room=room, skip_sid=skip_sid, callback=callback, **kwargs
            )
            return
        await self._deliver(self._frames(event, data, namespace), namespace, room, skip_sid)

    async def _deliver(self, frames: list[Any], namespace: str, room: Any, skip_sid: Any) -> None:
        """Put the packets of one event on the queues of this process's sockets in
        ``room`` (every socket of the namespace for None), except ``skip_sid``."""
        wire = [ws_frame(frame) for frame in frames]  # built once for every recipient
        skip = skip_sid if isinstance(skip_sid, list) else [skip_sid]
        eio = self.server.eio
        sockets = eio.sockets
        ping_timeout = eio.ping_timeout
        now = time.time()
        for sid, eio_sid in self.get_participants(namespace, room):
            if sid in skip:
                continue
            sock = sockets.get(eio_sid)
            if sock is None or sock.closed:
                continue
            if sock.last_ping and now - sock.last_ping > ping_timeout:
                for frame in frames:  # let Engine.IO close the silent socket its own way
                    await eio.send_packet(eio_sid, frame)
                continue
            if getattr(sock, "transport", None) is not None:
                for data in wire:
                    sock.write_frame(data)
            else:
                for frame in frames:
                    sock.queue.put_nowait(frame)

    def _frames(self, event: str, data: Any, namespace: str) -> list[Any]:
        """The Engine.IO packets of one event, encoded once."""
        if isinstance(data, tuple):
            args = list(data)
        elif data is not None:
            args = [data]
        else:
            args = []
        encoded = self.server.packet_class(
            packet.EVENT, namespace=namespace, data=[event, *args]
        ).encode()
        return [
            eio_packet.Packet(eio_packet.MESSAGE, p)
            for p in (encoded if isinstance(encoded, list) else [encoded])
        ]


class FastRedisEmit(socketio.AsyncRedisManager, FastEmit):  # type: ignore[misc]
    """The Redis pub/sub manager, delivering to local sockets through FastEmit.

    The method order puts FastEmit.emit right under the pub/sub layer, so an emit is
    still published to the other processes and delivered locally without tasks.
    """
