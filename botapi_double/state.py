"""The double's model of Telegram: users, chats, messages, pending updates and what was called.

Everything here is plain synchronous Python, changed only from the event loop that runs the
server. The server's method handlers (``methods.py``) and the test-facing API
(:class:`botapi_double.BotApiDouble`) both work on one :class:`BotState`.

Identifiers follow Telegram's shapes: users are positive, basic groups are small negative
numbers and supergroups and channels are ``-100...``. Message ids increase per chat. Dates are
Unix seconds in the Bot API objects and aware UTC datetimes in the records.

The model is built in layers, one module each: ``model.py`` (the records), ``world.py`` (users
and chats, and the bot's rights in them), ``updates.py`` (what users do, queued as updates),
``serialise.py`` (Bot API objects); :class:`BotState` adds the record of what the bot did.
"""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

from botapi_double.model import (
    ApiCall,
    CallbackAnswer,
    CallbackQueryRecord,
    Chat,
    ChatType,
    InlineAnswer,
    InlineQueryRecord,
    MemberStatus,
    RecordedMessage,
    StoredFile,
    User,
    unix,
    utcnow,
)
from botapi_double.serialise import chat_full_info, chat_member, message_api
from botapi_double.updates import (
    ALL_UPDATE_TYPES,
    DEFAULT_UPDATE_TYPES,
    PendingUpdate,
    Signal,
    UpdateQueue,
)

__all__ = [
    "ALL_UPDATE_TYPES",
    "DEFAULT_UPDATE_TYPES",
    "ApiCall",
    "BotState",
    "CallbackAnswer",
    "CallbackQueryRecord",
    "Chat",
    "ChatType",
    "InlineAnswer",
    "InlineQueryRecord",
    "MemberStatus",
    "PendingUpdate",
    "RecordedMessage",
    "Signal",
    "StoredFile",
    "User",
    "commands_key",
    "unix",
    "utcnow",
]


class BotState(UpdateQueue):
    """Users, chats, messages, the update queue and the record of everything the bot did."""

    def __init__(
        self,
        *,
        token: str,
        bot_username: str,
        bot_name: str = "Test Bot",
        privacy_mode: bool = True,
        query_ttl: float = 15.0,
    ) -> None:
        super().__init__(
            token=token,
            bot_username=bot_username,
            bot_name=bot_name,
            privacy_mode=privacy_mode,
            query_ttl=query_ttl,
        )
        self.outgoing: list[RecordedMessage] = []
        self._outgoing_by_chat: dict[int, list[RecordedMessage]] = {}
        self.callback_answers: list[CallbackAnswer] = []
        self.inline_answers: list[InlineAnswer] = []
        self.commands: dict[tuple[str, str], list[dict[str, str]]] = {}
        # The bot's description and short description by language_code ("" is the default
        # every language without its own falls back to), as set*Description left them.
        self.descriptions: dict[str, str] = {}
        self.short_descriptions: dict[str, str] = {}
        self.calls: list[ApiCall] = []
        self.downloads: list[str] = []  # file_id of each file the bot downloaded
        self._calls_by_method: dict[str, list[ApiCall]] = {}
        self.webhook_url: str = ""
        self.webhook_secret: str | None = None
        self.webhook_max_connections = 40
        self.webhook_last_error: tuple[dt.datetime, str] | None = None
        self.activity = Signal()
        # Picture URLs Telegram cannot use, with its error description for each.
        self.refused_pictures: dict[str, str] = {}

    # -- Bot API objects --------------------------------------------------------------------------

    def chat_member_api(self, chat: Chat, user: User) -> dict[str, Any]:
        """Return the Bot API ``ChatMember`` of ``user`` in ``chat``."""
        status = self.member_status(chat, user.id)
        return chat_member(user, status, can_post=chat.bot_can_post or user is not self.bot)

    def chat_full_info(self, chat: Chat) -> dict[str, Any]:
        """Return the Bot API ``ChatFullInfo`` of ``chat``."""
        return chat_full_info(chat)

    def message_api(self, message: RecordedMessage, *, with_reply: bool = True) -> dict[str, Any]:
        """Return the Bot API ``Message`` object for a recorded message."""
        return message_api(self.chats, self.messages, message, with_reply=with_reply)

    # -- what the bot did -------------------------------------------------------------------------

    def sent(self, chat_id: int | None = None) -> list[RecordedMessage]:
        """Return the bot's messages (including deleted ones), oldest first."""
        if chat_id is None:
            return list(self.outgoing)
        return list(self._outgoing_by_chat.get(chat_id, []))

    def sent_count(self, chat_id: int | None = None) -> int:
        """Return how many messages the bot sent (to ``chat_id``), cheaply."""
        if chat_id is None:
            return len(self.outgoing)
        return len(self._outgoing_by_chat.get(chat_id, []))

    def record_call(self, call: ApiCall) -> None:
        """Record an answered call and wake whoever waits for activity."""
        self.calls.append(call)
        self._calls_by_method.setdefault(call.method.lower(), []).append(call)
        self.activity.notify()

    def calls_of(self, method: str) -> list[ApiCall]:
        """Return the calls of one method (case-insensitive), oldest first."""
        return list(self._calls_by_method.get(method.lower(), []))

    # -- recording the bot's messages -------------------------------------------------------------

    def record_outgoing(
        self,
        chat: Chat,
        *,
        text: str,
        entities: list[dict[str, Any]],
        params: dict[str, Any],
        method: str,
    ) -> RecordedMessage:
        """Store a message the bot sent and return it."""
        reply_to = params.get("reply_parameters", {}).get("message_id")
        sender_chat = chat.id if chat.type == "channel" else None
        message = RecordedMessage(
            chat_id=chat.id,
            message_id=chat.next_message_id(),
            text=text,
            entities=entities,
            date=utcnow(),
            from_user=None if chat.type == "channel" else self.bot,
            outgoing=True,
            parse_mode=params.get("parse_mode"),
            source_text=params.get("text", params.get("caption")),
            reply_markup=params.get("reply_markup"),
            reply_to_message_id=reply_to,
            message_thread_id=params.get("message_thread_id"),
            disable_notification=bool(params.get("disable_notification", False)),
            link_preview_options=params.get("link_preview_options"),
            params=dict(params),
            method=method,
            sender_chat_id=sender_chat,
        )
        self.messages[(chat.id, message.message_id)] = message
        self.outgoing.append(message)
        self._outgoing_by_chat.setdefault(chat.id, []).append(message)
        return message


def commands_key(scope: dict[str, Any] | None, language_code: str | None) -> tuple[str, str]:
    """Key the command lists by scope and language, as Telegram does."""
    scope = scope or {"type": "default"}
    return json.dumps(scope, sort_keys=True), language_code or ""
