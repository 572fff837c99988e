"""The chat-tui command line."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from chat_tui.cli import Start, build_parser, resolve
from chat_tui.config import load
from chat_tui.prefs import Prefs
from chat_tui.session_file import SessionFile


def start(*argv: str) -> Start:
    parser = build_parser()
    return resolve(parser.parse_args(list(argv)), parser)


def test_defaults_environment_config_and_flags(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.delenv("CHAT_SERVER_URL", raising=False)
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))  # no config file
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))
    default = start()
    assert (default.url, default.config.profile, default.theme) == (
        "http://127.0.0.1:3000",
        "default",
        "textual-dark",
    )
    assert default.session.name == "127.0.0.1_3000.default.json"
    monkeypatch.setenv("CHAT_SERVER_URL", "http://chat.example:4000")
    assert start().url == "http://chat.example:4000"
    # the config file, then the environment, then the flags and the URL argument
    config = tmp_path / "c.toml"
    config.write_text('server = "chat.example.org:5000"\nprofile = "work"\ntheme = "nord"\n')
    monkeypatch.delenv("CHAT_SERVER_URL")
    from_file = start("--config", str(config))
    assert (from_file.url, from_file.config.profile, from_file.theme) == (
        "http://chat.example.org:5000",
        "work",
        "nord",
    )
    assert from_file.session.name == "chat.example.org_5000.work.json"
    monkeypatch.setenv("CHAT_SERVER_URL", "http://env:1")
    assert start("--config", str(config)).url == "http://env:1"
    flags = start("http://h:1", "--config", str(config), "--profile", "home", "--theme", "dracula")
    assert (flags.url, flags.config.profile, flags.theme) == ("http://h:1", "home", "dracula")
    args = build_parser().parse_args(["--username", "amy", "--session-file", "/x.json"])
    assert (args.username, str(args.session_file)) == ("amy", "/x.json")


def test_a_theme_picked_in_the_app_is_remembered_per_profile(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))
    picked = start("http://h:1")
    Prefs(SessionFile(picked.session).prefs_path).set_choice(theme="gruvbox")
    assert start("http://h:1").theme == "gruvbox"
    assert start("http://h:1", "--theme", "nord").theme == "nord"  # the flag wins
    assert start("http://h:1", "--profile", "other").theme == "textual-dark"
    # a broken prefs file: the default theme, and the file is left for the app to report
    prefs = SessionFile(picked.session).prefs_path
    prefs.write_text("{broken")
    assert start("http://h:1").theme == "textual-dark"
    assert prefs.read_text() == "{broken"


def test_a_server_in_the_config_file_names_the_same_session_file_as_typed(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.delenv("CHAT_SERVER_URL", raising=False)
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))
    config = tmp_path / "c.toml"
    config.write_text('server = "wss://chat.example.org"\n')
    from_file = start("--config", str(config))
    typed = start("wss://chat.example.org", "--config", str(tmp_path / "none.toml"))
    assert from_file.session == typed.session
    assert from_file.url == typed.url == "https://chat.example.org"


def test_print_config_shows_the_settings_in_effect(tmp_path: Path) -> None:
    config = tmp_path / "c.toml"
    config.write_text(
        'server = "http://chat.example:4000"\nbell = false\nsort = "name"\n'
        '[keys]\nnext = "F6, ctrl+n"\nprev = "ctrl+n"\nnope = "f9"\nsearch = "ctrl+"\n'
    )
    env = {**os.environ, "XDG_DATA_HOME": str(tmp_path / "data")}
    env.pop("CHAT_SERVER_URL", None)
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "chat_tui",
            "--config",
            str(config),
            "--print-config",
            "--no-typing",
        ],
        capture_output=True,
        text=True,
        timeout=30,
        env=env,
    )
    assert done.returncode == 0, done.stderr
    out = done.stdout
    for line in (
        'server = "http://chat.example:4000"',
        "bell = false",
        "typing = false",  # the flag
        'sort = "name"',
        'next = "f6,ctrl+n"',
        'prev = "ctrl+p"',  # ctrl+n is next's: prev keeps its default
        'search = "ctrl+f"',  # not a key: the default
        'quit = "ctrl+q"',
    ):
        assert line in out.splitlines(), (line, out)
    assert "unknown action 'nope'" in done.stderr
    assert "keys.search must be keys a terminal can send" in done.stderr
    assert "ctrl+n would be the key of next and prev; keys.prev ignored" in done.stderr
    # what it prints is a config file chat-tui reads back as the same settings
    again = tmp_path / "again.toml"
    again.write_text(out)
    assert load(again)[1] == []


def test_help_runs_without_a_terminal() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "chat_tui", "--help"], capture_output=True, text=True, timeout=30
    )
    assert done.returncode == 0
    for flag in (
        "--username",
        "--profile",
        "--session-file",
        "--no-bell",
        "--cafile",
        "CHAT_SERVER_URL",
    ):
        assert flag in done.stdout
