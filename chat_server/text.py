"""Text rules shared by the server and chat-tui: what counts as invisible, when two
usernames are the same, and the words of a message as search sees them. Pure."""

from __future__ import annotations

import bisect
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


def _folded(text: str) -> str:
    """Compatibility-normalised (NFKC) and case-folded: how usernames and search words
    start to compare."""
    return unicodedata.normalize("NFKC", text).casefold()


def username_key(name: str) -> str:
    """The form under which two usernames count as the same: NFKC, case-folded, white
    space collapsed, then reduced to its look-alike skeleton (decancer, which maps
    confusable characters such as Cyrillic "\\u0430" or fullwidth "\\uff41" to the letter
    they resemble, in the spirit of Unicode TS #39). Used by --unique-usernames and by
    chat-tui to mark names that look the same."""
    folded = " ".join(_folded(name).split())
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
    folded = _folded(text)
    words: list[str] = []
    for found in _WORD.findall(folded):
        if _UNSPACED.search(found):
            words.extend(w for w in _UNSPACED.split(found) if w)
            words.extend(_UNSPACED.findall(found))
        else:
            words.append(_plain(found))
    return words


# The characters beyond ASCII that ascii_letters turns into ASCII letters or digits, and
# every combining mark (search_words drops accents between letters): ranges of code points
# from Python 3.11's Unicode 14 database, gaps of up to 64 filled in. A test checks that
# they cover every such character of the running Python's database.
_FOLDS_TO_ASCII: Final = (
    (0xAA, 0x233),
    (0x2B0, 0x36F),
    (0x483, 0x487),
    (0x591, 0x5C7),
    (0x610, 0x670),
    (0x6D6, 0x74A),
    (0x7EB, 0x954),
    (0x9BC, 0xA4D),
    (0xABC, 0xACD),
    (0xB3C, 0xB4D),
    (0xBCD, 0xBCD),
    (0xC3C, 0xC56),
    (0xCBC, 0xCCD),
    (0xD3B, 0xD4D),
    (0xDCA, 0xDCA),
    (0xE38, 0xE4B),
    (0xEB8, 0xECB),
    (0xF18, 0xFC6),
    (0x1037, 0x103A),
    (0x108D, 0x108D),
    (0x135D, 0x135F),
    (0x1714, 0x1734),
    (0x17D2, 0x17DD),
    (0x18A9, 0x18A9),
    (0x1939, 0x193B),
    (0x1A17, 0x1A18),
    (0x1A60, 0x1ACE),
    (0x1B34, 0x1BF3),
    (0x1C37, 0x1C37),
    (0x1CD0, 0x1EF9),
    (0x2070, 0x2189),
    (0x2460, 0x24EA),
    (0x2C7C, 0x2C7D),
    (0x2CEF, 0x2CF1),
    (0x2D7F, 0x2D7F),
    (0x2DE0, 0x2DFF),
    (0x302A, 0x302F),
    (0x3099, 0x309A),
    (0x3250, 0x325F),
    (0x32B1, 0x32CF),
    (0x3358, 0x33FF),
    (0xA66F, 0xA69F),
    (0xA6F0, 0xA6F1),
    (0xA7F2, 0xA82C),
    (0xA8C4, 0xA953),
    (0xA9B3, 0xA9C0),
    (0xAAB0, 0xAAF6),
    (0xABED, 0xABED),
    (0xFB00, 0xFB1E),
    (0xFE20, 0xFE2F),
    (0xFF10, 0xFF5A),
    (0x101FD, 0x101FD),
    (0x102E0, 0x102E0),
    (0x10376, 0x1037A),
    (0x10783, 0x107A5),
    (0x10A0D, 0x10A3F),
    (0x10AE5, 0x10AE6),
    (0x10D24, 0x10D27),
    (0x10EAB, 0x10EAC),
    (0x10F46, 0x10F85),
    (0x11046, 0x110BA),
    (0x11100, 0x11173),
    (0x111C0, 0x111CA),
    (0x11235, 0x11236),
    (0x112E9, 0x112EA),
    (0x1133B, 0x11374),
    (0x11442, 0x1145E),
    (0x114C2, 0x114C3),
    (0x115BF, 0x115C0),
    (0x1163F, 0x1163F),
    (0x116B6, 0x116B7),
    (0x1172B, 0x1172B),
    (0x11839, 0x1183A),
    (0x1193D, 0x11943),
    (0x119E0, 0x119E0),
    (0x11A34, 0x11A47),
    (0x11A99, 0x11A99),
    (0x11C3F, 0x11C3F),
    (0x11D42, 0x11D45),
    (0x11D97, 0x11D97),
    (0x16AF0, 0x16B36),
    (0x16FF0, 0x16FF1),
    (0x1BC9E, 0x1BC9E),
    (0x1D165, 0x1D1AD),
    (0x1D242, 0x1D244),
    (0x1D400, 0x1D6A4),
    (0x1D7CE, 0x1D7FF),
    (0x1E000, 0x1E02A),
    (0x1E130, 0x1E136),
    (0x1E2AE, 0x1E2EF),
    (0x1E8D0, 0x1E8D6),
    (0x1E944, 0x1E94A),
    (0x1F100, 0x1F190),
    (0x1FBF0, 0x1FBF9),
)
_FOLD_STARTS: Final = [start for start, _ in _FOLDS_TO_ASCII]
# another Unicode database may fold more characters: may_hold then always folds
FOLD_TABLE_CURRENT: Final = unicodedata.unidata_version == "14.0.0"

_BEYOND_ASCII: Final = re.compile(r"[^\x00-\x7f]")


def folds_to_ascii(ch: str) -> bool:
    """Whether ascii_letters may turn ``ch`` (beyond ASCII) into ASCII letters, or drop
    it from between two (a combining mark)."""
    code = ord(ch)
    at = bisect.bisect_right(_FOLD_STARTS, code) - 1
    return at >= 0 and code <= _FOLDS_TO_ASCII[at][1]


def may_hold(text: str, ascii_words: list[str]) -> bool:
    """Whether ``text`` may hold every one of ``ascii_words`` (ASCII words in
    search_words form): False only when search_words(text) certainly lacks one, and
    cheaper than it. Each word's letters must be in the text's lower case, or, when the
    text has characters that fold into ASCII ("Straße", "ﬁ", "é"), in its ascii_letters."""
    if FOLD_TABLE_CURRENT and not any(map(folds_to_ascii, set(_BEYOND_ASCII.findall(text)))):
        letters = text.lower()
    else:
        letters = ascii_letters(text)
    return all(w in letters for w in ascii_words)


def ascii_letters(text: str) -> str:
    """The ASCII characters of ``text`` once folded as search_words folds it (NFKC, case
    folded, accents and the letters of _FOLD decomposed), everything else dropped. Every
    ASCII word of search_words(text) is a substring of it (search_words keeps a word only
    when its decomposition's other characters are accents it drops), so a text whose
    ascii_letters lack an ASCII query word cannot match; several times cheaper than
    search_words for a text with characters beyond ASCII."""
    decomposed = unicodedata.normalize("NFKD", _folded(text).translate(_FOLD))
    return decomposed.encode("ascii", "ignore").decode("ascii")


def matches(query: list[str], words: list[str]) -> bool:
    """Whether every query word is one of ``words`` (both in search_words form)."""
    return set(query) <= set(words)
