"""chat-tui's settings, mutes, notifications and relative times, without a screen."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest

from chat_tui.cli import build_parser, settings
from chat_tui.config import Config, load
from chat_tui.notify import Throttle, desktop_sequence
from chat_tui.prefs import Prefs
from chat_tui.records import Contact
from chat_tui.render import ago, seen_label
from chat_tui.screens.chat import presence


def test_config_file_values_and_what_is_ignored(tmp_path: Path) -> None:
    assert load(tmp_path / "absent.toml") == (Config(), [])
    path = tmp_path / "config.toml"
    path.write_text(
        'read_receipts = false\ntyping = false\nnotify_every = 2\nbell = "loud"\nsparkles = true\n'
    )
    config, notices = load(path)
    assert config == Config(read_receipts=False, typing=False, notify_every=2.0)
    assert any("bell must be true or false" in n for n in notices)
    assert any("unknown setting 'sparkles'" in n for n in notices)
    path.write_text("this is = = not toml")
    config, notices = load(path)
    assert config == Config() and "using the defaults" in notices[0]
    path.write_text("notify_every = -1\n")
    assert load(path)[0].notify_every == Config().notify_every


def test_flags_override_the_config_file(tmp_path: Path) -> None:
    path = tmp_path / "config.toml"
    path.write_text("desktop_notifications = false\nread_receipts = true\n")
    args = build_parser().parse_args(
        ["--config", str(path), "--no-read-receipts", "--no-typing", "--desktop-notifications"]
    )
    config, notices = settings(args)
    assert notices == []
    assert (config.read_receipts, config.typing, config.desktop_notifications) == (
        False,
        False,
        True,
    )
    missing = build_parser().parse_args(["--config", str(tmp_path / "nope.toml")])
    assert "no such file" in settings(missing)[1][0]


def test_mutes_are_kept_privately_and_shared_by_windows(tmp_path: Path) -> None:
    one, two = Prefs(tmp_path / "p" / "s.prefs.json"), Prefs(tmp_path / "p" / "s.prefs.json")
    one.set_muted("bob", True)
    two.set_muted("carol", True)  # the other window's change is kept, not overwritten
    fresh = Prefs(one.path)
    fresh.load()
    assert fresh.muted == {"bob", "carol"}
    assert stat.S_IMODE(one.path.stat().st_mode) == 0o600
    one.set_muted("bob", False)
    two.set_muted("carol", False)
    assert not one.path.exists()


def test_drafts_are_kept_privately_per_conversation_beside_the_mutes(tmp_path: Path) -> None:
    one, two = Prefs(tmp_path / "p" / "s.prefs.json"), Prefs(tmp_path / "p" / "s.prefs.json")
    one.set_muted("bob", True)
    one.save_drafts({"bob": "half a thought", "carol": "   "}, "bob")  # blank: no draft
    two.save_drafts({"dave": "for dave"}, "dave")  # another window: bob's stays
    fresh = Prefs(one.path)
    fresh.load()
    assert fresh.drafts == {"bob": "half a thought", "dave": "for dave"}
    assert (fresh.muted, fresh.last_open) == ({"bob"}, "dave")
    assert stat.S_IMODE(one.path.stat().st_mode) == 0o600
    one.save_drafts({"bob": "", "dave": ""}, None)
    one.set_muted("bob", False)
    assert not one.path.exists()  # nothing left to keep


def test_throttle_announces_once_per_conversation_per_window() -> None:
    t = Throttle(every=5.0)
    assert t.allow("bob", 0.0) == 0
    assert [t.allow("bob", x) for x in (1.0, 2.0, 3.0)] == [None, None, None]
    assert t.allow("carol", 1.5) == 0  # another conversation has its own
    assert t.allow("bob", 5.0) == 3  # and the next one says how many were held back
    assert t.allow("bob", 10.5) == 0


def test_desktop_notifications_cannot_be_hijacked_by_message_text() -> None:
    seq = desktop_sequence("bob;x", "hi\x1b]0;pwned\x07 there\x1b\\ \x9c end;")
    assert seq.startswith("\x1b]777;notify;bob,x;") and seq.endswith("\x07")
    body = seq[len("\x1b]777;notify;") :]
    # exactly two sequences, each ended once: nothing from the text ends or starts one
    assert seq.count("\x1b") == 2 and seq.count("\x07") == 2
    assert "\x9c" not in seq and "pwned" in body


def test_relative_times() -> None:
    now = 1_800_000_000_000
    minute, hour, day = 60_000, 3_600_000, 86_400_000
    assert ago(now - 5_000, now) == "just now"
    assert ago(now - 5 * minute, now) == "5 min ago"
    assert ago(now - 3 * hour, now) == "3 h ago"
    assert ago(now + 10_000, now) == "just now"  # a clock ahead of ours
    assert ago(now - 3 * day, now) == "3 days ago"
    assert ago(now - 40 * day, now).startswith("on ")
    assert seen_label(None) == "seen"
    assert seen_label(now - minute, now).startswith("seen ") and ":" in seen_label(now, now)
    assert len(seen_label(now - 3 * day, now).split()) == 5  # seen Tue 24 Nov 14:05
    bob = Contact("b", "bob", connected=False, last_seen=now - 3 * hour)
    assert presence(bob, now) == "○ last seen 3 h ago"
    assert presence(Contact("b", "bob", connected=False), now) == "○ offline"
    assert presence(Contact("b", "bob", connected=True), now) == "● online"


@pytest.mark.parametrize("text", ["", "a" * 500, "\n\n\t"])
def test_desktop_sequence_is_one_bounded_line(text: str) -> None:
    seq = desktop_sequence("t", text)
    assert "\n" not in seq and len(seq) < 500


def test_keys_that_would_clash_or_cannot_be_typed_are_refused(tmp_path: Path) -> None:
    from chat_tui.keys import check_keys

    for bad in ("s", "enter", "escape", "up", "ctrl+m", "ctrl+j", "alt+enter", "alt+r"):
        with pytest.raises(ValueError):
            check_keys(bad)
    for bad in ("ctrl+shift+x", "ctrl+1", "foo", "super+x", "ctrl+", "shift+a", ""):
        with pytest.raises(ValueError):
            check_keys(bad)
    for good in ("f6", "alt+x", "ctrl+alt+x", "alt+shift+x", "ctrl+up", "shift+f5", "alt+1"):
        assert check_keys(good) == good
    path = tmp_path / "config.toml"
    # next takes prev's key: refused (both would have Ctrl+P), prev keeps its own
    path.write_text('[keys]\nnext = "ctrl+p"\n')
    config, notices = load(path)
    assert config.keys == {} and "keys.next ignored" in notices[0]
    # swapped: fine
    path.write_text('[keys]\nnext = "ctrl+p"\nprev = "ctrl+n"\n')
    config, notices = load(path)
    assert config.keys == {"next": "ctrl+p", "prev": "ctrl+n"} and notices == []
    # two actions given one new key: both refused
    path.write_text('[keys]\nnext = "f6"\nprev = "f6"\nsearch = "s"\n')
    config, notices = load(path)
    assert config.keys == {} and len(notices) == 3


def test_a_hostile_config_file_never_stops_the_client(tmp_path: Path) -> None:
    path = tmp_path / "config.toml"
    path.write_text("a = " + "[" * 100_000 + "]" * 100_000 + "\n")
    config, notices = load(path)
    assert config == Config() and "using the defaults" in notices[0]
    path.write_bytes(b"bell = false\n\xff\xfe\n")
    config, notices = load(path)
    assert config == Config() and "not UTF-8" in notices[0]
