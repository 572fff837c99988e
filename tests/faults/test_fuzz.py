"""Property-based tests: every event handler and the handshake get arbitrary JSON values.

Each case must be answered with a clear ack (or a clear refusal), and the server must go
on serving everyone. The server and the clients run on an event loop in a background
thread; each hypothesis example is a blocking call into it.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Coroutine, Iterator
from pathlib import Path
from typing import Any, TypeVar

import pytest
import socketio
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from chat_server.config import Config
from chat_server.protocol import is_invisible
from tests.conftest import Peer, Server

T = TypeVar("T")

# the events a client may send; any other name is answered "unknown event"
KNOWN_EVENTS = ("private message", "history", "directory", "read", "typing")
# integers at the edges of int64 (the store's ids) and beyond: JSON has no limit
INT_EDGES = [2**63 - 1, 2**63, -(2**63), -(2**63) - 1, 2**64 - 1, 2**64, 10**30, -(10**30)]
json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**53), max_value=2**53)
    | st.sampled_from(INT_EDGES)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=60),
    lambda inner: (
        st.lists(inner, max_size=5) | st.dictionaries(st.text(max_size=12), inner, max_size=5)
    ),
    max_leaves=20,
)
# payloads shaped like the real ones, with any values in their fields
shaped = st.fixed_dictionaries(
    {},
    optional={
        "content": json_values,
        "to": json_values,
        "clientId": json_values,
        "with": json_values,
        "before": json_values,
        "limit": json_values,
        "from": json_values,
        "prefix": json_values,
        "after": json_values,
    },
)


class Loop:
    """An event loop in a thread, with a chat-server and two clients on it."""

    def __init__(self, tmp: Path) -> None:
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()
        self.cases = 0
        config = Config(store=f"sqlite://{tmp / 'fuzz.db'}", rate_per_second=0)
        self.server = self.run(Server(config).start())
        self.fuzzer = self.run(self._login("fuzzer"))
        self.bob = self.run(self._login("bob"))

    def run(self, coro: Coroutine[Any, Any, T]) -> T:
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout=30)

    async def _login(self, name: str) -> Peer:
        peer = Peer(self.server.url, name)
        await peer.connect({"username": name})
        return peer

    def call(self, event: str, data: Any) -> Any:
        self.cases += 1
        return self.run(self.fuzzer.call(event, data))

    def handshake(self, auth: Any) -> str:
        """'accepted', the refusal message, or 'disconnected' (a malformed packet)."""
        self.cases += 1

        async def attempt() -> str:
            peer = Peer(self.server.url, "x")
            try:
                await peer.sio.connect(self.server.url, auth=auth, transports=["websocket"])
            except socketio.exceptions.ConnectionError:
                if not peer.connect_errors:
                    return "disconnected"
                return str(peer.connect_errors[-1].get("message"))
            finally:
                await peer.close()
            return "accepted"

        return self.run(attempt())

    @staticmethod
    async def _cancel_the_rest() -> None:
        """Engine.IO's ping tasks of closed sockets sleep until their next ping; end
        them, so the stopped loop is not left with pending tasks."""
        rest = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
        for task in rest:
            task.cancel()
        await asyncio.gather(*rest, return_exceptions=True)

    def close(self) -> None:
        for peer in (self.fuzzer, self.bob):
            self.run(peer.close())
        self.run(self.server.stop())
        self.run(self._cancel_the_rest())
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(10)


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Loop]:
    loop = Loop(tmp_path_factory.mktemp("fuzz"))
    yield loop
    # after every case: the server still serves, and the case count is reported
    ack = loop.run(
        loop.bob.call("private message", {"content": "still up", "to": loop.fuzzer.user_id})
    )
    assert "message" in ack
    print(f"\nfuzz: {loop.cases} cases, server still serving")
    loop.close()


def is_clear_answer(ack: Any) -> bool:
    return isinstance(ack, dict) and (
        (set(ack) == {"error"} and isinstance(ack["error"], str))
        or "message" in ack
        or "messages" in ack
    )


common = settings(
    max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)


@common
@given(payload=json_values | shaped)
def test_private_message_answers_any_payload(live: Loop, payload: Any) -> None:
    ack = live.call("private message", payload)
    assert is_clear_answer(ack), ack
    if "message" in ack:  # only a valid send is stored, and it is what was asked
        assert isinstance(payload, dict) and ack["message"]["content"] == payload["content"]
        assert ack["message"]["from"] == live.fuzzer.user_id


@common
@given(payload=json_values | shaped)
@example(payload={"with": "x", "before": 2**63})  # once "internal error" (int64 overflow)
@example(payload={"with": "x", "before": -(2**63) - 1})
def test_history_answers_any_payload(live: Loop, payload: Any) -> None:
    ack = live.call("history", payload)
    assert is_clear_answer(ack), ack
    for m in ack.get("messages", []):  # never a conversation the fuzzer is not part of
        assert live.fuzzer.user_id in (m["from"], m["to"])


@common
@given(payload=json_values | shaped)
@example(payload={"before": 2**63})  # once answered "internal error" (int64 overflow)
def test_directory_answers_any_payload(live: Loop, payload: Any) -> None:
    ack = live.call("directory", payload)
    assert isinstance(ack, dict) and (
        (set(ack) == {"error"} and isinstance(ack["error"], str))
        or set(ack) == {"users", "hasMore"}
    ), ack


@common
@given(event=st.text(max_size=30), payload=json_values)
@example(event="disconnect", payload=None)  # the server's own names, sent by a client
@example(event="connect", payload={"username": "x"})
def test_unknown_events_answer_any_payload(live: Loop, event: str, payload: Any) -> None:
    ack = live.call(event or "x", payload)
    if event in KNOWN_EVENTS:
        assert isinstance(ack, dict)
    else:
        assert ack == {"error": "unknown event"}


@settings(
    max_examples=100, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    auth=json_values
    | st.fixed_dictionaries({}, optional={"sessionID": json_values, "username": json_values})
)
def test_the_handshake_answers_any_auth(live: Loop, auth: Any) -> None:
    result = live.handshake(auth)
    assert result in ("accepted", "invalid username", "disconnected"), result
    if (
        isinstance(auth, dict)
        and isinstance(auth.get("username"), str)
        and auth["username"].strip()
        and len(auth["username"].strip()) <= 32
        and auth["username"].isprintable()
        and not any(is_invisible(ch) for ch in auth["username"])
    ):
        assert result == "accepted"  # a well-formed login is never turned away


RAW_FRAMES = [
    "42not json",  # an event whose JSON does not parse
    '42["private message",',  # cut short
    "4",  # a Socket.IO packet with nothing in it
    "49xyz",  # an unknown Socket.IO packet type
    '41["x"]',  # a DISCONNECT with a payload, then silence
    "x",  # not an Engine.IO packet type
    "",  # an empty frame
    "7",  # an Engine.IO type that does not exist
    b"\x00\x01\x02",  # binary where no attachment is expected
    "42" + "[" * 5000 + "]" * 5000,  # deeply nested JSON
]


@pytest.mark.parametrize("frame", RAW_FRAMES, ids=range(len(RAW_FRAMES)))
async def test_malformed_raw_frames_cost_only_their_sender(
    frame: str | bytes, tmp_path: Path
) -> None:
    import aiohttp

    srv = await Server(Config(store=f"sqlite://{tmp_path / 'raw.db'}", rate_per_second=0)).start()
    bob = Peer(srv.url, "bob")
    try:
        await bob.connect({"username": "bob"})
        url = f"{srv.url}/socket.io/?EIO=4&transport=websocket"
        async with aiohttp.ClientSession() as http, http.ws_connect(url) as ws:
            assert (await ws.receive_str()).startswith("0")  # Engine.IO OPEN
            await ws.send_str('40{"username":"raw"}')  # a Socket.IO CONNECT
            answers = []
            while not any(a.startswith("40") for a in answers):
                answers.append(await asyncio.wait_for(ws.receive_str(), 5))
            if isinstance(frame, bytes):
                await ws.send_bytes(frame)
            else:
                await ws.send_str(frame)
            # the server either closes this connection or keeps it; it never hangs up others
            msg = await asyncio.wait_for(ws.receive(), 5) if frame != '41["x"]' else None
            assert msg is None or msg.type in (
                aiohttp.WSMsgType.CLOSE,
                aiohttp.WSMsgType.CLOSED,
                aiohttp.WSMsgType.CLOSING,
                aiohttp.WSMsgType.TEXT,
            )
        ack = await bob.call("private message", {"content": "fine", "to": bob.user_id})
        assert "message" in ack  # everyone else is still served
    finally:
        await bob.close()
        await srv.stop()
