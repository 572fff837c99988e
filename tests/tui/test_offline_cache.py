"""Started while the server is down (issue 15, item 12): chat-tui opens on what it last
knew (the roster, the recent conversations, the outbox) from a private cache file, lets
the user write, and takes the server's snapshot when it connects."""

from __future__ import annotations

import json
import stat
from pathlib import Path

from chat_tui.app import ChatApp
from chat_tui.config import Config
from chat_tui.messages import MessageReceived, Refused
from chat_tui.records import ChatMessage, Delivery
from chat_tui.screens.login import LoginScreen
from tests.conftest import wait_until
from tests.tui.conftest import (
    SIZE,
    conversation_lines,
    fake_chat,
    on_chat,
    roster_rows,
    session_file,
)
from tests.tui.fake import BOB, CAROL, ME, FakeLink, entry


def history() -> list[ChatMessage]:
    return [
        ChatMessage("<b>[bold]hello[/bold]</b>", BOB, ME, id=101, ts=1_000),
        ChatMessage("hi bob", ME, BOB, id=102, ts=2_000),
    ]


async def test_opens_offline_on_what_it_last_knew_and_lets_you_write(tmp_path: Path) -> None:
    sf = session_file(tmp_path)
    async with fake_chat(sf, entry(BOB, "bob", messages=history()), entry(CAROL, "carol")) as (
        app,
        link,
        pilot,
    ):
        link.say(MessageReceived(ChatMessage("later", BOB, ME, id=103, ts=3_000)))
        await wait_until(lambda: len(app.state.contacts[BOB].messages) == 3, "the message")
        assert app.state.open_id == BOB
    assert stat.S_IMODE(sf.cache_path.stat().st_mode) == 0o600
    cached = sf.cache_path.read_text()
    assert "5555" not in cached  # the sessionID is never in it
    # the server is down: nothing ever connects
    link = FakeLink()
    app = ChatApp(link, sf, config=Config(bell=False))
    async with app.run_test(size=SIZE) as pilot:
        await wait_until(lambda: on_chat(app) and len(roster_rows(app)) == 3, "the cached roster")
        assert roster_rows(app) == ["○ amy (yourself)", "◌ bob", "◌ carol"]  # nobody's presence
        assert app.state.open_id == BOB
        lines = conversation_lines(app)
        assert any("[bold]hello[/bold]" in line for line in lines)  # literal, as before
        assert any("later" in line for line in lines)
        await pilot.press(*"written offline", "enter")
        await wait_until(
            lambda: [m.delivery for m in app.state.contacts[BOB].messages][-1] is Delivery.PENDING,
            "a pending message",
        )
        assert not any("Pick a conversation" in str(n.message) for n in app._notifications)
        assert app.outbox.items and app.outbox.items[0].content == "written offline"
        # the server comes back: its snapshot replaces the cache's, the outbox is sent
        link.accept(entry(BOB, "bob", messages=[*history(), ChatMessage("new", BOB, ME, id=104)]))
        await wait_until(
            lambda: any(e == "private message" for e, _ in link.sent), "the outbox sent"
        )
        await wait_until(lambda: roster_rows(app)[1].startswith("● bob"), "live presence")
        contents = [m.content for m in app.state.contacts[BOB].messages]
        assert contents[:2] == ["<b>[bold]hello[/bold]</b>", "hi bob"] and "new" in contents


async def test_a_broken_or_foreign_cache_is_not_shown(tmp_path: Path) -> None:
    sf = session_file(tmp_path)
    async with fake_chat(sf, entry(BOB, "bob", messages=history())):
        pass
    data = json.loads(sf.cache_path.read_text())
    # another login's cache (the same file name, another userID): not shown
    sf.cache_path.write_text(json.dumps({**data, "userID": "someone-else"}))
    app = ChatApp(FakeLink(), sf, config=Config(bell=False))
    async with app.run_test(size=SIZE):
        await wait_until(lambda: on_chat(app), "the chat screen")
        assert app.state.contacts == {}
    # hostile values are dropped as a hostile server's would be
    bad = {**data, "users": [{"userID": 5}, "x", {"userID": BOB, "username": "bob", "messages": 3}]}
    sf.cache_path.write_text(json.dumps(bad))
    app = ChatApp(FakeLink(), sf, config=Config(bell=False))
    async with app.run_test(size=SIZE):
        await wait_until(lambda: on_chat(app) and len(roster_rows(app)) == 1, "bob only")
        assert app.state.contacts[BOB].messages == []
    # nested beyond reason: moved aside as well
    sf.cache_path.write_text("[" * 100_000 + "]" * 100_000)
    app = ChatApp(FakeLink(), sf, config=Config(bell=False))
    async with app.run_test(size=SIZE):
        await wait_until(
            lambda: any(n.title == "Starting fresh" for n in app._notifications), "the notice"
        )
        assert on_chat(app) and app.state.contacts == {}
    sf.cache_path.with_name(sf.cache_path.name + ".corrupt").unlink()
    # a folder in its place: said, and the app starts
    sf.cache_path.mkdir()
    app = ChatApp(FakeLink(), sf, config=Config(bell=False))
    async with app.run_test(size=SIZE):
        await wait_until(
            lambda: any("could not be read" in str(n.message) for n in app._notifications),
            "the notice",
        )
        assert on_chat(app)
    sf.cache_path.rmdir()
    # a file that is not JSON: moved aside, said, and the app starts
    sf.cache_path.write_text("{not json")
    app = ChatApp(FakeLink(), sf, config=Config(bell=False))
    async with app.run_test(size=SIZE):
        await wait_until(
            lambda: any(n.title == "Starting fresh" for n in app._notifications), "the notice"
        )
        assert on_chat(app) and app.state.contacts == {}
    assert sf.cache_path.with_name(sf.cache_path.name + ".corrupt").exists()


async def test_a_session_the_server_forgot_takes_its_cache_with_it(tmp_path: Path) -> None:
    sf = session_file(tmp_path)
    async with fake_chat(sf, entry(BOB, "bob", messages=history())):
        pass
    assert sf.cache_path.exists()
    link = FakeLink()
    app = ChatApp(link, sf, config=Config(bell=False))
    async with app.run_test(size=SIZE):
        await wait_until(lambda: link.post is not None, "the link")
        link.say(Refused("invalid session", "invalid session"))
        await wait_until(lambda: isinstance(app.screen, LoginScreen), "the login screen")
        assert not sf.cache_path.exists()
