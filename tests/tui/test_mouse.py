"""The mouse (issue 15, item 15): a click on a user opens the conversation, the wheel
scrolls it, a click on a message selects it for the message cursor's keys."""

from __future__ import annotations

from pathlib import Path

from textual import events
from textual.widgets import Static

from chat_tui.messages import MessageReceived
from chat_tui.records import ChatMessage
from chat_tui.widgets.composer import Composer
from chat_tui.widgets.conversation import ConversationView
from chat_tui.widgets.user_list import UserList
from tests.conftest import wait_until
from tests.tui.conftest import fake_chat, session_file, visible_lines
from tests.tui.fake import BOB, CAROL, ME, entry


async def test_click_a_user_then_a_message_and_scroll_with_the_wheel(tmp_path: Path) -> None:
    async with fake_chat(session_file(tmp_path), entry(BOB, "bob"), entry(CAROL, "carol")) as (
        app,
        link,
        pilot,
    ):
        for n in range(1, 41):
            link.say(MessageReceived(ChatMessage(f"carol says {n}", CAROL, ME, id=n, ts=n)))
        users = app.screen.query_one(UserList)
        await wait_until(lambda: app.state.contacts[CAROL].unread == 40, "all arrived")
        await pilot.pause()
        row = next(i for i in range(users.option_count) if users.get_option_at_index(i).id == CAROL)
        await pilot.click(UserList, offset=(3, row))
        await wait_until(lambda: app.state.open_id == CAROL, "carol opened by a click")
        assert app.screen.query_one(Composer).has_focus  # ready to type
        view = app.screen.query_one(ConversationView)
        await wait_until(lambda: len(view._starts) == 40, "laid out")
        await wait_until(lambda: any("carol says 40" in line for line in visible_lines(app)), "end")
        # the wheel scrolls up
        bottom = view.scroll_y
        wheel = events.MouseScrollUp(view, 5, 5, 0, -1, 0, False, False, False)
        view.post_message(wheel)
        await wait_until(lambda: view.scroll_y < bottom, "scrolled up by the wheel")
        await wait_until(lambda: view.scroll_y == view.scroll_target_y, "the scroll ends")
        # a click on a message selects it; r replies to it
        lines = visible_lines(app)
        y = next(i for i, line in enumerate(lines) if line.endswith("carol says 30"))
        await pilot.click(ConversationView, offset=(12, y))
        await wait_until(lambda: view.has_focus, "the conversation has the focus")
        assert view.selected_message is not None
        assert view.selected_message.content == "carol says 30"
        await pilot.press("r")
        context = app.screen.query_one("#compose-context", Static)
        await wait_until(lambda: bool(context.display), "replying")
        assert "carol says 30" in str(context.render())
