"""The words search compares (chat_server.text.search_words): one rule for every store."""

from __future__ import annotations

import pytest

from chat_server.text import search_words


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
