"""Hand-made Engine.IO / Socket.IO clients, for tests that must send what no library
client would: any frame, any body, or nothing at all."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import aiohttp

SEP = "\x1e"  # Engine.IO's separator of packets in a long-polling body


class RawWebsocket:
    """A websocket to /socket.io/ that logs in with a Socket.IO CONNECT."""

    def __init__(self, http: aiohttp.ClientSession, ws: aiohttp.ClientWebSocketResponse) -> None:
        self.http, self.ws = http, ws
        self.received: list[str] = []

    @classmethod
    async def open(cls, base_url: str, auth: dict[str, Any] | None = None) -> RawWebsocket:
        http = aiohttp.ClientSession()
        ws = await http.ws_connect(f"{base_url}/socket.io/?EIO=4&transport=websocket")
        self = cls(http, ws)
        assert (await self.next()).startswith("0")  # Engine.IO OPEN
        if auth is not None:
            await ws.send_str("40" + json.dumps(auth))
            while not (await self.next()).startswith("40"):
                pass
        return self

    async def next(self, within: float = 5) -> str:
        msg = await asyncio.wait_for(self.ws.receive(), within)
        if msg.type != aiohttp.WSMsgType.TEXT:
            raise ConnectionError(f"closed ({msg.type.name})")
        self.received.append(msg.data)
        return str(msg.data)

    async def closed_by_server(self, within: float = 5) -> bool:
        """Read until the server closes the connection (True) or ``within`` passes."""
        try:
            async with asyncio.timeout(within):
                while True:
                    msg = await self.ws.receive()
                    if msg.type in (
                        aiohttp.WSMsgType.CLOSE,
                        aiohttp.WSMsgType.CLOSED,
                        aiohttp.WSMsgType.CLOSING,
                        aiohttp.WSMsgType.ERROR,
                    ):
                        return True
        except TimeoutError:
            return False

    async def close(self) -> None:
        await self.ws.close()
        await self.http.close()


class RawPolling:
    """An Engine.IO long-polling session: GETs and POSTs under the test's control."""

    def __init__(self, http: aiohttp.ClientSession, base_url: str, sid: str) -> None:
        self.http, self.sid = http, sid
        self.url = f"{base_url}/socket.io/?EIO=4&transport=polling&sid={sid}"
        self.received: list[str] = []

    @classmethod
    async def open(cls, base_url: str, auth: dict[str, Any] | None = None) -> RawPolling:
        http = aiohttp.ClientSession()
        async with http.get(f"{base_url}/socket.io/?EIO=4&transport=polling") as resp:
            body = await resp.text()
        assert body.startswith("0"), body
        self = cls(http, base_url, json.loads(body[1:])["sid"])
        if auth is not None:
            assert (await self.post("40" + json.dumps(auth)))[0] == 200
            while not any(p.startswith("40") for p in self.received):
                await self.get()
        return self

    async def post(self, body: str | bytes) -> tuple[int, str]:
        async with self.http.post(self.url, data=body) as resp:
            return resp.status, await resp.text()

    async def get(self, within: float = 5) -> list[str]:
        async with asyncio.timeout(within), self.http.get(self.url) as resp:
            packets = (await resp.text()).split(SEP)
        self.received += packets
        return packets

    async def close(self) -> None:
        await self.http.close()
