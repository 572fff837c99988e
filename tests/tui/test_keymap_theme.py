"""Key bindings from the config file, the command palette, themes and NO_COLOR (issue 15,
items 13 and 14)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from textual.command import CommandPalette

from chat_tui.config import Config
from chat_tui.prefs import Prefs
from chat_tui.screens.help import HelpScreen, rows
from tests.conftest import Harness, Server, wait_until
from tests.tui.conftest import fake_chat, roster_rows, session_file
from tests.tui.fake import BOB, CAROL, entry
from tests.tui.process import TuiProcess

PEOPLE = (entry(BOB, "bob"), entry(CAROL, "carol"))

# the 256-colour palette's greys: its grey ramp, and the black, white and grey entries
GREYS_256 = {*range(232, 256), 0, 7, 8, 15, 16, 59, 102, 145, 188, 231}
GREYS_16 = {30, 37, 90, 97, 40, 47, 100, 107}


def sgr_colours(raw: str) -> list[tuple[int, ...]]:
    """Every colour set by an SGR sequence: (n,) for the 16 colours, (5, n) for the 256,
    (2, r, g, b) for true colour."""
    out: list[tuple[int, ...]] = []
    for params in re.findall(r"\x1b\[([0-9;]*)m", raw):
        values = [int(v) for v in params.split(";") if v]
        i = 0
        while i < len(values):
            v = values[i]
            if v in (38, 48) and i + 2 < len(values) and values[i + 1] == 5:
                out.append((5, values[i + 2]))
                i += 3
            elif v in (38, 48) and i + 4 < len(values) and values[i + 1] == 2:
                out.append((2, *values[i + 2 : i + 5]))
                i += 5
            else:
                if 30 <= v <= 37 or 40 <= v <= 47 or 90 <= v <= 97 or 100 <= v <= 107:
                    out.append((v,))
                i += 1
    return out


def grey(colour: tuple[int, ...]) -> bool:
    if colour[0] == 5 and len(colour) == 2:
        return colour[1] in GREYS_256
    if colour[0] == 2 and len(colour) == 4:
        return colour[1] == colour[2] == colour[3]
    return colour[0] in GREYS_16


async def test_keys_from_the_config_file_replace_the_defaults(tmp_path: Path) -> None:
    config = Config(bell=False, keys={"next": "f6", "roster": "alt+b"})
    async with fake_chat(session_file(tmp_path), *PEOPLE, config=config) as (app, _, pilot):
        first = app.state.open_id
        await pilot.press("ctrl+n")  # not next any more
        await pilot.pause()
        assert app.state.open_id == first
        await pilot.press("f6")
        await wait_until(lambda: app.state.open_id != first, "the next conversation")
        sidebar = app.screen.query_one("#sidebar")
        await pilot.press("alt+b")  # a key of the chat screen
        await wait_until(lambda: not sidebar.display, "roster hidden")
        await pilot.press("f1")  # help lists the keys in effect
        await wait_until(lambda: isinstance(app.screen, HelpScreen), "help")
        assert ("F6", "next conversation") in rows(app.config.keys)
        assert ("Alt+B", "hide / show the roster") in rows(app.config.keys)
        assert ("Ctrl+P", "previous conversation") in rows(app.config.keys)
        await pilot.press("f1")
        await wait_until(lambda: not isinstance(app.screen, HelpScreen), "help closed")


async def test_the_command_palette_runs_chat_actions(tmp_path: Path) -> None:
    async with fake_chat(session_file(tmp_path), *PEOPLE) as (app, _, pilot):
        hidden = app.state.open_id
        await pilot.press("f2")
        await wait_until(lambda: isinstance(app.screen, CommandPalette), "the palette")
        await pilot.press(*"hide this", "enter")
        await wait_until(lambda: hidden in app.state.hidden, "hidden from the palette")
        assert not any(
            row.endswith(app.state.contacts[hidden or ""].username) for row in roster_rows(app)
        )


async def test_a_theme_is_applied_and_a_picked_one_remembered(tmp_path: Path) -> None:
    sf = session_file(tmp_path)
    async with fake_chat(sf, *PEOPLE, theme="chat-high-contrast") as (app, _, pilot):
        assert app.theme == "chat-high-contrast"
        assert app.current_theme.background == "#000000"
        for _ in range(5):
            await pilot.pause()
        # the theme asked for at start (a flag, the config) is not taken as a choice
        assert not sf.prefs_path.exists() or "theme" not in sf.prefs_path.read_text()
        await pilot.press("f3")  # Textual's theme picker
        await wait_until(lambda: isinstance(app.screen, CommandPalette), "the theme picker")
        await pilot.press(*"nord")
        await pilot.pause()
        await pilot.press("enter")
        await wait_until(lambda: app.theme == "nord", "picked")
        prefs = Prefs(sf.prefs_path)
        await wait_until(lambda: (prefs.load(), prefs.saved.theme)[1] == "nord", "remembered")
    async with fake_chat(sf, *PEOPLE, theme="no-such-theme") as (app, _, _):
        assert app.theme == "textual-dark"
        await wait_until(
            lambda: any("no theme 'no-such-theme'" in str(n.message) for n in app._notifications),
            "the notice",
        )


@pytest.mark.stores("memory")
async def test_no_color_draws_in_greys_only(
    h: Harness, srv: Server, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    await h.login(srv, "bob")
    monkeypatch.setenv("NO_COLOR", "1")
    tui = TuiProcess(srv.url, tmp_path / "amy.json", "amy")
    try:
        await wait_until(lambda: tui.shown_since(0, "bob"), "the chat screen", within=30)
        colours = sgr_colours(tui.raw)
        assert colours, "no colour at all was written: the parser is wrong"
        assert all(grey(c) for c in colours), {c for c in colours if not grey(c)}
    finally:
        tui.quit()
