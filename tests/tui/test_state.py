"""The roster and conversation model, without a server or a screen."""

from __future__ import annotations

import random
from typing import Any

from chat_tui.records import ChatMessage, Contact, Delivery
from chat_tui.state import ChatState, backoff_delay, display_names, merge_messages
from chat_tui.wire import (
    parse_message,
    parse_messages,
    parse_roster,
    parse_roster_entry,
    parse_send_ack,
)

ME, BOB, CAROL, DAVE = "me000000", "bob00000", "carol000", "dave0000"


# The state takes parsed records; these feed it wire payloads the way the connection does.


def users(s: ChatState, payload: object) -> None:
    s.apply_users(parse_roster(payload)[0])


def joined(s: ChatState, payload: object) -> None:
    entry = parse_roster_entry(payload)
    assert entry is not None
    s.apply_user_connected(entry)


def recv(s: ChatState, payload: object) -> tuple[Contact, ChatMessage] | None:
    msg = parse_message(payload)
    return None if msg is None else s.receive(msg)


def ack(s: ChatState, to: str, client_id: str, payload: object) -> ChatMessage | None:
    return s.acknowledge(to, client_id, parse_send_ack(payload))


def page(s: ChatState, peer: str, payload: object, has_more: bool) -> int:
    return s.prepend_history(peer, parse_messages(payload), has_more)


def wire(i: int, frm: str, to: str, content: str | None = None, **extra: Any) -> dict[str, Any]:
    return {
        "id": i,
        "ts": 1_700_000_000_000 + i,
        "content": content or f"m{i}",
        "from": frm,
        "to": to,
        **extra,
    }


def user(
    uid: str,
    name: str,
    connected: bool = True,
    messages: list[dict[str, Any]] | None = None,
    has_more: bool = False,
) -> dict[str, Any]:
    return {
        "userID": uid,
        "username": name,
        "connected": connected,
        "messages": messages or [],
        "hasMore": has_more,
    }


def state_with(*entries: dict[str, Any]) -> ChatState:
    s = ChatState(self_id=ME)
    users(s, [user(ME, "me"), *entries])
    return s


def test_roster_order_self_first_then_casefolded_names_then_user_id() -> None:
    s = state_with(
        user(BOB, "bob"), user(CAROL, "Alice"), user(DAVE, "alice"), user("zed00000", "Zed")
    )
    assert [c.user_id for c in s.ordered()] == [ME, CAROL, DAVE, BOB, "zed00000"]
    joined(s, {"userID": "aaron000", "username": "aaron"})
    assert [c.user_id for c in s.ordered()][:2] == [ME, "aaron000"]  # sorted position


def test_display_names_tell_namesakes_apart_and_mark_yourself() -> None:
    s = state_with(user("bob1xxxx", "bob"), user("bob2yyyy", "Bob"), user(CAROL, "carol"))
    names = display_names(s.contacts.values(), ME)
    assert names[ME] == "me (yourself)"
    assert names["bob1xxxx"] == "bob #bob1" and names["bob2yyyy"] == "Bob #bob2"
    assert names[CAROL] == "carol"


def test_presence_events() -> None:
    s = state_with(user(BOB, "bob", connected=False))
    joined(s, {"userID": BOB, "username": "bob", "connected": True, "messages": []})
    assert s.contacts[BOB].connected
    s.apply_user_disconnected(BOB, 1_000)
    assert not s.contacts[BOB].connected and s.contacts[BOB].last_seen == 1_000
    joined(s, {"userID": BOB, "username": "bob", "connected": True, "messages": []})
    assert s.contacts[BOB].last_seen is None  # online: no "last seen"
    s.set_self_connected(False)
    assert not s.contacts[ME].connected
    for junk in (None, 5, [], {"userID": 5}, {"username": "x"}):
        assert parse_roster_entry(junk) is None
    s.apply_user_disconnected("nobody", 1)  # an unknown user changes nothing


def test_unread_counts_and_own_echoes() -> None:
    s = state_with(user(BOB, "bob"), user(CAROL, "carol"))
    s.open(CAROL)
    recv(s, wire(1, BOB, ME))
    recv(s, wire(2, BOB, ME))
    recv(s, wire(3, CAROL, ME))  # the open conversation: not unread
    recv(s, wire(4, ME, BOB))  # your own echo from another tab: not unread
    assert s.contacts[BOB].unread == 2 and s.contacts[CAROL].unread == 0
    assert [m.content for m in s.contacts[BOB].messages] == ["m1", "m2", "m4"]
    assert s.next_unread() == BOB
    assert s.open(BOB) == 2 and s.contacts[BOB].unread == 0
    assert s.next_unread() is None


def test_receive_drops_junk_duplicates_and_strangers() -> None:
    s = state_with(user(BOB, "bob"))
    assert recv(s, wire(1, BOB, ME)) is not None
    assert recv(s, wire(1, BOB, ME)) is None  # the same id twice
    assert recv(s, wire(2, "stranger", ME)) is None
    for junk in (None, "x", {"content": 5, "from": BOB, "to": ME}, {"from": BOB}):
        assert recv(s, junk) is None
    assert len(s.contacts[BOB].messages) == 1


def test_own_message_pending_then_sent_or_failed_then_retried() -> None:
    s = state_with(user(BOB, "bob"))
    msg = s.add_own(BOB, "hi", "c1", ts=5)
    assert msg.delivery is Delivery.PENDING and msg.id is None
    ack(s, BOB, "c1", {"message": wire(7, ME, BOB, "hi", clientId="c1")})
    assert (msg.delivery, msg.id, msg.ts) == (Delivery.SENT, 7, 1_700_000_000_007)
    bad = s.add_own(BOB, "x" * 5000, "c2")
    ack(s, BOB, "c2", {"error": "content too long"})
    assert bad.delivery is Delivery.FAILED and bad.error == "content too long"
    assert s.retry(BOB, "c2") is bad and bad.delivery is Delivery.PENDING
    assert s.retry(BOB, "c2") is None  # only failed messages
    tutorial = s.add_own(BOB, "no acks here", "c3")
    ack(s, BOB, "c3", None)  # a server without acks
    assert tutorial.delivery is Delivery.SENT and tutorial.id is None


def test_echo_of_a_pending_message_settles_it_instead_of_doubling() -> None:
    s = state_with(user(BOB, "bob"))
    own = s.add_own(BOB, "hi", "c1")
    placed = recv(s, wire(9, ME, BOB, "hi", clientId="c1"))
    assert placed is not None and placed[1] is own
    assert own.delivery is Delivery.SENT and own.id == 9
    ack(s, BOB, "c1", {"message": wire(9, ME, BOB, "hi", clientId="c1")})
    assert [m.id for m in s.contacts[BOB].messages] == [9]


def test_incoming_messages_go_before_your_unsent_ones() -> None:
    s = state_with(user(BOB, "bob"))
    s.add_own(BOB, "pending", "c1")
    recv(s, wire(1, BOB, ME, "incoming"))
    assert [m.content for m in s.contacts[BOB].messages] == ["incoming", "pending"]


def test_reconnect_snapshot_merges_and_keeps_what_you_sent_offline() -> None:
    """Section 10 item 2 of the spec, fixed: a snapshot never drops your own messages."""
    s = state_with(user(BOB, "bob", messages=[wire(1, BOB, ME), wire(2, ME, BOB)]))
    s.contacts[BOB].unread = 1
    s.add_own(BOB, "typed while offline", "c9")
    users(
        s,
        [
            user(ME, "me"),
            user(
                BOB,
                "bob",
                connected=False,
                messages=[wire(1, BOB, ME), wire(2, ME, BOB), wire(3, BOB, ME)],
            ),
        ],
    )
    bob = s.contacts[BOB]
    assert [m.content for m in bob.messages] == ["m1", "m2", "m3", "typed while offline"]
    assert bob.messages[-1].delivery is Delivery.PENDING
    assert bob.unread == 1 and not bob.connected  # unread kept, status updated
    assert len(s.contacts) == 2  # no duplicate rows


def test_snapshot_that_already_holds_a_pending_message_settles_nothing_twice() -> None:
    s = state_with(user(BOB, "bob"))
    s.add_own(BOB, "hi", "c1")
    users(s, [user(ME, "me"), user(BOB, "bob", messages=[wire(4, ME, BOB, "hi", clientId="c1")])])
    assert [(m.content, m.id) for m in s.contacts[BOB].messages] == [("hi", 4)]


def test_merge_takes_the_snapshots_copies_and_drops_older_pages() -> None:
    """After a reconnect the snapshot's copies win (edits and deletes made meanwhile), and
    pages older than it go: they may have changed too, and scrolling fetches them again."""
    s = state_with(user(BOB, "bob", messages=[wire(i, BOB, ME) for i in (5, 6)], has_more=True))
    assert page(s, BOB, [wire(i, BOB, ME) for i in (3, 4)], True) == 2
    gone = wire(6, BOB, ME, deleted=True)
    users(
        s,
        [
            user(ME, "me"),
            user(BOB, "bob", messages=[gone, wire(7, BOB, ME)], has_more=True),
        ],
    )
    assert [(m.id, m.deleted) for m in s.contacts[BOB].messages] == [(6, True), (7, False)]
    assert s.contacts[BOB].has_more  # 3 to 5 come back with the next page


def test_merge_without_ids_takes_the_snapshot_plus_unsent() -> None:
    local = [parse_message({"content": "old", "from": BOB, "to": ME})]
    snapshot = [parse_message({"content": x, "from": BOB, "to": ME}) for x in ("a", "b")]
    merged = merge_messages([m for m in local if m], [m for m in snapshot if m])
    assert [m.content for m in merged] == ["a", "b"]


def test_paging_prepends_skips_known_and_stops_when_done() -> None:
    s = state_with(user(BOB, "bob", messages=[wire(i, BOB, ME) for i in (8, 9)], has_more=True))
    assert page(s, BOB, [wire(i, ME, BOB) for i in (6, 7, 8)], True) == 2
    assert [m.id for m in s.contacts[BOB].messages] == [6, 7, 8, 9]
    assert s.contacts[BOB].has_more
    assert page(s, BOB, [], False) == 0 and not s.contacts[BOB].has_more
    assert page(s, "nobody", [wire(1, BOB, ME)], True) == 0
    assert page(s, BOB, "junk", True) == 0


def test_self_messages_live_under_your_own_entry() -> None:
    s = state_with(user(BOB, "bob"))
    recv(s, wire(1, ME, ME, "note"))
    assert [m.content for m in s.contacts[ME].messages] == ["note"]


def test_step_and_wrap() -> None:
    s = state_with(user(BOB, "bob"), user(CAROL, "carol"))
    assert s.step(1) == ME  # nothing open: the first row
    s.open(ME)
    assert s.step(1) == BOB and s.step(-1) == CAROL


def test_backoff_grows_with_jitter_and_a_cap() -> None:
    rng = random.Random(3)
    delays = [backoff_delay(a, base=0.5, cap=8, rng=rng) for a in range(1, 9)]
    assert 0.25 <= delays[0] <= 0.5
    assert all(4 <= d <= 8 for d in delays[5:])
    assert delays[3] > delays[0]


def test_users_payload_junk_is_ignored() -> None:
    s = ChatState(self_id=ME)
    users(s, "junk")
    users(s, [None, 5, {"userID": 1}, {"userID": BOB, "username": "bob", "messages": "x"}])
    assert list(s.contacts) == [BOB] and s.contacts[BOB].messages == []


# -- read markers, receipts, typing (issue 13) -----------------------------------------


def marked(uid: str, name: str, messages: list[dict[str, Any]], **read: Any) -> dict[str, Any]:
    """A ``users`` item of chat-server, with its read state."""
    return {**user(uid, name, messages=messages), "unread": 0, "readUpTo": None, **read}


def test_unread_counts_and_markers_come_from_the_server() -> None:
    msgs = [wire(1, BOB, ME), wire(2, ME, BOB), wire(3, BOB, ME), wire(4, BOB, ME)]
    s = ChatState(self_id=ME)
    users(s, [marked(ME, "me", [], unread=7), marked(BOB, "bob", msgs, unread=2, readUpTo=1)])
    bob = s.contacts[BOB]
    assert s.server_marks and (bob.unread, bob.read_up_to) == (2, 1)
    assert s.contacts[ME].unread == 0  # never unread with yourself
    s.contacts[BOB].unread = 0
    users(s, [marked(BOB, "bob", msgs, unread=2, readUpTo=1)])  # a reconnect: the server's
    assert bob.unread == 2
    # without read state (the tutorial's server) the local counts stay
    t = state_with(user(BOB, "bob", messages=msgs))
    t.contacts[BOB].unread = 5
    users(t, [user(BOB, "bob", messages=msgs)])
    assert not t.server_marks and t.contacts[BOB].unread == 5


def test_marking_read_moves_forward_only_and_recounts() -> None:
    msgs = [wire(i, BOB, ME) for i in range(1, 6)]
    s = ChatState(self_id=ME)
    users(s, [marked(ME, "me", []), marked(BOB, "bob", msgs, unread=5)])
    assert s.mark_read(BOB, 3) and s.contacts[BOB].unread == 2
    assert not s.mark_read(BOB, 2)  # backwards: nothing
    assert s.contacts[BOB].read_up_to == 3 and s.contacts[BOB].unread == 2
    assert not s.mark_read("nobody", 9)
    # a marker below what is loaded cannot be counted here: the server's count stays
    users(s, [marked(BOB, "bob", msgs[3:], unread=40, readUpTo=3)])
    s.contacts[BOB].has_more = True
    users(s, [{**marked(BOB, "bob", msgs[3:], unread=40, readUpTo=3), "hasMore": True}])
    assert s.contacts[BOB].unread == 40


def test_a_marker_not_yet_sent_survives_a_snapshot() -> None:
    msgs = [wire(i, BOB, ME) for i in range(1, 6)]
    s = ChatState(self_id=ME)
    users(s, [marked(ME, "me", []), marked(BOB, "bob", msgs, unread=5)])
    s.mark_read(BOB, 5)  # read here, the link dropped before the read went out
    users(s, [marked(BOB, "bob", msgs, unread=5, readUpTo=None)])
    assert (s.contacts[BOB].read_up_to, s.contacts[BOB].unread) == (5, 0)


def test_read_events_sync_tabs_and_bring_receipts() -> None:
    msgs = [wire(1, ME, BOB), wire(2, BOB, ME), wire(3, ME, BOB)]
    s = ChatState(self_id=ME)
    users(s, [marked(ME, "me", []), marked(BOB, "bob", msgs, unread=1)])
    assert s.apply_read(ME, BOB, 2, 10) is s.contacts[BOB]  # another tab of mine read it
    assert (s.contacts[BOB].read_up_to, s.contacts[BOB].unread) == (2, 0)
    assert s.apply_read(BOB, ME, 1, 20) is s.contacts[BOB]  # bob read my first message
    bob = s.contacts[BOB]
    assert (bob.peer_read_up_to, bob.peer_read_at) == (1, 20)
    assert s.apply_read(BOB, ME, 1, 30) is None and bob.peer_read_at == 20  # not forward
    assert s.apply_read(BOB, CAROL, 3, 40) is None  # about someone else: nothing
    assert s.apply_read(CAROL, ME, 3, 40) is None  # a stranger: nothing
    from chat_tui.records import is_seen

    assert [is_seen(m, bob) for m in bob.messages] == [True, False, False]


def test_first_unread_with_the_servers_marker_or_a_count() -> None:
    from chat_tui.state import first_unread

    msgs = [parse_message(wire(i, BOB if i % 2 else ME, ME)) for i in range(1, 7)]
    shown = [m for m in msgs if m is not None]
    assert first_unread(shown, BOB, 2) == 2  # message 3, the first of bob's above 2
    assert first_unread(shown, BOB, 0) == 0
    assert first_unread(shown, BOB, 6) is None
    assert first_unread(shown, BOB, None, unread=2) == 4  # counted: the last two
    assert first_unread(shown, BOB, None, unread=0) is None
    assert first_unread(shown, BOB, None, unread=99) is None


def test_typing_starts_expires_and_ends_with_a_message() -> None:
    s = state_with(user(BOB, "bob"), user(CAROL, "carol"))
    assert s.set_typing(BOB, True, now=100.0)
    assert not s.set_typing(BOB, True, now=102.0)  # a repeat: nothing new to show
    assert not s.set_typing(ME, True, now=100.0)  # never yourself
    assert s.set_typing(CAROL, True, now=103.0)
    assert s.expire_typing(107.5) == [] and s.expire_typing(108.0) == [BOB]
    recv(s, wire(1, CAROL, ME))  # her message ends her typing
    assert s.contacts[CAROL].typing_until is None
    s.set_typing(BOB, True, now=200.0)
    assert s.set_typing(BOB, False, now=201.0) and s.contacts[BOB].typing_until is None
    s.set_typing(BOB, True, now=300.0)
    s.apply_user_disconnected(BOB, 5)  # gone: no longer typing
    assert s.contacts[BOB].typing_until is None


def test_a_message_in_the_open_conversation_is_unread_only_when_not_watched() -> None:
    s = state_with(user(BOB, "bob"))
    s.open(BOB)
    msg = parse_message(wire(1, BOB, ME))
    assert msg is not None
    s.receive(msg)
    assert s.contacts[BOB].unread == 0
    other = parse_message(wire(2, BOB, ME))
    assert other is not None
    s.receive(other, watching=False)  # the terminal has no focus
    assert s.contacts[BOB].unread == 1


def test_read_and_typing_payload_junk_is_dropped() -> None:
    from chat_tui.wire import parse_read, parse_typing, read_request

    assert parse_read({"by": "a", "with": "b", "upTo": 3, "at": 9}) == ("a", "b", 3, 9)
    assert parse_read({"by": "a", "with": "b", "upTo": 3}) == ("a", "b", 3, None)
    for junk in (None, [], {"by": 1}, {"by": "a", "with": "b", "upTo": True}, {"upTo": 3}):
        assert parse_read(junk) is None
    assert parse_typing({"from": "a", "typing": False}) == ("a", False)
    for junk in (None, {"from": "a"}, {"from": "a", "typing": 1}, {"from": 2, "typing": True}):
        assert parse_typing(junk) is None
    assert read_request("b", 3, private=False) == {"with": "b", "upTo": 3}
    assert read_request("b", 3, private=True) == {"with": "b", "upTo": 3, "private": True}
    entry = parse_roster_entry({**user(BOB, "bob"), "unread": -4, "lastSeen": "x"})
    assert entry is not None and (entry.unread, entry.last_seen) == (0, None)
