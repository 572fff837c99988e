"""Shutdown always ends: background tasks are cancelled until they stop (chat_server/tasks.py),
even when a library swallowed the first cancellation, as redis-py's writes do on
Python 3.11 (a test teardown once hung for minutes on a loop that went back to sleep)."""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
from pathlib import Path

import pytest

from chat_server.config import Config
from chat_server.tasks import cancel_and_wait
from tests.conftest import WAIT, RedisServer, Server


async def swallows_cancels(times: int, started: asyncio.Event) -> None:
    """A loop that carries on after its first ``times`` cancellations, as a loop does
    when ``wait_for`` dropped them."""
    started.set()
    for _ in range(times):
        with contextlib.suppress(asyncio.CancelledError):
            await asyncio.sleep(3600)
    await asyncio.sleep(3600)


async def test_a_task_that_swallowed_a_cancellation_is_cancelled_again() -> None:
    started = asyncio.Event()
    task = asyncio.create_task(swallows_cancels(2, started))
    await started.wait()
    async with asyncio.timeout(WAIT):
        assert await cancel_and_wait([task]) is True
    assert task.cancelled()


async def test_a_task_that_never_stops_is_given_up_on_with_a_warning(
    caplog: pytest.LogCaptureFixture,
) -> None:
    release = asyncio.Event()

    async def stubborn() -> None:
        while not release.is_set():
            with contextlib.suppress(asyncio.CancelledError):
                await release.wait()

    task = asyncio.create_task(stubborn(), name="stubborn")
    await asyncio.sleep(0)
    async with asyncio.timeout(WAIT):
        assert await cancel_and_wait([task], within=0.3) is False
    assert "did not stop within" in caplog.text and "stubborn" in caplog.text
    release.set()
    await task


async def test_failed_tasks_are_retrieved_not_reported(
    caplog: pytest.LogCaptureFixture,
) -> None:
    async def fail() -> None:
        raise RuntimeError("boom")

    caplog.set_level(logging.ERROR)
    failed = asyncio.create_task(fail())
    await asyncio.wait([failed])
    assert await cancel_and_wait([failed]) is True
    del failed  # retrieved: no "exception was never retrieved" when it is collected
    gc.collect()
    assert "never retrieved" not in caplog.text


async def test_a_server_on_redis_stops_however_soon_it_is_stopped(
    redis_server: RedisServer, tmp_path: Path
) -> None:
    """Stopped while its first pruning round (and presence) are in the middle of Redis
    commands: before the fix, a swallowed cancellation hung this within a few rounds."""
    config = Config(store=redis_server.url, port=0, rate_per_second=0)
    for turns in range(40):
        redis_server.flush()
        srv = await Server(config).start()
        for _ in range(turns):  # sweep the moment of the stop across the startup work
            await asyncio.sleep(0)
        async with asyncio.timeout(WAIT):
            await srv.stop()
