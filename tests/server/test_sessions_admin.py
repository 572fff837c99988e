"""``chat-server sessions list|revoke`` and ``chat-server users list|delete`` against the
store of a running server."""

from __future__ import annotations

import asyncio
import sys

import pytest

from tests.conftest import Harness, wait_until

pytestmark = pytest.mark.stores(
    "sqlite", "redis"
)  # stores another process can reach (memory:// lives inside its server)


async def sessions(*args: str) -> tuple[int, str, str]:
    return await admin("sessions", *args)


async def admin(command: str, *args: str) -> tuple[int, str, str]:
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "chat_server",
        command,
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


async def test_deleting_a_user_erases_them_everywhere_and_tells_the_clients(h: Harness) -> None:
    srv = await h.server()
    url = h.store_url()
    spam = await h.login(srv, "spammer")
    bob = await h.login(srv, "bob")
    carol = await h.login(srv, "carol")
    await spam.send(bob.user_id, "buy now")
    await bob.send(spam.user_id, "stop")
    await bob.send(carol.user_id, "hi carol")
    code, out, _ = await admin("users", "--store", url, "list")
    assert code == 0 and spam.user_id in out and "spammer" in out and "bob" in out
    assert spam.session_id not in out  # never a secret

    code, out, err = await admin("users", "delete", "SPAMMER", "--store", url)
    assert code == 0, err
    assert f"deleted spammer ({spam.user_id}) and 2 message(s)" in out
    (gone,) = await bob.wait_for("user deleted", within=15)
    assert gone == spam.user_id
    await wait_until(lambda: not spam.sio.connected, "the deleted user's socket closed", 15)
    error = await h.peer(srv).expect_refused({"sessionID": spam.session_id})
    assert error["message"] == "invalid username"  # their session is gone
    ack = await bob.call("history", {"with": spam.user_id})
    assert ack == {"error": "unknown user"}  # and their conversations
    again = await h.resume(srv, bob.session_id)
    assert spam.user_id not in [u["userID"] for u in again.users]
    assert [m["content"] for m in again.entry(carol.user_id)["messages"]] == ["hi carol"]
    code, _, err = await admin("users", "delete", "spammer", "--store", url)
    assert code == 1 and "no user" in err
