"""Edit, delete, reply, search and history around a message (issue 14), on every store:
what the sender, the other participant and strangers can and cannot do, and who is told."""

from __future__ import annotations

from typing import Any

from tests.conftest import Harness, Peer, Server, barrier


async def send(peer: Peer, to: Peer, content: str, **extra: Any) -> dict[str, Any]:
    ack = await peer.call("private message", {"content": content, "to": to.user_id, **extra})
    assert "message" in ack, ack
    message: dict[str, Any] = ack["message"]
    return message


async def trio(h: Harness, srv: Server) -> tuple[Peer, Peer, Peer]:
    return (
        await h.login(srv, "alice"),
        await h.login(srv, "bob"),
        await h.login(srv, "mallory"),
    )


async def test_an_edit_is_acked_told_to_every_other_socket_and_kept(
    h: Harness, srv: Server
) -> None:
    alice, bob, _ = await trio(h, srv)
    alice_tab = await h.resume(srv, alice.session_id)
    sent = await send(alice, bob, "teh typo")
    ack = await alice.call("edit message", {"id": sent["id"], "content": "the typo"})
    edited = ack["message"]
    assert edited["content"] == "the typo" and edited["id"] == sent["id"]
    assert isinstance(edited["editedAt"], int) and edited["editedAt"] >= sent["ts"]
    (told_bob,) = await bob.wait_for("message edited")
    (told_tab,) = await alice_tab.wait_for("message edited")
    assert told_bob == told_tab == edited
    await barrier(alice)
    assert alice.of("message edited") == []  # the asking socket has its ack
    page = await bob.call("history", {"with": alice.user_id})
    assert page["messages"][-1] == edited
    again = await h.resume(srv, bob.session_id)
    assert again.entry(alice.user_id)["messages"][-1] == edited


async def test_only_the_sender_edits_and_strangers_learn_nothing(h: Harness, srv: Server) -> None:
    alice, bob, mallory = await trio(h, srv)
    sent = await send(alice, bob, "mine")
    assert await bob.call("edit message", {"id": sent["id"], "content": "x"}) == {
        "error": "not your message"
    }
    assert await mallory.call("edit message", {"id": sent["id"], "content": "x"}) == {
        "error": "no such message"
    }
    assert await alice.call("edit message", {"id": 10**12, "content": "x"}) == {
        "error": "no such message"
    }
    for bad in ({"id": sent["id"], "content": "  "}, {"id": sent["id"]}, {"id": "1"}, [], None):
        assert "error" in await alice.call("edit message", bad)
    too_long = "x" * (srv.config.max_message_length + 1)
    assert await alice.call("edit message", {"id": sent["id"], "content": too_long}) == {
        "error": "content too long"
    }
    page = await alice.call("history", {"with": bob.user_id})
    assert page["messages"][-1]["content"] == "mine"
    assert "editedAt" not in page["messages"][-1]
    await barrier(bob)
    assert bob.of("message edited") == [] and mallory.of("message edited") == []


async def test_a_delete_leaves_a_tombstone_everywhere(h: Harness, srv: Server) -> None:
    alice, bob, mallory = await trio(h, srv)
    first = await send(alice, bob, "oops secret")
    kept = await send(alice, bob, "kept")
    assert await bob.call("delete message", {"id": first["id"]}) == {"error": "not your message"}
    assert await mallory.call("delete message", {"id": first["id"]}) == {"error": "no such message"}
    assert await alice.call("delete message", {"id": first["id"]}) == {"ok": True}
    (told,) = await bob.wait_for("message deleted")
    assert told == {"id": first["id"], "from": alice.user_id, "to": bob.user_id}
    assert await alice.call("delete message", {"id": first["id"]}) == {"ok": True}  # again
    await barrier(bob)
    assert len(bob.of("message deleted")) == 1  # told once
    tombstone = {
        "id": first["id"],
        "from": alice.user_id,
        "to": bob.user_id,
        "ts": first["ts"],
        "deleted": True,
        "content": "",
    }
    page = await bob.call("history", {"with": alice.user_id})
    assert page["messages"] == [tombstone, kept]
    again = await h.resume(srv, bob.session_id)
    assert again.entry(alice.user_id)["messages"] == [tombstone, kept]
    assert again.entry(alice.user_id)["unread"] == 1  # the tombstone is not unread
    assert await alice.call("edit message", {"id": first["id"], "content": "back"}) == {
        "error": "no such message"
    }
    found = await bob.call("search", {"query": "secret"})
    assert found == {"messages": [], "hasMore": False}


async def test_a_reply_names_a_message_of_the_same_conversation(h: Harness, srv: Server) -> None:
    alice, bob, mallory = await trio(h, srv)
    question = await send(alice, bob, "lunch?")
    answer = await send(bob, alice, "yes", replyTo=question["id"])
    assert answer["replyTo"] == question["id"]
    (got,) = await alice.wait_for("private message")
    assert got["replyTo"] == question["id"]
    elsewhere = await send(mallory, bob, "hello bob")
    for bad in (elsewhere["id"], 10**12, "1", True, 0):
        ack = await alice.call(
            "private message", {"content": "x", "to": bob.user_id, "replyTo": bad}
        )
        assert ack == {"error": "no such message"}, bad
    ack = await mallory.call(
        "private message", {"content": "x", "to": alice.user_id, "replyTo": question["id"]}
    )
    assert ack == {"error": "no such message"}  # not mallory's conversation
    page = await alice.call("history", {"with": bob.user_id})
    assert [m.get("replyTo") for m in page["messages"]] == [None, question["id"]]


async def test_search_finds_every_word_in_the_callers_conversations_only(
    h: Harness, srv: Server
) -> None:
    alice, bob, mallory = await trio(h, srv)
    carol = await h.login(srv, "carol")
    a = await send(alice, bob, "Café au LAIT tomorrow?")
    await send(bob, alice, "no coffee for me")
    b = await send(carol, alice, "the CAFE near the station")
    await send(mallory, bob, "cafe secrets of mallory")
    found = await alice.call("search", {"query": "cafe"})
    assert [m["id"] for m in found["messages"]] == [b["id"], a["id"]]  # newest first
    assert found["hasMore"] is False
    assert [
        m["id"] for m in (await alice.call("search", {"query": "CAFE tomorrow"}))["messages"]
    ] == [a["id"]]
    only_bob = await alice.call("search", {"query": "cafe", "with": bob.user_id})
    assert [m["id"] for m in only_bob["messages"]] == [a["id"]]
    assert (await alice.call("search", {"query": "mallory"}))["messages"] == []
    page1 = await alice.call("search", {"query": "cafe", "limit": 1})
    assert [m["id"] for m in page1["messages"]] == [b["id"]] and page1["hasMore"] is True
    page2 = await alice.call("search", {"query": "cafe", "limit": 1, "before": b["id"]})
    assert [m["id"] for m in page2["messages"]] == [a["id"]] and page2["hasMore"] is False
    await alice.call("edit message", {"id": a["id"], "content": "tea tomorrow"})
    assert [m["id"] for m in (await alice.call("search", {"query": "tea"}))["messages"]] == [
        a["id"]
    ]
    assert [m["id"] for m in (await bob.call("search", {"query": "cafe"}))["messages"]] == [
        m["id"] for m in (await bob.call("search", {"query": "mallory"}))["messages"]
    ]


async def test_search_refuses_what_it_cannot_answer(h: Harness, srv: Server) -> None:
    alice, *_ = await trio(h, srv)
    cases = [
        ({"query": ""}, "empty query"),
        ({"query": " ,;! "}, "empty query"),
        ({"query": 5}, "invalid query"),
        ({"query": "x" * 300}, "invalid query"),
        ({"query": "a", "limit": 51}, "invalid limit"),
        ({"query": "a", "limit": 0}, "invalid limit"),
        ({"query": "a", "before": "9"}, "invalid before"),
        ({"query": "a", "with": "nobody-at-all"}, "unknown user"),
        ("cafe", "invalid payload"),
    ]
    for payload, error in cases:
        assert await alice.call("search", payload) == {"error": error}, payload


async def test_history_around_and_after_page_both_ways(h: Harness, srv: Server) -> None:
    alice, bob, mallory = await trio(h, srv)
    sent = [await send(alice if i % 2 else bob, bob if i % 2 else alice, f"m{i}") for i in range(9)]
    ids = [m["id"] for m in sent]
    page = await alice.call("history", {"with": bob.user_id, "around": ids[4], "limit": 2})
    assert [m["id"] for m in page["messages"]] == ids[2:7]
    assert page["hasMore"] is True and page["hasNewer"] is True
    newer = await alice.call("history", {"with": bob.user_id, "after": ids[6], "limit": 2})
    assert [m["id"] for m in newer["messages"]] == ids[7:9]
    assert newer["hasNewer"] is False and newer["hasMore"] is True
    older = await alice.call("history", {"with": bob.user_id, "before": ids[2], "limit": 2})
    assert [m["id"] for m in older["messages"]] == ids[0:2]
    assert older["hasMore"] is False and older["hasNewer"] is True
    latest = await alice.call("history", {"with": bob.user_id, "limit": 3})
    assert latest["hasNewer"] is False
    edge = await alice.call("history", {"with": bob.user_id, "around": ids[0], "limit": 2})
    assert [m["id"] for m in edge["messages"]] == ids[0:3] and edge["hasMore"] is False
    other = await send(mallory, bob, "not alice's")
    for bad in (other["id"], 10**12):
        ack = await alice.call("history", {"with": bob.user_id, "around": bad})
        assert ack == {"error": "no such message"}
    both = {"with": bob.user_id, "before": ids[3], "after": ids[1]}
    assert await alice.call("history", both) == {"error": "invalid payload"}
    assert await alice.call("history", {"with": bob.user_id, "after": "x"}) == {
        "error": "invalid after"
    }


async def test_history_at_the_edges_of_the_ids_answers_the_same_on_every_store(
    h: Harness, srv: Server
) -> None:
    alice, bob, _ = await trio(h, srv)
    sent = [await send(alice, bob, f"m{i}") for i in range(3)]
    for before in (0, 1, -5):
        page = await alice.call("history", {"with": bob.user_id, "before": before})
        assert page == {"messages": [], "hasMore": False, "hasNewer": True}, before
    page = await alice.call("history", {"with": bob.user_id, "after": -5, "limit": 2})
    assert [m["id"] for m in page["messages"]] == [m["id"] for m in sent[:2]]
    assert page["hasMore"] is False and page["hasNewer"] is True
    page = await alice.call("history", {"with": bob.user_id, "after": sent[-1]["id"]})
    assert page == {"messages": [], "hasMore": True, "hasNewer": False}
