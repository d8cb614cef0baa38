"""Delivery stays exact when the store or Telegram misbehaves (issue 8, section 2).

A store write-locked by another process while sends are out, and a Bot API that answers late or
with 500s: every chat's copies are counted at the double, and the ledger read from its file."""

from __future__ import annotations

import asyncio
import gc
import logging
import sqlite3
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from bot.config import ChannelConfig
from botapi_double import BotApiDouble
from storage import NewArticle
from tests.harness import FakeClock, RunningBot, make_article, running_bot

NOW = datetime(2026, 11, 28, 12, 0, tzinfo=UTC)
# How long a write waits for another connection's lock, scaled down (10 s in production) so
# a lock held past it takes a fraction of a second; what matters is that the lock outlasts it.
WRITE_PATIENCE = 0.2


def fresh(n: int) -> NewArticle:
    return make_article(n, published_at=NOW - timedelta(minutes=100 - n), category="Economy news")


def ledger(tmp_path: Path) -> Counter[str]:
    with sqlite3.connect(tmp_path / "news.db") as conn:
        return Counter(dict(conn.execute("SELECT status, count(*) FROM deliveries GROUP BY 1")))


@contextmanager
def write_locked(tmp_path: Path) -> Iterator[sqlite3.Connection]:
    """Another process's connection holding the store's write lock (until rolled back)."""
    conn = sqlite3.connect(tmp_path / "news.db", isolation_level=None, timeout=10)
    try:
        conn.execute("BEGIN IMMEDIATE")
        yield conn
    finally:
        if conn.in_transaction:
            conn.execute("ROLLBACK")
        conn.close()


def scale_write_patience(bot: RunningBot) -> None:
    bot.store.db.write_patience = WRITE_PATIENCE


async def failed_writes(bot: RunningBot, more_than: int) -> None:
    async with asyncio.timeout(10):
        await bot.delivery.dispatcher.wait_until(lambda s: s.ledger_write_failures > more_than)


def never_retrieved(caplog: pytest.LogCaptureFixture) -> list[str]:
    gc.collect()  # an unretrieved task exception is reported when the task is collected
    return [r.getMessage() for r in caplog.records if "never retrieved" in r.getMessage()]


async def test_a_store_locked_during_a_fan_out_then_a_clean_stop_and_restart_repeat_nothing(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    async with BotApiDouble() as tg:
        async with running_bot(tmp_path, double=tg, clock=FakeClock(NOW)) as bot:
            scale_write_patience(bot)
            readers = [(await bot.add_reader(f"r{i}", ["economy"])).id for i in range(20)]
            # Answers come a moment late, so the lock below is taken while sends are out.
            tg.inject_timeout("sendMessage", 0.5, count=1000, executed=True)
            await bot.publish([fresh(1)])
            await tg.wait_for_call("sendMessage")
            with write_locked(tmp_path) as lock:
                await failed_writes(bot, 0)  # the outcomes of those sends could not be stored
                sent_while_locked = len(tg.sent())
                stopping = asyncio.create_task(bot.delivery.dispatcher.stop())
                seen = bot.delivery.dispatcher.stats.ledger_write_failures
                await failed_writes(bot, seen)  # the stop keeps trying while the lock is held
                assert not stopping.done()
                lock.execute("ROLLBACK")
                await stopping
            after_stop = ledger(tmp_path)
            arrived_before = len(tg.sent())
        async with running_bot(tmp_path, double=tg, clock=FakeClock(NOW)) as again:
            await tg.wait_for(lambda: {m.chat_id for m in tg.sent()} >= set(readers), timeout=20)
            await again.delivery.dispatcher.wait_until(lambda s: s.unrecorded == 0)
        copies = Counter(m.chat_id for m in tg.sent())
    assert sent_while_locked >= 1
    assert after_stop["sending"] == 0
    assert after_stop["queued"] == 0
    assert after_stop["sent"] == arrived_before  # every send before the stop is recorded
    assert {copies[chat] for chat in readers} == {1}
    assert ledger(tmp_path) == Counter({"sent": len(readers)})
    messages = [r.getMessage() for r in caplog.records]
    assert sum("could not write" in m for m in messages) == 1  # once, not once per try
    assert any("ledger written again" in m for m in messages)
    assert never_retrieved(caplog) == []


async def test_a_stop_that_cannot_write_names_every_outcome_it_could_not_record(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    async with running_bot(tmp_path, clock=FakeClock(NOW)) as bot:
        scale_write_patience(bot)
        for i in range(3):
            await bot.add_reader(f"r{i}", ["economy"])
        bot.tg.inject_timeout("sendMessage", 0.5, count=1000, executed=True)
        await bot.publish([fresh(1)])
        await bot.tg.wait_for_call("sendMessage")
        with write_locked(tmp_path):
            await failed_writes(bot, 0)
            dispatcher = bot.delivery.dispatcher
            dispatcher.stop_timeout = 0.5  # 18 s in production; the lock outlasts it here
            await dispatcher.stop()
            unrecorded = dispatcher.stats.unrecorded
        messages = {m.message_id for m in bot.tg.sent()}
    [given_up] = [r.getMessage() for r in caplog.records if "without recording" in r.getMessage()]
    assert unrecorded == 0
    assert messages
    for message_id in messages:  # each send whose outcome is lost is named with its message
        assert f"(message {message_id})" in given_up
    assert ledger(tmp_path)["sent"] == 0
    assert never_retrieved(caplog) == []


async def test_a_channel_post_made_while_the_store_is_locked_is_recorded_once_it_frees(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    clock = FakeClock(NOW)
    made: dict[str, int] = {}

    def channel(tg: BotApiDouble) -> None:
        made["id"] = tg.add_channel("agency_economy", title="Agency Economy").id

    configured = (ChannelConfig("@agency_economy", ("economy",), "every", 900),)
    async with running_bot(tmp_path, clock=clock, before_start=channel, channels=configured) as bot:
        scale_write_patience(bot)
        await bot.publish([fresh(1), fresh(2)])
        [slot] = bot.app.job_queue.get_jobs_by_name(f"channel:{made['id']}")
        bot.tg.inject_timeout("sendMessage", 0.5, executed=True)
        posting = asyncio.create_task(slot.run(bot.app))
        await bot.tg.wait_for_call("sendMessage")
        with write_locked(tmp_path):
            await failed_writes(bot, 0)
        await posting
        after_slot = ledger(tmp_path)
        clock.advance(minutes=15)
        await slot.run(bot.app)
        titles = [m.text.split("\n")[0] for m in bot.tg.sent(made["id"])]
    assert after_slot == Counter({"sent": 1, "owed": 1})
    assert titles == ["Headline number 1", "Headline number 2"]
    assert never_retrieved(caplog) == []
