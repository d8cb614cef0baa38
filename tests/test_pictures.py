"""Pictures (issue 11, section 3) end to end through the Bot API double: an article with a
picture goes as a photo with its caption, or as text under the picture's large preview when it
is too long for a caption; a picture Telegram cannot fetch leaves the text, sent once; a later
report of the story edits the photo's caption."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from bot.demo.terminal import render_message
from bot.render.text import CAPTION_LIMIT, visible_len
from botapi_double.state import RecordedMessage
from core.settings import ChannelConfig
from storage import NewArticle
from tests.harness import RunningBot, make_article, running_bot
from tests.support.store import harness_store

NOW = datetime.now(UTC).replace(microsecond=0)
PICTURE = "https://pictures.example/economy/1.jpg"


def pictured(n: int, **changes: object) -> NewArticle:
    fields: dict[str, object] = {"image_url": PICTURE, "published_at": NOW - timedelta(minutes=9)}
    fields.update(changes)
    return make_article(n, **fields)


def long_one(n: int) -> NewArticle:
    """An article whose message is over a caption's 1,024 units (but within a text's 4,096)."""
    return pictured(
        n,
        title="Regional bank figures: " + "card payments and deposits grew again " * 7,
        body="The bank's quarterly report covers every region in detail. " * 30,
        attribution="Meridian Wire Economic Service of the Caspian Region",
        publisher="Caspian Courier International Edition",
    )


def ledger(tmp_path: Path) -> list[tuple[str, int | None, str | None, str | None]]:
    with harness_store(tmp_path) as conn:
        return conn.execute(
            "SELECT status, message_id, sent_as, last_error FROM deliveries ORDER BY id"
        ).fetchall()


async def delivered(bot: RunningBot, article: NewArticle, *, sent: int = 1) -> int:
    """A reader of economy news is sent ``article``; the reader's chat id."""
    chat = await bot.add_reader("a", ["economy"])
    await bot.publish([article])
    async with asyncio.timeout(10):
        await bot.delivery.dispatcher.wait_until(lambda s: s.sent == sent)
    return chat.id


async def test_an_article_with_a_picture_is_a_photo_with_its_caption(tmp_path: Path) -> None:
    async with running_bot(tmp_path) as bot:
        chat = await delivered(bot, pictured(1))
        [message] = bot.tg.sent(chat)
        photos = bot.tg.calls("sendPhoto")
    assert message.method == "sendPhoto"
    assert message.photo_url == PICTURE
    assert message.text.startswith("Headline number 1\n")
    assert "Body of article 1." in message.text
    assert [b["text"] for b in message.buttons()] == ["Related", "Subscribe to Economy"]
    assert message.params["parse_mode"] == "HTML"
    assert [c.ok for c in photos] == [True]
    assert ledger(tmp_path) == [("sent", message.message_id, "photo", None)]


async def test_a_long_article_is_text_under_the_large_picture(tmp_path: Path) -> None:
    async with running_bot(tmp_path) as bot:
        chat = await delivered(bot, long_one(1))
        [message] = bot.tg.sent(chat)
        photos = bot.tg.calls("sendPhoto")
    assert photos == []
    assert message.method == "sendMessage"
    assert len(message.text) > CAPTION_LIMIT
    assert message.link_preview_options == {
        "is_disabled": False,
        "url": PICTURE,
        "prefer_large_media": True,
        "show_above_text": True,
    }
    assert [b["text"] for b in message.buttons()] == ["Related", "Subscribe to Economy"]
    assert ledger(tmp_path) == [("sent", message.message_id, "text", None)]


@pytest.mark.parametrize(
    "refusal",
    [
        "Bad Request: failed to get HTTP URL content",
        "Bad Request: wrong file identifier/HTTP URL specified",
        "Bad Request: wrong type of the web page content",
    ],
)
async def test_a_picture_telegram_cannot_fetch_leaves_the_text_sent_once(
    tmp_path: Path, refusal: str
) -> None:
    async with running_bot(tmp_path) as bot:
        bot.tg.refuse_picture(PICTURE, refusal)
        chat = await delivered(bot, pictured(1))
        messages = bot.tg.sent(chat)
        refused = [
            (c.method, c.ok, c.description) for c in bot.tg.calls() if c.method.startswith("send")
        ]
        stats = bot.delivery.dispatcher.stats
        stored = await bot.store.chats.get(chat)
    [message] = messages
    assert message.method == "sendMessage"
    assert message.text.startswith("Headline number 1\n")
    assert [b["text"] for b in message.buttons()] == ["Related", "Subscribe to Economy"]
    assert refused == [("sendPhoto", False, refusal), ("sendMessage", True, None)]
    assert ledger(tmp_path) == [("sent", message.message_id, "text", None)]
    assert (stats.sent, stats.failed, stats.retried) == (1, 0, 0)
    assert stored is not None
    assert stored.active


async def test_a_later_report_edits_the_caption_of_the_photo(tmp_path: Path) -> None:
    async with running_bot(tmp_path) as bot:
        title = "Baku and Rome agree on extra gas volumes"
        chat = await delivered(bot, pictured(1, title=f"{title} (Trend)", publisher="Trend"))
        [first] = await bot.store.articles.latest(limit=1)
        [second] = await bot.store_articles(
            [
                make_article(
                    2,
                    title=f"{title} (Caspian Wire)",
                    publisher="Caspian Wire",
                    published_at=NOW - timedelta(minutes=8),
                )
            ]
        )
        await bot.store.articles.join_story(second, first.id)
        await bot.owe([second])
        async with asyncio.timeout(10):
            await bot.delivery.dispatcher.wait_until(lambda s: s.sent == 2)
        [message] = bot.tg.sent(chat)
        text_edits = bot.tg.calls("editMessageText")
        caption_edits = bot.tg.calls("editMessageCaption")
    assert message.method == "sendPhoto"
    assert message.edited
    assert message.text.endswith("Also reported by: Caspian Wire")
    assert visible_len(message.source_text or "") <= CAPTION_LIMIT
    assert [c.ok for c in caption_edits] == [True]
    assert text_edits == []
    assert [b["text"] for b in message.buttons()] == ["Related", "Subscribe to Economy"]
    assert [row[2] for row in ledger(tmp_path)] == ["photo", "photo"]


async def test_an_article_opened_from_latest_shows_its_picture(tmp_path: Path) -> None:
    async with running_bot(tmp_path) as bot:
        await bot.store_articles([pictured(1), long_one(2)])
        [listing] = await bot.say("/latest 2")
        answers = []
        for data in listing.callback_data()[:2]:
            before = len(bot.tg.sent(bot.private))
            await bot.press(listing, data)
            answers += await bot.tg.wait_for_messages(before + 1, chat_id=bot.private)
        opened = bot.tg.sent(bot.private)[1:]
    methods = {m.text.split("\n")[0][:16]: (m.method, m.photo_url) for m in opened}
    assert methods["Headline number "] == ("sendPhoto", PICTURE)
    assert methods["Regional bank fi"] == ("sendMessage", None)
    [long_message] = [m for m in opened if m.method == "sendMessage"]
    assert (long_message.link_preview_options or {}).get("url") == PICTURE


async def test_a_channel_post_shows_the_picture(tmp_path: Path) -> None:
    made: dict[str, object] = {}

    def channel(tg) -> None:  # type: ignore[no-untyped-def]
        made["chat"] = tg.add_channel("agency_economy", title="Agency Economy")

    channels = (ChannelConfig("@agency_economy", ("economy",), "instant"),)
    async with running_bot(tmp_path, before_start=channel, channels=channels) as bot:
        await bot.publish([pictured(1)])
        target = made["chat"]
        [post] = await bot.tg.wait_for_messages(1, chat_id=target.id)  # type: ignore[attr-defined]
    assert (post.method, post.photo_url) == ("sendPhoto", PICTURE)
    assert post.text.startswith("Headline number 1\n")


def test_the_demo_prints_a_picture_above_the_text() -> None:
    def message(**changes: object) -> RecordedMessage:
        fields: dict[str, object] = {
            "chat_id": 1,
            "message_id": 1,
            "text": "Headline",
            "entities": [],
            "date": NOW,
            "from_user": None,
            "outgoing": True,
        }
        fields.update(changes)
        return RecordedMessage(**fields)  # type: ignore[arg-type]

    large = {"is_disabled": False, "url": PICTURE, "prefer_large_media": True}
    photo = render_message(message(photo_url=PICTURE), color=False)
    above = render_message(
        message(link_preview_options={**large, "show_above_text": True}), color=False
    )
    below = render_message(message(link_preview_options=large), color=False)
    assert photo.splitlines() == [f"  [picture: {PICTURE}]", "  Headline"]
    assert above.splitlines() == [f"  [picture: {PICTURE}]", "  Headline"]
    assert below.splitlines() == ["  Headline"]
