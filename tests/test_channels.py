"""Channels auto-posted on a schedule; broken channels reported without blocking anything."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from core.settings import ChannelConfig, QuietHours
from tests.harness import ADMIN_ID, FakeClock, make_article, running_bot

# Every test here exercises the store through the bot: once on each backend.
pytestmark = pytest.mark.both_stores

START = datetime(2026, 11, 28, 12, 0, tzinfo=UTC)


class Channels:
    """Creates the channels in the double before the bot starts, and remembers them."""

    def __call__(self, tg) -> None:  # type: ignore[no-untyped-def]
        self.economy = tg.add_channel("agency_economy", title="Agency Economy")
        self.russia = tg.add_channel("agency_russia", title="Agency Russia")
        tg.add_channel("not_ours", title="Someone else's", bot_is_admin=False)


CONFIGURED = (
    ChannelConfig("@agency_economy", ("economy",), "every", 900, max_per_hour=2),
    ChannelConfig("@agency_russia", ("russia",), "instant"),
    ChannelConfig("@ghost_channel", ("economy",), "instant"),
    ChannelConfig("@not_ours", ("economy",), "instant"),
)


async def test_a_scheduled_channel_posts_the_oldest_owed_article_once_per_slot(
    tmp_path: Path,
) -> None:
    clock = FakeClock(START)
    made = Channels()
    async with running_bot(tmp_path, clock=clock, before_start=made, channels=CONFIGURED) as bot:
        economy, russia = made.economy, made.russia
        await bot.publish(
            [make_article(n, published_at=START - timedelta(minutes=10 - n)) for n in range(1, 5)]
            + [make_article(9, category="Russia", published_at=START)]
        )
        [instant] = await bot.tg.wait_for_messages(1, chat_id=russia.id)
        [slot_job] = bot.app.job_queue.get_jobs_by_name(f"channel:{economy.id}")
        interval = slot_job.job.trigger.interval
        nothing_yet = list(bot.tg.sent(economy.id))
        posted = []
        for _ in range(4):  # four slots, fifteen minutes apart, inside one hour
            await slot_job.run(bot.app)
            posted.append(len(bot.tg.sent(economy.id)))
            clock.advance(minutes=15)
        clock.advance(minutes=15)  # an hour after the first post: the cap frees a place
        await slot_job.run(bot.app)
        texts = [m.text for m in bot.tg.sent(economy.id)]
    assert interval == timedelta(minutes=15)
    assert "Headline number 9" in instant.text
    assert nothing_yet == []
    assert posted == [1, 2, 2, 2]  # one per slot, then max_per_hour = 2 holds the rest
    assert [t.split("\n")[0] for t in texts] == [
        "Headline number 1",
        "Headline number 2",
        "Headline number 3",
    ]


async def test_channels_that_cannot_be_used_are_reported_and_block_nothing(
    tmp_path: Path,
) -> None:
    async with running_bot(
        tmp_path, clock=FakeClock(START), before_start=Channels(), channels=CONFIGURED
    ) as bot:
        reader = await bot.add_reader("reader", ["economy"])
        await bot.publish([make_article(1, published_at=START)])
        await bot.tg.wait_for_messages(1, chat_id=reader.id)
        [stats] = await bot.say("/stats", chat=bot.tg.chat(ADMIN_ID), user=bot.admin)
    assert "Channel @ghost_channel: cannot use @ghost_channel: Chat not found" in stats.text
    assert "Channel @not_ours: the bot is not an admin of @not_ours" in stats.text
    assert "Channel @agency_economy: ok, 0 posted, next slot" in stats.text
    assert "Owed: 1" in stats.text  # the scheduled channel's article waits for its slot
    assert "Sent: 1 in the last hour" in stats.text


async def test_quiet_hours_of_a_channel(tmp_path: Path) -> None:
    clock = FakeClock(datetime(2026, 11, 28, 23, 30, tzinfo=UTC))
    quiet = (
        ChannelConfig(
            "@agency_economy",
            ("economy",),
            "every",
            900,
            quiet_hours=QuietHours("23:00", "06:00"),
        ),
    )
    made = Channels()
    async with running_bot(tmp_path, clock=clock, before_start=made, channels=quiet) as bot:
        economy = made.economy
        await bot.publish([make_article(1, published_at=clock.now)])
        [slot_job] = bot.app.job_queue.get_jobs_by_name(f"channel:{economy.id}")
        await slot_job.run(bot.app)
        during = len(bot.tg.sent(economy.id))
        clock.now = datetime(2026, 11, 29, 6, 0, tzinfo=UTC)
        await slot_job.run(bot.app)
        after = len(bot.tg.sent(economy.id))
    assert (during, after) == (0, 1)
