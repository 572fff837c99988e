"""Text rules shared by the server and chat-tui: what counts as invisible, when two
usernames are the same, and the words of a message as search sees them. Pure."""

from __future__ import annotations

import re
import unicodedata
from typing import Final

import decancer_py

# Characters that reorder text (bidirectional controls): refused in usernames, shown
# visibly by chat-tui wherever they occur.
BIDI_CONTROLS: Final = frozenset(
    "\u061c\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069"
)

# Unicode's Default_Ignorable_Code_Point (DerivedCoreProperties.txt): drawn as nothing, so
# "ali\u200bce" would look like "alice". Plus characters that are visible but blank.
_DEFAULT_IGNORABLE: Final = (
    (0x00AD, 0x00AD),
    (0x034F, 0x034F),
    (0x061C, 0x061C),
    (0x115F, 0x1160),
    (0x17B4, 0x17B5),
    (0x180B, 0x180F),
    (0x200B, 0x200F),
    (0x202A, 0x202E),
    (0x2060, 0x206F),
    (0x3164, 0x3164),
    (0xFE00, 0xFE0F),
    (0xFEFF, 0xFEFF),
    (0xFFA0, 0xFFA0),
    (0xFFF0, 0xFFF8),
    (0x1BCA0, 0x1BCA3),
    (0x1D173, 0x1D17A),
    (0xE0000, 0xE0FFF),
)
_BLANK_LOOKING: Final = frozenset("\u2800")  # BRAILLE PATTERN BLANK


def is_invisible(ch: str) -> bool:
    """A character drawn as nothing (format, default-ignorable, blank-looking)."""
    code = ord(ch)
    if ch in _BLANK_LOOKING or unicodedata.category(ch) == "Cf":
        return True
    return any(lo <= code <= hi for lo, hi in _DEFAULT_IGNORABLE)


def visible_text(text: str) -> str:
    """``text`` without its invisible characters and white space: what a reader sees."""
    if text.isascii():
        return "".join(text.split())
    return "".join(ch for ch in text if not ch.isspace() and not is_invisible(ch))


def is_control(ch: str) -> bool:
    return unicodedata.category(ch) in ("Cc", "Zl", "Zp", "Cs", "Co", "Cn")


def username_key(name: str) -> str:
    """The form under which two usernames count as the same: NFKC, case-folded, white
    space collapsed, then reduced to its look-alike skeleton (decancer, which maps
    confusable characters such as Cyrillic "\\u0430" or fullwidth "\\uff41" to the letter
    they resemble, in the spirit of Unicode TS #39). Used by --unique-usernames and by
    chat-tui to mark names that look the same."""
    folded = " ".join(unicodedata.normalize("NFKC", name).casefold().split())
    if folded.isascii():
        return folded
    skeleton = str(decancer_py.parse(folded))
    return skeleton or folded


# A word: a run of letters and digits (underscore and everything else separate words)
_WORD: Final = re.compile(r"[^\W_]+")


def search_words(text: str) -> list[str]:
    """The words of ``text`` as search compares them: compatibility-normalised, accents
    removed, case-folded ("Café" and "CAFE" are both "cafe"). A query word matches the
    same word of a message (whole words: a prefix would make SQLite merge the doclists
    of every word it starts, docs/performance.md). Every store indexes and matches
    these, so search behaves the same on all of them."""
    if text.isascii():
        return _WORD.findall(text.lower())
    decomposed = unicodedata.normalize("NFKD", text.casefold())
    stripped = "".join(ch for ch in decomposed if not unicodedata.combining(ch))
    return _WORD.findall(unicodedata.normalize("NFC", stripped))


def matches(query: list[str], words: list[str]) -> bool:
    """Whether every query word is one of ``words`` (both in search_words form)."""
    return set(query) <= set(words)
