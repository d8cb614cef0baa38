"""The metrics and health listener of a running bot: figures after real deliveries, failures,
a 429, commands and feed polls; /healthz as the store and the dispatcher come and go."""

from __future__ import annotations

import asyncio
import json
import re
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import SimpleNamespace

import aiohttp
import pytest
from prometheus_client.parser import text_string_to_metric_families

from bot.delivery.dispatcher import DispatcherStats
from bot.metrics import HealthCheck, Metrics, OpsServer, reason_class, start_ops_server
from core.settings import FeedConfig, MetricsConfig
from ingest.fetch import make_client
from storage import NewArticle, Store
from storage.deliveries import CANCELLED, FAILED, OWED, Outcome
from tests.harness import FakeClock, RunningBot, make_article, running_bot

NOW = datetime(2026, 11, 28, 12, 0, tzinfo=UTC)
REASONS = {
    "blocked",
    "kicked",
    "chat_not_found",
    "deactivated",
    "too_long",
    "bad_format",
    "flood",
    "article_gone",
    "network",
    "other",
}
Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]


def fresh(n: int) -> NewArticle:
    return make_article(n, published_at=NOW - timedelta(minutes=10), category="Economy news")


@asynccontextmanager
async def ops_for(bot: RunningBot) -> AsyncIterator[OpsServer]:
    server = await start_ops_server(bot.app, MetricsConfig(enabled=True, port=0))
    try:
        yield server
    finally:
        await server.stop()


async def get(server: OpsServer, path: str) -> tuple[int, str]:
    async with (
        aiohttp.ClientSession() as http,
        http.get(server.url + path, timeout=aiohttp.ClientTimeout(total=10)) as response,
    ):
        return response.status, await response.text()


async def scrape(server: OpsServer) -> Samples:
    status, text = await get(server, "/metrics")
    assert status == 200
    return {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def value(samples: Samples, name: str, **labels: str) -> float:
    return samples.get((name, frozenset(labels.items())), 0.0)


async def counted(bot: RunningBot, condition: Callable[[DispatcherStats], bool]) -> None:
    """Figures move once an outcome is in the ledger, a moment after the double sees the send:
    wait for the dispatcher to say so."""
    async with asyncio.timeout(10):
        await bot.delivery.dispatcher.wait_until(condition)


async def handled(bot: RunningBot) -> None:
    """Every update the bot has taken is through all its handlers, the timing one included."""
    async with asyncio.timeout(10):
        await bot.app.update_queue.join()


async def test_sent_and_failed_counters_follow_real_deliveries(tmp_path: Path) -> None:
    async with running_bot(tmp_path, clock=FakeClock(NOW)) as bot, ops_for(bot) as server:
        fine = await bot.add_reader("fine", ["economy"])
        blocker = await bot.add_reader("blocker", ["economy"])
        wordy = await bot.add_reader("wordy", ["economy"])
        bot.tg.block_bot(bot.tg.chat(blocker.id).user, notify=False)  # type: ignore[arg-type]
        bot.tg.fail_next(
            "sendMessage", chat_id=wordy.id, description="Bad Request: message is too long", count=2
        )
        await bot.publish([fresh(1)])
        await bot.tg.wait_for_messages(1, chat_id=fine.id, timeout=10)
        await counted(bot, lambda stats: stats.cancelled == 1 and stats.failed == 1)
        samples = await scrape(server)
    assert value(samples, "newsbot_messages_sent_total") == 1
    assert value(samples, "newsbot_messages_failed_total", outcome="cancelled", reason="blocked")
    assert value(samples, "newsbot_messages_failed_total", outcome="failed", reason="too_long")
    assert value(samples, "newsbot_ledger_owed") == 0
    labels = {dict(k[1]).get("reason") for k in samples if k[0] == "newsbot_messages_failed_total"}
    assert labels <= REASONS


async def test_a_429_is_counted(tmp_path: Path) -> None:
    async with running_bot(tmp_path, clock=FakeClock(NOW)) as bot, ops_for(bot) as server:
        await bot.add_reader("r", ["economy"])
        before = await scrape(server)
        bot.tg.fail_next(
            "sendMessage",
            error_code=429,
            description="Too Many Requests: retry after 1",
            parameters={"retry_after": 1},
        )
        await bot.publish([fresh(1)])
        await bot.tg.wait_for_messages(1, timeout=10)
        await counted(bot, lambda stats: stats.sent == 1)
        after = await scrape(server)
    assert value(before, "newsbot_telegram_429_total") == 0
    assert value(after, "newsbot_telegram_429_total") == 1
    # The limiter retried it: a 429 is not a failed message.
    assert value(after, "newsbot_messages_sent_total") == 1


async def test_owed_deliveries_are_read_from_the_store_at_scrape(tmp_path: Path) -> None:
    async with running_bot(tmp_path, clock=FakeClock(NOW)) as bot, ops_for(bot) as server:
        chat = await bot.add_reader("r", ["economy"])
        await bot.delivery.dispatcher.stop()  # nothing drains the ledger now
        [article_id] = await bot.store_articles([fresh(1)])
        await bot.store.deliveries.fan_out([article_id], int(NOW.timestamp()))
        samples = await scrape(server)
    assert value(samples, "newsbot_ledger_owed") == 1
    assert value(samples, "newsbot_ledger_due") == 1
    assert bot.tg.sent(chat.id) == []


async def test_handler_latency_is_observed_per_update(tmp_path: Path) -> None:
    async with running_bot(tmp_path) as bot, ops_for(bot) as server:
        before = value(await scrape(server), "newsbot_update_seconds_count", kind="message")
        await bot.say("/help")
        await bot.say("/latest")
        await handled(bot)
        samples = await scrape(server)
    assert value(samples, "newsbot_update_seconds_count", kind="message") == before + 2
    assert value(samples, "newsbot_update_seconds_sum", kind="message") > 0


async def test_feed_polls_and_failures_are_counted(tmp_path: Path) -> None:
    feed_file = tmp_path / "feed.xml"
    feed_file.write_text(
        "<?xml version='1.0'?><rss version='2.0'><channel><title>T</title>"
        "<item><title>One</title><link>https://news.example/1</link></item>"
        "</channel></rss>",
        encoding="utf-8",
    )
    feeds = (FeedConfig(feed_file.as_uri()), FeedConfig((tmp_path / "gone.xml").as_uri()))
    # A clock long before the feeds' first check: the bot's own feed job leaves them alone
    # and the polls below are the only ones.
    clock = FakeClock(datetime(2000, 1, 1, tzinfo=UTC))
    async with running_bot(tmp_path, clock=clock, feeds=feeds) as bot, ops_for(bot) as server:
        importer = bot.app.bot_data.services.importer
        async with make_client(bot.config.fetch) as http:
            for feed in await bot.store.feeds.all():
                await importer.poll_feed(feed, http, bot.config.fetch)
        samples = await scrape(server)
    assert value(samples, "newsbot_feed_polls_total") == 2
    assert value(samples, "newsbot_feed_poll_failures_total") == 1


async def test_healthz_is_ok_then_503_once_the_dispatcher_stops(tmp_path: Path) -> None:
    async with running_bot(tmp_path) as bot, ops_for(bot) as server:
        ok = await get(server, "/healthz")
        await bot.delivery.dispatcher.stop()
        stopped = await get(server, "/healthz")
    assert ok == (200, "ok\n")
    assert stopped == (503, "dispatcher is not running\n")


async def test_healthz_is_503_when_the_store_hangs_or_is_closed(store: Store) -> None:
    health = HealthCheck(store, None, store_timeout=0.2)
    server = OpsServer(Metrics(), health, now=lambda: 0, port=0)
    await server.start()
    try:
        ok = await get(server, "/healthz")
        # SQLite runs it on the writer's one thread; PostgreSQL has a connection per thread,
        # all of which must hang for the store not to answer.
        hangs = getattr(store.db, "threads", 1)
        busy = [store.db.run(lambda conn: time.sleep(1.0)) for _ in range(hangs)]
        waiting = asyncio.gather(*busy)
        hung = await get(server, "/healthz")
        await waiting
        await store.close()
        closed = await get(server, "/healthz")
        metrics_status, _ = await get(server, "/metrics")  # a scrape still answers
    finally:
        await server.stop()
    assert ok == (200, "ok\n")
    assert hung == (503, "store did not answer within 0.2 s\n")
    assert closed[0] == 503
    assert closed[1].startswith("store unreachable: ")
    assert metrics_status == 200


async def test_healthz_reports_a_stalled_dispatcher_loop(store: Store) -> None:
    now = asyncio.get_running_loop().time()
    stalled = SimpleNamespace(running=True, stats=SimpleNamespace(last_progress=now - 120))
    health = HealthCheck(store, stalled, since=now - 300)  # type: ignore[arg-type]
    problems = await health.problems()
    stalled.stats.last_progress = now
    recovered = await health.problems()
    assert len(problems) == 1
    assert problems[0].startswith("dispatcher loop has not progressed for 12")
    assert recovered == []


async def test_each_bot_has_its_own_registry(tmp_path: Path) -> None:
    async with (
        running_bot(tmp_path / "a") as first,
        running_bot(tmp_path / "b") as second,
        ops_for(first) as one,
        ops_for(second) as two,
    ):
        await first.say("/help")
        await handled(first)
        samples_one = await scrape(one)
        samples_two = await scrape(two)
    assert one.metrics.registry is not two.metrics.registry
    assert value(samples_one, "newsbot_update_seconds_count", kind="message") == 1
    assert value(samples_two, "newsbot_update_seconds_count", kind="message") == 0
    assert second.tg.sent() == []


@pytest.mark.parametrize(
    ("status", "error", "expected"),
    [
        (CANCELLED, "Forbidden: bot was blocked by the user", "blocked"),
        (CANCELLED, "Forbidden: bot was kicked from the group chat", "kicked"),
        (CANCELLED, "Chat not found", "chat_not_found"),
        (CANCELLED, "Forbidden: user is deactivated", "deactivated"),
        (FAILED, "Message is too long", "too_long"),
        (FAILED, "Can't parse entities: unsupported start tag", "bad_format"),
        (OWED, "Timed out", "network"),
        (OWED, "Bad Gateway", "network"),
        (FAILED, "gave up after 50 attempts: Bad Gateway", "network"),
        (CANCELLED, "article no longer stored", "article_gone"),
        (FAILED, "Message to reply not found <script>alert(1)</script>", "other"),
    ],
)
def test_reasons_are_short_fixed_classes(status: str, error: str, expected: str) -> None:
    assert reason_class(Outcome(1, status, error=error)) == expected
    assert expected in REASONS


def test_the_grafana_dashboard_reads_only_metrics_the_bot_exposes() -> None:
    dashboard = Path(__file__).resolve().parents[1] / "deploy" / "grafana" / "newsbot.json"
    panels = json.loads(dashboard.read_text(encoding="utf-8"))["panels"]
    used = {
        name
        for panel in panels
        for target in panel["targets"]
        for name in re.findall(r"\b(?:newsbot|process)_[a-z0-9_]+", target["expr"])
    }
    suffixes = {"counter": ("_total",), "histogram": ("_bucket", "_count", "_sum"), "gauge": ("",)}
    exposed = {
        family.name + suffix
        for family in Metrics().registry.collect()
        for suffix in suffixes.get(family.type, ("",))
    }
    assert "newsbot_leader" in used
    assert used <= exposed, used - exposed
