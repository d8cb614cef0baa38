"""Delivery through a Telegram that pushes back: limits enforced by the double, faults injected,
time driven by the test's clock. Every test checks the double's record of what arrived and
the ledger's record of what was sent."""

from __future__ import annotations

import asyncio
from bisect import bisect_left
from collections import Counter
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from bot.delivery.dispatcher import DispatcherStats
from core.settings import DeliveryConfig
from storage import NewArticle
from tests.harness import FakeClock, RunningBot, make_article, running_bot
from tests.support.store import harness_store

# Every test here exercises the store through the bot: once on each backend.
pytestmark = pytest.mark.both_stores

NOW = datetime(2026, 11, 28, 12, 0, tzinfo=UTC)
TOPIC_CATEGORY = {
    "economy": "Economy news",
    "russia": "Russia",
    "politics": "Politics",
    "central-asia": "Tajikistan",
}


def fresh(n: int, topic: str = "economy", **changes: object) -> NewArticle:
    fields: dict[str, object] = {
        "published_at": NOW - timedelta(minutes=100 - n),
        "category": TOPIC_CATEGORY[topic],
    }
    fields.update(changes)
    return make_article(n, **fields)


async def counted(
    bot: RunningBot, condition: Callable[[DispatcherStats], bool], limit: float = 10
) -> None:
    """Wait until the dispatcher's figures, which move once outcomes are stored, say so."""
    async with asyncio.timeout(limit):
        await bot.delivery.dispatcher.wait_until(condition)


def ledger(tmp_path: Path) -> list[tuple[int, int, str, int | None, str | None]]:
    with harness_store(tmp_path) as conn:
        return conn.execute(
            "SELECT chat_id, article_id, status, message_id, last_error FROM deliveries"
            " ORDER BY chat_id, article_id"
        ).fetchall()


def headline_numbers(texts: list[str]) -> list[int]:
    return [int(t.split("Headline number ")[1].split()[0]) for t in texts]


async def test_500_subscribers_20_articles_each_owed_message_exactly_once_and_no_429(
    tmp_path: Path,
) -> None:
    # Telegram's limits scaled up 10x so the test takes seconds, enforced by the double and
    # configured in the bot exactly as a deployment would configure the real ones.
    limits = DeliveryConfig(
        messages_per_second=300, private_chat_per_second=10, group_per_minute=200
    )
    topics = list(TOPIC_CATEGORY)
    async with running_bot(
        tmp_path,
        clock=FakeClock(NOW),
        delivery=limits,
        before_start=lambda tg: tg.set_rate_limits(300, 10, 200),
    ) as bot:
        readers = {}
        for i in range(500):
            chosen = [topics[i % 4]] + ([topics[(i + 1) % 4]] if i % 3 == 0 else [])
            chat = await bot.add_reader(f"reader{i}", chosen)
            readers[chat.id] = set(chosen)
        # Every fifth article also mentions inflation: two topics, still one message each.
        articles = [
            fresh(n, topics[n % 4], body="Prices and inflation." if n % 5 == 0 else "Body.")
            for n in range(20)
        ]
        summary = await bot.publish(articles)
        expected = set()
        for article_id in summary.new_ids:
            stored = await bot.store.articles.get(article_id)
            assert stored is not None
            for chat_id, chosen in readers.items():
                if chosen & set(stored.topics):
                    expected.add((chat_id, article_id))
        await bot.tg.wait_for_messages(len(expected), timeout=60)
        await counted(bot, lambda stats: stats.sent >= len(expected))
        await bot.delivery.dispatcher.stop()
        arrived = Counter(
            (m.chat_id, int(m.text.split("Headline number ")[1].split()[0]))
            for m in bot.tg.sent()
            if m.chat_id in readers
        )
        throttled = bot.tg.too_many_requests
        by_number = dict(enumerate(summary.new_ids))
    assert len(expected) > 2000
    assert throttled == 0
    assert max(arrived.values()) == 1
    assert {(chat, by_number[n]) for chat, n in arrived} == expected
    rows = ledger(tmp_path)
    assert len(rows) == len(expected)
    assert {r[2] for r in rows} == {"sent"}
    assert all(r[3] is not None for r in rows)


async def test_replies_to_commands_go_before_bulk_delivery(tmp_path: Path) -> None:
    limits = DeliveryConfig(messages_per_second=20, private_chat_per_second=5)
    async with running_bot(
        tmp_path,
        clock=FakeClock(NOW),
        delivery=limits,
        before_start=lambda tg: tg.set_rate_limits(20, 5, 20),
    ) as bot:
        for i in range(60):
            await bot.add_reader(f"r{i}", ["economy"])
        await bot.publish([fresh(1), fresh(2)])  # 120 messages: six seconds at 20/s
        await bot.tg.wait_for_messages(10)
        [reply] = await bot.say("/help")
        bulk_before_reply = len([m for m in bot.tg.sent() if m.message_id and m is not reply])
        await bot.tg.wait_for_messages(121, timeout=30)
        throttled = bot.tg.too_many_requests
    assert "/latest" in reply.text
    assert bulk_before_reply < 60  # the reply did not wait for the bulk to drain
    assert throttled == 0


async def test_a_429_stops_every_request_until_retry_after_and_loses_nothing(
    tmp_path: Path,
) -> None:
    async with running_bot(tmp_path, clock=FakeClock(NOW)) as bot:
        # One chat, so only one send is ever on the wire: every later request starts after
        # the bot has read the 429.
        chat = await bot.add_reader("r", ["economy"])
        bot.tg.fail_next(
            "sendMessage",
            error_code=429,
            description="Too Many Requests: retry after 1",
            parameters={"retry_after": 1},
        )
        await bot.publish([fresh(1), fresh(2)])
        await bot.tg.wait_for_messages(2, timeout=10)
        sends = bot.tg.calls("sendMessage")
    refused = next(c for c in sends if c.status == 429)
    after = [c for c in sends if c.time > refused.time]
    assert len(after) == 2
    assert min(c.time for c in after) - refused.time >= timedelta(seconds=1)
    assert headline_numbers([m.text for m in bot.tg.sent(chat.id)]) == [1, 2]
    assert [r[2] for r in ledger(tmp_path)] == ["sent", "sent"]


async def test_server_errors_timeouts_and_dropped_connections_are_retried(tmp_path: Path) -> None:
    clock = FakeClock(NOW)
    # Sends time out after 1 s here (15 s by default); the late answer comes after 3 s.
    async with running_bot(tmp_path, clock=clock, delivery=DeliveryConfig(send_timeout=1)) as bot:
        a = await bot.add_reader("a", ["economy"])
        b = await bot.add_reader("b", ["economy"])
        c = await bot.add_reader("c", ["economy"])
        bot.tg.inject_5xx("sendMessage", chat_id=a.id)
        bot.tg.drop_connection("sendMessage", chat_id=b.id)
        bot.tg.inject_timeout("sendMessage", 3, executed=False, chat_id=c.id)
        await bot.publish([fresh(1)])
        await counted(bot, lambda stats: stats.retried == 3, limit=20)
        assert bot.tg.sent() == []
        owed = [r for r in ledger(tmp_path) if r[2] == "owed"]
        clock.advance(seconds=5)  # past the first back-off
        bot.delivery.dispatcher.notify()
        await bot.tg.wait_for_messages(3, timeout=10)
    rows = ledger(tmp_path)
    assert len(owed) == 3
    assert all(r[4] for r in owed)  # each keeps the reason it is being retried
    assert [r[2] for r in rows] == ["sent"] * 3
    assert sorted(m.chat_id for m in bot.tg.sent()) == sorted([a.id, b.id, c.id])


async def test_blocked_and_kicked_chats_become_inactive_with_owed_rows_cancelled(
    tmp_path: Path,
) -> None:
    async with running_bot(tmp_path, clock=FakeClock(NOW)) as bot:
        blocked = await bot.add_reader("blocker", ["economy"])
        fine = await bot.add_reader("fine", ["economy"])
        owner = bot.tg.add_user("Owner")
        group = bot.tg.add_group("Readers", admins=[owner])
        await bot.store.chats.seen(group.id, "group", "Readers", None, 0)
        await bot.store.subscriptions.subscribe(group.id, ["economy"], 0)
        bot.tg.block_bot(bot.tg.chat(blocked.id).user, notify=False)  # type: ignore[arg-type]
        bot.tg.kick_bot(group, notify=False)
        await bot.publish([fresh(1), fresh(2)])
        await bot.tg.wait_for_messages(2, chat_id=fine.id, timeout=10)
        await counted(bot, lambda stats: stats.cancelled >= 2)
        blocked_chat = await bot.store.chats.get(blocked.id)
        group_chat = await bot.store.chats.get(group.id)
    assert blocked_chat is not None
    assert not blocked_chat.active
    assert blocked_chat.inactive_reason == "Forbidden: bot was blocked by the user"
    assert group_chat is not None
    assert not group_chat.active
    assert "kicked" in (group_chat.inactive_reason or "")
    rows = {(r[0], r[2]) for r in ledger(tmp_path)}
    assert rows == {(fine.id, "sent"), (blocked.id, "cancelled"), (group.id, "cancelled")}


async def test_a_migrated_group_is_re_addressed_and_served(tmp_path: Path) -> None:
    async with running_bot(tmp_path, clock=FakeClock(NOW)) as bot:
        owner = bot.tg.add_user("Owner")
        group = bot.tg.add_group("Readers", admins=[owner])
        await bot.store.chats.seen(group.id, "group", "Readers", None, 0)
        await bot.store.subscriptions.subscribe(group.id, ["economy"], 0)
        new_id = bot.tg.migrate_group(group)
        await bot.publish([fresh(1)])
        [message] = await bot.tg.wait_for_messages(1, chat_id=new_id, timeout=10)
        moved = await bot.store.subscriptions.of_chat(new_id)
    assert "Headline number 1" in message.text
    assert moved == ["economy"]
    assert [(r[0], r[2]) for r in ledger(tmp_path)] == [(new_id, "sent")]


async def test_a_message_telegram_refuses_to_format_goes_out_as_plain_text(tmp_path: Path) -> None:
    async with running_bot(tmp_path, clock=FakeClock(NOW)) as bot:
        chat = await bot.add_reader("a", ["economy"])
        bot.tg.fail_next(
            "sendMessage",
            chat_id=chat.id,
            description="Bad Request: can't parse entities: Unsupported start tag",
        )
        await bot.publish([fresh(1)])
        [message] = await bot.tg.wait_for_messages(1, chat_id=chat.id, timeout=10)
    assert message.parse_mode is None
    assert "Headline number 1" in message.text
    assert [r[2] for r in ledger(tmp_path)] == ["sent"]


async def test_a_message_that_fails_twice_is_failed_with_the_reason(tmp_path: Path) -> None:
    async with running_bot(tmp_path, clock=FakeClock(NOW)) as bot:
        chat = await bot.add_reader("a", ["economy"])
        bot.tg.fail_next(
            "sendMessage", chat_id=chat.id, description="Bad Request: message is too long", count=2
        )
        await bot.publish([fresh(1)])
        await counted(bot, lambda stats: stats.failed == 1)
    [row] = ledger(tmp_path)
    assert row[2] == "failed"
    assert row[4] == "Message is too long"


async def test_an_updated_article_is_not_sent_again(tmp_path: Path) -> None:
    async with running_bot(tmp_path, clock=FakeClock(NOW)) as bot:
        chat = await bot.add_reader("a", ["economy"])
        await bot.publish([fresh(1)])
        await bot.tg.wait_for_messages(1, chat_id=chat.id, timeout=10)
        summary = await bot.publish([fresh(1, title="Headline number 1, corrected")])
        await bot.publish([fresh(2)])  # a later article proves the dispatcher kept going
        await bot.tg.wait_for_messages(2, chat_id=chat.id, timeout=10)
    assert summary.updated == 1
    assert headline_numbers([m.text for m in bot.tg.sent(chat.id)]) == [1, 2]


async def test_old_news_and_backlog(tmp_path: Path) -> None:
    limits = DeliveryConfig(new_subscriber_backlog=2)
    async with running_bot(tmp_path, clock=FakeClock(NOW), delivery=limits) as bot:
        chat = await bot.add_reader("a", ["economy"])
        await bot.publish([fresh(1, published_at=NOW - timedelta(days=30))])  # archive: not sent
        await bot.publish([fresh(2), fresh(3), fresh(4, "russia")])
        await bot.tg.wait_for_messages(2, chat_id=chat.id, timeout=10)
        newcomer = bot.tg.add_user("New")
        private = bot.tg.add_private_chat(newcomer)
        await bot.say("/subscribe economy", chat=private, user=newcomer, replies=3)
        backlog = bot.tg.sent(private.id)[1:]
    assert headline_numbers([m.text for m in bot.tg.sent(chat.id)]) == [2, 3]
    assert sorted(headline_numbers([m.text for m in backlog])) == [2, 3]


async def test_quiet_hours_hold_articles_until_the_window_ends(tmp_path: Path) -> None:
    clock = FakeClock(datetime(2026, 11, 28, 23, 30, tzinfo=UTC))
    async with running_bot(tmp_path, clock=clock) as bot:
        chat = await bot.add_reader("a", ["economy"])
        await bot.store.chats.update_settings(chat.id, 0, quiet_start="23:00", quiet_end="07:00")
        await bot.publish([fresh(1, published_at=clock.now)])
        await counted(bot, lambda stats: stats.deferred >= 1)
        held = bot.tg.sent(chat.id)
        [row] = ledger(tmp_path)
        clock.now = datetime(2026, 11, 29, 7, 0, tzinfo=UTC)
        bot.delivery.dispatcher.notify()
        [message] = await bot.tg.wait_for_messages(1, chat_id=chat.id, timeout=10)
    assert held == []
    assert row[2] == "owed"
    assert "Headline number 1" in message.text


async def test_a_digest_comes_once_at_the_chosen_local_time(tmp_path: Path) -> None:
    clock = FakeClock(datetime(2026, 11, 28, 6, 0, tzinfo=UTC))  # 07:00 in Berlin
    async with running_bot(tmp_path, clock=clock) as bot:
        chat = await bot.add_reader("a", ["economy"])
        await bot.store.chats.update_settings(
            chat.id, 0, mode="digest", digest_time="08:00", timezone="Europe/Berlin"
        )
        await bot.store.chats.digest_sent(chat.id, int(clock.now.timestamp()))
        # A minute apart: the harness's one-second stories window keeps these template
        # headlines, which differ only in their number, 25 stories and not one.
        await bot.publish(
            [fresh(n, published_at=clock.now - timedelta(minutes=n)) for n in range(1, 26)]
        )
        digests = bot.app.job_queue.get_jobs_by_name("digests")
        await digests[0].run(bot.app)  # 07:00 local: not yet
        before = list(bot.tg.sent(chat.id))
        clock.now = datetime(2026, 11, 28, 7, 0, tzinfo=UTC)  # 08:00 in Berlin
        await digests[0].run(bot.app)
        pages = await bot.tg.wait_for_messages(2, chat_id=chat.id, timeout=10)
        await digests[0].run(bot.app)  # the same day again: nothing more
        after = list(bot.tg.sent(chat.id))
    assert before == []
    assert pages[0].text.startswith("Your digest: 25 new articles")
    assert "(continued)" in pages[1].text
    assert sorted(headline_numbers_all(pages)) == list(range(1, 26))
    assert len(after) == 2
    rows = ledger(tmp_path)
    assert {r[2] for r in rows} == {"sent"}
    assert {r[3] for r in rows} == {p.message_id for p in pages}


def headline_numbers_all(pages) -> list[int]:  # type: ignore[no-untyped-def]
    found = []
    for page in pages:
        for part in page.text.split("Headline number ")[1:]:
            found.append(int(part.split()[0]))
    return found


async def test_subscribe_in_the_chat_then_a_new_article_is_delivered(tmp_path: Path) -> None:
    async with running_bot(tmp_path, clock=FakeClock(NOW)) as bot:
        [answer] = await bot.say("/subscribe economy")
        await bot.publish([fresh(1, "russia"), fresh(2, "economy")])
        sent = await bot.tg.wait_for_messages(2, chat_id=bot.private.id)
        delivered = sent[1]
    assert answer.text == "Subscribed to Economy."
    assert delivered.text.startswith("Headline number 2")
    assert [b["text"] for b in delivered.buttons()] == ["Related", "Subscribe to Economy"]


async def test_one_chats_backlog_does_not_starve_the_others(tmp_path: Path) -> None:
    limits = DeliveryConfig(private_chat_per_second=5)
    clock = FakeClock(NOW)
    async with running_bot(
        tmp_path,
        clock=clock,
        delivery=limits,
        before_start=lambda tg: tg.set_rate_limits(30, 5, 20),
    ) as bot:
        busy = await bot.add_reader("busy", ["economy"])
        await bot.publish([fresh(n) for n in range(40)])  # eight seconds of sending at 5/s
        await bot.tg.wait_for_messages(3, chat_id=busy.id)
        late = await bot.add_reader("late", ["russia"])
        await bot.publish([fresh(50, "russia")])
        await bot.tg.wait_for_messages(1, chat_id=late.id)
        busy_done_before = len(bot.tg.sent(busy.id))
        # The busy chat keeps a few rows in hand and puts the rest back a second later: move
        # the ledger's clock on until it has had them all.
        for _ in range(40):
            if len(bot.tg.sent(busy.id)) >= 40:
                break
            clock.advance(seconds=2)
            bot.delivery.dispatcher.notify()
            await bot.tg.wait_for_messages(len(bot.tg.sent(busy.id)) + 1, chat_id=busy.id)
        throttled = bot.tg.too_many_requests
        received = headline_numbers([m.text for m in bot.tg.sent(busy.id)])
    assert busy_done_before < 30  # the late chat did not wait for the backlog to drain
    assert sorted(received) == list(range(40))  # and the busy chat got all of it, once
    assert throttled == 0


async def test_a_lost_digest_answer_leaves_the_pages_never_sent_owed_as_they_were(
    tmp_path: Path,
) -> None:
    # The first page's connection drops after Telegram took it: that page may have arrived
    # (one lost answer each); the second page never left, so nothing counts against it.
    clock = FakeClock(datetime(2026, 11, 28, 7, 0, tzinfo=UTC))  # 08:00 in Berlin
    async with running_bot(tmp_path, clock=clock) as bot:
        chat = await bot.add_reader("a", ["economy"])
        await bot.store.chats.update_settings(
            chat.id, 0, mode="digest", digest_time="08:00", timezone="Europe/Berlin"
        )
        # A minute apart, as in the digest test above: 25 stories, not one.
        await bot.publish(
            [fresh(n, published_at=clock.now - timedelta(minutes=n)) for n in range(1, 26)]
        )
        bot.tg.drop_connection("sendMessage", executed=True, chat_id=chat.id)
        [digests] = bot.app.job_queue.get_jobs_by_name("digests")
        await digests.run(bot.app)
        [page] = await bot.tg.wait_for_messages(1, chat_id=chat.id, timeout=10)
    on_page = set(headline_numbers_all([page]))
    with harness_store(tmp_path) as conn:
        rows = conn.execute(
            "SELECT a.title, d.status, d.attempts, d.lost_answers"
            " FROM deliveries d JOIN articles a ON a.id = d.article_id"
        ).fetchall()
    states = {
        int(title.split()[-1]): (status, attempts, lost) for title, status, attempts, lost in rows
    }
    assert len(on_page) == 20
    assert {states[n] for n in on_page} == {("owed", 1, 1)}
    assert {states[n] for n in set(range(1, 26)) - on_page} == {("owed", 0, 0)}


async def test_paid_broadcast_lifts_the_overall_limit_for_bulk_sends_only(tmp_path: Path) -> None:
    async with running_bot(
        tmp_path,
        clock=FakeClock(NOW),
        delivery=DeliveryConfig(paid_broadcast=True),
        # Telegram's own limits: 30/s free, 1,000/s for paid broadcasts, 1/s per chat.
        before_start=lambda tg: tg.set_rate_limits(),
    ) as bot:
        readers = {(await bot.add_reader(f"r{i}", ["economy"])).id for i in range(400)}
        await bot.publish([fresh(1)])
        await bot.tg.wait_for_messages(400, timeout=60)
        [reply] = await bot.say("/help")
        calls = bot.tg.calls("sendMessage")
        throttled = bot.tg.too_many_requests
    bulk = [c for c in calls if c.params["chat_id"] in readers and c.status == 200]
    assert len(bulk) == 400
    assert all(c.params.get("allow_paid_broadcast") is True for c in bulk)
    [answer] = [c for c in calls if c.params["chat_id"] == bot.private.id]
    assert "allow_paid_broadcast" not in answer.params  # replies stay free of charge
    assert "/latest" in reply.text
    assert throttled == 0
    # Past the free 30/s: some second at the double held more than 30 of them.
    arrived = sorted(c.time.timestamp() for c in bulk)
    assert max(bisect_left(arrived, t + 1) - i for i, t in enumerate(arrived)) > 30
