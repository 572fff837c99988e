"""A stranger attacks the server (issue 11): each attack that took the server or a user
down, or that showed more than it should, and what holds it now."""

from __future__ import annotations

import asyncio
import json
import logging
import os
import stat
from pathlib import Path
from typing import Any

import aiohttp
import orjson
import pytest
import socketio

from chat_server.app import NAMESPACE_KEY, SIO_KEY
from chat_server.config import Config
from chat_server.upkeep import prune_idle
from tests.conftest import Harness, Peer, Server, wait_until
from tests.raw import RawPolling, RawWebsocket

BINARY_EVENT = '451000000000-["private message",{"_placeholder":true,"num":0}]'


def engine(srv: Server) -> Any:
    return srv.app[SIO_KEY]


# -- 1. binary attachments --------------------------------------------------------------


async def test_a_binary_event_closes_its_sender_before_anything_is_buffered(hm: Harness) -> None:
    srv = await hm.server()
    bob = await hm.login(srv, "bob")
    raw = await RawWebsocket.open(srv.url, {"username": "mallory"})
    try:
        await raw.ws.send_str(BINARY_EVENT)
        for _ in range(20):  # the attachments python-socketio would have collected
            if raw.ws.closed:
                break
            await raw.ws.send_bytes(b"\x00" * 60_000)
        assert await raw.closed_by_server()
    finally:
        await raw.close()
    assert engine(srv)._binary_packet == {}  # nothing held for it
    ack = await bob.call("private message", {"content": "still here", "to": bob.user_id})
    assert "message" in ack


async def test_binary_packets_over_long_polling_are_refused_too(hm: Harness) -> None:
    srv = await hm.server()
    raw = await RawPolling.open(srv.url, {"username": "mallory"})
    try:
        await raw.post(BINARY_EVENT)
        await wait_until(lambda: raw.sid not in engine(srv).eio.sockets, "the socket closed")
        assert engine(srv)._binary_packet == {}
    finally:
        await raw.close()


# -- 2. long-polling output ------------------------------------------------------------


async def test_a_long_polling_client_that_stops_reading_is_cut_off(hm: Harness) -> None:
    srv = await hm.server(max_output_buffer=64 * 1024)
    bob = await hm.login(srv, "bob")
    raw = await RawPolling.open(srv.url, {"username": "reads-once"})
    try:
        users = next(p for p in raw.received if p.startswith('42["users"'))
        me = next(u for u in json.loads(users[2:])[1] if u["username"] == "reads-once")
        for i in range(100):  # 200 KB for a client that never asks for them
            await bob.send(me["userID"], f"{i} " + "x" * 2000)
        await wait_until(lambda: raw.sid not in engine(srv).eio.sockets, "the reader cut off")
        (gone,) = await bob.wait_for("user disconnected")
        assert gone == me["userID"]
    finally:
        await raw.close()
    # what it missed is in the store: a reconnect gets it
    page = await bob.call("history", {"with": me["userID"], "limit": 200})
    assert len(page["messages"]) == 100


# -- 3. a user locked out by a huge users event -----------------------------------------


def frame_bytes(payload: Any) -> int:
    return len(orjson.dumps(payload))


async def test_a_user_flooded_with_huge_messages_can_still_log_in(h: Harness) -> None:
    srv = await h.server(roster_history_bytes=256 * 1024)
    victim = await h.login(srv, "victim")
    await victim.close()
    hostile = "\x01" * 4000  # 6 bytes each in JSON: 24 KB a message
    for n in range(5):
        sender = await h.login(srv, f"spammer{n}")
        for _ in range(10):
            await sender.call("private message", {"content": hostile, "to": victim.user_id})
    again = await h.resume(srv, victim.session_id)  # a stock python-socketio client
    users = again.users
    assert frame_bytes(users) < 256 * 1024 + 64 * 1024
    spammers = {u["username"]: u for u in users if u["username"].startswith("spammer")}
    assert len(spammers) == 5
    assert sum(len(u["messages"]) for u in spammers.values()) < 50  # cut to the budget
    newest = spammers["spammer4"]  # the newest conversation comes first, whole
    assert len(newest["messages"]) == 10 and not newest["hasMore"]
    assert spammers["spammer0"]["messages"] == [] and spammers["spammer0"]["hasMore"]
    # the rest is there, page by page
    page = await again.call("history", {"with": spammers["spammer0"]["userID"], "limit": 200})
    assert len(page["messages"]) == 10


async def test_the_users_event_lists_at_most_the_roster_limit_and_the_directory_the_rest(
    h: Harness,
) -> None:
    srv = await h.server(roster_limit=8)
    me = await h.login(srv, "me")
    friend = await h.login(srv, "zz-friend")
    await me.call("private message", {"content": "hi", "to": friend.user_id})
    await friend.close()
    online = await h.login(srv, "yy-online")
    for i in range(20):
        p = await h.login(srv, f"user{i:02}")
        await p.close()
    again = await h.resume(srv, me.session_id)
    listed = [u["username"] for u in again.users]
    assert len(listed) == 8
    assert listed[:3] == ["me", "zz-friend", "yy-online"]  # you, partners, online first
    assert listed[3:] == [f"user{i:02}" for i in (19, 18, 17, 16, 15)]  # the newest others
    assert online.user_id in {u["userID"] for u in again.users}
    # everyone is found through the directory, by prefix, page by page
    found: list[str] = []
    after = None
    while True:
        ack = await again.call("directory", {"prefix": "USER", "after": after, "limit": 7})
        found += [u["username"] for u in ack["users"]]
        if not ack["hasMore"]:
            break
        after = ack["users"][-1]["userID"]
    assert found == [f"user{i:02}" for i in range(20)]
    ack = await again.call("directory", {"prefix": "yy"})
    assert ack == {
        "users": [{"userID": online.user_id, "username": "yy-online", "connected": True}],
        "hasMore": False,
    }


@pytest.mark.parametrize(
    ("payload", "error"),
    [
        ("x", "invalid payload"),
        ({"prefix": 5}, "invalid prefix"),
        ({"prefix": "x" * 33}, "invalid prefix"),
        ({"after": 5}, "invalid after"),
        ({"limit": 0}, "invalid limit"),
        ({"limit": 101}, "invalid limit"),
    ],
)
async def test_bad_directory_requests(hm: Harness, payload: Any, error: str) -> None:
    srv = await hm.server()
    p = await hm.login(srv, "p")
    assert await p.call("directory", payload) == {"error": error}


# -- 4. unlimited account creation -----------------------------------------------------


async def test_one_address_may_create_only_so_many_users(hm: Harness) -> None:
    srv = await hm.server(max_new_users_per_ip=3)
    made = [await hm.login(srv, f"n{i}") for i in range(3)]
    error = await hm.peer(srv).expect_refused({"username": "one-too-many"})
    assert error == {"message": "rate limited", "data": {"reason": "rate limited"}}
    again = await hm.resume(srv, made[0].session_id)  # logging in again is not a new user
    assert again.user_id == made[0].user_id


async def test_each_address_has_its_own_limits(hm: Harness) -> None:
    """Addresses are told apart: a client from 127.0.0.2 is not held back by one from
    127.0.0.3 (python-engineio's environ names every client 127.0.0.1)."""
    srv = await hm.server(max_new_users_per_ip=1)

    def from_address(address: str) -> Peer:
        connector = aiohttp.TCPConnector(local_addr=(address, 0))
        return hm.peer(srv, address, http_session=aiohttp.ClientSession(connector=connector))

    first = from_address("127.0.0.2")
    await first.connect({"username": "first"})
    second = from_address("127.0.0.3")
    await second.connect({"username": "second"})  # another address: its own allowance
    third = from_address("127.0.0.2")
    error = await third.expect_refused({"username": "third"})
    assert error["message"] == "rate limited"
    for p in (first, second, third):
        await p.close()
        await p.sio.eio.http.close()


async def test_one_address_may_make_only_so_many_handshakes(hm: Harness) -> None:
    srv = await hm.server(max_handshakes_per_ip=4)
    first = await hm.login(srv, "first")
    for _ in range(3):
        await hm.resume(srv, first.session_id)
    error = await hm.peer(srv).expect_refused({"sessionID": first.session_id})
    assert error["message"] == "rate limited"


async def test_behind_a_trusted_proxy_each_forwarded_address_has_its_own_limit(
    hm: Harness,
) -> None:
    srv = await hm.server(max_new_users_per_ip=1, trust_forwarded_for=True)

    async def login_from(address: str, name: str) -> Peer:
        p = hm.peer(srv, name)
        await p.sio.connect(
            srv.url,
            auth={"username": name},
            headers={"X-Forwarded-For": f"203.0.113.9, {address}"},
            transports=["websocket"],
        )
        return p

    await login_from("198.51.100.1", "a")
    await login_from("198.51.100.2", "b")  # another client behind the proxy
    refused = hm.peer(srv)
    with pytest.raises(socketio.exceptions.ConnectionError):
        await refused.sio.connect(
            srv.url,
            auth={"username": "c"},
            headers={"X-Forwarded-For": "198.51.100.1"},
            transports=["websocket"],
        )


async def test_users_who_never_wrote_are_pruned_and_clients_are_told(h: Harness) -> None:
    srv = await h.server()
    namespace = srv.app[NAMESPACE_KEY]
    watcher = await h.login(srv, "watcher")
    idle = await h.login(srv, "idle")
    talker = await h.login(srv, "talker")
    await talker.call("private message", {"content": "hi", "to": watcher.user_id})
    await idle.close()
    await watcher.wait_for("user disconnected")
    future = 10**15  # as if the pruning age had passed for everyone
    assert await prune_idle(namespace, future) == 1  # online users and talkers stay
    (deleted,) = await watcher.wait_for("user deleted", within=10)
    assert deleted == idle.user_id
    assert await srv.store.get_user(idle.user_id) is None
    refused = await h.peer(srv).expect_refused({"sessionID": idle.session_id})
    assert refused["message"] == "invalid username"  # the session is gone with the user


# -- 7. long-polling requests that used to hang ----------------------------------------


async def test_a_polling_post_above_the_limit_or_malformed_is_answered_and_freed(
    hm: Harness,
) -> None:
    srv = await hm.server(max_payload=2048)
    sockets = engine(srv).eio.sockets
    for body in ("4" + "x" * 5000, '42["private message"', "\x00\x01garbage", "46"):
        raw = await RawPolling.open(srv.url, {"username": "poster"})
        try:
            status, _ = await asyncio.wait_for(raw.post(body), 5)  # an answer, not a hang
            assert status in (200, 400)
            await wait_until(lambda r=raw: r.sid not in sockets, f"{body[:12]!r} freed")
        finally:
            await raw.close()


# -- 8. integers at the edges of int64 ------------------------------------------------


@pytest.mark.parametrize("before", [2**63, -(2**63) - 1, 2**64, 10**30])
async def test_history_before_beyond_int64_is_invalid_before(
    h: Harness, srv: Server, before: int
) -> None:
    p = await h.login(srv, "p")
    ack = await p.call("history", {"with": p.user_id, "before": before})
    assert ack == {"error": "invalid before"}
    ok = await p.call("history", {"with": p.user_id, "before": 2**63 - 1})
    assert ok == {"messages": [], "hasMore": False, "hasNewer": False}


# -- 9. connections that never finish -------------------------------------------------


async def read_until_closed(reader: asyncio.StreamReader, within: float) -> bool:
    try:
        async with asyncio.timeout(within):
            while await reader.read(4096):
                pass
    except TimeoutError:
        return False
    return True


async def test_a_connection_that_trickles_its_headers_is_closed(hm: Harness) -> None:
    srv = await hm.server(header_timeout=0.5)
    reader, writer = await asyncio.open_connection("127.0.0.1", srv.port)
    writer.write(b"GET /healthz HTTP/1.1\r\n")

    async def trickle() -> None:
        for i in range(100):
            writer.write(f"X-{i}: y\r\n".encode())
            await asyncio.sleep(0.1)

    dripping = asyncio.create_task(trickle())
    try:
        assert await read_until_closed(reader, 5), "still open"
    finally:
        dripping.cancel()
        writer.close()


async def test_an_engineio_connection_that_never_joins_is_closed(hm: Harness) -> None:
    srv = await hm.server(connect_timeout=1)
    raw = await RawWebsocket.open(srv.url)  # Engine.IO OPEN, then no Socket.IO CONNECT
    try:
        assert await raw.closed_by_server(within=6)
    finally:
        await raw.close()
    assert not engine(srv).eio.sockets


async def test_one_address_may_hold_only_so_many_connections(hm: Harness) -> None:
    srv = await hm.server(max_connections_per_ip=3)
    held = [await asyncio.open_connection("127.0.0.1", srv.port) for _ in range(3)]
    reader, writer = await asyncio.open_connection("127.0.0.1", srv.port)
    assert await read_until_closed(reader, 5)  # closed before reading a byte
    writer.close()
    for _, w in held[:1]:
        w.close()
        await w.wait_closed()

    async def a_fourth_is_accepted_again() -> bool:
        r, w = await asyncio.open_connection("127.0.0.1", srv.port)
        w.write(b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
        line = await asyncio.wait_for(r.readline(), 5)
        w.close()
        return line.startswith(b"HTTP/1.1 200")

    for _ in range(100):
        if await a_fourth_is_accepted_again():
            break
        await asyncio.sleep(0.02)
    else:
        raise AssertionError("a freed slot was never reused")
    for _, w in held[1:]:
        w.close()


# -- 10. DNS rebinding ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("host", "allowed_hosts", "status"),
    [
        ("evil.example:{port}", "", 403),
        ("127.0.0.1:{port}", "", 200),
        ("localhost:{port}", "", 200),
        ("chat.example:{port}", "chat.example", 200),
        ("evil.example:{port}", "*", 200),
    ],
)
async def test_browsers_must_name_the_server_by_address_or_an_allowed_host(
    hm: Harness, host: str, allowed_hosts: str, status: int
) -> None:
    srv = await hm.server(allowed_hosts=allowed_hosts)
    host = host.format(port=srv.port)
    headers = {"Host": host, "Origin": f"http://{host}"}
    url = f"{srv.url}/socket.io/?EIO=4&transport=polling"
    async with aiohttp.ClientSession() as http, http.get(url, headers=headers) as resp:
        assert resp.status == status
    async with aiohttp.ClientSession() as http, http.get(url, headers={"Host": host}) as resp:
        assert resp.status == 200  # not a browser (no Origin): not a rebinding victim


# -- 11. the SQLite files -----------------------------------------------------------


def mode_of(path: Path) -> int | None:
    try:
        return stat.S_IMODE(os.stat(path).st_mode)
    except FileNotFoundError:
        return None


async def test_a_new_sqlite_store_is_private_and_an_open_one_is_reported(
    hm: Harness, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    shared = tmp_path / "shared"
    os.mkdir(shared)
    os.chmod(shared, 0o755)
    db = shared / "new" / "deeper" / "chat.db"
    srv = await Server(Config(store=f"sqlite://{db}", port=0)).start()
    p = await hm.login(srv, "p")
    await p.call("private message", {"content": "secret", "to": p.user_id})
    await p.close()
    await srv.stop()
    for path in (db, db.with_name("chat.db-wal"), db.parent, db.parent.parent):
        if mode_of(path) is not None:
            assert mode_of(path) & 0o077 == 0, f"{path} is {mode_of(path):o}"  # type: ignore[operator]
    assert mode_of(shared) == 0o755  # a folder that existed is left alone
    os.chmod(db, 0o644)
    with caplog.at_level(logging.WARNING):
        srv = await Server(Config(store=f"sqlite://{db}", port=0)).start()
    await srv.stop()
    assert any("can be read by other accounts" in r.message for r in caplog.records)


# -- 13. invisible content ------------------------------------------------------------


@pytest.mark.parametrize("content", ["\u200b", "\u2060\u200b \ufeff", "\u202e\u202c", " \u3164"])
async def test_content_of_only_invisible_characters_is_empty(hm: Harness, content: str) -> None:
    srv = await hm.server()
    p = await hm.login(srv, "p")
    ack = await p.call("private message", {"content": content, "to": p.user_id})
    assert ack == {"error": "empty content"}


# -- 14. what the server says about itself --------------------------------------------


async def test_health_shows_only_the_status_and_no_versions(hm: Harness) -> None:
    srv = await hm.server()
    async with aiohttp.ClientSession() as http, http.get(f"{srv.url}/healthz") as resp:
        assert await resp.json() == {"status": "ok"}
        assert resp.headers["Server"] == "chat-server"
    detailed = await hm.server(health_details=True)
    async with aiohttp.ClientSession() as http, http.get(f"{detailed.url}/healthz") as resp:
        body = await resp.json()
    assert {"status", "version", "store", "users", "messages", "online", "sockets"} <= set(body)


# -- 15. long-polling clients that leave -----------------------------------------------


async def test_a_long_polling_client_that_goes_away_is_offline_at_once(hm: Harness) -> None:
    """A browser closing its page drops the pending GET. aiohttp cancels that request,
    the socket closes and everyone sees the user offline, instead of at the next ping
    timeout (a minute later)."""
    srv = await hm.server()
    bob = await hm.login(srv, "bob")
    raw = await RawPolling.open(srv.url, {"username": "leaver"})
    await bob.wait_for("user connected")
    pending = asyncio.create_task(raw.get(within=60))  # a long-poll, as browsers keep one
    await wait_until(lambda: raw.sid in engine(srv).eio.sockets, "the poll to arrive")
    await asyncio.sleep(0)
    connector = raw.http.connector
    assert connector is not None
    await connector.close()  # the page is closed: its connections drop
    pending.cancel()
    (gone,) = await bob.wait_for("user disconnected", within=5)
    assert gone and not engine(srv).eio.sockets.get(raw.sid)
    await raw.close()


async def test_a_send_whose_connection_drops_midway_is_stored_and_delivered_once(
    hm: Harness,
) -> None:
    """aiohttp cancels the handler of a connection that is gone; the save and the delivery
    run shielded, so what was stored is also delivered (and a retry is not doubled)."""
    srv = await hm.server()
    store = srv.store
    slow = asyncio.Event()
    real_save = store.save_message

    async def held_save(*args: Any, **kwargs: Any) -> Any:
        await slow.wait()
        return await real_save(*args, **kwargs)

    bob = await hm.login(srv, "bob")
    raw = await RawWebsocket.open(srv.url, {"username": "dropper"})
    users = next(m for m in raw.received if m.startswith('42["users"'))
    dropper = next(u for u in json.loads(users[2:])[1] if u["username"] == "dropper")
    store.save_message = held_save  # type: ignore[method-assign]
    try:
        payload = {"content": "in flight", "to": bob.user_id, "clientId": "c-1"}
        await raw.ws.send_str("421" + json.dumps(["private message", payload]))
        await asyncio.sleep(0.05)
        await raw.close()  # gone before the store answered
        await bob.wait_for("user disconnected")
        slow.set()
    finally:
        store.save_message = real_save  # type: ignore[method-assign]
    (got,) = await bob.wait_for("private message")
    assert got["content"] == "in flight" and got["from"] == dropper["userID"]
    page = await bob.call("history", {"with": dropper["userID"]})
    assert [m["content"] for m in page["messages"]] == ["in flight"]


async def test_a_background_loop_survives_any_error_and_a_store_outage(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """One Redis hiccup used to end retention for the life of the process: the loop
    caught only StoreUnavailable, and Redis's own errors were not mapped."""
    from chat_server.stores import StoreUnavailable
    from chat_server.upkeep import retention_loop, supervise

    calls: list[str] = []
    done = asyncio.Event()

    class Flaky:
        async def apply_retention(self) -> int:
            calls.append("x")
            if len(calls) == 1:
                raise StoreUnavailable("Redis went away")
            if len(calls) == 2:
                raise RuntimeError("a bug, or an error nobody mapped")
            done.set()
            return 3

    with caplog.at_level(logging.WARNING):
        task = asyncio.create_task(
            supervise("retention", lambda: retention_loop(Flaky(), every=0.01), pause=0.01)  # type: ignore[arg-type]
        )
        await asyncio.wait_for(done.wait(), 5)
        task.cancel()
    assert len(calls) == 3  # skipped, restarted, then working again
    assert any("retention skipped" in r.message for r in caplog.records)
    assert any("retention failed" in r.message for r in caplog.records)
