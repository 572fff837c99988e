"""A TCP proxy for fault tests: it forwards 127.0.0.1:<its port> to a server, and can cut
connections, delay data, withhold the server's answers and refuse new connections."""

from __future__ import annotations

import asyncio
import contextlib
import random


class TcpProxy:
    """``cut()`` drops every open connection (a reset, as a dying network gives);
    ``refuse`` turns new ones away; ``hold`` swallows everything the server sends from
    then on (acks are lost); with ``rng``, 20% of the data arrives up to 50 ms late."""

    def __init__(self, upstream_port: int, rng: random.Random | None = None) -> None:
        self.upstream_port, self.rng = upstream_port, rng
        self.server: asyncio.Server | None = None
        self.writers: set[asyncio.StreamWriter] = set()
        self.hold = False
        self.refuse = False
        self.cuts = 0
        self.accepted = 0

    async def start(self) -> str:
        self.server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        port = self.server.sockets[0].getsockname()[1]
        return f"http://127.0.0.1:{port}"

    async def _pipe(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, downstream: bool
    ) -> None:
        with contextlib.suppress(Exception):
            while data := await reader.read(65536):
                if downstream and self.hold:
                    continue  # swallowed: the client never hears back
                if self.rng is not None and self.rng.random() < 0.2:  # some data is late
                    await asyncio.sleep(self.rng.random() * 0.05)
                writer.write(data)
                await writer.drain()
        writer.close()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        if self.refuse:
            writer.transport.abort()
            return
        self.accepted += 1
        up_reader, up_writer = await asyncio.open_connection("127.0.0.1", self.upstream_port)
        self.writers |= {writer, up_writer}
        await asyncio.gather(
            self._pipe(reader, up_writer, downstream=False),
            self._pipe(up_reader, writer, downstream=True),
        )
        self.writers -= {writer, up_writer}

    def cut(self) -> None:
        """Abort every connection through the proxy; counted when there was one."""
        if self.writers:
            self.cuts += 1
        for w in list(self.writers):
            transport = w.transport
            if transport is not None:
                transport.abort()
        self.writers.clear()

    async def close(self) -> None:
        self.cut()
        if self.server is not None:
            self.server.close()
            await self.server.wait_closed()
