"""chat-tui driven by Textual's pilot against a real chat-server, with python-socketio
clients as the other users."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest

from chat_tui.config import Config
from chat_tui.records import Delivery
from chat_tui.screens.help import HelpScreen
from chat_tui.screens.login import LoginScreen
from chat_tui.screens.switcher import SwitcherScreen
from chat_tui.session_file import Session
from chat_tui.widgets.composer import Composer
from chat_tui.widgets.conversation import ConversationView
from chat_tui.widgets.user_list import UserList
from tests.conftest import Harness, Server, wait_until
from tests.tui.conftest import (
    MakeApp,
    chat_ready,
    conversation_lines,
    delivered,
    login_screen_says,
    notices,
    on_chat,
    read_json,
    roster_rows,
    running,
    session_file,
    status_text,
    visible_lines,
)

# TUI tests run on the default store only (the server suite covers every store)
pytestmark = pytest.mark.stores("sqlite")


async def test_first_login_writes_a_private_session_file_that_the_next_start_reuses(
    h: Harness, srv: Server, make_app: MakeApp, tmp_path: Path
) -> None:
    sf = session_file(tmp_path)
    app = make_app(srv.url, sf)
    async with running(app) as pilot:
        assert isinstance(app.screen, LoginScreen)
        await pilot.press(*"  ", "enter")  # the server's rule, checked before sending
        assert "username required" in str(app.screen.query_one("#login-error").render())
        await pilot.press(*"x" * 33, "enter")
        assert "username too long" in str(app.screen.query_one("#login-error").render())
        await pilot.press(*["backspace"] * 35, *"  alice  ", "enter")
        await chat_ready(app, "alice (yourself)")
        user_id = app.state.self_id
    data = read_json(sf.path)
    assert set(data) == {"sessionID", "userID", "username", "server"}
    assert (data["userID"], data["username"], data["server"]) == (user_id, "alice", srv.url)
    assert stat.S_IMODE(sf.path.stat().st_mode) == 0o600
    assert stat.S_IMODE(sf.path.parent.stat().st_mode) == 0o700

    again = make_app(srv.url, sf)
    async with running(again):
        await chat_ready(again, "alice (yourself)")
        assert again.state.self_id == user_id  # no prompt, same identity


async def test_username_flag_skips_the_prompt_and_server_refusals_show_inline(
    h: Harness, make_app: MakeApp, tmp_path: Path
) -> None:
    srv = await h.server(unique_usernames=True)
    await h.login(srv, "taken")
    app = make_app(srv.url, session_file(tmp_path), username="Taken")
    async with running(app) as pilot:
        await login_screen_says(app, "#login-notice", "username taken")
        await pilot.press("end", *"-2", "enter")  # the name is prefilled; change it
        await chat_ready(app, "Taken-2 (yourself)")


async def test_roster_order_and_icons_follow_presence_live(
    h: Harness, srv: Server, make_app: MakeApp, tmp_path: Path
) -> None:
    zed = await h.login(srv, "Zed")
    app = make_app(srv.url, session_file(tmp_path), username="mia")
    async with running(app):
        await chat_ready(app, "Zed")
        bob = await h.login(srv, "bob")
        await chat_ready(app, "bob")
        assert roster_rows(app) == ["● mia (yourself)", "● bob", "● Zed"]
        await zed.close()
        await wait_until(lambda: "○ Zed" in roster_rows(app), "Zed offline")
        twin = await h.login(srv, "Bob")  # a namesake gets a short userID suffix
        await chat_ready(app, f"Bob #{twin.user_id[:4]}")
        assert f"● bob #{bob.user_id[:4]}" in roster_rows(app)


async def test_send_receive_unread_marker_and_notification(
    h: Harness, srv: Server, make_app: MakeApp, tmp_path: Path
) -> None:
    bob = await h.login(srv, "bob")
    carol = await h.login(srv, "carol")
    app = make_app(srv.url, session_file(tmp_path), username="amy")
    async with running(app) as pilot:
        await chat_ready(app, "bob", "carol")
        assert app.state.open_id == bob.user_id  # the first other user opens
        await pilot.press(*"hello bob", "enter")
        (got,) = await bob.wait_for("private message")
        assert got["content"] == "hello bob" and got["from"] == app.state.self_id
        await wait_until(
            lambda: delivered(app, bob.user_id) == [("hello bob", Delivery.SENT)], "sent"
        )
        assert not any("sending" in line for line in conversation_lines(app))

        await carol.send(app.state.self_id or "", "psst")
        await wait_until(lambda: "● carol [1]" in roster_rows(app), "unread count")
        assert app.bells == 1
        await notices(app, lambda n: "psst" in str(n.message), "the notification")
        await pilot.press("alt+a")  # the next conversation with unread messages
        assert app.state.open_id == carol.user_id
        assert "● carol" in roster_rows(app)
        lines = conversation_lines(app)
        assert lines.index("── new messages " + "─" * (len(lines[0]) - 16)) < len(lines)
        assert "carol" in lines and any(line.endswith("psst") for line in lines)

        await bob.send(app.state.self_id or "", "reply")
        await wait_until(lambda: app.state.contacts[bob.user_id].unread == 1, "bob unread")
        await pilot.press("ctrl+p")  # back to bob: clears it
        assert app.state.open_id == bob.user_id and app.state.contacts[bob.user_id].unread == 0


async def test_history_on_connect_and_older_pages_until_none_are_left(
    h: Harness, make_app: MakeApp, tmp_path: Path
) -> None:
    srv = await h.server(history_limit=20)
    alice = await h.login(srv, "alice")
    bob = await h.login(srv, "bob")
    for i in range(130):
        await bob.call("private message", {"content": f"m{i:03}", "to": alice.user_id})
    await alice.close()
    sf = session_file(tmp_path)
    sf.save(Session(alice.session_id, alice.user_id, "alice", srv.url))
    app = make_app(srv.url, sf)
    async with running(app) as pilot:
        await chat_ready(app, "bob")
        contents = lambda: [m.content for m in app.state.contacts[bob.user_id].messages]  # noqa: E731
        assert contents() == [f"m{i:03}" for i in range(110, 130)]
        view = app.screen.query_one(ConversationView)
        pages = 0
        while app.state.contacts[bob.user_id].has_more:
            n = len(contents())
            for _ in range(10):  # PageUp scrolls up; at the top it asks for older messages
                await pilot.press("pageup")
                await wait_until(lambda: not view.loading_older, "the page to arrive")
                if len(contents()) > n:
                    break
            assert len(contents()) > n, "PageUp at the top loaded nothing"
            pages += 1
        assert pages == 3  # 110 older messages in pages of 50
        await wait_until(lambda: len(contents()) == 130, "all history")
        assert contents() == [f"m{i:03}" for i in range(130)]
        assert not app.state.contacts[bob.user_id].has_more


async def test_outbox_is_delivered_exactly_once_after_reconnect_and_after_restart(
    hs: Harness, make_app: MakeApp, tmp_path: Path
) -> None:
    srv = await hs.server()
    port = srv.port
    bob = await hs.login(srv, "bob")
    sf = session_file(tmp_path)
    app = make_app(srv.url, sf, username="amy")
    async with running(app) as pilot:
        await chat_ready(app, "bob")
        await hs.stop(srv)  # the server goes away
        await wait_until(lambda: "reconnecting" in status_text(app), "reconnecting status")
        assert "○ amy (yourself)" in roster_rows(app)
        await pilot.press(*"sent while offline", "enter")
        assert read_json(sf.outbox_path)[0]["content"] == "sent while offline"
        assert delivered(app, bob.user_id) == [("sent while offline", Delivery.PENDING)]
        srv = await hs.server(port=port)  # back, same data
        await wait_until(lambda: "● connected" in status_text(app), "connected again", within=15)
        await wait_until(lambda: not sf.outbox_path.exists(), "outbox emptied")
        assert delivered(app, bob.user_id) == [("sent while offline", Delivery.SENT)]
        assert "● amy (yourself)" in roster_rows(app)
        # and offline once more, then the client quits with the message unsent
        await hs.stop(srv)
        await wait_until(lambda: "reconnecting" in status_text(app), "reconnecting status")
        await pilot.press(*"typed then quit", "enter")
    assert [i["content"] for i in read_json(sf.outbox_path)] == ["typed then quit"]

    srv = await hs.server(port=port)
    again = make_app(srv.url, sf)
    async with running(again):
        await chat_ready(again, "bob")
        await wait_until(lambda: not sf.outbox_path.exists(), "outbox emptied after restart")
        await wait_until(
            lambda: (
                [c for c, d in delivered(again, bob.user_id)]
                == ["sent while offline", "typed then quit"]
            ),
            "both messages, once each",
        )
    bob2 = await hs.resume(srv, bob.session_id)
    history = [m["content"] for m in bob2.entry(app.state.self_id or "")["messages"]]
    assert history == ["sent while offline", "typed then quit"]


async def test_a_forgotten_session_brings_back_the_prompt_with_the_old_name(
    h: Harness, srv: Server, make_app: MakeApp, tmp_path: Path
) -> None:
    sf = session_file(tmp_path)
    sf.save(Session("f" * 32, "0123456789abcdef", "olga", srv.url))
    app = make_app(srv.url, sf)
    async with running(app) as pilot:
        await login_screen_says(app, "#login-notice", "no longer knows your session")
        assert app.screen.query_one("#username").value == "olga"  # type: ignore[attr-defined]
        await pilot.press("enter")
        await chat_ready(app, "olga (yourself)")
    assert read_json(sf.path)["sessionID"] != "f" * 32


INJECTIONS = [
    "[bold]x[/]",
    "[/]",
    "[@click=app.quit]q[/]",
    "[link=file:///etc/passwd]x[/]",
    "$accent",
    "emoji 👩‍💻🎉",
    "עברית מימין לשמאל",
    "esc \x1b[2J bell \x07",
    "w" * 4000,
]


async def test_untrusted_text_is_shown_literally(
    h: Harness, srv: Server, make_app: MakeApp, tmp_path: Path
) -> None:
    evil = await h.login(srv, "[red]evil[/] $x")
    app = make_app(srv.url, session_file(tmp_path), username="amy")
    async with running(app) as pilot:
        await chat_ready(app, "[red]evil[/] $x")
        assert "● [red]evil[/] $x" in roster_rows(app)
        for text in INJECTIONS:
            await evil.call("private message", {"content": text, "to": app.state.self_id})
        await wait_until(lambda: len(app.state.contacts[evil.user_id].messages) == 9, "all 9")
        await pilot.pause()
        shown = "\n".join(conversation_lines(app))
        for text in INJECTIONS[:7]:
            assert text in shown
        assert "esc ␛[2J bell ␇" in shown
        folded = [
            line.rsplit(" ", 1)[-1] for line in conversation_lines(app) if line.endswith("ww")
        ]
        assert "".join(folded) == "w" * 4000  # the long word is folded, all of it kept
        assert "[red]evil[/] $x" in str(app.screen.query_one("#peer-header").render())
        drawn = "\n".join(visible_lines(app))  # what render_line draws, markup untouched
        assert "w" * 40 in drawn
        await pilot.press("pageup")
        assert app.is_running


async def test_keys_switcher_help_newlines_and_recall(
    h: Harness, srv: Server, make_app: MakeApp, tmp_path: Path
) -> None:
    bob = await h.login(srv, "bob")
    carol = await h.login(srv, "carol")
    app = make_app(srv.url, session_file(tmp_path), username="amy", config=Config(bell=False))
    async with running(app) as pilot:
        await chat_ready(app, "bob", "carol")
        await pilot.press("ctrl+k")
        assert isinstance(app.screen, SwitcherScreen)
        await pilot.press(*"CAR", "enter")
        assert on_chat(app) and app.state.open_id == carol.user_id
        await pilot.press("f1")
        assert isinstance(app.screen, HelpScreen)
        await pilot.press("escape")
        assert on_chat(app)
        await pilot.press("f1")
        assert isinstance(app.screen, HelpScreen)
        await pilot.press("f1")  # F1 closes what F1 opened
        await wait_until(lambda: on_chat(app), "help closed by F1")
        await pilot.press(*"line one", "ctrl+j", *"line two", "alt+enter", *"3", "enter")
        (got,) = await carol.wait_for("private message")
        assert got["content"] == "line one\nline two\n3"
        composer = app.screen.query_one(Composer)
        await wait_until(lambda: not app.outbox, "the message acked")
        await pilot.press("up")  # the empty composer edits your last message (gomuks)
        assert composer.text == "line one\nline two\n3"
        assert app.compose_mode is not None and app.compose_mode.kind == "edit"
        await pilot.press("escape")  # no edit after all: the composer empties
        assert composer.text == "" and app.compose_mode is None
        await pilot.press("alt+r")  # recall: the text again, as a new message
        assert composer.text == "line one\nline two\n3" and app.compose_mode is None
        composer.clear()
        app.screen.query_one(Composer).focus()
        await pilot.press("enter")  # empty: nothing is sent
        assert not app.outbox
        # a barrier through amy's own connection: her messages arrive in order, so an
        # empty one sent by mistake would arrive before this one
        await pilot.press(*"after", "enter")
        await carol.wait_for("private message", 2)
        assert [m["content"] for m in carol.of("private message")] == [
            "line one\nline two\n3",
            "after",
        ]
        await bob.send(app.state.self_id or "", "ding")
        await wait_until(lambda: app.state.contacts[bob.user_id].unread == 1, "unread")
        assert app.bells == 0  # --no-bell
        await pilot.click(UserList, offset=(3, 1))  # the mouse: bob's row
        assert app.state.open_id == bob.user_id


async def test_a_pasted_multi_line_text_is_one_message(
    h: Harness, srv: Server, make_app: MakeApp, tmp_path: Path
) -> None:
    from textual import events

    bob = await h.login(srv, "bob")
    app = make_app(srv.url, session_file(tmp_path), username="amy")
    async with running(app) as pilot:
        await chat_ready(app, "bob")
        composer = app.screen.query_one(Composer)
        assert app.focused is composer
        app.post_message(events.Paste("first line\nsecond line\nthird"))  # as the driver does
        await pilot.pause()
        await pilot.press("enter")
        (got,) = await bob.wait_for("private message")
        assert got["content"] == "first line\nsecond line\nthird"
        await pilot.press(*"after", "enter")  # a barrier through amy's connection
        await bob.wait_for("private message", 2)
        assert [m["content"] for m in bob.of("private message")] == [
            "first line\nsecond line\nthird",
            "after",
        ]


async def test_too_long_for_the_server_is_refused_before_sending(
    h: Harness, make_app: MakeApp, tmp_path: Path
) -> None:
    """chat-server says its limit in the session event: a longer text never leaves the
    composer (tests/tui/test_limits.py: the count, and what a refused send shows)."""
    srv = await h.server(max_message_length=10)
    bob = await h.login(srv, "bob")
    app = make_app(srv.url, session_file(tmp_path), username="amy")
    async with running(app) as pilot:
        await chat_ready(app, "bob")
        await pilot.press(*"far too long for this server", "enter")
        await wait_until(
            lambda: any("Too long to send" in str(n.message) for n in app._notifications),
            "the refusal",
        )
        assert delivered(app, bob.user_id) == []
        assert app.screen.query_one(Composer).text == "far too long for this server"
        app.screen.query_one(Composer).clear()
        await pilot.press(*"short", "enter")
        (got,) = await bob.wait_for("private message")
        assert got["content"] == "short"
        assert bob.of("private message") == [got]  # the long one never went


async def test_the_login_screen_shows_the_servers_refusal_inline(
    h: Harness, make_app: MakeApp, tmp_path: Path
) -> None:
    srv = await h.server(unique_usernames=True)
    await h.login(srv, "taken")
    app = make_app(srv.url, session_file(tmp_path))
    async with running(app) as pilot:
        await pilot.press(*"TAKEN", "enter")
        await login_screen_says(app, "#login-error", "username taken")
        assert isinstance(app.screen, LoginScreen)
        await pilot.press("end", *"2", "enter")
        await chat_ready(app, "TAKEN2 (yourself)")


async def test_sends_over_the_rate_limit_wait_and_go_out_by_themselves(
    h: Harness, make_app: MakeApp, tmp_path: Path
) -> None:
    """The server answers `rate limited` with retryAfter: chat-tui keeps the message
    pending and sends it again after that long, in order, each exactly once."""
    srv = await h.server(rate_burst=1, rate_per_second=1)
    bob = await h.login(srv, "bob")
    app = make_app(srv.url, session_file(tmp_path), username="amy")
    async with running(app) as pilot:
        await chat_ready(app, "bob")
        for i in range(3):
            await pilot.press(*f"quick {i}", "enter")
        await bob.wait_for("private message", 3)
        assert [m["content"] for m in bob.of("private message")] == [f"quick {i}" for i in range(3)]
        await wait_until(
            lambda: (
                delivered(app, bob.user_id) == [(f"quick {i}", Delivery.SENT) for i in range(3)]
            ),
            "all three sent, none failed",
        )
        page = await bob.call("history", {"with": app.state.self_id})
        assert len(page["messages"]) == 3
        held = await notices(app, lambda n: "faster than the server" in str(n.message), "notice")
        assert len(held) == 1  # said once, not for every retry


async def test_a_burst_of_messages_keeps_the_view_at_the_end_unless_scrolled_up(
    h: Harness, make_app: MakeApp, tmp_path: Path
) -> None:
    srv = await h.server()
    bob = await h.login(srv, "bob")
    app = make_app(srv.url, session_file(tmp_path), username="amy")

    def last_visible() -> str:
        return [line for line in visible_lines(app) if line.strip()][-1]

    async with running(app) as pilot:
        await chat_ready(app, "bob")
        for i in range(40):  # far more lines than the view has, in one go
            await bob.send(app.state.self_id or "", f"burst {i}")
        view = app.screen.query_one(ConversationView)
        await wait_until(
            lambda: (
                "burst 39" in last_visible()
                and view.scroll_y == view.max_scroll_y > 0
                and view.allow_vertical_scroll  # laid out with its scroll bar
            ),
            "the view following the burst to its end",
        )
        await pilot.press("pageup")  # the user scrolls up to read: the view stays there
        await wait_until(lambda: view.scroll_y == view.scroll_target_y == 0, "scrolled up")
        shown = visible_lines(app)
        for i in range(3):
            await bob.send(app.state.self_id or "", f"later {i}")
        await wait_until(
            lambda: len(app.state.contacts[bob.user_id].messages) == 43, "three more messages"
        )
        await pilot.pause()
        now = visible_lines(app)
        assert now[:-1] == shown[:-1]  # what the user reads stays where it was
        assert now[-1].endswith("↓ 3 new (End)")  # and the last row says what came
        await pilot.press("end")  # the composer is empty: End jumps to the latest
        await wait_until(lambda: view.scroll_y == view.max_scroll_y, "at the end")
        assert visible_lines(app)[-1].endswith("later 2") and not view.new_below
