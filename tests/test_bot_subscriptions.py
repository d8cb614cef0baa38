"""Choosing topics and settings in a private chat and in groups."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from core.settings import DeliveryConfig
from tests.harness import FakeClock, make_article, running_bot

# Every test here exercises the store through the bot: once on each backend.
pytestmark = pytest.mark.both_stores


def labels(message) -> list[str]:  # type: ignore[no-untyped-def]
    return [b["text"] for b in message.buttons()]


async def test_subscribe_and_unsubscribe_by_name(tmp_path: Path) -> None:
    async with running_bot(tmp_path) as bot:
        [first] = await bot.say("/subscribe economy Russia")
        [again] = await bot.say("/subscribe economy")
        [listed] = await bot.say("/subscriptions")
        [dropped] = await bot.say("/unsubscribe russia")
        [everything] = await bot.say("/unsubscribe all")
        follows = await bot.store.subscriptions.of_chat(bot.private.id)
    assert first.text == "Subscribed to Economy, Russia."
    assert again.text == "Already following Economy."
    assert listed.text.startswith("This chat follows Economy, Russia.")
    assert "✅ Economy" in labels(listed)
    assert dropped.text == "Unsubscribed from Russia."
    assert everything.text == "Unsubscribed from Economy."
    assert follows == []


async def test_an_unknown_topic_gets_the_closest_names(tmp_path: Path) -> None:
    async with running_bot(tmp_path) as bot:
        [answer] = await bot.say("/subscribe ecnomy")
        [asia] = await bot.say("/subscribe asia")
    assert "Did you mean Economy?" in answer.text
    assert "Central Asia" in asia.text


async def test_the_toggle_keyboard_ticks_and_unticks(tmp_path: Path) -> None:
    async with running_bot(tmp_path) as bot:
        [picker] = await bot.say("/topics")
        on = await bot.press(picker, "tog:economy")
        ticked = labels(bot.tg.message(picker))
        off = await bot.press(bot.tg.message(picker), "tog:economy")
        unticked = labels(bot.tg.message(picker))
        follows = await bot.store.subscriptions.of_chat(bot.private.id)
    assert on.text == "Subscribed to Economy"
    assert "✅ Economy" in ticked
    assert off.text == "Stopped following Economy"
    assert "▫️ Economy" in unticked
    assert follows == []


async def test_settings_by_command_and_by_button(tmp_path: Path) -> None:
    async with running_bot(tmp_path) as bot:
        [shown] = await bot.say("/settings")
        first_view = shown.text  # the double edits its record in place
        [digest] = await bot.say("/settings digest 7:30")
        [zone] = await bot.say("/settings tz Europe/Berlin")
        [bad_zone] = await bot.say("/settings tz Mars/Olympus_Mons")
        await bot.press(shown, "set:quiet")
        after_button = bot.tg.message(shown).text
        chat = await bot.store.chats.get(bot.private.id)
    assert "Delivery: each article as it is published" in first_view
    assert "Quiet hours: 23:00–07:00" in after_button
    assert digest.text == "Articles now come as one digest at 07:30."
    assert zone.text == "Datelines now show Europe/Berlin."
    assert "is not a time zone name" in bad_zone.text
    assert chat is not None
    assert (chat.mode, chat.digest_time, chat.timezone) == ("digest", "07:30", "Europe/Berlin")
    assert (chat.quiet_start, chat.quiet_end) == ("23:00", "07:00")


async def test_a_chosen_zone_changes_the_dateline(tmp_path: Path) -> None:
    from tests.harness import SEED_LIKE

    async with running_bot(tmp_path) as bot:
        await bot.store_articles([SEED_LIKE])
        await bot.say("/settings tz Europe/London")
        [listing] = await bot.say("/latest")
    # 12:34 at UTC+04:00 is 09:34 in London's summer time.
    assert "9 June 2018 09:34 (UTC+01:00)" in listing.text


async def test_in_a_group_only_admins_change_subscriptions(tmp_path: Path) -> None:
    async with running_bot(tmp_path) as bot:
        owner = bot.tg.add_user("Owner")
        member = bot.tg.add_user("Member")
        group = bot.tg.add_group("Readers", admins=[owner], members=[member])
        [refused] = await bot.say("/subscribe@newsbot_test_bot economy", chat=group, user=member)
        [picker] = await bot.say("/topics@newsbot_test_bot", chat=group, user=member)
        pressed = await bot.press(picker, "tog:economy", member)
        [done] = await bot.say("/subscribe@newsbot_test_bot economy", chat=group, user=owner)
        follows = await bot.store.subscriptions.of_chat(group.id)
    assert refused.text == "Only this group's admins can change what it follows."
    assert pressed.text == "Only this group's admins can change what it follows."
    assert pressed.show_alert
    assert done.text == "Subscribed to Economy."
    assert follows == ["economy"]


async def test_commands_addressed_to_the_bot_work_in_groups(tmp_path: Path) -> None:
    from tests.harness import make_article

    async with running_bot(tmp_path) as bot:
        await bot.store_articles([make_article(1)])
        owner = bot.tg.add_user("Owner")
        group = bot.tg.add_group("Readers", admins=[owner])
        [answer] = await bot.say("/latest@newsbot_test_bot", chat=group, user=owner)
    assert answer.text.startswith("Latest news")
    assert "Headline number 1" in answer.text


async def test_a_deep_link_subscribe_brings_the_backlog_as_subscribe_does(tmp_path: Path) -> None:
    # Regression: /start sub_economy subscribed without owing the subscriber backlog.
    now = datetime(2026, 11, 28, 12, 0, tzinfo=UTC)
    recent = [
        make_article(n, published_at=now - timedelta(minutes=60 - n), category="Economy news")
        for n in (1, 2, 3)
    ]
    limits = DeliveryConfig(new_subscriber_backlog=2)
    async with running_bot(tmp_path, clock=FakeClock(now), delivery=limits) as bot:
        await bot.publish(recent)  # nobody follows economy yet: nothing is sent
        by_command = await bot.say("/subscribe economy", replies=3)
        newcomer = bot.tg.add_user("Newcomer")
        private = bot.tg.add_private_chat(newcomer)
        by_link = await bot.say("/start sub_economy", chat=private, user=newcomer, replies=3)
    for sent in (by_command, by_link):
        answers = [m.text for m in sent if m.text.startswith("Subscribed to")]
        backlog = [m.text for m in sent if not m.text.startswith("Subscribed to")]
        assert len(answers) == 1
        assert "Economy" in answers[0]
        assert sorted(headlines(backlog)) == [2, 3]


def headlines(texts: list[str]) -> list[int]:
    return [int(n) for text in texts for n in re.findall(r"Headline number (\d+)", text)]
