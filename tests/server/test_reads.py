"""Read markers, receipts, typing and last seen (issue 13), on every store."""

from __future__ import annotations

from typing import Any

import pytest

from tests.conftest import Harness, Peer, Server, barrier


async def talk(h: Harness, srv: Server) -> tuple[Peer, Peer, list[dict[str, Any]]]:
    """alice sends bob three messages; returns alice, bob and the stored messages."""
    alice = await h.login(srv, "alice")
    bob = await h.login(srv, "bob")
    sent = [
        (await alice.call("private message", {"content": f"m{i}", "to": bob.user_id}))["message"]
        for i in range(3)
    ]
    return alice, bob, sent


async def test_a_read_moves_the_marker_tells_the_tabs_and_sends_a_receipt(
    h: Harness, srv: Server
) -> None:
    alice, bob, sent = await talk(h, srv)
    bob_tab = await h.resume(srv, bob.session_id)
    ack = await bob.call("read", {"with": alice.user_id, "upTo": sent[1]["id"]})
    assert ack == {"ok": True, "upTo": sent[1]["id"]}
    (receipt,) = await alice.wait_for("read")
    assert {k: receipt[k] for k in ("by", "with", "upTo")} == {
        "by": bob.user_id,
        "with": alice.user_id,
        "upTo": sent[1]["id"],
    }
    assert isinstance(receipt["at"], int)
    (synced,) = await bob_tab.wait_for("read")  # the reader's other tab
    assert synced["upTo"] == sent[1]["id"]
    await barrier(bob)
    assert bob.of("read") == []  # the tab that read gets the ack, not an echo
    # a lower marker changes nothing and sends nothing
    assert await bob.call("read", {"with": alice.user_id, "upTo": sent[0]["id"]}) == {
        "ok": True,
        "upTo": sent[1]["id"],
    }
    await barrier(alice)
    assert len(alice.of("read")) == 1


async def test_a_private_read_sends_no_receipt(h: Harness, srv: Server) -> None:
    alice, bob, sent = await talk(h, srv)
    ack = await bob.call("read", {"with": alice.user_id, "upTo": sent[2]["id"], "private": True})
    assert ack["upTo"] == sent[2]["id"]
    await barrier(alice)
    assert alice.of("read") == []
    again = await h.resume(srv, alice.session_id)
    entry = again.entry(bob.user_id)
    assert entry["peerReadUpTo"] is None  # nothing shown to alice
    bob_again = await h.resume(srv, bob.session_id)
    assert bob_again.entry(alice.user_id)["readUpTo"] == sent[2]["id"]  # but bob's is kept


async def test_unread_counts_and_markers_come_with_the_users_event(h: Harness, srv: Server) -> None:
    alice, bob, sent = await talk(h, srv)
    await bob.close()
    again = await h.resume(srv, bob.session_id)
    entry = again.entry(alice.user_id)
    assert (entry["unread"], entry["readUpTo"], entry["peerReadUpTo"]) == (3, None, None)
    assert again.entry(bob.user_id)["unread"] == 0  # yourself
    await again.call("read", {"with": alice.user_id, "upTo": sent[0]["id"]})
    await again.close()
    third = await h.resume(srv, bob.session_id)
    assert (third.entry(alice.user_id)["unread"], third.entry(alice.user_id)["readUpTo"]) == (
        2,
        sent[0]["id"],
    )
    alice_again = await h.resume(srv, alice.session_id)
    entry = alice_again.entry(bob.user_id)
    assert entry["peerReadUpTo"] == sent[0]["id"] and isinstance(entry["peerReadAt"], int)


async def test_nobody_moves_another_users_marker(h: Harness, srv: Server) -> None:
    alice, bob, sent = await talk(h, srv)
    eve = await h.login(srv, "eve")
    # eve names alice and bob's conversation every way she can: only her own marker moves
    for payload in (
        {"with": alice.user_id, "upTo": sent[2]["id"]},
        {"with": bob.user_id, "upTo": sent[2]["id"]},
        {"with": alice.user_id, "upTo": sent[2]["id"], "by": bob.user_id},
    ):
        ack = await eve.call("read", payload)
        assert ack == {"ok": True, "upTo": None}  # no conversation of hers to mark
    await barrier(alice)
    assert alice.of("read") == [] and bob.of("read") == []
    again = await h.resume(srv, bob.session_id)
    assert again.entry(alice.user_id)["readUpTo"] is None


async def test_typing_goes_to_the_peer_only(h: Harness, srv: Server) -> None:
    alice = await h.login(srv, "alice")
    alice_tab = await h.resume(srv, alice.session_id)
    bob = await h.login(srv, "bob")
    bob_tab = await h.resume(srv, bob.session_id)
    carol = await h.login(srv, "carol")
    assert await alice.call("typing", {"to": bob.user_id, "typing": True}) == {"ok": True}
    for tab in (bob, bob_tab):
        (got,) = await tab.wait_for("typing")
        assert got == {"from": alice.user_id, "typing": True}
    for other in (alice_tab, carol):
        await barrier(other)
        assert other.of("typing") == []  # not echoed, not to anyone else


@pytest.mark.parametrize(
    ("event", "payload", "error"),
    [
        ("read", "x", "invalid payload"),
        ("read", {"upTo": 1}, "unknown user"),
        ("read", {"with": "nobody-at-all", "upTo": 1}, "unknown user"),
        ("read", {"with": "{me}", "upTo": 0}, "invalid upTo"),
        ("read", {"with": "{me}", "upTo": "5"}, "invalid upTo"),
        ("read", {"with": "{me}", "upTo": 2**63}, "invalid upTo"),
        ("read", {"with": "{me}", "upTo": 1, "private": "yes"}, "invalid private"),
        ("typing", {"to": "{me}"}, "invalid typing"),
        ("typing", {"to": 5, "typing": True}, "invalid recipient"),
        ("typing", {"to": "nobody-at-all", "typing": True}, "unknown recipient"),
    ],
)
async def test_bad_reads_and_typing_get_an_error(
    h: Harness, srv: Server, event: str, payload: Any, error: str
) -> None:
    p = await h.login(srv, "p")
    if isinstance(payload, dict):
        payload = {k: (p.user_id if v == "{me}" else v) for k, v in payload.items()}
    assert await p.call(event, payload) == {"error": error}


async def test_last_seen_is_kept_while_offline_and_null_while_online(
    h: Harness, srv: Server
) -> None:
    alice = await h.login(srv, "alice")
    bob = await h.login(srv, "bob")
    assert bob.entry(alice.user_id)["lastSeen"] is None  # online
    await alice.close()
    await bob.wait_for("user disconnected")
    again = await h.resume(srv, bob.session_id)
    seen = again.entry(alice.user_id)["lastSeen"]
    assert isinstance(seen, int) and seen > 1_700_000_000_000


async def test_markers_and_last_seen_survive_a_restart(hs: Harness) -> None:
    srv = await hs.server()
    port = srv.port
    alice, bob, sent = await talk(hs, srv)
    await bob.call("read", {"with": alice.user_id, "upTo": sent[1]["id"]})
    await alice.close()
    await hs.stop(srv)
    srv = await hs.server(port=port)
    again = await hs.resume(srv, bob.session_id)
    entry = again.entry(alice.user_id)
    assert (entry["readUpTo"], entry["unread"]) == (sent[1]["id"], 1)
    assert isinstance(entry["lastSeen"], int)
