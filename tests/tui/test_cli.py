"""The chat-tui command line."""

from __future__ import annotations

import subprocess
import sys

import pytest

from chat_tui.cli import build_parser


def test_defaults_and_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("CHAT_SERVER_URL", raising=False)
    args = build_parser().parse_args([])
    assert (args.url, args.profile, args.username, args.no_bell) == (
        "http://127.0.0.1:3000",
        "default",
        None,
        False,
    )
    monkeypatch.setenv("CHAT_SERVER_URL", "http://chat.example:4000")
    assert build_parser().parse_args([]).url == "http://chat.example:4000"
    args = build_parser().parse_args(
        [
            "http://h:1",
            "--username",
            "amy",
            "--profile",
            "work",
            "--session-file",
            "/x.json",
            "--no-bell",
        ]
    )
    assert (args.url, args.username, args.profile, str(args.session_file), args.no_bell) == (
        "http://h:1",
        "amy",
        "work",
        "/x.json",
        True,
    )


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
