"""A message the server refused can be taken back into the composer to be fixed, or
discarded (issue 15, item 9)."""

from __future__ import annotations

from pathlib import Path

from chat_tui.records import Delivery
from chat_tui.screens.confirm import ConfirmScreen
from chat_tui.widgets.composer import Composer
from chat_tui.widgets.conversation import ConversationView
from tests.conftest import wait_until
from tests.tui.conftest import conversation_lines, delivered, fake_chat, session_file
from tests.tui.fake import BOB, entry


async def test_e_fixes_and_d_discards_a_refused_message(tmp_path: Path) -> None:
    async with fake_chat(session_file(tmp_path), entry(BOB, "bob")) as (app, link, pilot):
        link.refuse_sends = "content too long"
        await pilot.press(*"first try", "enter")
        await pilot.press(*"second try", "enter")
        await wait_until(
            lambda: [d for _, d in delivered(app, BOB)] == [Delivery.FAILED, Delivery.FAILED],
            "both refused",
        )
        link.refuse_sends = ""
        view = app.screen.query_one(ConversationView)
        composer = app.screen.query_one(Composer)
        # e on the last one: its text is in the composer, the refused copy is gone
        await pilot.press("ctrl+up")
        await wait_until(lambda: view.has_focus, "the message cursor")
        await pilot.press("e")
        await wait_until(lambda: composer.text == "second try", "back in the composer")
        assert composer.has_focus
        assert [c for c, _ in delivered(app, BOB)] == ["first try"]
        assert not any("second try" in line for line in conversation_lines(app))
        await pilot.press(*" fixed", "enter")
        await wait_until(lambda: ("second try fixed", Delivery.SENT) in delivered(app, BOB), "sent")
        # d on the other: asks, then it goes
        await pilot.press("ctrl+up", "up")
        await wait_until(
            lambda: (
                view.selected_message is not None and view.selected_message.content == "first try"
            ),
            "the refused one selected",
        )
        await pilot.press("d")
        await wait_until(lambda: isinstance(app.screen, ConfirmScreen), "asked")
        await pilot.press("y")
        await wait_until(
            lambda: [c for c, _ in delivered(app, BOB)] == ["second try fixed"], "gone"
        )
        assert composer.has_focus
