"""Pure helpers that turn untrusted text and timestamps into what the screen shows."""

from __future__ import annotations

import unicodedata
from datetime import datetime

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


def local_time(ts_ms: int) -> datetime:
    return datetime.fromtimestamp(ts_ms / 1000).astimezone()


def time_of_day(ts_ms: int | None) -> str:
    """``14:05``, or blanks when the server sent no time."""
    return local_time(ts_ms).strftime("%H:%M") if ts_ms is not None else "     "


def day_label(ts_ms: int) -> str:
    """``Thursday 26 November 2026``."""
    d = local_time(ts_ms)
    return f"{d:%A} {d.day} {d:%B %Y}"


def same_day(a_ms: int | None, b_ms: int | None) -> bool:
    if a_ms is None or b_ms is None:
        return True
    return local_time(a_ms).date() == local_time(b_ms).date()
