"""One message per story and chat (issue 10, section 2): a later report of a story edits the
message the chat got, through the Bot API double; a refused edit sends nothing more; the ledger
keeps it across a restart."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from botapi_double import BotApiDouble
from botapi_double.errors import ApiError
from botapi_double.faults import FaultRule
from storage import NewArticle
from tests.harness import RunningBot, make_article, running_bot
from tests.support.store import harness_store

# Every test here exercises the store through the bot: once on each backend.
pytestmark = pytest.mark.both_stores

NOW = datetime.now(UTC).replace(microsecond=0)


def report(n: int, publisher: str, **changes: object) -> NewArticle:
    return make_article(
        n,
        title=f"Baku and Rome agree on extra gas volumes ({publisher})",
        publisher=publisher,
        published_at=NOW - timedelta(minutes=30 - n),
        **changes,
    )


async def first_report(bot: RunningBot) -> tuple[int, int]:
    """A reader of economy news who received the story's first report: (chat id, article id)."""
    chat = await bot.add_reader("a", ["economy"])
    await bot.publish([report(1, "Trend")])
    async with asyncio.timeout(10):
        await bot.delivery.dispatcher.wait_until(lambda s: s.sent == 1)
    [first] = await bot.store.articles.latest(limit=1)
    return chat.id, first.id


async def another_report(
    bot: RunningBot, n: int, publisher: str, story: int, **changes: object
) -> int:
    """Another publisher's report of ``story``, stored, filed under the story and owed."""
    [article_id] = await bot.store_articles([report(n, publisher, **changes)])
    await bot.store.articles.join_story(article_id, story)
    await bot.owe([article_id])
    return article_id


def ledger(tmp_path: Path) -> list[tuple[int, str, int | None, int | None, str | None]]:
    with harness_store(tmp_path) as conn:
        return conn.execute(
            "SELECT article_id, status, message_id, edit_of IS NOT NULL, last_error"
            " FROM deliveries ORDER BY id"
        ).fetchall()


async def test_a_second_report_edits_the_first_message(tmp_path: Path) -> None:
    async with running_bot(tmp_path) as bot:
        chat, story = await first_report(bot)
        second = await another_report(bot, 2, "Caspian Wire", story)
        dispatcher = bot.delivery.dispatcher
        async with asyncio.timeout(10):
            await dispatcher.wait_until(lambda s: s.sent == 2)
        third = await another_report(bot, 3, "Report <&> News", story, url=None, guid="g3")
        async with asyncio.timeout(10):
            await dispatcher.wait_until(lambda s: s.sent == 3)
        messages = bot.tg.sent(chat)
        edits = bot.tg.calls("editMessageText")
    [message] = messages  # one message for the story
    assert message.edited
    assert message.text.startswith("Baku and Rome agree on extra gas volumes (Trend)")
    assert message.text.endswith("Also reported by: Caspian Wire, Report <&> News")
    assert message.source_text is not None
    assert message.source_text.endswith(
        'Also reported by: <a href="https://news.example/2">Caspian Wire</a>,'
        " Report &lt;&amp;&gt; News"
    )
    assert len(edits) == 2
    [(a1, s1, m1, e1, _), (a2, s2, m2, e2, _), (a3, s3, m3, e3, _)] = ledger(tmp_path)
    assert (a1, a2, a3) == (story, second, third)
    assert (s1, s2, s3) == ("sent", "sent", "sent")
    assert m1 == m2 == m3 == message.message_id
    assert (e1, e2, e3) == (0, 1, 1)


async def test_an_edit_telegram_refuses_sends_nothing_more(tmp_path: Path) -> None:
    async with running_bot(tmp_path) as bot:
        chat, story = await first_report(bot)
        bot.tg.server.faults.add(
            FaultRule(
                "error",
                "editMessageText",
                error=ApiError(400, "Bad Request: message can't be edited"),
            )
        )
        await another_report(bot, 2, "Caspian Wire", story)
        async with asyncio.timeout(10):
            await bot.delivery.dispatcher.wait_until(lambda s: s.failed == 1)
        messages = bot.tg.sent(chat)
    [message] = messages
    assert not message.edited
    assert "Also reported by" not in message.text
    [_, (_, status, _, edit, error)] = ledger(tmp_path)
    assert (status, edit) == ("failed", 1)
    assert error is not None
    assert "can't be edited" in error.lower()


async def test_a_deleted_message_is_not_sent_again_by_a_later_report(tmp_path: Path) -> None:
    async with running_bot(tmp_path) as bot:
        chat, story = await first_report(bot)
        [message] = bot.tg.sent(chat)
        message.deleted = True  # the reader deleted it: Telegram cannot find it to edit
        await another_report(bot, 2, "Caspian Wire", story)
        async with asyncio.timeout(10):
            await bot.delivery.dispatcher.wait_until(lambda s: s.failed == 1)
        messages = bot.tg.sent(chat)
        sends = len(bot.tg.calls("sendMessage"))
    assert len(messages) == 1
    assert sends == 1
    [_, (_, status, _, _, error)] = ledger(tmp_path)
    assert status == "failed"
    assert error is not None
    assert "message to edit not found" in error.lower()


async def test_one_message_per_story_across_a_restart(tmp_path: Path) -> None:
    async with BotApiDouble() as double:
        async with running_bot(tmp_path, double=double) as bot:
            chat, story = await first_report(bot)
        async with running_bot(tmp_path, double=double) as bot:
            await another_report(bot, 2, "Caspian Wire", story)
            async with asyncio.timeout(10):
                await bot.delivery.dispatcher.wait_until(lambda s: s.sent == 1)
            messages = bot.tg.sent(chat)
    [message] = messages
    assert message.text.endswith("Also reported by: Caspian Wire")
    assert [row[1] for row in ledger(tmp_path)] == ["sent", "sent"]


async def test_two_reports_owed_together_make_one_message_then_an_edit(tmp_path: Path) -> None:
    async with running_bot(tmp_path) as bot:
        chat = await bot.add_reader("a", ["economy"])
        ids = await bot.store_articles([report(1, "Trend"), report(2, "Caspian Wire")])
        await bot.store.articles.join_story(ids[1], ids[0])
        await bot.owe(ids)
        async with asyncio.timeout(10):
            await bot.delivery.dispatcher.wait_until(lambda s: s.sent == 2)
        messages = bot.tg.sent(chat)
    [message] = messages
    assert message.text.endswith("Also reported by: Caspian Wire")


async def test_a_digest_lists_a_story_once_with_its_publishers(tmp_path: Path) -> None:
    async with running_bot(tmp_path) as bot:
        chat = await bot.add_reader("a", ["economy"])
        await bot.store.chats.update_settings(chat.id, 0, mode="digest", digest_time="00:00")
        ids = await bot.store_articles(
            [report(1, "Trend"), report(2, "Caspian Wire"), make_article(3, published_at=NOW)]
        )
        await bot.store.articles.join_story(ids[1], ids[0])
        await bot.owe(ids)
        assert await bot.delivery.send_due_digests() == 1
        [digest] = bot.tg.sent(chat)
    assert digest.text.startswith("Your digest: 2 new articles")
    assert digest.text.count("Baku and Rome agree") == 1
    assert "(Trend)\n" in digest.text
    assert "Also reported by: Caspian Wire" in digest.text
    assert "Headline number 3" in digest.text
    assert [row[1] for row in ledger(tmp_path)] == ["sent"] * 3
    assert len({row[2] for row in ledger(tmp_path)}) == 1


async def test_latest_shows_one_row_per_story_with_its_sources(tmp_path: Path) -> None:
    async with running_bot(tmp_path) as bot:
        ids = await bot.store_articles(
            [report(1, "Trend"), report(2, "Caspian Wire"), report(3, "Report"), make_article(4)]
        )
        await bot.store.articles.join_story(ids[1], ids[0])
        await bot.store.articles.join_story(ids[2], ids[0])
        [answer] = await bot.say("/latest")
    assert answer.text.count("Baku and Rome agree") == 1
    assert "(Report)\n" in answer.text  # the story at its newest report
    assert "· 3 sources ·" in answer.text
    assert "Headline number 4" in answer.text
    assert len(answer.buttons()) == 2


async def test_related_lists_the_story_s_other_reports_first(tmp_path: Path) -> None:
    async with running_bot(tmp_path) as bot:
        ids = await bot.store_articles(
            [report(1, "Trend"), report(2, "Caspian Wire"), make_article(3, published_at=NOW)]
        )
        await bot.store.articles.join_story(ids[1], ids[0])
        [answer] = await bot.say(f"/related {ids[0]}")
    text = answer.text
    assert text.index("Also reported by") < text.index("1. Caspian Wire: Baku and Rome")
    assert "(Trend)" not in text.split("Also reported by", 1)[1]
    assert answer.buttons()[0]["callback_data"] == f"art:{ids[1]}"
