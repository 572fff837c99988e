"""Pure helpers that turn untrusted text and timestamps into what the screen shows."""

from __future__ import annotations

import unicodedata
from datetime import date, datetime
from functools import lru_cache

_CONTROL_PICTURES = {i: chr(0x2400 + i) for i in range(0x20)} | {0x7F: "\u2421"}


def safe_text(text: str) -> str:
    """Text from a stranger, made harmless for a terminal: control characters (ESC among
    them, which could drive the terminal) become visible symbols; tabs become spaces.
    Newlines are kept (callers split on them)."""
    if text.isprintable():
        return text
    out = []
    for ch in text:
        if ch == "\n":
            out.append(ch)
        elif ch == "\t":
            out.append("    ")
        elif ord(ch) in _CONTROL_PICTURES:
            out.append(_CONTROL_PICTURES[ord(ch)])
        elif unicodedata.category(ch) == "Cc":  # C1 controls
            out.append("\ufffd")
        else:
            out.append(ch)
    return "".join(out)


def one_line(text: str, limit: int = 60) -> str:
    """A single-line preview (for notifications)."""
    flat = " ".join(safe_text(text).split())
    return flat if len(flat) <= limit else flat[: limit - 1] + "…"


@lru_cache(maxsize=8192)
def _hour_start(hour: int) -> tuple[int, int]:
    """Local (day ordinal, minute of day) at the start of a UTC hour. Time zones change
    their offset on hour boundaries, so the rest of the hour follows by arithmetic: a
    conversation of 10,000 messages needs a few hundred time-zone look-ups, not 10,000."""
    local = datetime.fromtimestamp(hour * 3600).astimezone()
    return local.toordinal(), local.hour * 60 + local.minute


def _local(ts_ms: int) -> tuple[int, int]:
    """(local day ordinal, local minute of the day) of a time in ms."""
    day, minute = _hour_start(ts_ms // 3_600_000)
    minute += ts_ms % 3_600_000 // 60_000
    return day + minute // 1440, minute % 1440


def time_of_day(ts_ms: int | None) -> str:
    """``14:05``, or blanks when the server sent no time."""
    if ts_ms is None:
        return "     "
    minute = _local(ts_ms)[1]
    return f"{minute // 60:02}:{minute % 60:02}"


def day_label(ts_ms: int) -> str:
    """``Thursday 26 November 2026``."""
    d = date.fromordinal(_local(ts_ms)[0])
    return f"{d:%A} {d.day} {d:%B %Y}"


def same_day(a_ms: int | None, b_ms: int | None) -> bool:
    if a_ms is None or b_ms is None:
        return True
    return _local(a_ms)[0] == _local(b_ms)[0]
