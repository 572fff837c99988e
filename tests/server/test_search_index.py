"""When the SQLite store's search index catches up with the messages (sqlite_search.py):
group commits once index_every trail (a text beyond ASCII weighs WIDE), a step at a time
while the store is idle or every index_pace seconds, in the server only; and that a
search past the index's mark finds what the index would."""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path

import pytest

from chat_server.stores import make_store, sqlite, sqlite_lib
from chat_server.stores.sqlite import SqliteStore
from chat_server.stores.sqlite_search import WIDE, indexed_upto
from chat_server.text import search_words
from chat_server.tokens import hash_session_id
from tests.conftest import wait_until


async def opened(path: Path, **knobs: object) -> SqliteStore:
    store = SqliteStore(path)
    for name, value in knobs.items():
        setattr(store, name, value)
    await store.open()
    for uid in ("a", "b", "c"):
        await store.create_user(uid, uid, hash_session_id(uid))
    return store


async def mark(store: SqliteStore) -> int:
    return await store.io.read(indexed_upto, store.io.rdb)


def settled(store: SqliteStore) -> bool:
    return store._idle_timer is None and store._idle_task is None


async def test_group_commits_index_the_oldest_once_index_every_trail(tmp_path: Path) -> None:
    """Nothing is indexed until index_every messages trail the mark; then the oldest,
    index_step of them at least, so the tail is back under index_every."""
    store = await opened(tmp_path / "chat.db", index_every=10, index_step=4, index_idle=None)
    try:
        sent = [(await store.save_message("a", "b", f"kelp {i}")).message for i in range(9)]
        assert await mark(store) == 0 and store.unindexed == 9
        sent.append((await store.save_message("b", "a", "kelp 9")).message)
        assert await mark(store) == sent[3].id and store.unindexed == 6
        # a burst in one group commit: the oldest until fewer than index_every trail
        burst = await asyncio.gather(
            *(store.save_message("a", "c", f"kelp burst {i}") for i in range(30))
        )
        last = max(s.message.id for s in burst)
        assert await mark(store) == last - 9 and store.unindexed == 9
    finally:
        await store.close()
    again = SqliteStore(tmp_path / "chat.db")
    again.index_step, again.index_idle = 1, 0.01
    await again.open()
    try:  # the close left the tail; the next server indexes it when idle
        assert again.unindexed == 9
        await wait_until(lambda: again.unindexed == 0 and settled(again), "idle indexing")
        assert await mark(again) == last
    finally:
        await again.close()


async def test_texts_beyond_ascii_weigh_more_past_the_mark(tmp_path: Path) -> None:
    """A search matches the messages past the mark in Python when their text has
    characters beyond ASCII (slower): each weighs WIDE, so fewer of them trail."""
    every = 2 * WIDE + 8
    store = await opened(tmp_path / "chat.db", index_every=every, index_step=4, index_idle=None)
    try:
        await store.save_message("a", "b", "plain words")
        await store.save_message("a", "b", "caf\u00e9 cr\u00e8me")
        assert store.unindexed == 1 + WIDE and await mark(store) == 0
        await store.save_message("b", "a", "\N{THUMBS UP SIGN} thanks")
        assert store.unindexed == 1 + 2 * WIDE
        last = (await store.save_message("b", "a", "na\u00efve")).message
        assert await mark(store) == last.id and store.unindexed == 0  # 1 + 3 * WIDE >= every
    finally:
        await store.close()
    again = SqliteStore(tmp_path / "chat.db")
    again.index_every = 100
    await again.open()
    try:  # counted again at open, from the file
        assert await mark(again) == last.id and again.unindexed == 0
        await again.save_message("a", "b", "d\u00e9j\u00e0 vu")
        await again.save_message("a", "b", "ascii")
    finally:
        await again.close()
    third = SqliteStore(tmp_path / "chat.db", keep_index=False)
    await third.open()
    try:
        assert third.unindexed == WIDE + 1
    finally:
        await third.close()


async def test_a_command_line_process_leaves_the_index_to_the_server(tmp_path: Path) -> None:
    """``chat-server users ...`` opens the server's file: it indexes nothing, at open, at
    close or when idle (it would hold the write lock the server's inline writer waits
    for)."""
    url = f"sqlite:///{tmp_path / 'chat.db'}"
    store = await opened(tmp_path / "chat.db", index_step=1, index_idle=None)
    try:
        sent = [(await store.save_message("a", "b", f"heron {i}")).message for i in range(5)]
        admin = make_store(url, serving=False)
        assert isinstance(admin, SqliteStore) and not admin.keep_index
        assert admin.index_idle is None
        await admin.open()
        try:
            assert await admin.delete_user("c") == 0
        finally:
            await admin.close()
        assert await mark(store) == 0
        served = make_store(url)
        assert isinstance(served, SqliteStore) and served.keep_index
    finally:
        await store.close()
    assert len(sent) == 5


@pytest.mark.parametrize("synchronous", ["normal", "full"])  # full: a writer thread
async def test_the_index_catches_up_while_the_store_is_idle(
    tmp_path: Path, synchronous: str
) -> None:
    """A burst below index_every is indexed a step at a time once no group commit has run
    for index_idle; fewer than a step stay past the mark (searched by their text)."""
    store = SqliteStore(tmp_path / "chat.db", synchronous)
    store.index_step, store.index_idle, store.index_pace = 4, 0.01, 3600.0  # idle only
    await store.open()
    for uid in ("a", "b"):
        await store.create_user(uid, uid, hash_session_id(uid))
    try:
        burst = await asyncio.gather(
            *(store.save_message("a", "b", f"tern {i}") for i in range(10))
        )
        ids = sorted(s.message.id for s in burst)
        await wait_until(lambda: store.unindexed < 4 and settled(store), "idle indexing")
        assert await mark(store) == ids[7] and store.unindexed == 2
        found, _ = await store.search_messages("b", ["tern"], None, None, 20)
        assert [m.id for m in found] == ids[::-1]
    finally:
        await store.close()


async def test_the_index_takes_a_step_every_index_pace_under_steady_writes(
    tmp_path: Path,
) -> None:
    """A writer that is never idle long enough still sees the index catch up, a step per
    index_pace seconds."""
    store = await opened(tmp_path / "chat.db", index_step=4, index_idle=3600.0, index_pace=0.05)
    try:
        sent = [(await store.save_message("a", "b", f"gull {i}")).message for i in range(8)]
        await wait_until(lambda: store.unindexed < 4, "a paced step")
        assert await mark(store) >= sent[3].id
    finally:
        await store.close()


async def test_a_failed_idle_step_is_logged_and_tried_again(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    store = await opened(tmp_path / "chat.db", index_step=2, index_idle=0.01, index_pace=0.2)
    try:
        calls: list[int | None] = []

        def broken(
            db: sqlite_lib.Connection, key: bytes, limit: int | None = None
        ) -> tuple[int, int]:
            calls.append(limit)
            raise sqlite_lib.OperationalError("simulated: disk I/O error")

        monkeypatch.setattr(sqlite, "catch_up", broken)
        with caplog.at_level(logging.WARNING, "chat_server.stores.sqlite"):
            for i in range(3):
                await store.save_message("a", "b", f"skua {i}")
            await wait_until(lambda: bool(calls) and settled(store), "a failed step")
        assert "could not catch up" in caplog.text and store.unindexed == 3
        assert await mark(store) == 0
        # it rests index_pace before it tries again, however busy the writer
        tried = len(calls)
        await store.save_message("a", "b", "skua 3")
        assert len(calls) == tried and store._rest_until >= store._last_step + 0.2
        monkeypatch.undo()
        last = (await store.save_message("b", "a", "skua again")).message  # re-arms
        await wait_until(lambda: store.unindexed < 2 and settled(store), "idle indexing")
        assert await mark(store) >= last.id - 1
        found, _ = await store.search_messages("a", ["skua"], None, None, 20)
        assert len(found) == 5
    finally:
        await store.close()


TEXTS = [
    "Café au lait",
    "CAFE NOIR",
    "cafe",
    "snake_case name",
    "snakeXcase name",
    "100% sure",
    "1000 sure",
    "naïve Straße",
    "NAIVE strasse",
    "日本語の文",
    "back\\slash",
    "\uff26\uff55\uff4c\uff4c\uff57\uff49\uff44\uff54\uff48 letters",  # fullwidth forms
    "thumbs \N{THUMBS UP SIGN} up, it\N{RIGHT SINGLE QUOTATION MARK}s fine",
    "e\u0301clair fi\ufb01x",  # a combining accent; the ligature fi
    "before\x00after cafe",  # SQLite's length and LIKE stop at the NUL
]
QUERIES = [
    ["cafe"],
    ["café"],
    ["snake_case"],
    ["snakexcase"],
    ["100"],
    ["sure"],
    ["naive", "strasse"],
    ["日"],
    ["back", "slash"],
    ["fullwidth"],
    ["lait", "noir"],
    ["nothing"],
    ["thumbs", "fine"],
    ["eclair"],
    ["fifix"],
]


async def test_a_search_past_the_mark_finds_what_the_index_finds(tmp_path: Path) -> None:
    """SQLite sifts the messages past the mark (LIKE, ASCII texts only) before Python
    matches their words: the sift must never drop a message the index would find
    (case, accents, compatibility forms, LIKE's wildcards and escape in a word)."""
    store = await opened(tmp_path / "chat.db", index_idle=None)
    try:
        for i, text in enumerate(TEXTS):
            await store.save_message("a" if i % 2 else "b", "b" if i % 2 else "a", text)
        assert await mark(store) == 0
        past: dict[int, list[int]] = {}
        for n, query in enumerate(QUERIES):
            words = search_words(" ".join(query))
            found, _ = await store.search_messages("a", words, None, None, 50)
            past[n] = [m.id for m in found]
        store.index_every = 1
        await store.save_message("c", "a", "the index catches up now")
        assert await mark(store) == len(TEXTS) + 1
        for n, query in enumerate(QUERIES):
            words = search_words(" ".join(query))
            found, _ = await store.search_messages("a", words, None, None, 50)
            assert past[n] == [m.id for m in found], query
        assert past[0] == [15, 3, 2, 1] and past[2] == [4] and past[4] == [6]
        assert past[6] == [9, 8]
        assert past[11] == [] and past[12] == [13] and past[13] == past[14] == [14]
    finally:
        await store.close()
