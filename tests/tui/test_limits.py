"""The server's message limit in chat-tui (issue 15, item 9): the length is shown near
the limit, a text over it is refused before sending and stays in the composer, and a
send the server refused for good is not offered for retry."""

from __future__ import annotations

from pathlib import Path

import pytest

from chat_server import protocol as p
from chat_tui.app import ChatApp
from chat_tui.config import Config
from chat_tui.records import Delivery
from chat_tui.widgets.composer import Composer
from tests.conftest import Harness, Server, wait_until
from tests.tui.conftest import chat_ready, conversation_lines, fake_chat, running, session_file
from tests.tui.fake import BOB, FakeLink, entry


def sends(link: FakeLink) -> list[str]:
    return [d["content"] for e, d in link.sent if e == p.PRIVATE_MESSAGE]


async def test_the_length_shows_near_the_limit_and_too_long_is_not_sent(
    tmp_path: Path,
) -> None:
    sf = session_file(tmp_path)
    async with fake_chat(sf, entry(BOB, "bob"), max_length=20) as (app, link, pilot):
        count = app.screen.query_one("#compose-count")
        await pilot.press(*"x" * 17)
        assert not count.display  # under 90%: nothing shown
        await pilot.press("x")
        await wait_until(lambda: bool(count.display), "the count")
        assert "18 / 20 characters" in str(count.render())
        await pilot.press(*"yyy", "enter")  # 21: over
        await wait_until(lambda: count.has_class("-over"), "over the limit")
        assert "1 too many" in str(count.render())
        await wait_until(lambda: bool(app._notifications), "the refusal")
        assert any("Too long to send: 21 characters" in str(n.message) for n in app._notifications)
        assert sends(link) == [] and app.screen.query_one(Composer).text == "x" * 18 + "yyy"
        await pilot.press("backspace", "enter")  # 20: sent
        await wait_until(lambda: sends(link) == ["x" * 18 + "yy"], "sent at the limit")
        assert not count.display


@pytest.mark.parametrize(
    "reason",
    # a limit chat-tui was not told of; a recipient the server no longer has
    [p.ERR_CONTENT_TOO_LONG, p.ERR_UNKNOWN_RECIPIENT],
)
async def test_a_send_refused_for_good_is_not_retried(tmp_path: Path, reason: str) -> None:
    link = FakeLink()
    link.refuse_sends = reason
    app = ChatApp(link, session_file(tmp_path), username="amy", config=Config(bell=False))
    async with running(app) as pilot:
        await wait_until(lambda: link.post is not None, "the link")
        link.accept(entry(BOB, "bob"))
        await chat_ready(app, "bob")
        await pilot.press(*"long one", "enter")
        contact = app.state.contacts[BOB]
        await wait_until(lambda: contact.messages[-1].delivery is Delivery.FAILED, "refused")
        lines = conversation_lines(app)
        assert any(f"not sent: {reason}" in line for line in lines)
        assert not any("ctrl+r" in line for line in lines)
        link.refuse_sends = ""
        await pilot.press("ctrl+r")
        await pilot.pause()
        assert sends(link) == ["long one"]  # once: Ctrl+R did not send it again


@pytest.mark.stores("memory")
async def test_chat_server_tells_its_limit_in_the_session_event(h: Harness) -> None:
    srv: Server = await h.server(max_message_length=1234)
    amy = await h.login(srv, "amy")
    assert amy.session["limits"] == {"maxMessageLength": 1234}
