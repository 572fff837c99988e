"""Drafts are per conversation and survive a restart; chat-tui starts on the conversation
that was open (issue 15, items 5 and 7). Text typed for one person never goes to another
on Enter."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from textual import events

from chat_server import protocol as p
from chat_tui.app import ChatApp
from chat_tui.prefs import Prefs
from chat_tui.widgets.composer import Composer
from tests.conftest import wait_until
from tests.tui.conftest import fake_chat, session_file
from tests.tui.fake import BOB, CAROL, FakeLink, entry

PEOPLE = (entry(BOB, "bob"), entry(CAROL, "carol"))


def composer_text(app: ChatApp) -> str:
    return app.screen.query_one(Composer).text


def typing_to(link: FakeLink, user_id: str) -> list[bool]:
    return [d["typing"] for e, d in link.sent if e == p.TYPING and d["to"] == user_id]


async def test_each_conversation_keeps_its_draft_across_switches_and_restarts(
    tmp_path: Path,
) -> None:
    sf = session_file(tmp_path)
    async with fake_chat(sf, *PEOPLE) as (app, link, pilot):
        assert app.state.open_id == BOB
        await pilot.press(*"for bob")
        await pilot.press("ctrl+n")  # to carol: her composer is empty
        await wait_until(lambda: app.state.open_id == CAROL, "carol open")
        assert composer_text(app) == ""
        await pilot.press(*"for carol", "ctrl+p")  # back to bob: his draft is there
        await wait_until(lambda: composer_text(app) == "for bob", "bob's draft")
        sent_typing = len(typing_to(link, BOB))
        await pilot.press("ctrl+n")
        await wait_until(lambda: composer_text(app) == "for carol", "carol's draft")
        await pilot.press("ctrl+p")
        await wait_until(lambda: composer_text(app) == "for bob", "bob's draft again")
        await pilot.pause()
        # a draft coming back is not typing: bob is told nothing new
        assert typing_to(link, BOB)[sent_typing:] in ([], [False])
        await pilot.press("ctrl+n")
        await wait_until(lambda: app.state.open_id == CAROL, "carol open")
    # quit with carol open: the next start opens carol, both drafts kept
    async with fake_chat(sf, *PEOPLE, username=None) as (
        again,
        link,
        pilot,
    ):
        assert again.state.open_id == CAROL  # not the alphabetically first
        await wait_until(lambda: composer_text(again) == "for carol", "carol's draft")
        await pilot.press("ctrl+p")
        await wait_until(lambda: composer_text(again) == "for bob", "bob's draft")
        await pilot.press("enter")  # sent to bob, and his draft is gone
        await wait_until(
            lambda: [d["content"] for e, d in link.sent if e == p.PRIVATE_MESSAGE] == ["for bob"],
            "bob's message",
        )
        assert [d["to"] for e, d in link.sent if e == p.PRIVATE_MESSAGE] == [BOB]
        assert composer_text(again) == ""
        await pilot.press("ctrl+n")
    prefs = sf.prefs_path.read_text()
    assert "for carol" in prefs and "for bob" not in prefs


@pytest.mark.parametrize("turns", [0, 1, 3])
async def test_enter_then_a_quick_switch_sends_where_the_text_was_typed(
    tmp_path: Path, turns: int
) -> None:
    """Enter and Ctrl+N as a terminal delivers them, back to back: Ctrl+N (an app
    binding) can be handled before the composer has handled Enter."""
    async with fake_chat(session_file(tmp_path), *PEOPLE) as (
        app,
        link,
        pilot,
    ):
        await pilot.press("ctrl+n", *"for carol", "ctrl+p")
        await wait_until(lambda: composer_text(app) == "", "bob's empty composer")
        await pilot.press(*"for bob")
        app.post_message(events.Key("enter", "\r"))
        for _ in range(turns):
            await asyncio.sleep(0)
        app.post_message(events.Key("ctrl+n", None))
        await wait_until(lambda: composer_text(app) == "for carol", "carol's draft")
        await wait_until(lambda: bool(link.sent), "a send")
        await pilot.pause()
        sends = [(d["to"], d["content"]) for e, d in link.sent if e == p.PRIVATE_MESSAGE]
        assert sends == [(BOB, "for bob")]
        assert app.state.drafts == {CAROL: "for carol"}  # bob's text is sent, not a draft


async def test_another_windows_drafts_are_left_as_it_saved_them(tmp_path: Path) -> None:
    sf = session_file(tmp_path)
    async with fake_chat(sf, *PEOPLE) as (app, _, pilot):
        Prefs(sf.prefs_path).save_drafts({CAROL: "from the other window"}, CAROL)
        await pilot.press(*"mine", "ctrl+n", "ctrl+p")  # two switches, each saves
        await wait_until(lambda: composer_text(app) == "mine", "bob's draft")
    other = Prefs(sf.prefs_path)
    other.load()
    assert other.drafts == {BOB: "mine", CAROL: "from the other window"}


async def test_a_broken_prefs_file_does_not_stop_the_chat(tmp_path: Path) -> None:
    sf = session_file(tmp_path)
    async with fake_chat(sf, *PEOPLE) as (app, _, pilot):
        sf.prefs_path.write_bytes(b"\xff\xfe not json")  # garbage, not even UTF-8
        await pilot.press(*"kept", "ctrl+n")
        await wait_until(lambda: app.state.open_id == CAROL, "carol open")
        await pilot.press("ctrl+p")
        await wait_until(lambda: composer_text(app) == "kept", "bob's draft")
    assert sf.prefs_path.with_name(sf.prefs_path.name + ".corrupt").exists()
    fresh = Prefs(sf.prefs_path)
    fresh.load()
    assert fresh.drafts == {BOB: "kept"}
