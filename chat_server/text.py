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


# A word: a run of letters, digits and the marks that belong to them (Indic vowel signs
# and viramas are part of a word); underscore and everything else separate words
_WORD: Final = re.compile(r"(?:[^\W_]|[\u0300-\u036f\u0900-\u0dff\u1ab0-\u1aff\u1dc0-\u1dff])+")
_ASCII_WORD: Final = re.compile(r"[a-z0-9]+")
# Letters that carry no combining accent but are written for a plain one (Łódź, Ørsted)
_FOLD: Final = str.maketrans(
    {
        "ł": "l",
        "ø": "o",
        "đ": "d",
        "ħ": "h",
        "\u0131": "i",
        "ŀ": "l",
        "æ": "ae",
        "œ": "oe",
        "þ": "th",
        "ð": "d",
    }
)
# Scripts written without spaces between words: each character is a word of its own
_UNSPACED: Final = re.compile(
    r"[\u0e00-\u0e7f\u0e80-\u0eff\u1000-\u109f\u1780-\u17ff\u3040-\u30ff"
    r"\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\U00020000-\U0002fa1f]"
)
_LATINISH_END: Final = 0x0530  # Latin, Greek, Cyrillic: their accents are dropped


def _plain(word: str) -> str:
    """A word without the accents of Latin, Greek and Cyrillic letters (other scripts'
    marks are letters of the word and stay)."""
    decomposed = unicodedata.normalize("NFKD", word.translate(_FOLD))
    out: list[str] = []
    for ch in decomposed:
        if unicodedata.combining(ch) and out and ord(out[-1][-1]) < _LATINISH_END:
            continue
        out.append(ch)
    return unicodedata.normalize("NFC", "".join(out))


def search_words(text: str) -> list[str]:
    """The words of ``text`` as search compares them: compatibility-normalised, case-
    folded, accents of Latin, Greek and Cyrillic letters removed ("Café", "CAFE" and
    "cafe" are one word; so are "Łódź" and "lodz", "straße" and "STRASSE"); scripts
    written without spaces (Chinese, Japanese, Thai...) give one word per character. A
    query word matches the same word of a message (whole words: a prefix would make
    SQLite merge the doclists of every word it starts, docs/performance.md). Every store
    indexes and matches these, so search behaves the same on all of them."""
    if text.isascii():
        return _ASCII_WORD.findall(text.lower())
    folded = unicodedata.normalize("NFKC", text).casefold()
    words: list[str] = []
    for found in _WORD.findall(folded):
        if _UNSPACED.search(found):
            words.extend(w for w in _UNSPACED.split(found) if w)
            words.extend(_UNSPACED.findall(found))
        else:
            words.append(_plain(found))
    return words


def matches(query: list[str], words: list[str]) -> bool:
    """Whether every query word is one of ``words`` (both in search_words form)."""
    return set(query) <= set(words)
