"""A strict Telegram Bot API test double: a real HTTP server on 127.0.0.1.

It speaks the Bot API at ``/bot<token>/<method>`` exactly as Telegram answers it (same statuses,
same ``{"ok": false, "error_code": ..., "description": ...}`` bodies), validates every call
against the Bot API 10.1 specification shipped in this package (``api.json``), keeps a model of
users, chats and messages, and lets tests inject updates and faults::

    from botapi_double import BotApiDouble
    from telegram.ext import Application

    async with BotApiDouble(token="123:ABC") as tg:
        app = Application.builder().token("123:ABC").base_url(tg.base_url).build()
        alice = tg.add_user("Alice")
        chat = tg.add_private_chat(alice)
        tg.send_text(chat, alice, "/start")
        ...  # run the app's polling
        [reply] = await tg.wait_for_messages(1, chat_id=chat.id)

Stricter than Telegram on purpose: unknown parameters and unknown fields in nested objects are
rejected (Telegram ignores them), an inline keyboard button must have exactly one action
field, and unknown named HTML entities such as ``&nbsp;`` are rejected (Telegram shows them
raw). HTML, Markdown and MarkdownV2 are parsed as Telegram parses them, with Telegram's errors.
Methods that exist in the spec but are not implemented answer ``True`` when the spec says they
return True and otherwise ``400 Bad Request: method not supported by the test double``.

Run it standalone with ``python -m botapi_double --port 8081 --token 123:ABC``.
"""

from botapi_double.double import BotApiDouble, ThreadedBotApiDouble
from botapi_double.errors import ApiError
from botapi_double.faults import FaultRule
from botapi_double.html import EntityParseError, ParsedText, parse_html, utf16_len
from botapi_double.markdown import parse_markdown_legacy, parse_markdown_v2
from botapi_double.spec import ApiSpec, load_spec
from botapi_double.state import (
    ApiCall,
    CallbackAnswer,
    Chat,
    InlineAnswer,
    RecordedMessage,
    User,
)

__all__ = [
    "ApiCall",
    "ApiError",
    "ApiSpec",
    "BotApiDouble",
    "CallbackAnswer",
    "Chat",
    "EntityParseError",
    "FaultRule",
    "InlineAnswer",
    "ParsedText",
    "RecordedMessage",
    "ThreadedBotApiDouble",
    "User",
    "load_spec",
    "parse_html",
    "parse_markdown_legacy",
    "parse_markdown_v2",
    "utf16_len",
]
