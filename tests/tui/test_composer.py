"""The composer's small manners (issue 15, item 11): blank lines around a message are not
sent, your own messages are labelled "you", an empty composer says what it is for."""

from __future__ import annotations

from pathlib import Path

import pytest

from chat_server import protocol as p
from chat_tui.widgets.composer import PLACEHOLDER, Composer, trim_blank_lines
from tests.conftest import wait_until
from tests.tui.conftest import conversation_lines, fake_chat, session_file
from tests.tui.fake import BOB, entry


@pytest.mark.parametrize(
    ("typed", "sent"),
    [
        ("\n\n  indented\n\nkept gap\n \n", "  indented\n\nkept gap"),
        ("plain", "plain"),
        ("  spaces stay  ", "  spaces stay  "),
        ("\n \n", ""),
    ],
)
def test_blank_lines_around_a_message_go(typed: str, sent: str) -> None:
    assert trim_blank_lines(typed) == sent


async def test_what_is_sent_and_how_your_messages_are_labelled(tmp_path: Path) -> None:
    async with fake_chat(session_file(tmp_path), entry(BOB, "bob")) as (app, link, pilot):
        composer = app.screen.query_one(Composer)
        assert str(composer.placeholder) == PLACEHOLDER
        await pilot.press("ctrl+j", "ctrl+j", *"hello", "ctrl+j", "ctrl+j", "enter")
        await wait_until(
            lambda: [d["content"] for e, d in link.sent if e == p.PRIVATE_MESSAGE] == ["hello"],
            "the message, without its blank lines",
        )
        await pilot.press("ctrl+j", " ", "ctrl+j", "enter")  # only blank lines: nothing
        await pilot.pause()
        assert len([e for e, _ in link.sent if e == p.PRIVATE_MESSAGE]) == 1
        lines = conversation_lines(app)
        assert "you" in lines and "(yourself)" not in lines


async def test_letters_typed_after_tab_reach_the_composer(tmp_path: Path) -> None:
    async with fake_chat(session_file(tmp_path), entry(BOB, "bob")) as (app, _, pilot):
        composer = app.screen.query_one(Composer)
        await pilot.press(*"hel", "tab")  # focus leaves the composer
        await wait_until(lambda: not composer.has_focus, "focus moved")
        await pilot.press(*"lo", "space", "x")
        await wait_until(lambda: composer.text == "hello x", "nothing lost")
        assert composer.has_focus
