"""The periodic jobs, run through the JobQueue with the test's clock: feed polling with its
back-off, and pruning of old ledger rows."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from pathlib import Path

import pytest

from core.settings import FeedConfig
from tests.harness import FakeClock, make_article, running_bot
from tests.support.feedserver import feed_server, status
from tests.support.store import harness_store

# Every test here exercises the store through the bot: once on each backend.
pytestmark = pytest.mark.both_stores

NOW = datetime(2026, 11, 28, 12, 0, tzinfo=UTC)


def rss(items: int) -> bytes:
    entries = "".join(
        f"<item><title>Feed story {n}</title><link>https://feed.example/{n}</link>"
        f"<guid>feed-{n}</guid><category>Economy news</category>"
        f"<pubDate>{format_datetime(NOW - timedelta(minutes=n))}</pubDate>"
        f"<description>&lt;p&gt;Markets &amp;amp; prices {n}.&lt;/p&gt;</description></item>"
        for n in range(items)
    )
    return (
        '<?xml version="1.0"?><rss version="2.0"><channel><title>Feed Wire</title>'
        f"<link>https://feed.example/</link>{entries}</channel></rss>"
    ).encode()


async def test_feeds_are_polled_stored_delivered_and_failures_back_off(tmp_path: Path) -> None:
    clock = FakeClock(NOW)
    async with feed_server({"/good.xml": rss(3), "/gone.xml": status(404, "not here")}) as http:
        good, gone = http.url("/good.xml"), http.url("/gone.xml")
        feeds = (FeedConfig(good, ("economy",), 600), FeedConfig(gone, (), 600))
        async with running_bot(tmp_path, clock=clock, feeds=feeds) as bot:
            reader = await bot.add_reader("reader", ["economy"])
            [job] = bot.app.job_queue.get_jobs_by_name("feeds")
            await job.run(bot.app)
            delivered = await bot.tg.wait_for_messages(3, chat_id=reader.id)
            states = {f.url: f for f in await bot.store.feeds.all()}
            await job.run(bot.app)  # nothing is due again yet: no new fetch, no new message
            again = len(bot.tg.sent(reader.id))
    assert sorted(m.text.split("\n")[0] for m in delivered) == [
        "Feed story 0",
        "Feed story 1",
        "Feed story 2",
    ]
    assert all("Markets & prices" in m.text for m in delivered)  # the HTML became clean text
    assert again == 3
    assert states[good].error_count == 0
    assert states[good].next_check_at == NOW + timedelta(seconds=600)
    assert states[gone].error_count == 1
    assert states[gone].last_error == "HTTP 404 Not Found"
    assert states[gone].next_check_at == NOW + timedelta(seconds=1200)  # backed off


async def test_pruning_forgets_old_finished_rows_and_keeps_what_is_owed(tmp_path: Path) -> None:
    clock = FakeClock(NOW)
    async with running_bot(tmp_path, clock=clock) as bot:
        [article_id] = await bot.store_articles([make_article(1)])
        chat = await bot.add_reader("r", ["economy"])
        old = int((NOW - timedelta(days=40)).timestamp())
        await bot.store.db.write(
            lambda conn: conn.executemany(
                # Digest chats: the dispatcher leaves their rows to the digest job.
                "INSERT INTO chats (id, type, mode, created_at, updated_at)"
                " VALUES (?, 'private', 'digest', 0, 0)",
                [(7,), (8,)],
            )
        )
        await bot.store.db.write(
            lambda conn: conn.executemany(
                "INSERT INTO deliveries (chat_id, article_id, status, next_attempt_at,"
                " created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?)",
                [
                    (chat.id, article_id, "sent", old, old, old),
                    (7, article_id, "owed", old, old, old),
                    (8, article_id, "failed", old, old, int(NOW.timestamp())),
                ],
            )
        )
        [job] = bot.app.job_queue.get_jobs_by_name("prune")
        await job.run(bot.app)
    with harness_store(tmp_path) as conn:
        left = conn.execute("SELECT chat_id, status FROM deliveries ORDER BY chat_id").fetchall()
    assert (chat.id, "sent") not in left
    assert (7, "owed") in left  # owed rows are never pruned, however old
    assert (8, "failed") in left  # recent enough to keep


async def test_a_standby_does_no_slot_work_and_does_it_once_it_leads(tmp_path: Path) -> None:
    clock = FakeClock(NOW)
    async with feed_server({"/good.xml": rss(2)}) as http:
        feeds = (FeedConfig(http.url("/good.xml"), ("economy",), 600),)
        async with running_bot(tmp_path, clock=clock, feeds=feeds) as bot:
            leadership = bot.app.bot_data.services.leadership
            await leadership.stop()  # as when another instance leads
            [job] = bot.app.job_queue.get_jobs_by_name("feeds")
            await job.run(bot.app)
            while_standing_by = await bot.store.articles.latest(limit=10)
            await leadership.start()
            # On PostgreSQL (NEWSBOT_TEST_BACKEND=postgresql) the lock is taken a moment later.
            await asyncio.wait_for(leadership.wait_leading(), 10)
            await job.run(bot.app)
            once_leading = await bot.store.articles.latest(limit=10)
    assert while_standing_by == []
    assert sorted(a.title for a in once_leading) == ["Feed story 0", "Feed story 1"]
