"""Pure helpers that turn untrusted text and timestamps into what the screen shows."""

from __future__ import annotations

import time
import unicodedata
from datetime import date, datetime
from functools import lru_cache

_CONTROL_PICTURES = {i: chr(0x2400 + i) for i in range(0x20)} | {0x7F: "\u2421"}


def safe_text(text: str) -> str:
    """The one sanitiser for text from the network (names, messages, reasons): made
    harmless for a terminal and honest on screen. Control characters (ESC among them,
    which could drive the terminal) become visible symbols, C1 controls and lone
    surrogates U+FFFD; bidirectional controls, which could reorder what follows them,
    are shown by name (⟨RLO⟩). Tabs become spaces; newlines are kept (callers split on
    them)."""
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
        elif ch in _BIDI_NAMES:
            out.append(f"\u27e8{_BIDI_NAMES[ch]}\u27e9")
        elif unicodedata.category(ch) in ("Cc", "Cs"):  # C1 controls, lone surrogates
            out.append("\ufffd")
        else:
            out.append(ch)
    return "".join(out)


# the bidirectional controls (protocol.BIDI_CONTROLS) by their usual abbreviations
_BIDI_NAMES = {
    "\u061c": "ALM",
    "\u200e": "LRM",
    "\u200f": "RLM",
    "\u202a": "LRE",
    "\u202b": "RLE",
    "\u202c": "PDF",
    "\u202d": "LRO",
    "\u202e": "RLO",
    "\u2066": "LRI",
    "\u2067": "RLI",
    "\u2068": "FSI",
    "\u2069": "PDI",
}


def safe_reason(text: str, limit: int = 200) -> str:
    """A server's explanation (a refusal, an error), fit for one line of the screen."""
    return one_line(text, limit)


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


def clock_ms() -> int:
    """The wall clock in ms since the epoch, as the server's times are."""
    return int(time.time() * 1000)


def seen_label(at_ms: int | None, now_ms: int | None = None) -> str:
    """``seen 14:05`` under the last message the peer has read; with the day when it was
    not today (``seen Tue 24 Nov 14:05``)."""
    if at_ms is None:
        return "seen"
    now = now_ms if now_ms is not None else clock_ms()
    if same_day(at_ms, now):
        return f"seen {time_of_day(at_ms)}"
    d = date.fromordinal(_local(at_ms)[0])
    return f"seen {d:%a} {d.day} {d:%b} {time_of_day(at_ms)}"


def ago(ts_ms: int, now_ms: int) -> str:
    """How long ago, as people say it: ``just now``, ``5 min ago``, ``3 h ago``,
    ``yesterday``, ``4 days ago``, ``on 12 Mar 2026``."""
    seconds = max(0, now_ms - ts_ms) // 1000
    if seconds < 60:
        return "just now"
    if seconds < 3600:
        return f"{seconds // 60} min ago"
    if seconds < 86400:
        return f"{seconds // 3600} h ago"
    days = (_local(now_ms)[0] - _local(ts_ms)[0]) or 1
    if days == 1:
        return "yesterday"
    if days < 7:
        return f"{days} days ago"
    d = date.fromordinal(_local(ts_ms)[0])
    return f"on {d.day} {d:%b %Y}"


def same_day(a_ms: int | None, b_ms: int | None) -> bool:
    if a_ms is None or b_ms is None:
        return True
    return _local(a_ms)[0] == _local(b_ms)[0]
