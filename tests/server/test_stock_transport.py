"""--stock-transport: python-socketio and python-engineio as shipped, through their public
hooks only. The protocol suites run on it too (their store_kind "memory-stock"); these
are the bounds it keeps by other means."""

from __future__ import annotations

import json

import engineio
import socketio

from chat_server.app import SIO_KEY
from chat_server.transport.engine import ChatSocketServer, EngineServer
from chat_server.transport.hooks import TextPacket
from tests.conftest import Harness, wait_until
from tests.raw import RawPolling, RawWebsocket


async def test_the_stock_build_uses_the_library_classes(hm: Harness) -> None:
    srv = await hm.server(stock_transport=True)
    sio = srv.app[SIO_KEY]
    assert type(sio) is socketio.AsyncServer and not isinstance(sio, ChatSocketServer)
    assert type(sio.manager) is socketio.AsyncManager
    assert type(sio.eio) is engineio.AsyncServer and not isinstance(sio.eio, EngineServer)
    assert sio.packet_class is TextPacket  # a public hook: kept


async def test_stock_binary_packets_are_refused_before_anything_is_buffered(
    hm: Harness,
) -> None:
    srv = await hm.server(stock_transport=True)
    bob = await hm.login(srv, "bob")
    raw = await RawWebsocket.open(srv.url, {"username": "mallory"})
    try:
        await raw.ws.send_str('451000000000-["private message",{"_placeholder":true,"num":0}]')
        for _ in range(5):
            await raw.ws.send_bytes(b"\x00" * 60_000)
        ack = await bob.call("private message", {"content": "after", "to": bob.user_id})
        assert "message" in ack
        assert srv.app[SIO_KEY]._binary_packet == {}  # nothing held for it
    finally:
        await raw.close()


async def test_stock_output_is_bounded_by_the_sweep(hm: Harness) -> None:
    srv = await hm.server(stock_transport=True, max_output_buffer=64 * 1024)
    bob = await hm.login(srv, "bob")
    raw = await RawPolling.open(srv.url, {"username": "reads-once"})
    try:
        users = next(p for p in raw.received if p.startswith('42["users"'))
        me = next(u for u in json.loads(users[2:])[1] if u["username"] == "reads-once")
        for i in range(200):
            await bob.send(me["userID"], f"{i} " + "x" * 100)
        sockets = srv.app[SIO_KEY].eio.sockets
        await wait_until(lambda: raw.sid not in sockets, "the sweep to cut it off", within=5)
        (gone,) = await bob.wait_for("user disconnected")
        assert gone == me["userID"]
    finally:
        await raw.close()
