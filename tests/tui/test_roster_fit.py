"""The roster at any width (issue 15, item 6): one line per user, the unread count never
cut (a long name is, with …), no spelled-out status after the icon, a column that
narrows with the terminal, Ctrl+B to hide it, offline drawn muted, not as a warning."""

from __future__ import annotations

from pathlib import Path

from rich.cells import cell_len
from textual.widgets import OptionList, Static

from chat_tui.messages import Disconnected, MessageReceived
from chat_tui.records import ChatMessage
from chat_tui.screens.switcher import SwitcherScreen
from chat_tui.widgets.user_list import UserList
from tests.conftest import wait_until
from tests.tui.conftest import fake_chat, roster_rows, session_file
from tests.tui.fake import BOB, CAROL, ME, entry

LONG = "Maximilian-Alexander Wolfeschle"  # 31 characters, as long as names get


async def test_rows_fit_one_line_at_60x15_and_ctrl_b_hides_the_roster(tmp_path: Path) -> None:
    sf = session_file(tmp_path)
    async with fake_chat(
        sf, entry(BOB, "bob"), entry(CAROL, LONG, connected=False), size=(60, 15)
    ) as (app, link, pilot):
        for n in range(3):
            link.say(MessageReceived(ChatMessage(f"hi {n}", CAROL, ME, id=n + 1, ts=1)))
        users = app.screen.query_one(UserList)
        await wait_until(lambda: any(r.endswith(" [3]") for r in roster_rows(app)), "3 unread")
        sidebar = app.screen.query_one("#sidebar")
        assert 14 <= sidebar.size.width < 34  # narrower than at 120 columns
        width = users.scrollable_content_region.width
        rows = roster_rows(app)
        assert rows[0].startswith("● amy")
        carol = next(r for r in rows if r.endswith(" [3]"))
        assert carol.startswith("○ Maxi") and "…" in carol  # cut, count kept
        assert all(cell_len(r) <= width for r in rows)  # nothing wraps
        assert not any(r.endswith((" online", " offline")) for r in rows)
        await pilot.press("ctrl+b")
        await wait_until(lambda: not sidebar.display, "roster hidden")
        conversation = app.screen.query_one("#main")
        await wait_until(lambda: conversation.size.width == 60, "full width")
        await pilot.press("ctrl+b")
        await wait_until(lambda: bool(sidebar.display), "roster back")


async def test_offline_is_drawn_muted_not_as_a_warning(tmp_path: Path) -> None:
    sf = session_file(tmp_path)
    async with fake_chat(sf, entry(BOB, "bob", connected=False), size=(120, 36)) as (app, _, _):
        users = app.screen.query_one(UserList)
        offline = users.get_component_rich_style("user-list--offline", partial=True)
        assert offline.color is not None
        warning = app.current_theme.warning
        assert offline.color.name.lower() != str(warning).lower()


async def test_while_you_are_offline_nobody_elses_presence_is_claimed(tmp_path: Path) -> None:
    sf = session_file(tmp_path)
    async with fake_chat(
        sf, entry(BOB, "bob"), entry(CAROL, "carol", connected=False), size=(120, 36)
    ) as (app, link, _):
        assert roster_rows(app)[1:] == ["● bob", "○ carol"]
        link.is_connected = False
        link.say(Disconnected())
        await wait_until(lambda: roster_rows(app)[1:] == ["◌ bob", "◌ carol"], "unknown")
        assert roster_rows(app)[0] == "○ amy (yourself)"
        header = str(app.screen.query_one("#peer-header", Static).render())
        assert "unknown: you are offline" in header and "● online" not in header
        link.accept(entry(BOB, "bob"), entry(CAROL, "carol", connected=False))
        await wait_until(lambda: roster_rows(app)[1:] == ["● bob", "○ carol"], "known again")


async def test_the_switcher_shows_status_and_unread_counts_and_fits_60_columns(
    tmp_path: Path,
) -> None:
    sf = session_file(tmp_path)
    async with fake_chat(
        sf, entry(BOB, "bob"), entry(CAROL, "carol", connected=False), size=(60, 15)
    ) as (app, link, pilot):
        link.say(MessageReceived(ChatMessage("psst", CAROL, ME, id=1, ts=1)))
        await wait_until(lambda: "○ carol [1]" in roster_rows(app), "carol's unread")
        await pilot.press("ctrl+k")
        await wait_until(lambda: isinstance(app.screen, SwitcherScreen), "the switcher")
        found = app.screen.query_one("#switcher-list", OptionList)
        rows = [str(found.get_option_at_index(i).prompt) for i in range(found.option_count)]
        assert "● bob" in rows and "○ carol [1]" in rows
        box = app.screen.query_one("#switcher-box")
        assert box.region.right <= 60 and box.region.x >= 0  # its border is on screen
        await pilot.press("escape")


async def test_the_footer_and_the_status_line_fit_60_columns(tmp_path: Path) -> None:
    from textual.widgets._footer import FooterKey

    from chat_tui.messages import Retrying
    from chat_tui.widgets.status_bar import StatusBar

    sf = session_file(tmp_path)
    async with fake_chat(sf, entry(BOB, "bob"), size=(60, 15)) as (app, link, pilot):
        await pilot.pause()
        keys = list(app.screen.query(FooterKey))
        labels = {k.description for k in keys}
        assert {"Go to", "Search", "Help", "Quit", "Commands"} <= labels
        assert all(k.region.right <= 60 and k.region.width > 0 for k in keys), [
            (k.description, k.region) for k in keys
        ]
        link.is_connected = False
        reason = "connection refused: nothing listens on chat.example.org:4201 (is it started?)"
        link.say(Retrying(3, 1.8, reason))
        status = app.screen.query_one(StatusBar)
        await wait_until(lambda: "reconnecting" in str(status.render()), "reconnecting")
        shown = status.render_line(0).text.rstrip()  # the line as drawn, 60 wide
        assert shown.lstrip().startswith("◌ reconnecting  attempt 4 in 1.8s")
        assert shown.endswith("…"), shown
        assert status.size.height == 1


async def test_a_long_name_in_the_header_ends_in_an_ellipsis_at_60_columns(
    tmp_path: Path,
) -> None:
    sf = session_file(tmp_path)
    async with fake_chat(sf, entry(BOB, LONG), size=(60, 15)) as (app, link, _):
        link.is_connected = False
        link.say(Disconnected())
        header = app.screen.query_one("#peer-header", Static)
        await wait_until(lambda: "unknown" in str(header.render()), "offline header")
        line = header.render_line(0).text.rstrip()
        assert line.lstrip().startswith("Maxi") and line.endswith("…"), line
        assert header.size.height == 1
