"""The words search compares (chat_server.text.search_words): one rule for every store."""

from __future__ import annotations

import random
import re
import unicodedata

import pytest

from chat_server.text import (
    FOLD_TABLE_CURRENT,
    ascii_letters,
    folds_to_ascii,
    may_hold,
    search_words,
)

_ALNUM = re.compile(r"[a-z0-9]")


@pytest.mark.parametrize(
    ("text", "words"),
    [
        ("Hello, WORLD_x 42!", ["hello", "world", "x", "42"]),
        ("Café au LAIT", ["cafe", "au", "lait"]),
        ("STRASSE straße", ["strasse", "strasse"]),
        ("Łódź, Ørsted", ["lodz", "orsted"]),
        ("Привет Ёлка", ["привет", "елка"]),
        ("Ελληνικά", ["ελληνικα"]),
        ("\ufb01ne \uff46\uff55\uff4c\uff4c", ["fine", "full"]),  # compatibility forms
        ("हिन्दी भाषा", ["हिन्दी", "भाषा"]),  # vowel signs and viramas stay in the word
        ("東京タワー", ["東", "京", "タ", "ワ", "ー"]),  # no spaces: one word per character
        ("ok東京", ["ok", "東", "京"]),
        ("", []),
        (" ,;! ", []),
    ],
)
def test_search_words(text: str, words: list[str]) -> None:
    assert search_words(text) == words


def test_every_character_that_folds_into_ascii_is_known() -> None:
    """may_hold trusts a text's lower case unless it has a character of _FOLDS_TO_ASCII:
    every character (of this Python's Unicode database) that ascii_letters turns into an
    ASCII letter or digit, and every combining mark, must be in it; and no other
    character's lower case is ASCII. On another Unicode version than the table's,
    may_hold folds every text instead (slower, never wrong)."""
    if not FOLD_TABLE_CURRENT:
        assert may_hold("Stra\u00dfe", ["strasse"])
        pytest.skip(f"the table is Unicode 14's, this Python's {unicodedata.unidata_version}")
    missing = []
    for code in range(0x80, 0x110000):
        if 0xD800 <= code <= 0xDFFF:
            continue
        ch = chr(code)
        folds = bool(unicodedata.combining(ch)) or bool(_ALNUM.search(ascii_letters(ch)))
        if (folds or _ALNUM.search(ch.lower())) and not folds_to_ascii(ch):
            missing.append(f"U+{code:04X}")
    assert missing == []


def test_may_hold_never_rules_out_a_word_search_words_finds() -> None:
    """may_hold is a sift: for any text, every ASCII word of search_words(text) may be
    held (random texts of letters, accents, ligatures, fullwidth forms, emoji, CJK)."""
    pool = (
        list("abcdefxyz019 ") * 3
        + list("\u00e9\u00df\u00c5\u0141\u00f8\u00e6\u0130\u017f\u212a\ufb01\uff41\uff10")
        + ["\u0301", "\u0308", "\u094d", "\N{THUMBS UP SIGN}", "\u4e2d", "\u2019", "\u00bd"]
    )
    rnd = random.Random(7)
    for _ in range(20_000):
        text = "".join(rnd.choices(pool, k=rnd.randrange(1, 24)))
        for word in search_words(text):
            if word.isascii():
                assert may_hold(text, [word]), (text, word)
    assert not may_hold("ca\N{THUMBS UP SIGN}fe", ["cafe"])
    assert may_hold("Stra\u00dfe", ["strasse"]) and not may_hold("Stra\u00dfe", ["strase"])
