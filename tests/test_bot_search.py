"""/related, /search and inline mode end to end, on articles whose relations are known."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

from storage import NewArticle
from tests.harness import SEED_LIKE, make_article, running_bot

ARCHIVE = [
    SEED_LIKE,
    NewArticle(
        title="Putin expects dialogue with Trump to be constructive",
        guid="putin-trump",
        body="Putin said the dialogue with Trump on Russia and security will be constructive.",
        category="Russia",
        published_at=SEED_LIKE.published_at - timedelta(hours=3),  # type: ignore[operator]
    ),
    NewArticle(
        title="Tajikistan and Russia sign new security agreement",
        guid="taj-sec",
        body="Tajikistan and Russia agreed on border security on the Tajik-Afghan border and"
        " strategic partnership in the CIS.",
        category="Tajikistan",
        published_at=SEED_LIKE.published_at - timedelta(days=1),  # type: ignore[operator]
    ),
    make_article(50, title="Oil prices climb as inflation cools", body="Brent crude rose."),
    make_article(51, title="Central bank holds rates", body="The central bank held rates."),
]


async def test_related_by_id_lays_out_the_publishers_box(tmp_path: Path) -> None:
    async with running_bot(tmp_path) as bot:
        ids = await bot.store_articles(ARCHIVE)
        [answer] = await bot.say(f"/related {ids[0]}")
    lines = answer.text.splitlines()
    assert lines[0].startswith("Related news")
    # The publisher's own related entry that we hold comes first.
    first = answer.text.index("Putin expects dialogue with Trump")
    second = answer.text.index("Tajikistan and Russia sign new security agreement")
    assert first < second
    # Each with the dateline and zone it shows when opened, as /latest lists it.
    assert "9 June 2018 09:34 (UTC+04:00) · Russia · #" in answer.text
    assert "8 June 2018 12:34 (UTC+04:00) · Tajikistan · #" in answer.text
    assert "Oil prices" not in answer.text
    header, entries = answer.text.split("\n\n", 1)
    assert "Putin underlines" in header  # the box names its article ...
    assert "Putin underlines" not in entries  # ... and never lists it


async def test_related_as_a_reply_to_an_article_message(tmp_path: Path) -> None:
    async with running_bot(tmp_path) as bot:
        ids = await bot.store_articles(ARCHIVE)
        [listing] = await bot.say("/latest")
        await bot.press(listing, f"art:{ids[0]}")
        article = (await bot.tg.wait_for_messages(2, chat_id=bot.private.id))[1]
        before = len(bot.tg.sent(bot.private.id))
        bot.tg.reply_to(article, "/related")
        [answer] = (await bot.tg.wait_for_messages(before + 1, chat_id=bot.private.id))[before:]
    assert answer.text.startswith("Related news")
    assert "Putin expects dialogue with Trump" in answer.text


async def test_the_related_button_under_an_article(tmp_path: Path) -> None:
    async with running_bot(tmp_path) as bot:
        ids = await bot.store_articles(ARCHIVE)
        [listing] = await bot.say("/latest")
        await bot.press(listing, f"art:{ids[0]}")
        article = (await bot.tg.wait_for_messages(2, chat_id=bot.private.id))[1]
        await bot.press(article, f"rel:{ids[0]}")
        related = (await bot.tg.wait_for_messages(3, chat_id=bot.private.id))[2]
    assert related.text.startswith("Related news")
    assert "Tajikistan and Russia sign" in related.text


async def test_related_with_odd_arguments(tmp_path: Path) -> None:
    async with running_bot(tmp_path) as bot:
        await bot.store_articles(ARCHIVE)
        [no_arg] = await bot.say("/related")
        [word] = await bot.say("/related putin")
        [missing] = await bot.say("/related 999999")
    assert no_arg.text.startswith("Usage: /related ID")
    assert word.text.startswith("Usage: /related ID")
    assert missing.text == "There is no article #999999."


async def test_search_finds_best_matches_and_survives_fts_syntax(tmp_path: Path) -> None:
    async with running_bot(tmp_path) as bot:
        await bot.store_articles(ARCHIVE)
        [found] = await bot.say("/search central bank")
        hostile = []
        for text in ('"', "NEAR(a b", "title:putin", "putin*", "'); DROP TABLE articles;--"):
            hostile.append((await bot.say(f"/search {text}"))[0].text)
        [still] = await bot.say("/search putin")
        [empty] = await bot.say("/search")
    assert found.text.startswith("Search: central bank")
    assert "Central bank holds rates" in found.text
    assert all(text.startswith("Search:") for text in hostile)
    assert "Putin underlines" in still.text
    assert empty.text == "Usage: /search words"


async def test_inline_mode_offers_articles_to_share(tmp_path: Path) -> None:
    async with running_bot(tmp_path) as bot:
        await bot.store_articles(ARCHIVE)
        query = bot.tg.inline_query(bot.reader, "tajikistan security")
        latest = bot.tg.inline_query(bot.reader, "")
        await bot.tg.wait_for(lambda: len(bot.tg.inline_answers) == 2)
        answers = {a.query_id: a for a in bot.tg.inline_answers}
    titles = [r["title"] for r in answers[query].results]
    assert titles[0] in {
        "Tajikistan and Russia sign new security agreement",
        "Putin underlines strategic partnership between Russia, Tajikistan",
    }
    assert all(r["type"] == "article" for r in answers[query].results)
    shared = answers[query].results[0]["input_message_content"]
    assert shared["parse_mode"] == "HTML"
    assert "<b>" in shared["message_text"]
    assert len(answers[latest].results) == len(ARCHIVE)
    assert (
        answers[latest].results[0]["title"]
        == "Putin underlines strategic partnership between Russia, Tajikistan"
    )
