"""Another process holds the store's write lock: reads still answer, writes are never lost.

The lock is real: a second process opens the same store file and sits in ``BEGIN IMMEDIATE``
until the test tells it to let go (on PostgreSQL, ``NEWSBOT_TEST_BACKEND=postgresql``, it holds
the advisory lock that every newsbot write takes for its transaction).
"""

from __future__ import annotations

import asyncio
import logging
import sys
from collections.abc import AsyncIterator
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bot.handlers.errors import BUSY
from core.settings import StorageConfig
from tests.harness import FakeClock, make_article, running_bot
from tests.support.store import PG_WRITE_LOCKED, harness_backend, storage_config

HOLD_LOCK = """
import sqlite3, sys
conn = sqlite3.connect(sys.argv[1], isolation_level=None, timeout=5)
conn.execute("BEGIN IMMEDIATE")
print("locked", flush=True)
sys.stdin.readline()
conn.execute("ROLLBACK")
"""

HOLD_PG_LOCK = f"""
import psycopg, sys

# Every test here exercises the store through the bot: once on each backend.
pytestmark = pytest.mark.both_stores
conn = psycopg.connect(sys.argv[1])
for statement in {PG_WRITE_LOCKED!r}:
    conn.execute(statement)
print("locked", flush=True)
sys.stdin.readline()
conn.rollback()
"""


def write_lock_held(folder: Path) -> AbstractAsyncContextManager[asyncio.subprocess.Process]:
    """Another process holding the write lock on the bot's store in ``folder`` until the block
    ends."""
    return hold_write_lock(storage_config(harness_backend(), folder))


@asynccontextmanager
async def hold_write_lock(store: StorageConfig) -> AsyncIterator[asyncio.subprocess.Process]:
    """Another process holding the write lock on ``store`` until the block ends."""
    holder = await asyncio.create_subprocess_exec(
        sys.executable,
        "-c",
        HOLD_PG_LOCK if store.url else HOLD_LOCK,
        store.target,
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
    )
    assert holder.stdin is not None
    assert holder.stdout is not None
    try:
        assert await holder.stdout.readline() == b"locked\n"
        yield holder
    finally:
        holder.stdin.write(b"go\n")
        await holder.stdin.drain()
        assert await holder.wait() == 0


def waits_counted(bot: Any, n: int = 1) -> asyncio.Event:
    """An event set once ``n`` writes of the bot's store have found it locked and waited."""
    loop = asyncio.get_running_loop()
    event = asyncio.Event()
    waits: list[float] = []

    def waiting(seconds: float) -> None:  # in the writer's thread
        waits.append(seconds)
        if len(waits) >= n:
            loop.call_soon_threadsafe(event.set)

    bot.store.db.on_wait = waiting
    return event


async def test_latest_answers_and_subscribes_are_stored_while_another_process_writes(
    tmp_path: Path,
) -> None:
    async with running_bot(tmp_path) as bot:
        waiting = waits_counted(bot)
        await bot.store_articles([make_article(1)])
        await bot.say("/start")  # this chat is known before the lock
        readers = [bot.tg.add_private_chat(bot.tg.add_user(f"R{n}")) for n in range(5)]
        async with write_lock_held(tmp_path) as holder:
            for chat in readers:
                bot.tg.send_text(chat, chat.user, "/subscribe economy")
            await asyncio.wait_for(waiting.wait(), 5)
            # A write is waiting for the lock now; the read answers all the same.
            [latest] = await bot.say("/latest")
            assert holder.returncode is None  # the lock is still held
            assert all(bot.tg.sent(chat.id) == [] for chat in readers)
        answers = [(await bot.tg.wait_for_messages(1, chat.id, timeout=15))[0] for chat in readers]
        stored = [await bot.store.subscriptions.of_chat(chat.id) for chat in readers]
    assert "Headline number 1" in latest.text
    assert [a.text for a in answers] == ["Subscribed to Economy."] * 5
    assert stored == [["economy"]] * 5


async def test_a_write_that_cannot_wait_longer_asks_to_try_again_and_stores_nothing(
    tmp_path: Path,
) -> None:
    async with running_bot(tmp_path) as bot:
        readers = [bot.tg.add_private_chat(bot.tg.add_user(f"R{n}")) for n in range(5)]
        for chat in readers:  # known chats: only the subscription itself is written
            await bot.store.chats.seen(chat.id, "private", None, None, 0)
        bot.store.db.write_patience = 0.5
        async with write_lock_held(tmp_path) as holder:
            for chat in readers:
                bot.tg.send_text(chat, chat.user, "/subscribe economy")
            answers = [(await bot.tg.wait_for_messages(1, chat.id))[0] for chat in readers]
            assert holder.returncode is None
        stored = [await bot.store.subscriptions.of_chat(chat.id) for chat in readers]
        [again] = await bot.say("/subscribe economy", chat=readers[0], user=readers[0].user)
    assert [a.text for a in answers] == [BUSY] * 5
    assert stored == [[]] * 5
    assert again.text == "Subscribed to Economy."


async def test_a_chat_never_seen_gets_one_answer_while_another_process_writes(
    tmp_path: Path,
) -> None:
    # Recording the new chat cannot wait longer; that used to be an answer of its own
    # ("busy", from the error handler) before /subscribe answered "busy" again.
    async with running_bot(tmp_path) as bot:
        chat = bot.tg.add_private_chat(bot.tg.add_user("New"))
        bot.store.db.write_patience = 0.5
        processor = bot.app.update_processor
        async with write_lock_held(tmp_path):
            bot.tg.send_text(chat, chat.user, "/subscribe economy")
            await bot.tg.wait_for_messages(1, chat.id, timeout=10)
            await bot.tg.wait_for(
                lambda: processor.current_concurrent_updates == 0, 10, what="the update handled"
            )
            answers = bot.tg.sent(chat.id)
        assert await bot.store.chats.get(chat.id) is None  # recorded at its next update
        [again] = await bot.say("/subscribe economy", chat=chat, user=chat.user)
        recorded = await bot.store.chats.get(chat.id)
    assert [a.text for a in answers] == [BUSY]
    assert again.text == "Subscribed to Economy."
    assert recorded is not None


class Records(logging.Handler):
    """Keeps the records of the loggers it is added to."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


async def test_claims_refused_by_a_locked_store_are_one_warning_without_a_traceback(
    tmp_path: Path,
) -> None:
    records = Records()
    loggers = [logging.getLogger("storage.db"), logging.getLogger("bot.delivery.dispatcher")]
    for logger in loggers:
        logger.addHandler(records)
    try:
        clock = FakeClock(datetime.now(UTC))
        async with running_bot(tmp_path, clock=clock) as bot:
            chat = await bot.add_reader("a", ["economy"])
            bot.store.db.write_patience = 0.2
            dispatcher = bot.delivery.dispatcher
            # The first send fails and is owed again a few (fake) seconds later: not due yet.
            bot.tg.fail_next("sendMessage", chat, error_code=500, description="Internal error")
            await bot.publish([make_article(1, published_at=clock.now, category="Economy news")])
            await bot.tg.wait_for(
                lambda: dispatcher.stats.retried == 1 and dispatcher.stats.unrecorded == 0,
                10,
                what="the failed send recorded",
            )
            refused = waits_counted(bot, 3)
            records.records.clear()  # the failed send's own warning is not this test's
            async with write_lock_held(tmp_path):
                # Nothing is due: the idle dispatcher's claims only read, so none waits.
                idle = await bot.store.deliveries.claim(dispatcher.now(), 10)
                assert bot.store.db.busy_waits == 0
                clock.advance(minutes=1)  # now it is due
                # Three claims found the row due, waited for the lock and gave up.
                await asyncio.wait_for(refused.wait(), 15)
            [message] = await bot.tg.wait_for_messages(1, chat.id, timeout=15)
    finally:
        for logger in loggers:
            logger.removeHandler(records)
    said = [r for r in records.records if r.name == "bot.delivery.dispatcher"]
    warnings = [r for r in said if r.levelno >= logging.WARNING]
    assert idle == []
    assert [r.getMessage().startswith("cannot claim deliveries yet") for r in warnings] == [True]
    assert all(r.exc_info is None for r in said)
    # The store's own note of each wait is for debugging, not a warning every half second.
    assert all(r.levelno < logging.WARNING for r in records.records if r.name == "storage.db")
    assert "Headline number 1" in message.text
