"""The roster's order and hidden conversations (issue 15, item 7): most recent activity
first, by name as a toggle (Alt+S, remembered), and Alt+H hides a conversation until it
gets a new message (remembered too)."""

from __future__ import annotations

from pathlib import Path

from textual.widgets import OptionList

from chat_tui.config import Config, load
from chat_tui.messages import MessageReceived
from chat_tui.prefs import Prefs
from chat_tui.records import ChatMessage
from chat_tui.screens.switcher import SwitcherScreen
from tests.conftest import wait_until
from tests.tui.conftest import fake_chat, notices, roster_rows, session_file
from tests.tui.fake import BOB, CAROL, ME, entry

DAVE = "da7e000000000000"


def said(text: str, sender: str, msg_id: int, ts: int) -> ChatMessage:
    return ChatMessage(text, sender, ME, id=msg_id, ts=ts)


def names(app: object) -> list[str]:
    return [row.split(" ", 1)[1].split(" [")[0] for row in roster_rows(app)]  # type: ignore[arg-type]


async def test_most_recent_first_and_by_name_as_a_remembered_toggle(tmp_path: Path) -> None:
    sf = session_file(tmp_path)
    people = (
        entry(BOB, "bob", messages=[said("old", BOB, 1, 1_000)]),
        entry(CAROL, "carol", messages=[said("newer", CAROL, 2, 5_000)]),
        entry(DAVE, "dave"),
    )
    async with fake_chat(sf, *people) as (app, link, pilot):
        assert names(app) == ["amy (yourself)", "carol", "bob", "dave"]
        assert app.state.open_id == CAROL  # the most recent, not the first by name
        link.say(MessageReceived(said("now", DAVE, 3, 9_000)))
        await wait_until(lambda: names(app)[1] == "dave", "dave moves up")
        await pilot.press("alt+s")
        await wait_until(lambda: names(app)[1:] == ["bob", "carol", "dave"], "by name")
        prefs = Prefs(sf.prefs_path)
        prefs.load()
        assert prefs.saved.sort == "name"
    async with fake_chat(sf, *people) as (app, _, pilot):
        assert names(app)[1:] == ["bob", "carol", "dave"]  # remembered
        await pilot.press("alt+s")
        # recent again; dave's message of the last run is in the cache
        await wait_until(lambda: names(app)[1:] == ["dave", "carol", "bob"], "recent again")


def test_the_config_file_chooses_the_first_order(tmp_path: Path) -> None:
    path = tmp_path / "config.toml"
    path.write_text('sort = "name"\n')
    assert load(path) == (Config(sort="name"), [])
    path.write_text('sort = "newest"\n')
    config, problems = load(path)
    assert config.sort == "recent" and "sort must be" in problems[0]


async def test_a_hidden_conversation_comes_back_with_a_new_message(tmp_path: Path) -> None:
    sf = session_file(tmp_path)
    people = (entry(BOB, "bob"), entry(CAROL, "carol", messages=[said("hi", CAROL, 4, 1)]))
    async with fake_chat(sf, *people) as (app, link, pilot):
        assert app.state.open_id == CAROL
        await pilot.press("alt+h")
        await wait_until(lambda: "carol" not in names(app), "carol hidden")
        assert app.state.open_id == BOB  # the next one opens
        await notices(app, lambda n: "hidden until a new message" in str(n.message), "notice")
        await pilot.press("ctrl+n", "ctrl+n")  # stepping skips it
        assert app.state.open_id in (ME, BOB)
    async with fake_chat(sf, *people, rows=2) as (app, link, pilot):
        assert "carol" not in names(app)  # still hidden after a restart
        await pilot.press("ctrl+k")  # the switcher still finds carol
        await wait_until(lambda: isinstance(app.screen, SwitcherScreen), "the switcher")
        found = app.screen.query_one("#switcher-list", OptionList)
        await wait_until(lambda: found.option_count == 3, "everyone")
        await pilot.press("escape")
        link.say(MessageReceived(said("are you there?", CAROL, 5, 2)))
        await wait_until(lambda: "carol" in names(app), "carol back")
        assert any(row.endswith("[1]") for row in roster_rows(app))
    prefs = Prefs(sf.prefs_path)
    prefs.load()
    assert prefs.hidden == {}


async def test_written_to_while_away_shows_it_and_opening_it_shows_it(tmp_path: Path) -> None:
    sf = session_file(tmp_path)
    carol = entry(CAROL, "carol", messages=[said("hi", CAROL, 4, 1)])
    async with fake_chat(sf, entry(BOB, "bob"), carol) as (app, _, pilot):
        await pilot.press("alt+h")
        await wait_until(lambda: "carol" not in names(app), "carol hidden")
    # the snapshot at the next start has a newer message: carol shows
    newer = entry(CAROL, "carol", messages=[said("hi", CAROL, 4, 1), said("yo", CAROL, 6, 2)])
    async with fake_chat(sf, entry(BOB, "bob"), newer) as (app, _, pilot):
        assert "carol" in names(app)
        await pilot.press("ctrl+k", *"carol", "enter")
        await wait_until(lambda: app.state.open_id == CAROL, "carol open")
        await pilot.press("alt+h")
        await wait_until(lambda: "carol" not in names(app), "hidden again")
        await pilot.press("ctrl+k", *"carol", "enter")  # opening it shows it
        await wait_until(lambda: app.state.open_id == CAROL, "carol open")
        await wait_until(lambda: "carol" in names(app), "listed")
        assert app.state.hidden == {}
        await pilot.press("alt+h")  # and your own notes cannot be hidden
        await wait_until(lambda: app.state.open_id != CAROL, "moved on")
        await pilot.press("ctrl+k", *"amy", "enter")
        await wait_until(lambda: app.state.open_id == ME, "own notes")
        await pilot.press("alt+h")
        await wait_until(
            lambda: any("Only a conversation" in str(n.message) for n in app._notifications),
            "refused",
        )
        assert ME not in app.state.hidden
