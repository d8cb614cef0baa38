"""Delivery stays exact when the store or Telegram misbehaves (issue 8, section 2).

A store write-locked by another process while sends are out, and a Bot API that answers late or
with 500s: every chat's copies are counted at the double, and the ledger read from its file."""

from __future__ import annotations

import asyncio
import gc
import logging
import time
from collections import Counter
from collections.abc import Callable
from contextlib import AbstractContextManager
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from telegram.error import NetworkError

from bot.delivery.policy import classify
from bot.transport import AiohttpRequest, AnswerLost
from botapi_double import BotApiDouble
from botapi_double.errors import ApiError
from botapi_double.faults import FaultRule
from core.settings import ChannelConfig, DeliveryConfig
from storage import NewArticle
from tests.harness import FakeClock, RunningBot, free_port, make_article, running_bot
from tests.support.store import harness_backend, harness_store, storage_config, write_lock_held

# Every test here exercises the store through the bot: once on each backend.
pytestmark = pytest.mark.both_stores

NOW = datetime(2026, 11, 28, 12, 0, tzinfo=UTC)
# How long a write waits for another connection's lock, scaled down (10 s in production) so
# a lock held past it takes a fraction of a second; what matters is that the lock outlasts it.
WRITE_PATIENCE = 0.2


def fresh(n: int) -> NewArticle:
    return make_article(n, published_at=NOW - timedelta(minutes=100 - n), category="Economy news")


def ledger(tmp_path: Path) -> Counter[str]:
    with harness_store(tmp_path) as conn:
        return Counter(dict(conn.execute("SELECT status, count(*) FROM deliveries GROUP BY 1")))


def write_locked(tmp_path: Path) -> AbstractContextManager[Callable[[], object]]:
    """Another process's connection holding the store's write lock (until the block ends)."""
    return write_lock_held(storage_config(harness_backend(), tmp_path))


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
            with write_locked(tmp_path) as release:
                await failed_writes(bot, 0)  # the outcomes of those sends could not be stored
                sent_while_locked = len(tg.sent())
                stopping = asyncio.create_task(bot.delivery.dispatcher.stop())
                seen = bot.delivery.dispatcher.stats.ledger_write_failures
                await failed_writes(bot, seen)  # the stop keeps trying while the lock is held
                assert not stopping.done()
                release()
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


# -- a slow Bot API ------------------------------------------------------------------------------
# Telegram's seconds scaled down 20x: the send timeout (15 s by default), the double's latency,
# and the bot's clock (back-off between tries), so ratios and behaviour are those of real time.
SCALE = 0.05
SEND_TIMEOUT = 15.0


class ScaledClock:
    """The bot's wall clock, running 1/SCALE times faster than real time from NOW."""

    def __init__(self) -> None:
        self.started = time.monotonic()

    def __call__(self) -> datetime:
        return NOW + timedelta(seconds=(time.monotonic() - self.started) / SCALE)


async def fan_out_through_a_slow_api(
    tmp_path: Path, latency: float, *, readers: int = 50, error_every: int = 7
) -> tuple[Counter[int], Counter[str], list[str]]:
    """Every answer ``latency`` (Telegram) seconds late and every Nth send a 500; returns the
    copies each chat received, the ledger, and the errors the ledger kept."""
    config = DeliveryConfig(
        messages_per_second=1000, private_chat_per_second=100, send_timeout=SEND_TIMEOUT * SCALE
    )
    async with running_bot(tmp_path, clock=ScaledClock(), delivery=config) as bot:
        chats = [(await bot.add_reader(f"r{i}", ["economy"])).id for i in range(readers)]
        faults = bot.tg.server.faults
        faults.add(
            FaultRule(
                "error",
                "sendMessage",
                count=1000,
                every=error_every,
                error=ApiError(500, "Internal Server Error"),
            )
        )
        faults.add(
            FaultRule("delay", "sendMessage", count=10_000, delay=latency * SCALE, executed=True)
        )
        await bot.publish([fresh(1)])
        dispatcher = bot.delivery.dispatcher
        async with asyncio.timeout(60):
            await dispatcher.wait_until(lambda s: s.sent + s.failed >= readers)
        copies = Counter(m.chat_id for m in bot.tg.sent() if m.chat_id in chats)
        errors = list(faults.fired)
    with harness_store(tmp_path) as conn:
        reasons = [
            r[0] for r in conn.execute("SELECT last_error FROM deliveries WHERE status = 'failed'")
        ]
    assert any(rule.kind == "error" for rule in errors)  # some sends did get a 500
    assert set(copies) == set(chats)
    return copies, ledger(tmp_path), reasons


async def test_answers_5_s_late_with_some_500s_give_every_chat_exactly_one_copy(
    tmp_path: Path,
) -> None:
    copies, rows, _ = await fan_out_through_a_slow_api(tmp_path, latency=5)
    assert set(copies.values()) == {1}
    assert rows == Counter({"sent": 50})


async def test_answers_25_s_late_give_every_chat_at_most_two_copies(tmp_path: Path) -> None:
    # Past the send timeout: each send's answer is lost, so it is sent once more, then no more.
    copies, rows, reasons = await fan_out_through_a_slow_api(tmp_path, latency=25)
    assert max(copies.values()) <= 2
    assert rows == Counter({"failed": 50})
    assert all(r.startswith("answer lost twice (it may have arrived)") for r in reasons)


async def test_answers_just_under_the_send_timeout_give_one_copy(tmp_path: Path) -> None:
    copies, rows, _ = await fan_out_through_a_slow_api(tmp_path, latency=SEND_TIMEOUT * 0.6)
    assert set(copies.values()) == {1}
    assert rows == Counter({"sent": 50})


async def test_a_connection_dropped_after_the_send_is_sent_again_once_only(
    tmp_path: Path,
) -> None:
    async with running_bot(tmp_path, clock=ScaledClock()) as bot:
        chat = await bot.add_reader("a", ["economy"])
        bot.tg.drop_connection("sendMessage", count=5, executed=True, chat_id=chat.id)
        await bot.publish([fresh(1)])
        async with asyncio.timeout(20):
            await bot.delivery.dispatcher.wait_until(lambda s: s.failed == 1)
        copies = len(bot.tg.sent(chat.id))
    assert copies == 2
    assert ledger(tmp_path) == Counter({"failed": 1})


async def test_a_refused_connection_is_not_an_ambiguous_send() -> None:
    # Nothing listens on that port: the request never left, so a retry cannot repeat it.
    request = AiohttpRequest(connect_timeout=2)
    await request.initialize()
    try:
        with pytest.raises(NetworkError) as raised:
            await request.do_request(f"http://127.0.0.1:{free_port()}/botx/getMe", "POST")
    finally:
        await request.shutdown()
    assert not isinstance(raised.value, AnswerLost)
    assert classify(raised.value).ambiguous is False


async def test_a_lost_answer_is_remembered_across_a_restart_so_the_send_repeats_once(
    tmp_path: Path,
) -> None:
    # The first send's answer is lost; the bot stops before sending again. After the restart
    # the second send's answer is lost too: the ledger still knows of the first, so there is no
    # third copy.
    clock = FakeClock(NOW)
    async with BotApiDouble() as double:
        async with running_bot(tmp_path, clock=clock, double=double) as bot:
            chat = await bot.add_reader("a", ["economy"])
            bot.tg.drop_connection("sendMessage", executed=True, chat_id=chat.id)
            await bot.publish([fresh(1)])
            async with asyncio.timeout(20):
                await bot.delivery.dispatcher.wait_until(lambda s: s.retried == 1)
        with harness_store(tmp_path) as conn:
            [(status, lost)] = conn.execute("SELECT status, lost_answers FROM deliveries")
        assert (status, lost) == ("owed", 1)
        clock.advance(minutes=5)  # past the back-off
        async with running_bot(tmp_path, clock=clock, double=double) as bot:
            bot.tg.drop_connection("sendMessage", executed=True, chat_id=chat.id)
            async with asyncio.timeout(20):
                await bot.delivery.dispatcher.wait_until(lambda s: s.failed == 1)
            copies = len(bot.tg.sent(chat.id))
    assert copies == 2
    with harness_store(tmp_path) as conn:
        [(status, error)] = conn.execute("SELECT status, last_error FROM deliveries")
    assert status == "failed"
    assert error.startswith("answer lost twice (it may have arrived)")
