"""Hostile commands, buttons and edits through the Bot API double (issue 8, section 3).

Each input is the exact one reported: it must get the usage line or "expired / no such
article", never "Sorry" with a traceback in the log.
"""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path

import pytest
from telegram import InlineKeyboardButton, InlineKeyboardMarkup, Update
from telegram.ext import TypeHandler

from botapi_double.state import RecordedMessage, unix
from tests.harness import ADMIN_ID, RunningBot, make_article, running_bot

SORRY = "Sorry, something went wrong"


def tracebacks(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.exc_info or r.levelno >= logging.ERROR]


async def press_forged(bot: RunningBot, data: str) -> str | None:
    """Press a button carrying ``data`` (as an old or tampered message would) and return
    the bot's answer to the press."""
    sent = await bot.app.bot.send_message(
        bot.private.id,
        "a message with a forged button",
        reply_markup=InlineKeyboardMarkup([[InlineKeyboardButton("x", callback_data=data)]]),
    )
    return (await bot.press(bot.tg.message(sent), data)).text


async def edit(bot: RunningBot, message: RecordedMessage, text: str) -> None:
    """The user edits ``message`` to ``text``; return once the bot has handled the edit."""
    handled = asyncio.Event()

    async def last_in_line(update: Update, context: object) -> None:
        if update.edited_message is not None:
            handled.set()

    # Groups run in order for one update: when group 99 sees the edit, group 0 is done.
    watcher = TypeHandler(Update, last_in_line)
    bot.app.add_handler(watcher, group=99)
    message.text = text
    payload = bot.tg.state.message_api(message)
    payload["edit_date"] = unix(message.date) + 5
    bot.tg.state.enqueue("edited_message", payload)
    await asyncio.wait_for(handled.wait(), 5)
    bot.app.remove_handler(watcher, group=99)


@pytest.mark.parametrize(
    ("command", "usage"),
    [
        ("/latest ²", "Usage: /latest [topic] [n]"),
        ("/latest 99999999999999999999999", "Usage: /latest [topic] [n]"),
        ("/latest -3", "Usage: /latest [topic] [n]"),
        ("/related ²", "Usage: /related ID"),
        ("/related 9223372036854775808", "Usage: /related ID"),
        ("/related ٣", "Usage: /related ID"),
    ],
)
async def test_odd_digits_get_the_usage_line(
    tmp_path: Path, caplog: pytest.LogCaptureFixture, command: str, usage: str
) -> None:
    caplog.set_level(logging.INFO)
    async with running_bot(tmp_path) as bot:
        await bot.store_articles([make_article(1)])
        [answer] = await bot.say(command)
    assert usage in answer.text
    assert tracebacks(caplog) == []


async def test_the_largest_id_is_no_such_article(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    async with running_bot(tmp_path) as bot:
        [answer] = await bot.say("/related 9223372036854775807")
    assert answer.text == "There is no article #9223372036854775807."
    assert tracebacks(caplog) == []


@pytest.mark.parametrize("argument", ["²", "#²", "99999999999999999999999", "0"])
async def test_removefeed_with_odd_digits_gets_the_usage_line(
    tmp_path: Path, caplog: pytest.LogCaptureFixture, argument: str
) -> None:
    caplog.set_level(logging.INFO)
    async with running_bot(tmp_path) as bot:
        admin_chat = bot.tg.chat(ADMIN_ID)
        [answer] = await bot.say(f"/removefeed {argument}", chat=admin_chat, user=bot.admin)
    assert answer.text == "Usage: /removefeed ID (the #ID from /feeds)"
    assert tracebacks(caplog) == []


@pytest.mark.parametrize(
    "data",
    [
        "art:9223372036854775808",
        "rel:9223372036854775808",
        "art:0",
        "more:-:99999999999999999999999:5",
        "more:-:5:99999999999999999999999",
        "more:-:²:5",
        "more:-:5:0",
    ],
)
async def test_forged_buttons_have_expired(
    tmp_path: Path, caplog: pytest.LogCaptureFixture, data: str
) -> None:
    caplog.set_level(logging.INFO)
    async with running_bot(tmp_path) as bot:
        await bot.store_articles([make_article(1)])
        answer = await press_forged(bot, data)
        [still] = await bot.say("/latest")
    assert answer == "This button has expired."
    assert "Headline number 1" in still.text
    assert tracebacks(caplog) == []


async def test_a_reply_to_a_message_with_a_forged_huge_id_is_the_usage_line(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    async with running_bot(tmp_path) as bot:
        sent = await bot.app.bot.send_message(
            bot.private.id,
            "forged",
            reply_markup=InlineKeyboardMarkup(
                [[InlineKeyboardButton("Related", callback_data="rel:9223372036854775808")]]
            ),
        )
        before = len(bot.tg.sent(bot.private.id))
        bot.tg.reply_to(bot.tg.message(sent), "/related")
        [answer] = (await bot.tg.wait_for_messages(before + 1, chat_id=bot.private.id))[before:]
    assert answer.text.startswith("Usage: /related ID")
    assert tracebacks(caplog) == []


async def test_editing_a_subscribe_does_not_run_it_again(tmp_path: Path) -> None:
    async with running_bot(tmp_path) as bot:
        before = len(bot.tg.sent(bot.private.id))
        bot.tg.send_text(bot.private, bot.reader, "/subscribe economy")
        await bot.tg.wait_for_messages(before + 1, chat_id=bot.private.id)
        command = [m for m in bot.tg.state.messages.values() if not m.outgoing][-1]
        await edit(bot, command, "/subscribe russia")
        follows = await bot.store.subscriptions.of_chat(bot.private.id)
        replies = bot.tg.sent(bot.private.id)[before:]
    assert follows == ["economy"]
    assert len(replies) == 1


async def test_editing_an_admin_stats_does_not_answer_again(tmp_path: Path) -> None:
    async with running_bot(tmp_path) as bot:
        admin_chat = bot.tg.chat(ADMIN_ID)
        await bot.say("/stats", chat=admin_chat, user=bot.admin)
        command = [m for m in bot.tg.state.messages.values() if not m.outgoing][-1]
        await edit(bot, command, "/stats ")
        await edit(bot, command, "/nosuchcommand")
        replies = bot.tg.sent(ADMIN_ID)
    assert [r.text.split("\n")[0] for r in replies] == ["Stats"]


async def test_bidi_and_zero_width_title_reaches_readers_clean(tmp_path: Path) -> None:
    title = "Central bank \u202ecod.exe\u202c rate\u200b cut \u2066x\u2069 \ufeffnow\u200e"
    async with running_bot(tmp_path) as bot:
        [article_id] = await bot.store_articles([make_article(1, title=title)])
        [listing] = await bot.say("/latest")
        await bot.press(listing, f"art:{article_id}")
        article = (await bot.tg.wait_for_messages(2, chat_id=bot.private.id))[1]
        bot.tg.inline_query(bot.reader, "")
        await bot.tg.wait_for(lambda: bool(bot.tg.inline_answers), what="an inline answer")
        inline = bot.tg.inline_answers[0]
    clean = "Central bank cod.exe rate cut x now"
    assert clean in listing.text
    assert article.text.startswith(clean)
    assert inline.results[0]["title"] == clean
    for text in (listing.text, article.text):
        assert not any(ch in text for ch in "\u202e\u202c\u200b\u2066\u2069\ufeff\u200e")
