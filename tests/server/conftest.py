"""Fixtures of the store tests: a store of each back end, opened, and one with users."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from chat_server.stores import Store, make_store
from chat_server.stores.sqlite import SqliteStore
from chat_server.tokens import hash_session_id
from tests.conftest import Harness, redis_for


@pytest.fixture
async def store(
    request: pytest.FixtureRequest, tmp_path: Path, store_kind: str
) -> AsyncIterator[Store]:
    url = Harness(tmp_path, store_kind, redis_for(request, store_kind)).store_url()
    s = make_store(url)
    if isinstance(s, SqliteStore):
        # the search index trails by 3 at most: a contract test's few messages are found
        # both through the index and past its mark (sqlite_search.py)
        s.index_every = 3
    await s.open()
    yield s
    await s.close()


@pytest.fixture
async def chat(store: Store) -> Store:
    """A store with users a, b and c: messages are only ever between known users."""
    for uid in ("a", "b", "c"):
        await store.create_user(uid, f"user-{uid}", hash_session_id(f"s{uid}"))
    return store
