"""``chat-server sessions list|revoke`` against the store of a running server."""

from __future__ import annotations

import asyncio
import sys

import pytest

from tests.conftest import Harness, wait_until

pytestmark = pytest.mark.stores(
    "sqlite", "redis"
)  # stores another process can reach (memory:// lives inside its server)


async def sessions(*args: str) -> tuple[int, str, str]:
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "chat_server",
        "sessions",
        *args,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    async with asyncio.timeout(30):
        out, err = await proc.communicate()
    return proc.returncode or 0, out.decode(), err.decode()


async def test_revoking_a_user_ends_their_sessions_and_closes_their_sockets(h: Harness) -> None:
    srv = await h.server()
    url = h.store_url()
    alice = await h.login(srv, "alice")
    alice2 = await h.resume(srv, alice.session_id)
    bob = await h.login(srv, "bob")
    code, out, _ = await sessions("--store", url, "list")
    assert code == 0
    assert alice.user_id in out and bob.user_id in out and "alice" in out
    assert alice.session_id not in out  # the list never shows a secret

    code, out, err = await sessions("revoke", "ALICE", "--store", url)  # either order
    assert code == 0, err
    assert f"revoked 1 session(s) of alice ({alice.user_id})" in out
    await wait_until(
        lambda: not alice.sio.connected and not alice2.sio.connected,
        "alice's sockets closed",
        within=10,
    )
    gone = await bob.wait_for("user disconnected")
    assert gone == [alice.user_id]
    error = await h.peer(srv).expect_refused({"sessionID": alice.session_id})
    assert error["message"] == "invalid username"  # the old sessionID is dead
    assert bob.sio.connected  # nobody else is touched
    ack = await bob.call("private message", {"content": "still here", "to": alice.user_id})
    assert "message" in ack  # alice's user, and her messages, remain


async def test_revoke_needs_an_unambiguous_user(h: Harness) -> None:
    srv = await h.server()
    one = await h.login(srv, "carol")
    two = await h.login(srv, "Carol")
    code, _, err = await sessions("--store", h.store_url(), "revoke", "carol")
    assert code == 1
    assert one.user_id in err and two.user_id in err and "give a userID" in err
    code, out, _ = await sessions("--store", h.store_url(), "revoke", two.user_id)
    assert code == 0 and two.user_id in out
    code, _, err = await sessions("--store", h.store_url(), "revoke", "nobody")
    assert code == 1 and "no user" in err
    assert one.sio.connected


async def test_a_memory_store_cannot_be_administered_from_outside() -> None:
    code, _, err = await sessions("--store", "memory://", "list")
    assert code == 2 and "inside its server" in err
