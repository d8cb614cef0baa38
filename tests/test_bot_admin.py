"""Admin commands: refused to everyone else, working for configured admins."""

from __future__ import annotations

from pathlib import Path

from tests.harness import ADMIN_ID, make_article, running_bot
from tests.support.feedserver import feed_server

FEED = Path(__file__).parent / "data" / "feeds" / "rss20.xml"


async def test_admin_commands_are_refused_politely_to_others(tmp_path: Path) -> None:
    async with running_bot(tmp_path) as bot:
        answers = [
            (await bot.say(c))[0].text for c in ("/stats", "/feeds", "/addfeed x", "/removefeed 1")
        ]
    assert set(answers) == {"Sorry, that command is only for this bot's admins."}


async def test_stats_for_an_admin(tmp_path: Path) -> None:
    async with running_bot(tmp_path) as bot:
        await bot.store_articles([make_article(n) for n in range(3)])
        await bot.say("/subscribe economy")
        admin_chat = bot.tg.chat(ADMIN_ID)
        [stats] = await bot.say("/stats", chat=admin_chat, user=bot.admin)
    assert "Articles: 3" in stats.text
    assert "Subscriptions: economy 1" in stats.text


async def test_add_list_and_remove_a_feed(tmp_path: Path) -> None:
    async with running_bot(tmp_path) as bot, feed_server({"/rss": FEED.read_bytes()}) as feeds:
        url = feeds.url("/rss")
        admin_chat = bot.tg.chat(ADMIN_ID)
        [added] = await bot.say(f"/addfeed {url} economy", chat=admin_chat, user=bot.admin)
        [listed] = await bot.say("/feeds", chat=admin_chat, user=bot.admin)
        [removed] = await bot.say("/removefeed 1", chat=admin_chat, user=bot.admin)
        [gone] = await bot.say("/removefeed 1", chat=admin_chat, user=bot.admin)
        [bad] = await bot.say("/addfeed ftp://nowhere", chat=admin_chat, user=bot.admin)
        stored = await bot.store.articles.count()
    assert added.text.startswith("Added feed #1:")
    assert "new articles" in added.text
    assert stored > 0
    assert url in listed.text
    assert "economy · ok" in listed.text
    assert removed.text == "Removed feed #1."
    assert gone.text == "There is no feed #1."
    assert bad.text.startswith("Usage: /addfeed URL")
