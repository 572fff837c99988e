"""chat-tui's message cursor (issue 14) against a real chat-server: edit, delete, reply,
copy, open a link, go to a reply's original, search, and what the peer's edits and
deletes look like here."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from chat_tui.screens.confirm import ConfirmScreen
from chat_tui.screens.search import SearchScreen
from chat_tui.widgets.composer import Composer
from chat_tui.widgets.conversation import ConversationView
from tests.conftest import Harness, Peer, Server, barrier, wait_until
from tests.tui.conftest import MakeApp, RecordingApp, chat_ready, conversation_lines, running
from tests.tui.conftest import session_file as make_session_file

pytestmark = pytest.mark.stores("sqlite")


def shows(app: RecordingApp, text: str) -> bool:
    return any(text in line for line in conversation_lines(app))


async def opened_with_bob(
    h: Harness, srv: Server, make_app: MakeApp, tmp_path: Path
) -> tuple[RecordingApp, Peer]:
    bob = await h.login(srv, "bob")
    app = make_app(srv.url, make_session_file(tmp_path), username="amy")
    return app, bob


async def talk(app: RecordingApp, bob: Peer, pilot: Any, *lines: str) -> None:
    for text in lines:
        await pilot.press(*text, "enter")
    await bob.wait_for("private message", len(lines))
    await wait_until(lambda: not app.outbox, "acked")


def view(app: RecordingApp) -> ConversationView:
    return app.screen.query_one(ConversationView)


def selected_text(app: RecordingApp) -> str | None:
    v = view(app)
    if v.contact is None or v.selected is None:
        return None
    return v.contact.messages[v.selected].content


async def test_the_cursor_edits_deletes_and_replies(
    h: Harness, srv: Server, make_app: MakeApp, tmp_path: Path
) -> None:
    app, bob = await opened_with_bob(h, srv, make_app, tmp_path)
    async with running(app) as pilot:
        await chat_ready(app, "bob")
        await wait_until(lambda: app.state.open_id == bob.user_id, "bob's conversation open")
        await talk(app, bob, pilot, "first", "secnod")
        await pilot.press("ctrl+up")  # into the conversation: the last message selected
        assert view(app).has_focus and selected_text(app) == "secnod"
        await pilot.press("e")
        composer = app.screen.query_one(Composer)
        assert composer.has_focus and composer.text == "secnod"
        composer.load_text("second")
        await pilot.press("enter")
        (edited,) = await bob.wait_for("message edited")
        assert edited["content"] == "second" and "editedAt" in edited
        await wait_until(lambda: shows(app, "second (edited)"), "(edited) shown")
        # reply to bob's message
        await bob.send(app.state.self_id or "", "lunch at noon?")
        await wait_until(lambda: shows(app, "lunch at noon?"), "bob's message")
        await pilot.press("ctrl+up")
        assert selected_text(app) == "lunch at noon?"
        await pilot.press("r")
        assert app.screen.query_one(Composer).has_focus
        await pilot.press(*"yes", "enter")
        await bob.wait_for("private message", 3)
        reply = bob.of("private message")[-1]
        original = bob.of("private message")[0]
        assert reply["content"] == "yes" and reply["replyTo"] is not None
        await wait_until(lambda: shows(app, "↳ bob: lunch at noon?"), "the quote")
        # delete bob's message: refused here, nothing sent
        await pilot.press("ctrl+up", "up")
        assert selected_text(app) == "lunch at noon?"
        await pilot.press("d")
        assert not isinstance(app.screen, ConfirmScreen)
        # delete the first: asked first; n keeps it, y deletes it
        await pilot.press("up", "up")
        assert selected_text(app) == "first"
        await pilot.press("d")
        assert isinstance(app.screen, ConfirmScreen)
        await pilot.press("n")
        await barrier(bob)
        assert bob.of("message deleted") == []
        await pilot.press("d", "y")
        (gone,) = await bob.wait_for("message deleted")
        assert gone["id"] == original["id"]
        await wait_until(lambda: shows(app, "message deleted"), "the tombstone")
        await pilot.press("escape")
        assert app.screen.query_one(Composer).has_focus


async def test_the_peers_edits_and_deletes_show_live(
    h: Harness, srv: Server, make_app: MakeApp, tmp_path: Path
) -> None:
    app, bob = await opened_with_bob(h, srv, make_app, tmp_path)
    async with running(app):
        await chat_ready(app, "bob")
        me = app.state.self_id or ""
        sent = (await bob.call("private message", {"content": "tpyo here", "to": me}))["message"]
        gone = (await bob.call("private message", {"content": "[b]oops[/b]", "to": me}))["message"]
        await wait_until(lambda: bob.user_id in app.state.contacts, "bob listed")
        app.open_conversation(bob.user_id)
        await wait_until(lambda: shows(app, "[b]oops[/b]"), "bob's messages, as text")
        await bob.call("edit message", {"id": sent["id"], "content": "typo fixed"})
        await bob.call("delete message", {"id": gone["id"]})
        await wait_until(lambda: shows(app, "typo fixed (edited)"), "the edit")
        await wait_until(lambda: shows(app, "message deleted"), "the delete")
        assert not shows(app, "[b]oops[/b]")


async def test_copy_and_open_a_link(
    h: Harness, srv: Server, make_app: MakeApp, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    app, bob = await opened_with_bob(h, srv, make_app, tmp_path)
    opened: list[str] = []
    monkeypatch.setattr(app, "open_url", lambda url, **_: opened.append(url))
    async with running(app) as pilot:
        await chat_ready(app, "bob")
        await wait_until(lambda: app.state.open_id == bob.user_id, "bob's conversation open")
        await talk(app, bob, pilot, "menu: https://example.com/menu?day=1. see you")
        await pilot.press("ctrl+up", "y")
        assert app.clipboard == "menu: https://example.com/menu?day=1. see you"
        await pilot.press("o")
        assert opened == ["https://example.com/menu?day=1"]


async def test_search_opens_an_old_message_and_pages_both_ways(
    h: Harness, srv: Server, make_app: MakeApp, tmp_path: Path
) -> None:
    app, bob = await opened_with_bob(h, srv, make_app, tmp_path)
    me_session = None
    async with running(app):
        await chat_ready(app, "bob")
        me_session = app.state.self_id
    assert me_session is not None
    # far more than one page, with the word to find near the start
    for i in range(180):
        content = "the zebra crossing" if i == 5 else f"filler {i}"
        await bob.call("private message", {"content": content, "to": me_session})
    again = make_app(srv.url, make_session_file(tmp_path))
    async with running(again) as pilot:
        await chat_ready(again, "bob")
        await pilot.press("ctrl+f")
        assert isinstance(again.screen, SearchScreen)
        await pilot.press(*"ZEBRA")
        await wait_until(lambda: bool(again.screen.results), "a result")  # type: ignore[attr-defined]
        await pilot.press("enter")
        await wait_until(lambda: selected_text(again) == "the zebra crossing", "the hit selected")
        contact = again.state.contacts[bob.user_id]
        assert contact.has_newer  # a window around the hit, not the latest page
        assert "filler 179" not in [m.content for m in contact.messages]
        # down to the window's end loads the newer pages until the latest
        for _ in range(200):
            if not contact.has_newer:
                break
            await pilot.press("down")
            await pilot.pause()
        await wait_until(lambda: not contact.has_newer, "paged to the end")
        contents = [m.content for m in contact.messages]
        assert contents[-1] == "filler 179" and len(contents) == len(set(contents))


async def test_g_goes_to_the_original_of_a_reply_even_when_not_loaded(
    h: Harness, srv: Server, make_app: MakeApp, tmp_path: Path
) -> None:
    app, bob = await opened_with_bob(h, srv, make_app, tmp_path)
    async with running(app):
        await chat_ready(app, "bob")
        me = app.state.self_id or ""
    old = (await bob.call("private message", {"content": "the original", "to": me}))["message"]
    for i in range(120):
        await bob.call("private message", {"content": f"filler {i}", "to": me})
    await bob.call("private message", {"content": "about that", "to": me, "replyTo": old["id"]})
    again = make_app(srv.url, make_session_file(tmp_path))
    async with running(again) as pilot:
        await chat_ready(again, "bob")
        again.open_conversation(bob.user_id)
        await wait_until(lambda: shows(again, "about that"), "the reply")
        assert shows(again, "an earlier message (g: go to it)")  # not loaded yet
        await pilot.press("ctrl+up")
        assert selected_text(again) == "about that"
        await pilot.press("g")
        await wait_until(lambda: selected_text(again) == "the original", "the original selected")
        assert again.state.contacts[bob.user_id].has_newer
        await pilot.press("end")  # back to the latest
        await wait_until(
            lambda: (
                [m.content for m in again.state.contacts[bob.user_id].messages][-1:]
                == ["about that"]
            ),
            "the latest page again",
        )
        assert not again.state.contacts[bob.user_id].has_newer
