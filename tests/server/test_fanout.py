"""What chat_server/fanout.py relies on in python-socketio / python-engineio, and what
it promises: no websocket compression, orjson on the wire, broadcasts without tasks."""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any

import aiohttp
import pytest

from chat_server.app import SIO_KEY
from chat_server.transport.emit import FastEmit
from chat_server.transport.hooks import OrjsonCodec, TextPacket
from tests.conftest import Harness, Server, barrier, wait_until

pytestmark = pytest.mark.stores("memory")  # the transport: once, on the memory store


async def test_websocket_compression_is_not_negotiated(srv: Server) -> None:
    url = f"{srv.url}/socket.io/?EIO=4&transport=websocket"
    async with aiohttp.ClientSession() as http, http.ws_connect(url, compress=15) as ws:
        assert ws.compress == 0  # the client offered permessage-deflate; the server said no
        opening = await ws.receive_str()
        assert opening.startswith("0{")  # an Engine.IO OPEN packet: the socket works


async def test_engineio_socket_internals_the_fast_path_uses(h: Harness, srv: Server) -> None:
    alice = await h.login(srv, "alice")
    sio = srv.app[SIO_KEY]
    assert isinstance(sio.manager, FastEmit)
    (sock,) = sio.eio.sockets.values()
    assert isinstance(sock.queue, asyncio.Queue) and sock.closed is False
    assert hasattr(sock, "last_ping") and callable(sock.send)
    assert sio.packet_class is TextPacket and TextPacket.json is OrjsonCodec
    await alice.close()


async def test_a_broadcast_reaches_many_sockets_once_each_without_tasks(
    h: Harness, srv: Server
) -> None:
    peers = [await h.login(srv, f"u{i}") for i in range(30)]
    sio = srv.app[SIO_KEY]
    loop = asyncio.get_running_loop()
    created: list[object] = []
    default = loop.get_task_factory()

    def counting(loop: asyncio.AbstractEventLoop, coro: Any, **kw: Any) -> asyncio.Task[Any]:
        created.append(coro)
        return asyncio.Task(coro, loop=loop, **kw) if default is None else default(loop, coro, **kw)

    loop.set_task_factory(counting)
    try:
        # the stock manager makes (and awaits) one task per recipient: 30 here
        await sio.emit("user disconnected", "someone", skip_sid=None)
    finally:
        loop.set_task_factory(default)
    assert created == []  # no task per recipient
    for p in peers:
        await barrier(p)
        assert p.of("user disconnected") == ["someone"]


async def test_unicode_round_trips_through_orjson(h: Harness, srv: Server) -> None:
    alice = await h.login(srv, "alice")
    bob = await h.login(srv, "bob")
    text = 'héllo 👩‍💻 עברית \u2028 "quoted" \\ back'
    ack = await alice.call("private message", {"content": text, "to": bob.user_id})
    assert ack["message"]["content"] == text
    (got,) = await bob.wait_for("private message")
    assert got["content"] == text


def test_orjson_codec_speaks_the_json_module_interface() -> None:
    assert OrjsonCodec.dumps({"a": [1, "é"]}, separators=(",", ":")) == '{"a":[1,"é"]}'
    assert OrjsonCodec.loads('{"a":[1,"é"]}') == {"a": [1, "é"]}
    assert OrjsonCodec.loads(b"[1]") == [1]


async def test_websocket_clients_get_the_lean_read_loop_and_upgrades_still_work(
    h: Harness, srv: Server
) -> None:
    from engineio.async_socket import AsyncSocket

    from chat_server.transport.engine import LeanSocket

    alice = await h.login(srv, "alice")
    sio = srv.app[SIO_KEY]
    assert [type(s) for s in sio.eio.sockets.values()] == [LeanSocket]
    # a client that starts on long-polling and upgrades goes through python-engineio's path
    bob = h.peer(srv, "bob")
    await bob.sio.connect(srv.url, auth={"username": "bob"}, transports=["polling", "websocket"])
    await bob.wait_for("users")
    await alice.call("private message", {"content": "to the upgraded", "to": bob.user_id})
    (got,) = await bob.wait_for("private message")
    assert got["content"] == "to the upgraded"
    assert bob.sio.transport() == "websocket"
    # websockets from the start write frames straight to their transport; a socket that
    # upgraded from long-polling runs python-engineio's handler (queue and writer task)
    direct = {
        isinstance(s, LeanSocket) and s.transport is not None for s in sio.eio.sockets.values()
    }
    assert direct == {True, False}
    assert all(isinstance(s, AsyncSocket) for s in sio.eio.sockets.values())
    ack = await bob.call("private message", {"content": "and back", "to": alice.user_id})
    assert "message" in ack


async def test_a_client_that_stops_reading_is_cut_off_not_buffered_forever(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import socket

    from chat_server.transport import engine as fanout

    ours, theirs = socket.socketpair()  # "theirs" never reads
    loop = asyncio.get_running_loop()
    transport, _ = await loop.create_connection(asyncio.Protocol, sock=ours)
    sock = fanout.LeanSocket.__new__(fanout.LeanSocket)  # only the write path is used
    sock.sid, sock.transport = "slow", transport

    class Server:
        logger = __import__("logging").getLogger("test")
        corker = fanout.Corker(limit=256 * 1024)

    sock.server = Server()
    frame = fanout.ws_frame(__import__("engineio").packet.Packet(4, "x" * 4000))
    writes = 0
    while not transport.is_closing() and writes < 10_000:
        sock.write_frame(frame)
        writes += 1
        if writes % 100 == 0:
            await asyncio.sleep(0)  # a new pass of the loop now and then, as in a server
    assert transport.is_closing(), "the slow reader was never cut off"
    assert writes * len(frame) < 64 * 1024 * 1024  # it stopped long before memory ran away
    theirs.close()


async def test_frames_of_one_pass_leave_in_one_write_in_order() -> None:
    """The Corker joins what one loop pass writes to a client; a flush (done before a
    close) sends what is waiting at once; nothing is reordered or lost."""
    import socket

    from chat_server.transport import engine as fanout

    ours, theirs = socket.socketpair()
    theirs.setblocking(False)
    loop = asyncio.get_running_loop()
    transport, _ = await loop.create_connection(asyncio.Protocol, sock=ours)
    writes: list[bytes] = []

    class Counting:
        """The real transport, counting the writes that reach it."""

        def write(self, data: bytes) -> None:
            writes.append(data)
            transport.write(data)

        def __getattr__(self, name: str) -> object:
            return getattr(transport, name)

    counted = Counting()
    corker = fanout.Corker()
    for i in range(5):
        corker.write(counted, f"frame{i};".encode())  # type: ignore[arg-type]
    assert writes == []  # nothing before the pass ends
    await asyncio.sleep(0)
    assert writes == [b"frame0;frame1;frame2;frame3;frame4;"]
    corker.write(counted, b"last;")  # type: ignore[arg-type]
    corker.flush(counted)  # type: ignore[arg-type]
    assert writes[-1] == b"last;"
    await asyncio.sleep(0)
    assert len(writes) == 2  # flushed once, not again at the end of the pass
    for _ in range(fanout.Corker.MAX_FRAMES + 1):
        corker.write(counted, b"x")  # type: ignore[arg-type]
    assert writes[-1] == b"x" * fanout.Corker.MAX_FRAMES  # a full buffer goes at once
    await asyncio.sleep(0)
    expected = b"".join(f"frame{i};".encode() for i in range(5)) + b"last;" + b"x" * 65
    received = bytearray()

    def all_bytes_arrived() -> bool:
        with contextlib.suppress(BlockingIOError):
            received.extend(theirs.recv(65536))
        return len(received) >= len(expected)

    await wait_until(all_bytes_arrived, "every frame at the other end")
    assert bytes(received) == expected
    transport.close()
    theirs.close()


def test_websocket_frames_are_built_as_rfc6455_says() -> None:
    from engineio.packet import Packet as EioPacket

    from chat_server.transport.frames import ws_frame

    for size in (0, 125, 126, 65535, 65536):
        frame = ws_frame(EioPacket(4, "y" * size))
        payload = ("4" + "y" * size).encode()
        assert frame[0] == 0x81 and frame.endswith(payload)
        n = len(payload)
        if n < 126:
            assert frame[1] == n
        elif n < 65536:
            assert frame[1] == 126 and int.from_bytes(frame[2:4], "big") == n
        else:
            assert frame[1] == 127 and int.from_bytes(frame[2:10], "big") == n


def test_redis_replies_are_parsed_in_c() -> None:
    """The redis extra brings hiredis: redis-py then parses every reply of the store, the
    presence and the bus in C (in Python it was about 30% of each --workers process's CPU;
    docs/performance.md)."""
    import redis.utils

    assert redis.utils.HIREDIS_AVAILABLE
