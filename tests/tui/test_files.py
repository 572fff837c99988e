"""The session file and the outbox on disk; the helpers that make text safe to show."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest

from chat_tui.outbox import Outbox, OutboxItem
from chat_tui.render import one_line, safe_text
from chat_tui.session_file import CorruptFile, Session, SessionFile, session_path


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_session_file_is_private_atomic_and_round_trips(tmp_path: Path) -> None:
    f = SessionFile(tmp_path / "sessions" / "s.json")
    assert f.load() is None
    session = Session("a" * 32, "b" * 16, "alice", "http://127.0.0.1:3000")
    f.save(session)
    assert f.load() == session
    assert mode(f.path) == 0o600 and mode(f.path.parent) == 0o700
    assert [p.name for p in f.path.parent.iterdir()] == ["s.json"]  # no temporary left


def test_outbox_round_trips_and_disappears_when_empty(tmp_path: Path) -> None:
    f = SessionFile(tmp_path / "s.json")
    box = Outbox(f.outbox_path)
    assert box.load() == []
    item = OutboxItem("c1", "u", "hi\nthere")
    box.add(item)
    assert Outbox(f.outbox_path).load() == [item] and mode(f.outbox_path) == 0o600
    box.remove("c1")
    assert not f.outbox_path.exists() and not box


@pytest.mark.parametrize("junk", ["{not json", "[1, 2]", '{"sessionID": "x"}'])
def test_a_corrupt_session_file_is_moved_aside_with_a_clear_message(
    tmp_path: Path, junk: str
) -> None:
    f = SessionFile(tmp_path / "s.json")
    f.path.write_text(junk)
    with pytest.raises(CorruptFile, match=r"moved it to s\.json\.corrupt"):
        f.load()
    assert not f.path.exists() and (tmp_path / "s.json.corrupt").read_text() == junk
    assert f.load() is None  # a fresh start


def test_outbox_keeps_only_well_formed_items(tmp_path: Path) -> None:
    f = SessionFile(tmp_path / "s.json")
    f.outbox_path.write_text('[{"clientId": "c", "to": "u", "content": "ok"}, {"to": 5}, "x"]')
    assert Outbox(f.outbox_path).load() == [OutboxItem("c", "u", "ok")]


def test_session_paths_per_server_and_profile(tmp_path: Path) -> None:
    a = session_path("http://127.0.0.1:3000", "default", tmp_path)
    assert a == tmp_path / "127.0.0.1_3000.default.json"
    assert session_path("https://chat.example.org", "work/../x", tmp_path).name == (
        "chat.example.org_443.work_.._x.json"
    )


def test_control_characters_become_visible() -> None:
    assert safe_text("plain [bold]x[/]") == "plain [bold]x[/]"
    assert safe_text("\x1b[2Jgone\x07") == "␛[2Jgone␇"
    assert safe_text("a\tb\nc") == "a    b\nc"
    assert safe_text("\x9bx") == "\ufffdx"
    assert one_line("a\n\nb   c", 10) == "a b c"
    assert one_line("x" * 100, 10) == "x" * 9 + "…"


@pytest.mark.parametrize("zone", ["UTC", "Asia/Kolkata", "America/New_York", "Australia/Lord_Howe"])
def test_cached_local_times_match_datetime(zone: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """The per-hour cache gives the same clock times and days as a direct conversion,
    across DST changes and half-hour offsets."""
    import random
    import time
    from datetime import datetime

    from chat_tui import render

    monkeypatch.setenv("TZ", zone)
    time.tzset()
    render._hour_start.cache_clear()
    try:
        rnd = random.Random(zone)
        for _ in range(3000):
            ts = rnd.randrange(1_600_000_000_000, 1_900_000_000_000)
            local = datetime.fromtimestamp(ts / 1000).astimezone()
            assert render.time_of_day(ts) == local.strftime("%H:%M"), ts
            assert render.day_label(ts) == f"{local:%A} {local.day} {local:%B %Y}", ts
            other = ts + rnd.randrange(-(10**8), 10**8)
            assert render.same_day(ts, other) == (
                local.date() == datetime.fromtimestamp(other / 1000).astimezone().date()
            )
    finally:
        monkeypatch.undo()
        time.tzset()
        render._hour_start.cache_clear()
    assert render.time_of_day(None) == "     "


@pytest.mark.parametrize(
    "text",
    [
        "short",
        "a b c " * 40,
        "x" * 250,
        "word " * 3 + "y" * 90 + " tail",
        "  lead and  double  spaces " * 6,
        "émoji 👩‍💻 " * 20,
        "中文字符" * 30,
    ],
)
def test_wrapping_keeps_every_character_within_the_width(text: str) -> None:
    from rich.cells import cell_len

    from chat_tui.layout import wrap as _wrap

    chunks = _wrap(text, 37)
    assert all(cell_len(c) <= 37 for c in chunks)
    assert "".join(chunks).replace(" ", "") == text.replace(" ", "")


def test_two_windows_of_one_profile_keep_each_others_outbox(tmp_path: Path) -> None:
    """Both write the same outbox file: each change is a locked read-change-write, so
    neither drops what the other queued (window 1 queues A, window 2 queues B, both
    quit with the server down: both messages are there for the next start)."""
    path = tmp_path / "s.outbox.json"
    one, two = Outbox(path), Outbox(path)
    one.load()
    two.load()
    one.add(OutboxItem("a", "u", "A"))
    two.add(OutboxItem("b", "u", "B"))
    assert Outbox(path).load() == [OutboxItem("a", "u", "A"), OutboxItem("b", "u", "B")]
    two.remove("b")  # window 2's message was acknowledged: window 1's stays
    assert Outbox(path).load() == [OutboxItem("a", "u", "A")]
    assert one.items == [OutboxItem("a", "u", "A")] and two.items == []


def test_a_session_file_in_a_shared_folder_leaves_that_folder_alone(tmp_path: Path) -> None:
    """--session-file /tmp/x.json must not make /tmp 0700: only folders the client
    creates are made private."""
    shared = tmp_path / "shared"
    shared.mkdir()
    shared.chmod(0o1777)
    f = SessionFile(shared / "me.json")
    f.save(Session("a" * 32, "b" * 16, "alice", "http://127.0.0.1:3000"))
    assert mode(shared) == 0o1777 and mode(f.path) == 0o600
    nested = SessionFile(shared / "new" / "deeper" / "me.json")
    nested.save(Session("a" * 32, "b" * 16, "alice", "http://127.0.0.1:3000"))
    assert mode(shared / "new") == 0o700 and mode(shared / "new" / "deeper") == 0o700
    assert mode(shared) == 0o1777
