"""Websocket frames built once and written straight to transports, joined per loop pass.

Our own code on asyncio's public transport API; LeanSocket (engine.py) and FastEmit
(emit.py) use it.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

log = logging.getLogger(__name__)

# a client that reads slower than this much queued output is cut off, not buffered forever
# (--max-output-buffer; EngineServer.set_output_limit)
SLOW_CONSUMER_BYTES = 8 * 1024 * 1024


def ws_frame(eio_pkt: Any) -> bytes:
    """An Engine.IO packet as a complete, unmasked websocket frame (server to client).

    Server frames are not masked, so one broadcast's frame is the same bytes for every
    recipient: it is built once and written to each transport."""
    encoded = eio_pkt.encode()
    if isinstance(encoded, str):
        opcode, payload = 0x81, encoded.encode()
    else:
        opcode, payload = 0x82, encoded
    n = len(payload)
    if n < 126:
        header = bytes((opcode, n))
    elif n < 65536:
        header = bytes((opcode, 126)) + n.to_bytes(2, "big")
    else:
        header = bytes((opcode, 127)) + n.to_bytes(8, "big")
    return header + payload


class Corker:
    """Frames written during one pass of the event loop leave as one write per transport.

    A write to a socket is a system call that also runs the receiver's side of the TCP
    stack on loopback; under load many messages for the same client are delivered in the
    same pass (a group commit wakes all their handlers at once), so they are joined and
    written together when the pass ends (``call_soon``: no timer, no added wait). Frames
    of one transport keep their order; ``flush`` must run before anything else writes to
    or closes that transport (LeanSocket does this).
    """

    MAX_FRAMES = 64

    def __init__(self, limit: int = SLOW_CONSUMER_BYTES) -> None:
        self.limit = limit
        self._pending: dict[asyncio.Transport, list[bytes]] = {}
        self._loop: asyncio.AbstractEventLoop | None = None

    def write(self, transport: asyncio.Transport, data: bytes) -> None:
        frames = self._pending.get(transport)
        if frames is not None:
            frames.append(data)
            if len(frames) >= self.MAX_FRAMES:  # bounded: a long pass flushes early
                self.flush(transport)
            return
        if not self._pending:
            loop = self._loop
            if loop is None:
                loop = self._loop = asyncio.get_running_loop()
            loop.call_soon(self.flush_all)
        self._pending[transport] = [data]

    def flush(self, transport: asyncio.Transport) -> None:
        """Write out what is waiting for one transport, now."""
        frames = self._pending.pop(transport, None)
        if frames is not None:
            self._write(transport, frames)

    def flush_all(self) -> None:
        pending, self._pending = self._pending, {}
        for transport, frames in pending.items():
            self._write(transport, frames)

    def _write(self, transport: asyncio.Transport, frames: list[bytes]) -> None:
        if transport.is_closing():
            return
        if transport.get_write_buffer_size() > self.limit:
            log.warning("a client reads too slowly; closing its connection")
            transport.close()
            return
        transport.write(frames[0] if len(frames) == 1 else b"".join(frames))
