"""Forum topics (issue 11, section 2) end to end through the Bot API double: /subscribe and
/follow inside a topic thread deliver there; two topics go to two threads; a closed or deleted
thread falls back to the General topic, with exactly one delivery and the group told once (also
across a restart); a configured channel posts into its thread."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from telegram.error import BadRequest

from bot.config import load_config
from bot.delivery.policy import Action, classify
from botapi_double import BotApiDouble
from botapi_double.state import Chat, RecordedMessage
from core.settings import ChannelConfig, ConfigError
from tests.harness import RunningBot, make_article, running_bot
from tests.support.store import harness_store

# Every test here exercises the store through the bot: once on each backend.
pytestmark = pytest.mark.both_stores

NOW = datetime.now(UTC).replace(microsecond=0)
NOTICE = "closed or deleted"


def fresh(n: int, **changes: object) -> object:
    return make_article(n, published_at=NOW - timedelta(minutes=30 - n), **changes)


async def in_topic(bot: RunningBot, forum: Chat, thread: int | None, text: str) -> RecordedMessage:
    """The reader (an admin of the forum) writes ``text`` in ``thread``; the bot's answer."""
    before = len(bot.tg.sent(forum))
    bot.tg.send_text(forum, bot.reader, text, thread=thread)
    sent = await bot.tg.wait_for_messages(before + 1, chat_id=forum)
    return sent[before]


def forum_of(bot: RunningBot) -> Chat:
    return bot.tg.add_group("Newsroom", admins=[bot.reader], forum=True)


def ledger(tmp_path: Path) -> list[tuple[int, str, int | None]]:
    with harness_store(tmp_path) as conn:
        return conn.execute(
            "SELECT chat_id, status, thread_id FROM deliveries ORDER BY id"
        ).fetchall()


async def sent_count(bot: RunningBot, n: int) -> None:
    async with asyncio.timeout(10):
        await bot.delivery.dispatcher.wait_until(lambda s: s.sent >= n)


async def test_subscribe_in_a_topic_delivers_into_its_thread(tmp_path: Path) -> None:
    async with running_bot(tmp_path) as bot:
        forum = forum_of(bot)
        economy = bot.tg.add_topic(forum, "Economy news")
        answer = await in_topic(bot, forum, economy, "/subscribe economy")
        await bot.publish([fresh(1)])
        await sent_count(bot, 1)
        article = bot.tg.sent(forum)[-1]
        update = bot.tg.calls("getUpdates")
    assert answer.message_thread_id == economy  # the answer stays in the topic
    assert answer.text == "Subscribed to Economy. Delivered into this topic."
    assert article.text.startswith("Headline number 1\n")
    assert article.message_thread_id == economy
    assert article.params["message_thread_id"] == economy
    assert ledger(tmp_path) == [(forum.id, "sent", economy)]
    assert update  # the bot polled the forum's updates


async def test_two_topics_go_to_two_threads_and_subscriptions_say_which(tmp_path: Path) -> None:
    async with running_bot(tmp_path) as bot:
        forum = forum_of(bot)
        economy = bot.tg.add_topic(forum, "Economy")
        russia = bot.tg.add_topic(forum, "Russia")
        await in_topic(bot, forum, economy, "/subscribe economy")
        await in_topic(bot, forum, russia, "/subscribe russia")
        followed = await in_topic(bot, forum, russia, "/follow pipeline")
        await in_topic(bot, forum, None, "/subscribe politics")
        listing = await in_topic(bot, forum, economy, "/subscriptions")
        await bot.publish(
            [
                fresh(1, title="Inflation slows"),
                fresh(2, title="Kremlin talks", category="Russia"),
                fresh(3, title="A new pipeline", category="Sport"),
                fresh(4, title="Coalition holds", category="Politics"),
            ]
        )
        await sent_count(bot, 4)
        where = {m.text.split("\n")[0]: m.message_thread_id for m in bot.tg.sent(forum)[-4:]}
        moved = await in_topic(bot, forum, russia, "/subscribe economy")
        word_moved = await in_topic(bot, forum, economy, "/follow pipeline")
    assert followed.text == "Following pipeline. Delivered into this topic."
    assert listing.text.startswith(
        f"This chat follows Economy (this topic), Politics (the General topic),"
        f" Russia (topic {russia}).\nWords followed: pipeline (topic {russia})."
    )
    assert where == {
        "Inflation slows": economy,
        "Kremlin talks": russia,
        "A new pipeline": russia,
        "Coalition holds": None,
    }
    assert moved.text == "Economy: delivered into this topic from now on."
    assert word_moved.text == "pipeline: delivered into this topic from now on."


async def test_a_russian_forum_is_told_where_in_russian(tmp_path: Path) -> None:
    async with running_bot(tmp_path) as bot:
        ivan = bot.tg.add_user("Ivan", language_code="ru")
        forum = bot.tg.add_group("Новости", admins=[ivan], forum=True)
        economy = bot.tg.add_topic(forum, "Экономика")
        bot.tg.send_text(forum, ivan, "/subscribe economy", thread=economy)
        [answer] = await bot.tg.wait_for_messages(1, chat_id=forum)
        # The group's admins chose Russian (/settings → Language): the notice is in it too.
        await bot.store.chats.update_settings(forum.id, 0, language="ru")
        bot.tg.delete_topic(forum, economy)
        await bot.publish([fresh(1)])
        await sent_count(bot, 1)
        notice = next(m for m in bot.tg.sent(forum) if "⚠️" in m.text)
    assert answer.message_thread_id == economy
    assert answer.text.endswith("Куда доставляется: эта тема.")
    assert notice.text.startswith(f"⚠️ Тема {economy} этой группы закрыта или удалена")


async def test_a_closed_topic_falls_back_to_general_and_the_group_is_told_once(
    tmp_path: Path,
) -> None:
    async with running_bot(tmp_path) as bot:
        forum = forum_of(bot)
        economy = bot.tg.add_topic(forum, "Economy")
        await in_topic(bot, forum, economy, "/subscribe economy")
        bot.tg.close_topic(forum, economy)
        await bot.publish([fresh(1), fresh(2)])
        await sent_count(bot, 2)
        await bot.publish([fresh(3)])
        await sent_count(bot, 3)
        sent = bot.tg.sent(forum)[1:]
        refused = [c for c in bot.tg.calls("sendMessage") if not c.ok]
        stats = bot.delivery.dispatcher.stats
        threads = await bot.store.subscriptions.threads(forum.id)
    articles = [m for m in sent if m.text.startswith("Headline")]
    notices = [m for m in sent if NOTICE in m.text]
    assert [m.message_thread_id for m in articles] == [None, None, None]
    assert sorted(m.text.split("\n")[0] for m in articles) == [
        "Headline number 1",
        "Headline number 2",
        "Headline number 3",
    ]
    [notice] = notices
    assert notice.message_thread_id is None
    assert notice.text == (
        f"⚠️ Topic {economy} of this group is closed or deleted, so its news (Economy) now comes"
        " to the General topic. An admin can send /subscribe or /follow inside an open topic to"
        " have it delivered there."
    )
    assert 1 <= len(refused) <= 2  # the rows already on their way try the thread once
    assert all(c.description == "Bad Request: TOPIC_CLOSED" for c in refused)
    assert [status for _, status, _ in ledger(tmp_path)] == ["sent"] * 3
    assert (stats.sent, stats.failed, stats.retried) == (3, 0, 0)
    assert threads == {"economy": None}


async def test_a_channel_posts_into_its_thread_and_a_lost_one_is_told_once_across_restarts(
    tmp_path: Path,
) -> None:
    made: dict[str, int] = {}

    def newsroom(tg: BotApiDouble) -> None:
        forum = tg.add_group(
            "Agency newsroom",
            forum=True,
            username="agency_newsroom",
            bot_is_admin=True,
            admins=[tg.add_user("Chief")],
        )
        made["chat"], made["thread"] = forum.id, tg.add_topic(forum, "Wire")

    double = BotApiDouble()
    async with double:
        newsroom(double)
        thread = made["thread"]
        channels = (ChannelConfig("@agency_newsroom", ("economy",), "instant", thread=thread),)
        async with running_bot(tmp_path, double=double, channels=channels) as bot:
            await bot.publish([fresh(1)])
            await sent_count(bot, 1)
            double.delete_topic(made["chat"], thread)
            await bot.publish([fresh(2)])
            await sent_count(bot, 2)
        async with running_bot(tmp_path, double=double, channels=channels) as again:
            await again.publish([fresh(3)])
            await sent_count(again, 1)
        posts = double.sent(made["chat"])
        refused = [c.description for c in double.calls("sendMessage") if not c.ok]
    assert [
        (m.text.split("\n")[0], m.message_thread_id) for m in posts if "Headline" in m.text
    ] == [
        ("Headline number 1", thread),
        ("Headline number 2", None),
        ("Headline number 3", None),
    ]
    assert len([m for m in posts if NOTICE in m.text]) == 1  # told once, restart or not
    # After the restart the config puts the thread back, so Telegram refuses it once more.
    assert refused == ["Bad Request: message thread not found"] * 2
    assert [status for _, status, _ in ledger(tmp_path)] == ["sent"] * 3


async def test_a_thread_for_a_group_that_is_no_forum_is_reported(tmp_path: Path) -> None:
    def plain_group(tg: BotApiDouble) -> None:
        tg.add_group("Plain", supergroup=True, username="plain_group", bot_is_admin=True)

    channels = (ChannelConfig("@plain_group", ("economy",), "instant", thread=7),)
    async with running_bot(tmp_path, before_start=plain_group, channels=channels) as bot:
        [state] = bot.delivery.channels
    assert state.problem == "@plain_group is not a forum group, so it has no thread"


CHANNEL = """
[topics.economy]
name = "Economy"

[[channels]]
chat = "@agency_newsroom"
topics = ["economy"]
mode = "instant"
"""


def test_a_channel_thread_is_checked_at_load(tmp_path: Path) -> None:
    path = tmp_path / "config.toml"
    path.write_text(CHANNEL + "thread = 42\n", encoding="utf-8")
    [channel] = load_config(str(path), environ={"NEWSBOT_TOKEN": "1:x"}).channels
    assert channel.thread == 42
    for wrong, said in (
        ("thread = 0", "a positive integer"),
        ("thread = '42'", "must be an integer, not str"),
        ("thread = true", "must be an integer, not bool"),
    ):
        path.write_text(CHANNEL + wrong + "\n", encoding="utf-8")
        with pytest.raises(ConfigError, match=rf"\[\[channels\]\] #1\.thread {said}|{said}"):
            load_config(str(path), environ={"NEWSBOT_TOKEN": "1:x"})


@pytest.mark.parametrize(
    ("description", "action"),
    [
        ("Bad Request: message thread not found", Action.NO_THREAD),
        ("Bad Request: TOPIC_CLOSED", Action.NO_THREAD),
        ("Bad Request: failed to get HTTP URL content", Action.NO_PICTURE),
        ("Bad Request: wrong file identifier/HTTP URL specified", Action.NO_PICTURE),
        ("Bad Request: wrong type of the web page content", Action.NO_PICTURE),
        ("Bad Request: chat not found", Action.DEACTIVATE),
    ],
)
def test_what_a_refused_thread_or_picture_means(description: str, action: Action) -> None:
    assert classify(BadRequest(description)).action is action
