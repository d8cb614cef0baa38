"""The Bot API double, driven by python-telegram-bot's real Bot and Application (and raw httpx
for requests PTB would never send)."""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import subprocess
import sys
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import telegram
from aiohttp import web
from telegram import (
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    InlineQueryResultArticle,
    InputTextMessageContent,
    Update,
)
from telegram.error import (
    BadRequest,
    ChatMigrated,
    Conflict,
    Forbidden,
    NetworkError,
    RetryAfter,
    TimedOut,
)
from telegram.ext import Application, CommandHandler, ContextTypes
from telegram.request import HTTPXRequest

from botapi_double import BotApiDouble, ThreadedBotApiDouble, load_spec, parse_html, utf16_len
from botapi_double.html import EntityParseError
from tests.support.feedserver import feed_server as local_server

TOKEN = "123456:TEST-token"
ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture
async def tg() -> AsyncIterator[BotApiDouble]:
    async with BotApiDouble(TOKEN, bot_username="newsbot_test_bot") as double:
        yield double


@pytest.fixture
async def bot(tg: BotApiDouble) -> AsyncIterator[telegram.Bot]:
    async with telegram.Bot(TOKEN, base_url=tg.base_url) as ptb_bot:
        yield ptb_bot


@pytest.fixture
async def http() -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient() as client:
        yield client


async def raw(
    http: httpx.AsyncClient, tg: BotApiDouble, method: str, **kwargs: Any
) -> tuple[int, dict[str, Any]]:
    response = await http.post(tg.api_url(method), **kwargs)
    return response.status_code, response.json()


def button(text: str, data: str) -> InlineKeyboardMarkup:
    return InlineKeyboardMarkup([[InlineKeyboardButton(text, callback_data=data)]])


# -- the wire format -------------------------------------------------------------------------------


async def test_get_me(bot: telegram.Bot, tg: BotApiDouble) -> None:
    me = await bot.get_me()
    assert me.id == 123456
    assert me.username == "newsbot_test_bot"
    assert me.is_bot
    assert tg.calls("getMe")[-1].ok


async def test_unknown_method_token_and_parameter(
    tg: BotApiDouble, http: httpx.AsyncClient
) -> None:
    assert await raw(http, tg, "sendMessages", data={"chat_id": "1"}) == (
        404,
        {"ok": False, "error_code": 404, "description": "Not Found"},
    )
    response = await http.get(f"{tg.base_url}123456:WRONG/getMe")
    assert (response.status_code, response.json()["description"]) == (401, "Unauthorized")
    response = await http.get(f"{tg.base_url}not-a-token/getMe")
    assert response.status_code == 404
    chat = tg.add_private_chat(tg.add_user())
    status, body = await raw(
        http, tg, "sendMessage", data={"chat_id": chat.id, "text": "hi", "colour": "red"}
    )
    assert (status, body["description"]) == (400, "Bad Request: unknown parameter colour")
    # Method names are case-insensitive, as on Telegram.
    response = await http.get(tg.api_url("GETME"))
    assert response.json()["ok"] is True


async def test_missing_required_parameters(tg: BotApiDouble, http: httpx.AsyncClient) -> None:
    assert await raw(http, tg, "sendMessage", data={"text": "hi"}) == (
        400,
        {"ok": False, "error_code": 400, "description": "Bad Request: chat_id is empty"},
    )
    _, body = await raw(http, tg, "sendMessage", data={"chat_id": "5", "text": ""})
    assert body["description"] == "Bad Request: message text is empty"
    _, body = await raw(http, tg, "getChatMember", data={"chat_id": "5"})
    assert body["description"] == 'Bad Request: parameter "user_id" is required'


async def test_parameter_types_are_checked(tg: BotApiDouble, http: httpx.AsyncClient) -> None:
    status, body = await raw(http, tg, "getUpdates", data={"limit": "ten"})
    assert status == 400
    assert body["description"].startswith('Bad Request: invalid parameter "limit"')
    status, body = await raw(
        http, tg, "sendMessage", data={"chat_id": "1", "text": "x", "reply_markup": "{"}
    )
    assert body["description"] == "Bad Request: can't parse reply keyboard markup JSON object"


async def test_every_encoding_is_decoded(tg: BotApiDouble, http: httpx.AsyncClient) -> None:
    chat = tg.add_private_chat(tg.add_user())
    markup = {"inline_keyboard": [[{"text": "More", "callback_data": "more:1"}]]}
    # Form data with a JSON-serialised nested object, as python-telegram-bot sends it.
    status, _ = await raw(
        http,
        tg,
        "sendMessage",
        data={"chat_id": str(chat.id), "text": "form", "reply_markup": json.dumps(markup)},
    )
    assert status == 200
    # A JSON body with real nested objects and real types.
    status, _ = await raw(
        http, tg, "sendMessage", json={"chat_id": chat.id, "text": "json", "reply_markup": markup}
    )
    assert status == 200
    # A GET with query parameters.
    response = await http.get(
        tg.api_url("sendMessage"),
        params={"chat_id": chat.id, "text": "query", "disable_notification": "true"},
    )
    assert response.status_code == 200
    # Multipart form data.
    status, _ = await raw(
        http,
        tg,
        "sendMessage",
        data={"chat_id": str(chat.id), "text": "multipart"},
        files={"unused": ("a.txt", b"x", "text/plain")},
    )
    assert status == 200
    texts = [(m.text, m.reply_markup) for m in tg.sent(chat)]
    assert texts == [("form", markup), ("json", markup), ("query", None), ("multipart", None)]
    assert tg.sent(chat)[2].disable_notification is True


async def test_methods_not_implemented(tg: BotApiDouble, http: httpx.AsyncClient) -> None:
    group = tg.add_group("G", bot_is_admin=True)
    status, body = await raw(http, tg, "setChatTitle", data={"chat_id": group.id, "title": "T"})
    assert (status, body["result"]) == (200, True)  # the spec says it returns True
    status, body = await raw(http, tg, "getStickerSet", data={"name": "x"})
    assert status == 400
    assert "not supported by the test double" in body["description"]


# -- text, HTML and length -------------------------------------------------------------------------


async def test_send_message_html_records_text_and_entities(
    bot: telegram.Bot, tg: BotApiDouble
) -> None:
    chat = tg.add_private_chat(tg.add_user("Alice"))
    html = (
        '😀 <b>Bold</b> <a href="https://example.com/a">link</a> '
        '<pre><code class="language-python">x = 1</code></pre> a &lt; b &amp; c'
    )
    sent = await bot.send_message(chat.id, html, parse_mode="HTML")
    [recorded] = tg.sent(chat.id)
    assert recorded.text == "😀 Bold link x = 1 a < b & c"
    assert recorded.text == sent.text
    assert recorded.source_text == html
    assert recorded.parse_mode == "HTML"
    assert recorded.entities == [
        {"type": "bold", "offset": 3, "length": 4},
        {"type": "text_link", "offset": 8, "length": 4, "url": "https://example.com/a"},
        {"type": "pre", "offset": 13, "length": 5, "language": "python"},
    ]
    assert [e.type for e in sent.entities] == ["bold", "text_link", "pre"]
    assert sent.from_user is not None
    assert sent.from_user.id == tg.bot.id
    assert sent.message_id == recorded.message_id == 1


@pytest.mark.parametrize(
    ("html", "reason"),
    [
        ("<script>alert(1)</script>", 'Unsupported start tag "script" at byte offset 0'),
        ("<b>never closed", 'Can\'t find end tag corresponding to start tag "b"'),
        (
            "<b><i>x</b></i>",
            'Unmatched end tag at byte offset 7, expected "</i>", found "</b>"',
        ),
        ("x</b>", "Unexpected end tag at byte offset 1"),
        ("1 < 2", 'Unsupported start tag "" at byte offset 2'),
        ("<span>s</span>", 'Tag "span" must have class "tg-spoiler" at byte offset 0'),
        ("a&nbsp;b", 'Unsupported HTML entity "&nbsp;" at byte offset 1'),
    ],
)
async def test_bad_html_is_rejected_like_telegram(
    tg: BotApiDouble, http: httpx.AsyncClient, html: str, reason: str
) -> None:
    chat = tg.add_private_chat(tg.add_user())
    status, body = await raw(
        http, tg, "sendMessage", data={"chat_id": chat.id, "text": html, "parse_mode": "HTML"}
    )
    assert status == 400
    assert body["description"].startswith(f"Bad Request: can't parse entities: {reason}")
    assert tg.sent() == []


async def test_bad_html_surfaces_as_bad_request_in_ptb(bot: telegram.Bot, tg: BotApiDouble) -> None:
    chat = tg.add_private_chat(tg.add_user())
    with pytest.raises(BadRequest, match=r"(?i)can't parse entities: unsupported start tag"):
        await bot.send_message(chat.id, "<script>x</script>", parse_mode="HTML")


def test_html_parser_covers_the_supported_subset() -> None:
    parsed = parse_html(
        "<strong>b</strong><em>i</em><ins>u</ins><del>s</del><tg-spoiler>p</tg-spoiler>"
        '<span class="tg-spoiler">q</span><code>c</code><blockquote expandable>e</blockquote>'
        '<tg-emoji emoji-id="5368324170671202286">👍</tg-emoji><a href="tg://user?id=7">m</a>'
        "&#65;&#x42;&quot;"
    )
    assert parsed.text == 'biuspqce👍mAB"'
    assert [e["type"] for e in parsed.entities] == [
        "bold",
        "italic",
        "underline",
        "strikethrough",
        "spoiler",
        "spoiler",
        "code",
        "expandable_blockquote",
        "custom_emoji",
        "text_mention",
    ]
    assert parsed.entities[-2] == {
        "type": "custom_emoji",
        "offset": 8,
        "length": 2,
        "custom_emoji_id": "5368324170671202286",
    }
    # Telegram itself shows unknown named entities literally; the double can too.
    assert parse_html("AT&T &nbsp;", strict_entities=False).text == "AT&T &nbsp;"
    with pytest.raises(EntityParseError):
        parse_html("&nbsp;")


async def test_text_length_is_counted_in_utf16_after_parsing(
    bot: telegram.Bot, tg: BotApiDouble
) -> None:
    chat = tg.add_private_chat(tg.add_user())
    await bot.send_message(chat.id, "a" * 4096)
    await bot.send_message(chat.id, "😀" * 2048)  # 4096 UTF-16 code units
    await bot.send_message(chat.id, f"<b>{'b' * 4096}</b>", parse_mode="HTML")
    with pytest.raises(BadRequest, match=r"(?i)message is too long"):
        await bot.send_message(chat.id, "a" * 4097)
    with pytest.raises(BadRequest, match=r"(?i)message is too long"):
        await bot.send_message(chat.id, "😀" * 2049)
    with pytest.raises(BadRequest, match=r"(?i)message text is empty"):
        await bot.send_message(chat.id, "  \n ")
    with pytest.raises(BadRequest, match=r"(?i)message text is empty"):
        await bot.send_message(chat.id, "<b></b>", parse_mode="HTML")
    assert [utf16_len(m.text) for m in tg.sent(chat)] == [4096, 4096, 4096]


async def test_markdown_parse_modes(bot: telegram.Bot, tg: BotApiDouble) -> None:
    chat = tg.add_private_chat(tg.add_user())
    with pytest.raises(BadRequest, match=r"(?i)unsupported parse_mode"):
        await bot.send_message(chat.id, "x", parse_mode="BBCode")
    await bot.send_message(
        chat.id, "*Top* [story](https://example.com/s) ||spoiler|| 1\\.5", parse_mode="MarkdownV2"
    )
    assert tg.sent(chat)[-1].text == "Top story spoiler 1.5"
    assert tg.sent(chat)[-1].entities == [
        {"type": "bold", "offset": 0, "length": 3},
        {"type": "text_link", "offset": 4, "length": 5, "url": "https://example.com/s"},
        {"type": "spoiler", "offset": 10, "length": 7},
    ]
    with pytest.raises(BadRequest, match=r"(?i)character '\.' is reserved"):
        await bot.send_message(chat.id, "Version 1.5", parse_mode="MarkdownV2")
    with pytest.raises(BadRequest, match=r"(?i)can't find end of bold entity at byte offset 0"):
        await bot.send_message(chat.id, "*unclosed", parse_mode="MarkdownV2")
    with pytest.raises(BadRequest, match=r"(?i)can't find end of the entity starting at byte"):
        await bot.send_message(chat.id, "snake_case", parse_mode="Markdown")
    await bot.send_message(chat.id, "*bold* `code`", parse_mode="Markdown")
    assert [e["type"] for e in tg.sent(chat)[-1].entities] == ["bold", "code"]


# -- keyboards -------------------------------------------------------------------------------------


async def test_callback_data_is_limited_to_64_bytes(bot: telegram.Bot, tg: BotApiDouble) -> None:
    chat = tg.add_private_chat(tg.add_user())
    await bot.send_message(chat.id, "ok", reply_markup=button("x", "d" * 64))
    with pytest.raises(BadRequest, match=r"(?i)button_data_invalid"):
        await bot.send_message(chat.id, "no", reply_markup=button("x", "d" * 65))
    with pytest.raises(BadRequest, match=r"(?i)button_data_invalid"):
        await bot.send_message(chat.id, "no", reply_markup=button("x", "€" * 22))  # 66 bytes
    assert len(tg.sent(chat)) == 1


async def test_inline_buttons_are_validated_against_the_spec(
    tg: BotApiDouble, http: httpx.AsyncClient
) -> None:
    chat = tg.add_private_chat(tg.add_user())

    async def send(markup: object) -> str:
        status, body = await raw(
            http, tg, "sendMessage", json={"chat_id": chat.id, "text": "x", "reply_markup": markup}
        )
        assert status == 400
        return str(body["description"])

    no_action = {"inline_keyboard": [[{"text": "x"}]]}
    assert await send(no_action) == (
        "Bad Request: can't parse inline keyboard button: "
        "Text buttons are unallowed in the inline keyboard"
    )
    two_actions = {"inline_keyboard": [[{"text": "x", "url": "https://a.b", "callback_data": "d"}]]}
    assert "exactly one of the optional action fields" in await send(two_actions)
    no_text = {"inline_keyboard": [[{"callback_data": "d"}]]}
    assert await send(no_text) == (
        "Bad Request: can't parse inline keyboard button: Can't find field \"text\""
    )
    unknown = {"inline_keyboard": [[{"text": "x", "callback_data": "d", "colour": "red"}]]}
    assert 'Unknown field "colour"' in await send(unknown)
    wrong_type = {"inline_keyboard": [[{"text": 5, "callback_data": "d"}]]}
    assert 'Field "text" must be of type String' in await send(wrong_type)


async def test_edit_message_text_and_markup(bot: telegram.Bot, tg: BotApiDouble) -> None:
    chat = tg.add_private_chat(tg.add_user())
    sent = await bot.send_message(chat.id, "v1", reply_markup=button("x", "a"))
    edited = await bot.edit_message_text("<i>v2</i>", chat.id, sent.message_id, parse_mode="HTML")
    assert isinstance(edited, telegram.Message)
    assert edited.text == "v2"
    assert edited.edit_date is not None
    [recorded] = tg.sent(chat)
    assert (recorded.text, recorded.edited, recorded.reply_markup) == ("v2", True, None)
    assert recorded.entities == [{"type": "italic", "offset": 0, "length": 2}]
    assert recorded.history[0][0] == "v1"
    with pytest.raises(BadRequest, match=r"(?i)message is not modified"):
        await bot.edit_message_text("<i>v2</i>", chat.id, sent.message_id, parse_mode="HTML")
    await bot.edit_message_reply_markup(chat.id, sent.message_id, reply_markup=button("y", "b"))
    assert recorded.callback_data() == ["b"]
    with pytest.raises(BadRequest, match=r"(?i)message is not modified"):
        await bot.edit_message_reply_markup(chat.id, sent.message_id, reply_markup=button("y", "b"))
    with pytest.raises(BadRequest, match=r"(?i)message to edit not found"):
        await bot.edit_message_text("v3", chat.id, 999)
    assert await bot.delete_message(chat.id, sent.message_id)
    with pytest.raises(BadRequest, match=r"(?i)message to delete not found"):
        await bot.delete_message(chat.id, sent.message_id)


async def test_replies_reference_existing_messages(bot: telegram.Bot, tg: BotApiDouble) -> None:
    alice = tg.add_user()
    chat = tg.add_private_chat(alice)
    question = tg.send_text(chat, alice, "what's new?")
    answer = await bot.send_message(
        chat.id, "this", reply_parameters=telegram.ReplyParameters(question.message_id)
    )
    assert answer.reply_to_message is not None
    assert answer.reply_to_message.text == "what's new?"
    assert tg.sent(chat)[0].reply_to_message_id == question.message_id
    with pytest.raises(BadRequest, match=r"(?i)message to be replied not found"):
        await bot.send_message(chat.id, "x", reply_parameters=telegram.ReplyParameters(999))
    reply = tg.reply_to(answer, "thanks")
    [_, update] = await bot.get_updates(timeout=0)
    assert update.message is not None
    assert update.message.reply_to_message is not None
    assert update.message.reply_to_message.message_id == answer.message_id
    assert reply.message_id > answer.message_id


# -- chats -----------------------------------------------------------------------------------------


async def test_chat_states_give_telegrams_errors(bot: telegram.Bot, tg: BotApiDouble) -> None:
    alice = tg.add_user("Alice")
    chat = tg.add_private_chat(alice)
    tg.block_bot(alice)
    with pytest.raises(Forbidden, match="bot was blocked by the user"):
        await bot.send_message(chat.id, "hi")
    tg.unblock_bot(alice)
    await bot.send_message(chat.id, "hi again")

    with pytest.raises(BadRequest, match=r"(?i)chat not found"):
        await bot.send_message(-42, "hi")
    stranger = tg.add_user("Bob")
    with pytest.raises(Forbidden, match="bot can't initiate conversation with a user"):
        await bot.send_message(stranger.id, "hi")

    group = tg.add_group("Readers", admins=[alice])
    tg.kick_bot(group)
    with pytest.raises(Forbidden, match="bot was kicked from the group chat"):
        await bot.send_message(group.id, "hi")

    channel = tg.add_channel("news_channel", bot_is_admin=False)
    with pytest.raises(BadRequest, match=r"(?i)need administrator rights in the channel chat"):
        await bot.send_message("@news_channel", "hi")
    posting = tg.add_channel("posting_channel")
    post = await bot.send_message("@posting_channel", "<b>news</b>", parse_mode="HTML")
    assert post.chat.id == posting.id
    assert post.sender_chat is not None
    assert post.sender_chat.id == posting.id
    assert channel.id != posting.id


async def test_migrated_group_raises_chat_migrated(bot: telegram.Bot, tg: BotApiDouble) -> None:
    group = tg.add_group("Old group", admins=[tg.add_user()])
    new_id = tg.migrate_group(group)
    with pytest.raises(ChatMigrated) as caught:
        await bot.send_message(group.id, "hi")
    assert caught.value.new_chat_id == new_id
    await bot.send_message(new_id, "hi")
    assert tg.sent(new_id)[0].text == "hi"


async def test_get_chat_member_and_administrators(bot: telegram.Bot, tg: BotApiDouble) -> None:
    owner, admin, member = tg.add_user("O"), tg.add_user("A"), tg.add_user("M")
    group = tg.add_group("G", admins=[owner, admin], members=[member], supergroup=True)
    chat = await bot.get_chat(group.id)
    assert (chat.type, chat.title) == ("supergroup", "G")
    statuses = [(m.user.id, m.status) for m in await bot.get_chat_administrators(group.id)]
    assert statuses == [(owner.id, "creator"), (admin.id, "administrator")]
    assert (await bot.get_chat_member(group.id, member.id)).status == "member"
    assert (await bot.get_chat_member(group.id, tg.bot.id)).status == "member"
    with pytest.raises(BadRequest, match=r"(?i)user not found"):
        await bot.get_chat_member(group.id, 5)
    assert await bot.send_chat_action(group.id, "typing")


# -- updates ---------------------------------------------------------------------------------------


async def test_long_polling_returns_an_update_injected_while_waiting(
    bot: telegram.Bot, tg: BotApiDouble
) -> None:
    alice = tg.add_user("Alice")
    chat = tg.add_private_chat(alice)
    # A poll that may wait 50 s: the update ends it, its timeout cannot have.
    poll = asyncio.create_task(bot.get_updates(timeout=50, read_timeout=60))
    await tg.wait_for(lambda: tg.polling, what="the poll to start")
    assert not poll.done()
    tg.send_text(chat, alice, "/latest 3")
    updates = await asyncio.wait_for(poll, 40)
    [update] = updates
    assert update.message is not None
    assert update.message.text == "/latest 3"
    assert update.message.entities[0].type == "bot_command"
    assert update.message.entities[0].length == len("/latest")
    # Nothing is confirmed until an offset above it is sent.
    assert len(await bot.get_updates(timeout=0)) == 1
    assert await bot.get_updates(offset=update.update_id + 1, timeout=0) == ()
    assert tg.pending_updates == []


async def test_long_polling_waits_for_its_timeout(bot: telegram.Bot, tg: BotApiDouble) -> None:
    # Held open for the whole timeout (a lower bound cannot flake; an upper one could).
    started = time.monotonic()
    assert await bot.get_updates(timeout=1) == ()
    assert time.monotonic() - started >= 0.9


async def test_limit_and_allowed_updates(bot: telegram.Bot, tg: BotApiDouble) -> None:
    alice = tg.add_user()
    chat = tg.add_private_chat(alice)
    for n in range(3):
        tg.send_text(chat, alice, f"m{n}")
    first = await bot.get_updates(limit=2, timeout=0)
    assert [u.message.text for u in first if u.message] == ["m0", "m1"]
    await bot.get_updates(offset=first[-1].update_id + 1, timeout=0, allowed_updates=["message"])
    sent = await bot.send_message(chat.id, "pick", reply_markup=button("x", "x"))
    tg.press_button(sent, "x")  # callback queries are not allowed any more: dropped
    tg.send_text(chat, alice, "m3")
    assert [u.message.text for u in await bot.get_updates(timeout=0) if u.message] == ["m2", "m3"]


async def test_overlapping_polls_conflict(
    bot: telegram.Bot, tg: BotApiDouble, http: httpx.AsyncClient
) -> None:
    first = asyncio.create_task(bot.get_updates(timeout=20, read_timeout=30))
    await tg.wait_for(lambda: tg.polling)
    status, body = await raw(http, tg, "getUpdates", data={"timeout": "0"})
    assert (status, body["result"]) == (200, [])
    with pytest.raises(Conflict, match="terminated by other getUpdates request"):
        await asyncio.wait_for(first, 5)


async def test_webhook_blocks_get_updates_and_receives_updates(
    bot: telegram.Bot, tg: BotApiDouble
) -> None:
    received: list[tuple[dict[str, Any], str | None]] = []

    async def hook(request: web.Request) -> web.Response:
        received.append(
            (await request.json(), request.headers.get("X-Telegram-Bot-Api-Secret-Token"))
        )
        chat_id = received[-1][0]["message"]["chat"]["id"]
        # Answer the webhook request with a method call, as Telegram allows.
        return web.json_response({"method": "sendMessage", "chat_id": chat_id, "text": "pong"})

    async with local_server({"/hook": hook}) as receiver:
        assert await bot.set_webhook(receiver.url("/hook"), secret_token="s3cret")
        with pytest.raises(Conflict, match="can't use getUpdates method while webhook is active"):
            await bot.get_updates()
        info = await bot.get_webhook_info()
        assert info.url.endswith("/hook")
        alice = tg.add_user()
        chat = tg.add_private_chat(alice)
        tg.send_text(chat, alice, "ping")
        [reply] = await tg.wait_for_messages(1, chat_id=chat.id)
        assert reply.text == "pong"
        assert received[0][0]["message"]["text"] == "ping"
        assert received[0][1] == "s3cret"
        assert await bot.delete_webhook()
        assert await bot.get_updates(timeout=0) == ()


async def test_group_commands_and_privacy_mode(bot: telegram.Bot, tg: BotApiDouble) -> None:
    alice = tg.add_user("Alice")
    group = tg.add_group("G", admins=[alice])
    tg.send_text(group, alice, "just chatting")  # privacy mode: not for the bot
    tg.send_text(group, alice, "/latest@other_bot")  # another bot's command
    tg.send_text(group, alice, "/latest@newsbot_test_bot 5")
    [update] = await bot.get_updates(timeout=0)
    assert update.message is not None
    assert update.message.text == "/latest@newsbot_test_bot 5"
    entity = update.message.entities[0]
    assert (entity.type, entity.offset, entity.length) == ("bot_command", 0, 24)


async def test_my_chat_member_and_migration_updates(bot: telegram.Bot, tg: BotApiDouble) -> None:
    alice = tg.add_user()
    group = tg.add_group("G", admins=[alice], bot_is_admin=False)
    tg.my_chat_member(group, "left", "member", by=alice)
    new_id = tg.migrate_update(group)
    updates = await bot.get_updates(timeout=0)
    member = updates[0].my_chat_member
    assert member is not None
    assert (member.old_chat_member.status, member.new_chat_member.status) == ("left", "member")
    assert updates[1].message is not None
    assert updates[1].message.migrate_to_chat_id == new_id
    assert updates[2].message is not None
    assert updates[2].message.migrate_from_chat_id == group.id


async def test_injected_updates_match_the_spec(bot: telegram.Bot, tg: BotApiDouble) -> None:
    spec = load_spec()
    alice = tg.add_user("Alice", username="alice")
    chat = tg.add_private_chat(alice)
    sent = await bot.send_message(
        chat.id, "<b>x</b>", parse_mode="HTML", reply_markup=button("x", "d")
    )
    tg.send_text(chat, alice, "/start")
    tg.reply_to(sent, "a reply")
    tg.press_button(sent, "d")
    tg.inline_query(alice, "words")
    tg.block_bot(alice)
    for update in tg.pending_updates:
        assert spec.object_errors("Update", update) == [], update


# -- callback and inline queries -------------------------------------------------------------------


async def test_answer_callback_query(bot: telegram.Bot, tg: BotApiDouble) -> None:
    alice = tg.add_user()
    chat = tg.add_private_chat(alice)
    sent = await bot.send_message(chat.id, "pick", reply_markup=button("More", "more:1"))
    query_id = tg.press_button(sent, "more:1")
    [update] = await bot.get_updates(timeout=0)
    assert update.callback_query is not None
    assert (update.callback_query.id, update.callback_query.data) == (query_id, "more:1")
    with pytest.raises(BadRequest, match=r"(?i)message_too_long"):
        await bot.answer_callback_query(query_id, text="x" * 201)
    assert await bot.answer_callback_query(query_id, text="Loading")
    assert [(a.query_id, a.text) for a in tg.callback_answers] == [(query_id, "Loading")]
    with pytest.raises(BadRequest, match=r"(?i)query is too old"):
        await bot.answer_callback_query(query_id)
    with pytest.raises(BadRequest, match=r"(?i)query id is invalid"):
        await bot.answer_callback_query("12345")
    with pytest.raises(ValueError, match="no button with callback_data"):
        tg.press_button(sent, "missing")


async def test_answer_inline_query_validation(bot: telegram.Bot, tg: BotApiDouble) -> None:
    alice = tg.add_user()
    query_id = tg.inline_query(alice, "economy")

    def article(result_id: str, text: str = "Body") -> InlineQueryResultArticle:
        return InlineQueryResultArticle(result_id, "Title", InputTextMessageContent(text))

    with pytest.raises(BadRequest, match=r"(?i)result_id_duplicate"):
        await bot.answer_inline_query(query_id, [article("1"), article("1")])
    with pytest.raises(BadRequest, match=r"(?i)results_too_much"):
        await bot.answer_inline_query(query_id, [article(str(n)) for n in range(51)])
    with pytest.raises(BadRequest, match=r"(?i)can't parse entities"):
        await bot.answer_inline_query(
            query_id,
            [
                InlineQueryResultArticle(
                    "1", "T", InputTextMessageContent("<b>x", parse_mode="HTML")
                )
            ],
        )
    assert await bot.answer_inline_query(query_id, [article("1"), article("2")], cache_time=5)
    [answer] = tg.inline_answers
    assert [r["id"] for r in answer.results] == ["1", "2"]
    assert answer.cache_time == 5
    with pytest.raises(BadRequest, match=r"(?i)query is too old"):
        await bot.answer_inline_query(query_id, [])


async def test_answer_inline_query_needs_message_content(
    tg: BotApiDouble, http: httpx.AsyncClient
) -> None:
    query_id = tg.inline_query(tg.add_user(), "x")
    results = [{"type": "article", "id": "1", "title": "T"}]
    status, body = await raw(
        http, tg, "answerInlineQuery", json={"inline_query_id": query_id, "results": results}
    )
    assert status == 400
    assert 'Can\'t find field "input_message_content"' in body["description"]


async def test_set_my_commands_validation(bot: telegram.Bot, tg: BotApiDouble) -> None:
    await bot.set_my_commands([("latest", "Latest news"), ("sub", "Subscribe to a topic")])
    assert tg.commands == [
        {"command": "latest", "description": "Latest news"},
        {"command": "sub", "description": "Subscribe to a topic"},
    ]
    assert [c.command for c in await bot.get_my_commands()] == ["latest", "sub"]
    for bad in ("Latest", "with-dash", "x" * 33, ""):
        with pytest.raises(BadRequest, match=r"(?i)bot_command_invalid"):
            await bot.set_my_commands([(bad, "description")])
    with pytest.raises(BadRequest, match=r"(?i)bot_command_description_invalid"):
        await bot.set_my_commands([("ok", "d" * 257)])
    with pytest.raises(BadRequest, match=r"(?i)too many commands"):
        await bot.set_my_commands([(f"c{n}", "d") for n in range(101)])
    assert len(tg.commands) == 2
    await bot.set_my_commands([("hello", "Hi")], language_code="ru")
    assert tg.commands_for(language_code="ru") == [{"command": "hello", "description": "Hi"}]
    for code in ("ru-RU", "rus", "RU"):  # the spec: a two-letter ISO 639-1 code
        with pytest.raises(BadRequest, match=r"(?i)invalid language code specified"):
            await bot.set_my_commands([("hello", "Hi")], language_code=code)
    assert tg.commands_for(language_code="ru") == [{"command": "hello", "description": "Hi"}]


async def test_descriptions_are_kept_per_language(bot: telegram.Bot, tg: BotApiDouble) -> None:
    await bot.set_my_description("News as it happens")
    await bot.set_my_description("Новости сразу", language_code="ru")
    await bot.set_my_short_description("News")
    await bot.set_my_short_description("Новости", language_code="ru")
    assert (tg.description(), tg.description("ru")) == ("News as it happens", "Новости сразу")
    assert (tg.short_description(), tg.short_description("ru")) == ("News", "Новости")
    assert (await bot.get_my_description("ru")).description == "Новости сразу"
    # A language without its own sees the default, as in Telegram.
    assert (await bot.get_my_short_description("de")).short_description == "News"
    assert tg.short_description("de") is None
    with pytest.raises(BadRequest, match=r"(?i)^description is too long"):
        await bot.set_my_description("d" * 513, language_code="ru")
    with pytest.raises(BadRequest, match=r"(?i)short_description is too long"):
        await bot.set_my_short_description("s" * 121)
    with pytest.raises(BadRequest, match=r"(?i)invalid language code specified"):
        await bot.set_my_description("x", language_code="ru_RU")
    await bot.set_my_description("d" * 512, language_code="ru")  # the limit itself is fine
    await bot.set_my_description("", language_code="ru")  # empty removes that language's
    assert tg.description("ru") is None
    assert (await bot.get_my_description("ru")).description == "News as it happens"


# -- faults and flood limits -----------------------------------------------------------------------


async def test_rate_limit_answers_429_with_retry_after(bot: telegram.Bot, tg: BotApiDouble) -> None:
    tg.set_rate_limits(global_per_second=30, per_private_chat_per_second=1)
    chat = tg.add_private_chat(tg.add_user())
    other = tg.add_private_chat(tg.add_user())
    await bot.send_message(chat.id, "first")
    with pytest.raises(RetryAfter) as caught:
        await bot.send_message(chat.id, "second")
    assert caught.value.retry_after == dt.timedelta(seconds=1)
    await bot.send_message(other.id, "another chat is fine")
    assert tg.too_many_requests == 1
    [limited] = [c for c in tg.calls("sendMessage") if c.status == 429]
    assert limited.response == {
        "ok": False,
        "error_code": 429,
        "description": "Too Many Requests: retry after 1",
        "parameters": {"retry_after": 1},
    }


async def test_paid_broadcasts_have_their_own_overall_limit(
    bot: telegram.Bot, tg: BotApiDouble
) -> None:
    tg.set_rate_limits(global_per_second=2, per_private_chat_per_second=1, paid_per_second=4)
    chats = [tg.add_private_chat(tg.add_user()) for _ in range(6)]
    await bot.send_message(chats[0].id, "free 1")
    await bot.send_message(chats[1].id, "free 2")
    with pytest.raises(RetryAfter):
        await bot.send_message(chats[2].id, "free 3: over the free limit")
    await bot.send_message(chats[2].id, "paid 1", allow_paid_broadcast=True)
    await bot.send_message(chats[3].id, "paid 2", allow_paid_broadcast=True)
    # Free messages count against the overall paid limit too: 2 free + 2 paid = 4.
    with pytest.raises(RetryAfter):
        await bot.send_message(chats[4].id, "paid 3", allow_paid_broadcast=True)
    # A chat's own limit holds for paid messages.
    tg.set_rate_limits(global_per_second=2, per_private_chat_per_second=1, paid_per_second=4)
    await bot.send_message(chats[5].id, "paid 4", allow_paid_broadcast=True)
    with pytest.raises(RetryAfter):
        await bot.send_message(chats[5].id, "paid 5", allow_paid_broadcast=True)
    assert tg.too_many_requests == 3
    sent = [(c.params.get("allow_paid_broadcast"), c.status) for c in tg.calls("sendMessage")]
    assert sent[2:5] == [(None, 429), (True, 200), (True, 200)]


async def test_group_limit_is_per_minute(bot: telegram.Bot, tg: BotApiDouble) -> None:
    tg.set_rate_limits(
        global_per_second=None, per_private_chat_per_second=None, per_group_per_minute=2
    )
    group = tg.add_group("G")
    await bot.send_message(group.id, "1")
    await bot.send_message(group.id, "2")
    await bot.send_chat_action(group.id, "typing")  # not a message: not limited
    with pytest.raises(RetryAfter):
        await bot.send_message(group.id, "3")
    assert [m.text for m in tg.sent(group)] == ["1", "2"]


async def test_fail_next_and_5xx(bot: telegram.Bot, tg: BotApiDouble) -> None:
    chat = tg.add_private_chat(tg.add_user())
    tg.fail_next("sendMessage", chat, error_code=403, description="Forbidden: user is deactivated")
    with pytest.raises(Forbidden, match="user is deactivated"):
        await bot.send_message(chat.id, "x")
    tg.inject_5xx("sendMessage", status=502)
    with pytest.raises(NetworkError, match="Bad Gateway"):
        await bot.send_message(chat.id, "x")
    await bot.send_message(chat.id, "delivered")
    assert [m.text for m in tg.sent(chat)] == ["delivered"]
    assert [c.status for c in tg.calls("sendMessage")] == [403, 502, 200]


async def test_delayed_answer_and_dropped_connection(tg: BotApiDouble) -> None:
    chat = tg.add_private_chat(tg.add_user())
    request = HTTPXRequest(read_timeout=0.3)
    async with telegram.Bot(TOKEN, base_url=tg.base_url, request=request) as bot:
        tg.inject_timeout("sendMessage", 2.0)  # executed at once, answered late
        with pytest.raises(TimedOut):
            await bot.send_message(chat.id, "late")
        assert [m.text for m in tg.sent(chat)] == ["late"]

        tg.drop_connection("sendMessage")  # not executed
        with pytest.raises(NetworkError):
            await bot.send_message(chat.id, "dropped")
        tg.drop_connection("sendMessage", executed=True)
        with pytest.raises(NetworkError):
            await bot.send_message(chat.id, "sent but dropped")
        await bot.send_message(chat.id, "fine")
    assert [m.text for m in tg.sent(chat)] == ["late", "sent but dropped", "fine"]
    faults = [c.fault for c in tg.calls("sendMessage")]
    assert faults[1:3] == ["dropped connection", "dropped connection"]


async def test_wait_for_times_out_with_a_summary(bot: telegram.Bot, tg: BotApiDouble) -> None:
    chat = tg.add_private_chat(tg.add_user())
    await bot.send_message(chat.id, "only one")
    with pytest.raises(AssertionError, match=r"(?s)2 message.*only one"):
        await tg.wait_for_messages(2, chat_id=chat.id, timeout=0.2)


# -- a whole python-telegram-bot Application -------------------------------------------------------


async def test_application_polling_replies_to_start(tg: BotApiDouble) -> None:
    async def start(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        assert update.effective_message is not None
        await update.effective_message.reply_html("<b>Welcome</b> to the news")

    app = Application.builder().token(TOKEN).base_url(tg.base_url).build()
    app.add_handler(CommandHandler("start", start))
    alice = tg.add_user("Alice")
    chat = tg.add_private_chat(alice)
    await app.initialize()
    await app.start()
    assert app.updater is not None
    await app.updater.start_polling(timeout=5)
    try:
        tg.send_text(chat, alice, "/start")
        [reply] = await tg.wait_for_messages(1, chat_id=chat.id)
    finally:
        await app.updater.stop()
        await app.stop()
        await app.shutdown()
    assert reply.text == "Welcome to the news"
    assert reply.entities == [{"type": "bold", "offset": 0, "length": 7}]
    assert reply.reply_to_message_id is None
    assert tg.pending_updates == []  # the /start update was confirmed on shutdown


# -- other ways to run it --------------------------------------------------------------------------


def test_threaded_double_serves_sync_code() -> None:
    with ThreadedBotApiDouble(token=TOKEN) as runner:
        chat = runner.call(lambda tg: tg.add_private_chat(tg.add_user("Alice")))
        response = httpx.post(
            f"{runner.base_url}{TOKEN}/sendMessage", data={"chat_id": chat.id, "text": "hi"}
        )
        assert response.json()["result"]["text"] == "hi"
        sent = runner.run(lambda tg: tg.wait_for_messages(1))
        assert sent[0].text == "hi"


def test_module_entry_point_prints_its_base_url() -> None:
    process = subprocess.Popen(
        [sys.executable, "-m", "botapi_double", "--port", "0", "--token", TOKEN],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stdout is not None
        base_url = process.stdout.readline().strip()
        assert base_url.startswith("http://127.0.0.1:")
        assert base_url.endswith("/bot")
        response = httpx.get(f"{base_url}{TOKEN}/getMe")
        assert response.json()["result"]["id"] == 123456
    finally:
        process.terminate()
        process.wait(10)
        if process.stdout is not None:
            process.stdout.close()
    assert process.returncode == 0
