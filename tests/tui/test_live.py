"""Conversations that feel alive, as chat-tui shows them against a real chat-server: unread
counts kept by the server, the "new messages" line, read markers sent as the user sees
messages (in every tab), receipts, typing, last seen, throttled notifications and mutes."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import pytest
from textual import events

from chat_server import protocol as p
from chat_tui import state as state_module
from chat_tui.app import ChatApp
from chat_tui.config import Config
from chat_tui.widgets.conversation import ConversationView
from tests.conftest import Harness, Peer, Server, barrier, wait_until
from tests.tui.conftest import (
    MakeApp,
    chat_ready,
    conversation_lines,
    notices,
    roster_rows,
    running,
    session_file,
    visible_lines,
)
from tests.tui.fake import BOB, ME, FakeLink, entry
from tests.tui.process import TuiProcess

pytestmark = pytest.mark.stores("sqlite")

NEW_LINE = "── new messages "


def me(app: ChatApp) -> str:
    assert app.state.self_id is not None
    return app.state.self_id


def reads_to(peer: Peer) -> list[dict[str, Any]]:
    return [r for r in peer.of(p.READ) if isinstance(r, dict)]


def header(app: ChatApp) -> str:
    return str(app.screen.query_one("#peer-header").render())


def typing_line(app: ChatApp) -> str:
    line = app.screen.query_one("#typing-line")
    return str(line.render()) if line.display else ""


async def stored_ids(peer: Peer, with_id: str) -> list[int]:
    ack = await peer.call(p.HISTORY, {"with": with_id, "limit": 100})
    return [m["id"] for m in ack["messages"]]


async def wait_until_stored(peer: Peer, with_id: str, count: int) -> None:
    for _ in range(100):
        if len(await stored_ids(peer, with_id)) >= count:
            return
        await barrier(peer)
    raise AssertionError(f"{count} messages never stored")


async def sent_all(app: ChatApp) -> None:
    """Every marker the app has seen went out and was taken by the server."""
    await wait_until(lambda: not app._reads and not app._reads_due, "reads sent")


async def test_unread_counts_survive_a_restart_and_reading_clears_them_everywhere(
    h: Harness, srv: Server, make_app: MakeApp, tmp_path: Path
) -> None:
    sf = session_file(tmp_path)
    first = make_app(srv.url, sf, username="amy")
    async with running(first):
        await chat_ready(first, "amy")
    amy_id = sf.load().userID  # type: ignore[union-attr]
    # while chat-tui is closed, two people write
    bob, carol = await h.login(srv, "bob"), await h.login(srv, "carol")
    for text in ("b1", "b2"):
        await bob.send(amy_id, text)
    await carol.send(amy_id, "c1")
    b_ids, c_ids = await stored_ids(bob, amy_id), await stored_ids(carol, amy_id)

    app = make_app(srv.url, sf, config=Config(sort="name"))  # bob before carol
    async with running(app) as pilot:
        await chat_ready(app, "bob", "carol")
        # the first unread conversation opens, its new messages under the line, and
        # what is on screen is marked read: bob gets the receipt
        assert app.state.open_id == bob.user_id
        lines = conversation_lines(app)
        at = next(i for i, line in enumerate(lines) if line.startswith(NEW_LINE))
        assert lines[at + 1] == "bob"
        assert lines[at + 2].endswith("b1") and lines[at + 3].endswith("b2")
        await wait_until(lambda: bool(reads_to(bob)), "bob's receipt")
        receipt = reads_to(bob)[-1]
        assert (receipt["by"], receipt["with"], receipt["upTo"]) == (
            amy_id,
            bob.user_id,
            b_ids[-1],
        )
        assert "● carol [1]" in roster_rows(app)  # the server's count
        await pilot.press("alt+a")  # jumps to it
        assert app.state.open_id == carol.user_id
        assert any(line.startswith(NEW_LINE) for line in conversation_lines(app))
        await wait_until(lambda: bool(reads_to(carol)), "carol's receipt")
        assert reads_to(carol)[-1]["upTo"] == c_ids[-1]
        await sent_all(app)
        await pilot.press("alt+a")
        await wait_until(lambda: bool(app._notifications), "a notice")
        assert "No unread messages." in [str(n.message) for n in app._notifications]

    # the server kept it: another start shows nothing unread and no line
    again = make_app(srv.url, sf)
    async with running(again):
        await chat_ready(again, "bob", "carol")
        assert not any("[" in row for row in roster_rows(again))
        assert not any(line.startswith(NEW_LINE) for line in conversation_lines(again))


async def test_reading_in_one_tab_clears_the_unread_count_in_the_other(
    h: Harness, srv: Server, make_app: MakeApp, tmp_path: Path
) -> None:
    bob, carol = await h.login(srv, "bob"), await h.login(srv, "carol")
    sf = session_file(tmp_path)
    app = make_app(srv.url, sf, username="amy")
    async with running(app) as pilot:
        await chat_ready(app, "bob", "carol")
        if app.state.open_id != carol.user_id:
            await pilot.press("ctrl+n")
        assert app.state.open_id == carol.user_id
        other_tab = await h.resume(srv, sf.load().sessionID)  # type: ignore[union-attr]
        await bob.send(me(app), "hello")
        await wait_until(lambda: "● bob [1]" in roster_rows(app), "unread in this tab")
        (msg_id,) = await stored_ids(bob, me(app))
        ack = await other_tab.call(p.READ, {"with": bob.user_id, "upTo": msg_id})
        assert ack == {"ok": True, "upTo": msg_id}
        await wait_until(lambda: "● bob" in roster_rows(app), "read in the other tab")
        # and the other way round: reading here reaches the other tab
        await bob.send(me(app), "again")
        await wait_until(lambda: "● bob [1]" in roster_rows(app), "unread again")
        await pilot.press("ctrl+p")
        assert app.state.open_id == bob.user_id
        await wait_until(
            lambda: any(r["upTo"] > msg_id for r in reads_to(other_tab)), "the other tab told"
        )
        assert all(r["by"] == me(app) and r["with"] == bob.user_id for r in reads_to(other_tab))


async def test_own_messages_show_sent_then_seen_and_a_private_read_shows_nothing(
    h: Harness, srv: Server, make_app: MakeApp, tmp_path: Path
) -> None:
    bob = await h.login(srv, "bob")
    app = make_app(srv.url, session_file(tmp_path), username="amy")
    async with running(app) as pilot:
        await chat_ready(app, "bob")
        for text in ("one", "two", "three"):
            await pilot.press(*text, "enter")
        await wait_until(
            lambda: sum(" ✓  " in line for line in conversation_lines(app)) == 3, "three ✓"
        )
        one, two, three = await stored_ids(bob, me(app))
        await bob.call(p.READ, {"with": me(app), "upTo": one, "private": True})
        await bob.send(me(app), "ok")  # arrives after a receipt would have
        await wait_until(lambda: conversation_lines(app)[-1].endswith("ok"), "bob's reply")
        assert sum(" ✓✓ " in line for line in conversation_lines(app)) == 0

        def seen_under() -> list[str]:
            lines = conversation_lines(app)
            return [
                lines[i - 1].split()[-1]
                for i, x in enumerate(lines)
                if x.strip().startswith("seen")
            ]

        await bob.call(p.READ, {"with": me(app), "upTo": two})
        await wait_until(lambda: seen_under() == ["two"], "seen under two")
        lines = conversation_lines(app)
        assert [x[7:] for x in lines if x.endswith(("one", "two", "three"))] == [
            "✓✓ one",
            "✓✓ two",
            "✓  three",
        ]
        at = next(i for i, x in enumerate(lines) if x.endswith("two"))
        assert lines[at + 1].strip() == f"seen {time.strftime('%H:%M')}"
        await bob.call(p.READ, {"with": me(app), "upTo": three})
        await wait_until(lambda: seen_under() == ["three"], "the line moved under three")


async def test_typing_shows_in_the_roster_and_the_conversation_and_clears(
    h: Harness, srv: Server, make_app: MakeApp, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # long enough that a busy machine cannot let it expire before the screen shows it
    monkeypatch.setattr(state_module, "TYPING_EXPIRES_S", 60.0)
    bob = await h.login(srv, "bob")
    app = make_app(srv.url, session_file(tmp_path), username="amy")
    async with running(app) as pilot:
        await chat_ready(app, "bob")
        await bob.call(p.TYPING, {"to": me(app), "typing": True})
        await wait_until(lambda: "● bob typing…" in roster_rows(app), "typing in the roster")
        assert typing_line(app) == "bob is typing…"
        await bob.send(me(app), "here it is")  # the message ends it
        await wait_until(lambda: "● bob" in roster_rows(app), "typing over")
        assert typing_line(app) == ""
        await bob.call(p.TYPING, {"to": me(app), "typing": True})
        await wait_until(lambda: typing_line(app) != "", "typing again")
        await bob.call(p.TYPING, {"to": me(app), "typing": False})
        await wait_until(lambda: typing_line(app) == "", "typing: false")
        # a "typing" not repeated ends by itself: seen arriving (the state), then gone
        monkeypatch.setattr(state_module, "TYPING_EXPIRES_S", 1.0)
        bob_contact = app.state.contacts[bob.user_id]
        await bob.call(p.TYPING, {"to": me(app), "typing": True})
        await wait_until(lambda: bob_contact.typing_until is not None, "typing once more")
        await wait_until(lambda: typing_line(app) == "", "expired (not repeated)")
        assert bob_contact.typing_until is None

        # amy types: bob is told, once, and again when she stops (an empty composer)
        await pilot.press("h", "i")
        await wait_until(lambda: bool(bob.of(p.TYPING)), "bob told")
        assert bob.of(p.TYPING) == [{"from": me(app), "typing": True}]
        await pilot.press("backspace", "backspace")
        await wait_until(lambda: len(bob.of(p.TYPING)) == 2, "stopped")
        assert bob.of(p.TYPING)[-1] == {"from": me(app), "typing": False}


async def test_privacy_settings_send_no_typing_and_private_reads(tmp_path: Path) -> None:
    link = FakeLink()
    config = Config(typing=False, read_receipts=False, bell=False)
    app = ChatApp(link, session_file(tmp_path), username="amy", config=config)
    async with running(app) as pilot:
        await wait_until(lambda: link.post is not None, "link started")
        from chat_tui import messages as m
        from chat_tui.records import ChatMessage

        hello = ChatMessage("hello", BOB, ME, id=7, ts=1)
        link.accept(entry(BOB, "bob", messages=[hello], unread=1))
        await wait_until(lambda: app.state.open_id == BOB, "bob open")
        await wait_until(lambda: any(e == p.READ for e, _ in link.sent), "read sent")
        assert (p.READ, {"with": BOB, "upTo": 7, "private": True}) in link.sent
        await pilot.press(*"secret draft")
        await pilot.press("enter")
        await wait_until(lambda: any(e == p.PRIVATE_MESSAGE for e, _ in link.sent), "sent")
        assert not any(e == p.TYPING for e, _ in link.sent)
        link.say(m.MessageReceived(ChatMessage("more", BOB, ME, id=9, ts=2)))
        await wait_until(
            lambda: (p.READ, {"with": BOB, "upTo": 9, "private": True}) in link.sent, "again"
        )


async def test_a_private_read_moves_the_marker_but_sends_no_receipt(
    h: Harness, srv: Server, make_app: MakeApp, tmp_path: Path
) -> None:
    bob = await h.login(srv, "bob")
    sf = session_file(tmp_path)
    first = make_app(srv.url, sf, username="amy")
    async with running(first):
        await chat_ready(first, "bob")
        amy_id = me(first)
    await bob.send(amy_id, "psst")
    app = make_app(srv.url, sf, config=Config(bell=False, read_receipts=False))
    async with running(app):
        await chat_ready(app, "bob")
        await wait_until(lambda: app.state.contacts[bob.user_id].read_up_to is not None, "read")
        await sent_all(app)
    await barrier(bob)  # a receipt would have come before this round trip ends
    assert reads_to(bob) == []
    tab = await h.resume(srv, sf.load().sessionID)  # type: ignore[union-attr]
    assert tab.entry(bob.user_id)["unread"] == 0  # yet the server has it read


async def test_last_seen_shows_in_the_header_and_survives_a_restart(
    h: Harness, srv: Server, make_app: MakeApp, tmp_path: Path
) -> None:
    bob = await h.login(srv, "bob")
    sf = session_file(tmp_path)
    app = make_app(srv.url, sf, username="amy")
    async with running(app):
        await chat_ready(app, "bob")
        assert "● online" in header(app)
        await bob.close()
        await wait_until(lambda: "○ last seen just now" in header(app), "last seen")
    again = make_app(srv.url, sf)
    async with running(again):
        await chat_ready(again, "bob")
        await wait_until(lambda: again.state.open_id == bob.user_id, "bob open")
        assert "○ last seen just now" in header(again)  # from the server's lastSeen
        assert again.state.contacts[bob.user_id].last_seen is not None


async def test_alt_u_loads_older_pages_until_the_first_unread_message(
    h: Harness, make_app: MakeApp, tmp_path: Path
) -> None:
    srv = await h.server(history_limit=10)
    sf = session_file(tmp_path)
    first = make_app(srv.url, sf, username="amy")
    async with running(first):
        await chat_ready(first, "amy")
        amy_id = me(first)
    bob = await h.login(srv, "bob")
    for i in range(45):  # far more than the users event carries
        await bob.send(amy_id, f"unread {i}")
    await wait_until_stored(bob, amy_id, 45)
    app = make_app(srv.url, sf)
    async with running(app) as pilot:
        await chat_ready(app, "bob")
        assert app.state.open_id == bob.user_id
        view = app.screen.query_one(ConversationView)
        await pilot.press("alt+u")
        await wait_until(
            lambda: any(line.startswith(NEW_LINE) for line in visible_lines(app)[:3]),
            "the line at the top of the view",
        )
        assert any(line.endswith("unread 0") for line in visible_lines(app)[:6])
        assert view.scroll_y < view.max_scroll_y
        await pilot.press("alt+end")
        await wait_until(lambda: view.scroll_y == view.max_scroll_y, "back at the latest")


async def test_notifications_are_throttled_per_conversation_and_mutes_are_kept(
    h: Harness, srv: Server, make_app: MakeApp, tmp_path: Path
) -> None:
    bob, carol = await h.login(srv, "bob"), await h.login(srv, "carol")
    sf = session_file(tmp_path)
    app = make_app(srv.url, sf, username="amy", config=Config(notify_every=3600))
    async with running(app) as pilot:
        await chat_ready(app, "bob", "carol")
        assert app.state.open_id == bob.user_id
        for i in range(30):
            await carol.send(me(app), f"spam {i}")
        await wait_until(lambda: "● carol [30]" in roster_rows(app), "30 unread")
        assert app.bells == 1
        assert len(await notices(app, lambda n: True, "the notification")) == 1  # not 30
        await bob.send(me(app), "hi")  # the open conversation: no announcement
        await wait_until(lambda: conversation_lines(app)[-1].endswith("hi"), "bob's message")
        assert app.bells == 1
        await pilot.press("ctrl+n")
        assert app.state.open_id == carol.user_id
        await pilot.press("alt+m")
        assert app.state.contacts[carol.user_id].muted and "muted" in header(app)
        assert carol.user_id in (sf.prefs_path.read_text())
    again = make_app(srv.url, sf)
    async with running(again) as pilot:
        await chat_ready(again, "bob", "carol")
        assert again.state.contacts[carol.user_id].muted  # kept across the restart
        if again.state.open_id == carol.user_id:
            await pilot.press("ctrl+p")
        await carol.send(me(again), "still there?")
        await wait_until(
            lambda: again.state.contacts[carol.user_id].unread == 1, "counted, silently"
        )
        await bob.send(me(again), "barrier")
        assert again.bells == 0 and not again._notifications


async def test_a_message_seen_while_the_terminal_has_no_focus_stays_unread(
    h: Harness, srv: Server, make_app: MakeApp, tmp_path: Path
) -> None:
    bob = await h.login(srv, "bob")
    app = make_app(srv.url, session_file(tmp_path), username="amy")
    async with running(app) as pilot:
        await chat_ready(app, "bob")
        app.post_message(events.AppBlur())
        await wait_until(lambda: not app.app_focus, "blurred")
        await bob.send(me(app), "are you there?")
        await wait_until(lambda: "● bob [1]" in roster_rows(app), "unread while away")
        assert app.bells == 1  # announced: the user is not looking
        await barrier(bob)
        assert reads_to(bob) == []
        app.post_message(events.AppFocus())
        await wait_until(lambda: bool(reads_to(bob)), "read when the user is back")
        await wait_until(lambda: "● bob" in roster_rows(app), "count cleared")
        await pilot.pause()


async def test_desktop_notifications_reach_the_terminal_when_asked_for(
    h: Harness, srv: Server, tmp_path: Path
) -> None:
    carol = await h.login(srv, "carol")
    bob = await h.login(srv, "bob")
    sf = tmp_path / "amy.json"
    tui = TuiProcess(srv.url, sf, "amy", "--desktop-notifications")
    try:
        await wait_until(lambda: tui.shown_since(0, "bob") and sf.exists(), "chat", within=30)
        amy_id = json.loads(sf.read_text())["userID"]
        await carol.send(amy_id, "ring ring\x1b]0;evil\x07")
        await wait_until(lambda: "\x1b]777;notify;carol;" in tui.raw, "OSC 777", within=20)
        notice = tui.raw[tui.raw.index("\x1b]777;notify;carol;") :]
        body = notice[: notice.index("\x07")]
        assert "ring ring" in body and "\x1b" not in body[1:]  # the text cannot end it
        assert "\x1b]9;carol: ring ring" in tui.raw
        assert bob.user_id not in tui.raw  # (bob's conversation is the open one)
    finally:
        tui.quit()
