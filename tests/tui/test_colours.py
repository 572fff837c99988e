"""Two users with one name are told apart everywhere (issue 15, item 10): the #suffix in
the roster, the header, the switcher and the toasts, and a stable colour per user."""

from __future__ import annotations

from pathlib import Path

from rich.text import Text
from textual.widgets import OptionList, Static

from chat_tui.colours import DARK, LIGHT, base_index, colour, colour_indexes
from chat_tui.messages import MessageReceived
from chat_tui.records import ChatMessage, Contact
from chat_tui.screens.switcher import SwitcherScreen
from chat_tui.widgets.conversation import ConversationView
from chat_tui.widgets.user_list import UserList
from tests.conftest import wait_until
from tests.tui.conftest import fake_chat, session_file
from tests.tui.fake import ME, entry

# two userIDs whose own colours are the same (CRC-32 picks index 6 for both)
ALICE1, ALICE2 = "a11ce00000000003", "a11ce00000000008"


def colour_of(text: Text, part: str) -> str | None:
    """The colour the span covering ``part`` is drawn in."""
    start = text.plain.index(part)
    for span in text.spans:
        if span.start <= start < span.end:
            style = span.style
            if isinstance(style, str):
                return style or None
            return style.color.name if style.color else None
    return None


def test_a_users_colour_depends_on_the_user_id_only() -> None:
    assert base_index(ALICE1) == base_index(ALICE2)  # the case the next lines are about
    one = colour_indexes([Contact(ALICE1, "alice"), Contact("b0b0000000000000", "bob")])
    again = colour_indexes([Contact("b0b0000000000000", "robert"), Contact(ALICE1, "alice")])
    assert one == again  # stable: another run, order or name does not change it
    assert one[ALICE1] == base_index(ALICE1)
    # namesakes never share one while colours are left; the first by userID keeps its own
    both = colour_indexes([Contact(ALICE2, "alice"), Contact(ALICE1, "Alice")])
    assert both[ALICE1] == base_index(ALICE1) and both[ALICE2] != both[ALICE1]
    # two users with other names may share one (eight colours)
    apart = colour_indexes([Contact(ALICE1, "alice"), Contact(ALICE2, "alicia")])
    assert apart[ALICE1] == apart[ALICE2]
    assert colour(3, dark=True) == DARK[3] and colour(3, dark=False) == LIGHT[3]


async def test_namesakes_have_their_suffix_and_colour_everywhere(tmp_path: Path) -> None:
    sf = session_file(tmp_path)
    async with fake_chat(sf, entry(ALICE1, "alice"), entry(ALICE2, "alice")) as (app, link, pilot):
        users = app.screen.query_one(UserList)
        rows = {
            users.get_option_at_index(i).id: users.get_option_at_index(i).prompt for i in (1, 2)
        }
        assert isinstance(rows[ALICE1], Text) and isinstance(rows[ALICE2], Text)
        first = colour_of(rows[ALICE1], "alice #a11c")
        second = colour_of(rows[ALICE2], "alice #a11c")
        assert first and second and first != second
        assert first.lower() == colour(base_index(ALICE1), app.current_theme.dark)
        # the header names the open one with its suffix, in its colour
        assert app.state.open_id == ALICE1
        header = app.screen.query_one("#peer-header", Static).content
        assert isinstance(header, Text) and header.plain.startswith("alice #a11c")
        assert colour_of(header, "alice") == first
        assert colour_of(header, "online") is None  # only the name
        # a message's sender line is drawn in the sender's colour
        link.say(MessageReceived(ChatMessage("hello", ALICE1, ME, id=1, ts=1)))
        view = app.screen.query_one(ConversationView)
        await wait_until(lambda: any("alice" in str(line.parts) for line in view._lines), "it")
        sender = next(line for line in view._lines if "alice" in str(line.parts))
        component = sender.parts[0][0]
        assert view._style(component).color is not None
        assert view._style(component).color.name.lower() == first.lower()
        # a toast from the other one carries its suffix
        link.say(MessageReceived(ChatMessage("psst", ALICE2, ME, id=2, ts=2)))
        await wait_until(
            lambda: any(n.title == f"alice #{ALICE2[:4]}" for n in app._notifications),
            "the toast",
        )
        # the switcher: suffix and colour
        await pilot.press("ctrl+k")
        await wait_until(lambda: isinstance(app.screen, SwitcherScreen), "the switcher")
        found = app.screen.query_one("#switcher-list", OptionList)
        await wait_until(lambda: found.option_count == 3, "its rows")
        labels = [found.get_option_at_index(i).prompt for i in range(3)]
        alices = [label for label in labels if isinstance(label, Text) and "alice" in label.plain]
        assert len(alices) == 2
        assert {colour_of(label, "alice") for label in alices} == {first, second}
        await pilot.press("escape")
        # a light theme: the light palette
        app.theme = "textual-light"
        await wait_until(
            lambda: (
                colour_of(users.get_option(ALICE1).prompt, "alice")  # type: ignore[arg-type]
                == colour(base_index(ALICE1), dark=False)
            ),
            "the light colours",
        )
