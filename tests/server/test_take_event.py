"""ChatSocketServer.take_event: event packets go from the websocket read loop straight to
python-socketio's event handling. Whatever a client sends, the outcome is the one the
libraries' own path gives (the same build with the ``takeevent`` lever off)."""

from __future__ import annotations

import json
from typing import Any

import pytest

from chat_server.app import SIO_KEY
from chat_server.transport.engine import ChatSocketServer
from tests.conftest import Harness, Server
from tests.raw import RawWebsocket

PROBE = '4299999["directory",{"prefix":"zzz"}]'  # its ack ends a case's frames
CASES = [
    '42["typing",{"to":"{bob}"}]',
    '427["private message",{"content":"hi","to":"{bob}"}]',
    '4211["private message",{"content":"\\ud835\\udcb3 <b>[bold]</b>","to":"{bob}"}]',
    '428["private message",{"content":"two","to":"{bob}"},"extra"]',
    '420["history",{"with":"{bob}"}]',
    '42["nope"]',
    '423["nope"]',
    '429["directory"]',
    "42[]",
    "42[1]",
    "425[1,2]",
    "42{}",
    '42"x"',
    "42null",
    '42["private message"',
    '4212345678901234567890["directory",{"prefix":"b"}]',
    '42/other,["directory"]',
    '42 ["directory",{"prefix":"b"}]',
    "42",
    '42007["nope"]',
    '42123456789012345["nope"]',  # the longest ack id taken: 15 digits
    '421234567890123456["nope"]',
    '42\u0663["nope"]',  # a digit, not an ASCII one: the libraries read it as 3
    '422["nope"] \n',
]


def shape(value: Any) -> Any:
    """What a frame's JSON says, without ids, times and text that differ between runs;
    error reasons kept."""
    if isinstance(value, dict):
        return {k: (v if k == "error" else shape(v)) for k, v in sorted(value.items())}
    if isinstance(value, list):
        return [shape(v) for v in value]
    return type(value).__name__


def frame_shape(frame: str) -> Any:
    cut = frame.find("[")
    if cut < 0:
        return frame
    return (frame[:cut], shape(json.loads(frame[cut:])))


async def outcome(srv: Server, bob_id: str, case: int) -> tuple[list[Any], bool]:
    """The frames a client gets after sending ``CASES[case]`` (up to the probe's ack),
    and whether the server closed the connection instead."""
    packet = CASES[case]
    raw = await RawWebsocket.open(srv.url, {"username": f"sender{case}"})
    try:
        while not any(r.startswith('42["users"') for r in raw.received):
            await raw.next()
        await raw.ws.send_str(packet.replace("{bob}", bob_id))
        await raw.ws.send_str(PROBE)
        frames = []
        while True:
            try:
                frame = await raw.next()
            except ConnectionError:
                return frames, True
            if frame.startswith("4399999["):
                return frames, False
            if not frame.startswith(('42["user ', "2")):  # presence, pings
                frames.append(frame_shape(frame))
    finally:
        await raw.close()


async def test_every_packet_gets_what_the_libraries_path_gives(
    hm: Harness, monkeypatch: pytest.MonkeyPatch
) -> None:
    taking = await hm.server()
    monkeypatch.setenv("CHAT_SERVER_BENCH_OFF", "takeevent")
    stock = await hm.server()
    assert taking.app[SIO_KEY].eio.take_event is not None
    assert stock.app[SIO_KEY].eio.take_event is None
    seen = []
    for srv in (taking, stock):
        bob = await hm.login(srv, "bob")
        seen.append([await outcome(srv, bob.user_id, case) for case in range(len(CASES))])
    for packet, mine, theirs in zip(CASES, *seen, strict=True):
        assert mine == theirs, packet
    outcomes = dict(zip(CASES, seen[0], strict=True))
    # the cases do reach both kinds of outcome: acks with a message, refusals, closing
    assert outcomes[CASES[1]][0][0][0] == "437"
    assert outcomes['423["nope"]'] == ([("433", [{"error": "unknown event"}])], False)
    assert outcomes["42[]"][1] and outcomes['42["private message"'][1]


async def test_event_packets_are_taken_and_the_rest_left_to_the_libraries(
    hm: Harness,
) -> None:
    srv = await hm.server()
    sio = srv.app[SIO_KEY]
    assert isinstance(sio, ChatSocketServer) and sio.eio.take_event == sio.take_event
    raw = await RawWebsocket.open(srv.url, {"username": "sender"})
    try:
        eio_sid = json.loads(raw.received[0][1:])["sid"]
        for taken in (
            '42["nope"]',
            '4217["nope"]',
            '42123456789012345["nope"]',
            '42["directory",{"prefix":"x"},1]',
        ):
            assert await sio.take_event(eio_sid, taken), taken
        for left in (
            "42[]",
            "42[1]",
            '42{"a":1}',
            '42["nope"',
            '42/other,["nope"]',
            '421234567890123456["nope"]',
            '42\u0663["nope"]',
            '45["nope"]',
            '43["nope"]',
            "2",
        ):
            assert not await sio.take_event(eio_sid, left), left
        assert not await sio.take_event("not-a-socket", '42["nope"]')
    finally:
        await raw.close()


async def test_the_stock_build_takes_no_event(hm: Harness) -> None:
    srv = await hm.server(stock_transport=True)
    assert not hasattr(srv.app[SIO_KEY].eio, "take_event")
