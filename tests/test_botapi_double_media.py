"""The Bot API double's pictures and forum topics, through python-telegram-bot over HTTP: the
errors are Telegram's, so a bot that gets them wrong fails here as it would in production."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
import telegram
from telegram import InlineKeyboardButton, InlineKeyboardMarkup, LinkPreviewOptions
from telegram.error import BadRequest

from botapi_double import BotApiDouble

TOKEN = "123456:media-double"
URL = "https://pictures.example/a.jpg"


@pytest.fixture
async def tg() -> AsyncIterator[BotApiDouble]:
    async with BotApiDouble(TOKEN) as double:
        yield double


@pytest.fixture
async def bot(tg: BotApiDouble) -> AsyncIterator[telegram.Bot]:
    async with telegram.Bot(TOKEN, base_url=tg.base_url) as ptb_bot:
        yield ptb_bot


async def test_send_photo_by_url_with_a_caption(bot: telegram.Bot, tg: BotApiDouble) -> None:
    chat = tg.add_private_chat(tg.add_user())
    markup = InlineKeyboardMarkup([[InlineKeyboardButton("Related", callback_data="rel:1")]])
    sent = await bot.send_photo(
        chat.id, URL, caption="<b>Title</b> &amp; more", parse_mode="HTML", reply_markup=markup
    )
    [recorded] = tg.sent(chat)
    assert sent.caption == "Title & more"
    assert sent.photo
    assert sent.photo[-1].file_id
    assert sent.caption_entities[0].type == "bold"
    assert (recorded.method, recorded.photo_url, recorded.callback_data()) == (
        "sendPhoto",
        URL,
        ["rel:1"],
    )


async def test_a_caption_is_limited_to_1024_units_after_parsing(
    bot: telegram.Bot, tg: BotApiDouble
) -> None:
    chat = tg.add_private_chat(tg.add_user())
    # 1,024 visible units (the tags and the entity count as what they show) go; one more not.
    await bot.send_photo(chat.id, URL, caption="<b>" + "&amp;" * 1024 + "</b>", parse_mode="HTML")
    with pytest.raises(BadRequest, match="caption is too long"):
        await bot.send_photo(chat.id, URL, caption="x" * 1025)
    with pytest.raises(BadRequest, match=r"(?i)can't parse entities"):
        await bot.send_photo(chat.id, URL, caption="<b>open", parse_mode="HTML")
    with pytest.raises(BadRequest, match=r"(?i)unsupported parse_mode"):
        await bot.send_photo(chat.id, URL, caption="x", parse_mode="BBCode")
    assert len(tg.sent(chat)) == 1


async def test_a_picture_telegram_cannot_fetch_is_refused_with_its_words(
    bot: telegram.Bot, tg: BotApiDouble
) -> None:
    chat = tg.add_private_chat(tg.add_user())
    tg.refuse_picture(URL)
    tg.refuse_picture(URL + "?page", "Bad Request: wrong type of the web page content")
    with pytest.raises(BadRequest, match="Failed to get http url content"):
        await bot.send_photo(chat.id, URL, caption="x")
    with pytest.raises(BadRequest, match="Wrong type of the web page content"):
        await bot.send_photo(chat.id, URL + "?page")
    with pytest.raises(BadRequest, match="Wrong file identifier/http url specified"):
        await bot.send_photo(chat.id, "not-a-file-id")
    assert tg.sent(chat) == []


async def test_captions_are_edited_with_edit_message_caption_only(
    bot: telegram.Bot, tg: BotApiDouble
) -> None:
    chat = tg.add_private_chat(tg.add_user())
    photo = await bot.send_photo(chat.id, URL, caption="first")
    text = await bot.send_message(chat.id, "a text")
    with pytest.raises(BadRequest, match="There is no text in the message to edit"):
        await bot.edit_message_text("second", chat_id=chat.id, message_id=photo.message_id)
    with pytest.raises(BadRequest, match="There is no caption in the message to edit"):
        await bot.edit_message_caption(chat.id, text.message_id, caption="second")
    with pytest.raises(BadRequest, match="caption is too long"):
        await bot.edit_message_caption(chat.id, photo.message_id, caption="x" * 1025)
    edited = await bot.edit_message_caption(chat.id, photo.message_id, caption="second")
    assert isinstance(edited, telegram.Message)
    assert edited.caption == "second"
    assert tg.message(photo).text == "second"


async def test_link_preview_options_must_agree_with_themselves(
    bot: telegram.Bot, tg: BotApiDouble
) -> None:
    chat = tg.add_private_chat(tg.add_user())
    large = LinkPreviewOptions(
        is_disabled=False, url=URL, prefer_large_media=True, show_above_text=True
    )
    await bot.send_message(chat.id, "with a picture above", link_preview_options=large)
    for wrong in (
        LinkPreviewOptions(is_disabled=True, url=URL),
        LinkPreviewOptions(prefer_small_media=True, prefer_large_media=True),
        LinkPreviewOptions(url="javascript:alert(1)"),
    ):
        with pytest.raises(BadRequest, match=r"(?i)link preview options"):
            await bot.send_message(chat.id, "x", link_preview_options=wrong)
    [message] = tg.sent(chat)
    assert message.link_preview_options == {
        "is_disabled": False,
        "url": URL,
        "prefer_large_media": True,
        "show_above_text": True,
    }


async def test_forum_topics_carry_their_thread_both_ways(
    bot: telegram.Bot, tg: BotApiDouble
) -> None:
    admin = tg.add_user("Ada")
    forum = tg.add_group("Newsroom", admins=[admin], forum=True)
    economy = tg.add_topic(forum, "Economy")
    tg.send_text(forum, admin, "/subscribe economy", thread=economy)
    tg.send_text(forum, admin, "/help")
    [in_topic, in_general] = [u["message"] for u in tg.pending_updates]
    assert in_topic["chat"]["is_forum"] is True
    assert (in_topic["message_thread_id"], in_topic["is_topic_message"]) == (economy, True)
    assert "message_thread_id" not in in_general
    assert "is_topic_message" not in in_general
    sent = await bot.send_message(forum.id, "into the topic", message_thread_id=economy)
    assert (sent.message_thread_id, sent.is_topic_message) == (economy, True)
    photo = await bot.send_photo(forum.id, URL, caption="x", message_thread_id=economy)
    assert photo.message_thread_id == economy


async def test_sends_into_a_missing_or_closed_thread_are_refused(
    bot: telegram.Bot, tg: BotApiDouble
) -> None:
    admin = tg.add_user("Ada")
    forum = tg.add_group("Newsroom", admins=[admin], forum=True)
    plain = tg.add_group("Plain", admins=[admin], supergroup=True)
    sport, weather = tg.add_topic(forum, "Sport"), tg.add_topic(forum, "Weather")
    with pytest.raises(BadRequest, match="Message thread not found"):
        await bot.send_message(plain.id, "x", message_thread_id=sport)
    with pytest.raises(BadRequest, match="Message thread not found"):
        await bot.send_message(forum.id, "x", message_thread_id=999)
    tg.close_topic(forum, sport)
    tg.delete_topic(forum, weather)
    with pytest.raises(BadRequest, match="Topic_closed"):
        await bot.send_message(forum.id, "x", message_thread_id=sport)
    with pytest.raises(BadRequest, match="Message thread not found"):
        await bot.send_photo(forum.id, URL, message_thread_id=weather)
    tg.reopen_topic(forum, sport)
    await bot.send_message(forum.id, "open again", message_thread_id=sport)
    assert [m.text for m in tg.sent(forum)] == ["open again"]
