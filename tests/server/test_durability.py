"""The SQLite store keeps sessions and messages across restarts; everyone starts offline."""

from __future__ import annotations

from tests.conftest import Harness


async def test_restart_keeps_sessions_and_history_and_starts_everyone_offline(
    hs: Harness,
) -> None:
    srv = await hs.server(history_limit=500)
    alice = await hs.login(srv, "alice")
    bob = await hs.login(srv, "bob")
    sent = []
    for i in range(30):
        sender, to = (alice, bob.user_id) if i % 2 else (bob, alice.user_id)
        sent.append(
            (await sender.call("private message", {"content": f"m{i}", "to": to}))["message"]
        )
    await alice.close()
    await bob.close()
    await hs.stop(srv)

    srv2 = await hs.server(history_limit=500)
    carol = await hs.login(srv2, "carol")
    assert {u["username"]: u["connected"] for u in carol.users} == {
        "alice": False,
        "bob": False,
        "carol": True,
    }
    alice2 = await hs.resume(srv2, alice.session_id)
    assert alice2.session == alice.session  # same sessionID gives the same userID
    assert alice2.entry(bob.user_id)["messages"] == sent  # the full history, ids and all
    # new messages continue the id sequence
    ack = await alice2.call("private message", {"content": "after", "to": bob.user_id})
    assert ack["message"]["id"] > sent[-1]["id"]


async def test_client_id_idempotency_survives_a_restart(hs: Harness) -> None:
    srv = await hs.server()
    alice = await hs.login(srv, "alice")
    bob = await hs.login(srv, "bob")
    payload = {"content": "once", "to": bob.user_id, "clientId": "retry-me"}
    first = await alice.call("private message", payload)
    await alice.close()
    await hs.stop(srv)
    srv2 = await hs.server()
    alice2 = await hs.resume(srv2, alice.session_id)
    assert await alice2.call("private message", payload) == first
    page = await alice2.call("history", {"with": bob.user_id})
    assert [m["content"] for m in page["messages"]] == ["once"]


async def test_a_server_restart_is_survived_by_reconnecting_clients(hs: Harness) -> None:
    """Clients with reconnection on come back by themselves with their session."""
    srv = await hs.server()
    port = srv.port
    alice = hs.peer(
        srv, "alice", reconnection=True, reconnection_delay=0.05, reconnection_delay_max=0.2
    )
    await alice.sio.connect(
        srv.url,
        auth=lambda: (
            {"sessionID": alice.session["sessionID"]} if alice.session else {"username": "alice"}
        ),
        transports=["websocket"],
    )
    await alice.wait_for("users")
    await hs.stop(srv)
    srv2 = await hs.server(port=port)
    await alice.wait_for("users", 2, within=10)
    assert alice.of("session")[-1] == alice.of("session")[0]
    bob = await hs.login(srv2, "bob")
    assert bob.entry(alice.user_id)["connected"] is True
