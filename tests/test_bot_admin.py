"""Admin commands: refused to everyone else, working for configured admins."""

from __future__ import annotations

from pathlib import Path

from core.settings import FeedConfig
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


# Two good items and one empty one: the reviewer's feed (/tmp/review/addfeed.py).
ONE_BAD_ENTRY = b"""<?xml version="1.0"?><rss version="2.0"><channel><title>t</title><link>http://x/</link>
<item><title>Good one</title><link>http://x/1</link><guid>g1</guid></item>
<item><title>Good two</title><link>http://x/2</link><guid>g2</guid></item>
<item><description></description></item>
</channel></rss>"""


async def test_a_feed_with_one_bad_entry_is_added_with_a_warning(tmp_path: Path) -> None:
    # The document parsed and its poll recorded success: one bad entry is the publisher's slip,
    # not a reason to refuse the feed (while keeping its siblings' articles).
    async with running_bot(tmp_path) as bot, feed_server({"/rss": ONE_BAD_ENTRY}) as feeds:
        url = feeds.url("/rss")
        admin_chat = bot.tg.chat(ADMIN_ID)
        [added] = await bot.say(f"/addfeed {url}", chat=admin_chat, user=bot.admin)
        feed = await bot.store.feeds.find(url)
        stored = await bot.store.articles.count()
    assert added.text.startswith("Added feed #1: 2 new articles, 0 known.")
    [warning] = added.text.splitlines()[1:]
    assert warning.startswith("Warning: ")
    assert "entry #3 has neither a title nor a summary" in warning
    assert feed is not None
    assert feed.last_error is None
    assert stored == 2


async def test_re_adding_a_registered_feed_that_fails_now_says_it_is_known(tmp_path: Path) -> None:
    async with running_bot(tmp_path) as bot:
        admin_chat = bot.tg.chat(ADMIN_ID)
        async with feed_server({"/rss": FEED.read_bytes()}) as feeds:
            url = feeds.url("/rss")
            [added] = await bot.say(f"/addfeed {url}", chat=admin_chat, user=bot.admin)
        # The server is gone: the fetch fails before anything is parsed.
        [again] = await bot.say(f"/addfeed {url}", chat=admin_chat, user=bot.admin)
        feed = await bot.store.feeds.find(url)
    assert added.text.startswith("Added feed #1:")
    assert again.text.startswith("Feed #1 is known, but reading it failed: ")
    assert feed is not None


async def test_re_adding_a_config_feed_keeps_the_configs_topics(tmp_path: Path) -> None:
    async with feed_server({"/rss": FEED.read_bytes()}) as server:
        url = server.url("/rss")
        feeds = (FeedConfig(url, ("economy",)),)
        async with running_bot(tmp_path, feeds=feeds) as bot:
            admin_chat = bot.tg.chat(ADMIN_ID)
            [added] = await bot.say(f"/addfeed {url} russia", chat=admin_chat, user=bot.admin)
            feed = await bot.store.feeds.find(url)
    assert added.text.startswith(f"Added feed #{feed.id if feed else '?'}:")
    assert feed is not None
    assert feed.topics == ("economy",)
    assert feed.from_config
