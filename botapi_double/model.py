"""The double's records of Telegram's things: users, chats, messages, queries, answers, calls.

Plain dataclasses; ``to_api`` gives the Bot API object where one object maps to one record.
Identifiers follow Telegram's shapes (see ``state.py``); dates are aware UTC datetimes here and
Unix seconds in the Bot API objects.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any, Literal

__all__ = [
    "ApiCall",
    "CallbackAnswer",
    "CallbackQueryRecord",
    "Chat",
    "ChatType",
    "ForumTopic",
    "InlineAnswer",
    "InlineQueryRecord",
    "MemberStatus",
    "RecordedMessage",
    "StoredFile",
    "User",
    "unix",
    "utcnow",
]

ChatType = Literal["private", "group", "supergroup", "channel"]
MemberStatus = Literal["creator", "administrator", "member", "restricted", "left", "kicked"]


def utcnow() -> dt.datetime:
    """Return the current time as an aware UTC datetime."""
    return dt.datetime.now(dt.UTC)


def unix(moment: dt.datetime) -> int:
    """Return ``moment`` as Unix seconds."""
    return int(moment.timestamp())


@dataclass(eq=False)
class User:
    """A Telegram user (or the bot itself, with ``is_bot=True``)."""

    id: int
    first_name: str
    last_name: str | None = None
    username: str | None = None
    language_code: str | None = None
    is_bot: bool = False
    deactivated: bool = False

    def to_api(self) -> dict[str, Any]:
        """Return the Bot API ``User`` object."""
        user: dict[str, Any] = {"id": self.id, "is_bot": self.is_bot, "first_name": self.first_name}
        for name in ("last_name", "username", "language_code"):
            value = getattr(self, name)
            if value is not None:
                user[name] = value
        return user


@dataclass(eq=False)
class Chat:
    """A chat as the bot sees it, with the bot's own membership status in it."""

    id: int
    type: ChatType
    title: str | None = None
    username: str | None = None
    user: User | None = None  # the other side of a private chat
    bot_status: MemberStatus = "member"
    bot_can_post: bool = True  # channels: the admin right can_post_messages
    members: dict[int, MemberStatus] = field(default_factory=dict)
    migrated_to: int | None = None
    migrated_from: int | None = None
    last_message_id: int = 0
    is_forum: bool = False  # a supergroup with topics
    # A forum's topics by message_thread_id (the id of the message that created the topic).
    topics: dict[int, ForumTopic] = field(default_factory=dict)

    @property
    def kind_label(self) -> str:
        """The word Telegram uses for this chat in errors ("group", "supergroup", "channel")."""
        return self.type

    def admins(self) -> list[int]:
        """Return the ids of the chat's creator and administrators (users, not the bot)."""
        return [uid for uid, st in self.members.items() if st in ("creator", "administrator")]

    def next_message_id(self) -> int:
        """Allocate the next message id in this chat."""
        self.last_message_id += 1
        return self.last_message_id

    def to_api(self) -> dict[str, Any]:
        """Return the Bot API ``Chat`` object."""
        chat: dict[str, Any] = {"id": self.id, "type": self.type}
        if self.type == "private" and self.user is not None:
            chat["first_name"] = self.user.first_name
            if self.user.last_name is not None:
                chat["last_name"] = self.user.last_name
            if self.user.username is not None:
                chat["username"] = self.user.username
        else:
            chat["title"] = self.title or ""
            if self.username is not None:
                chat["username"] = self.username
            if self.is_forum:
                chat["is_forum"] = True
        return chat


@dataclass(eq=False)
class ForumTopic:
    """A topic of a forum supergroup: its thread, and whether it was closed or deleted."""

    thread_id: int
    name: str
    closed: bool = False
    deleted: bool = False


@dataclass(eq=False)
class RecordedMessage:
    """A message in the double: sent by the bot (``outgoing``) or injected as a user's."""

    chat_id: int
    message_id: int
    text: str
    entities: list[dict[str, Any]]
    date: dt.datetime
    from_user: User | None
    outgoing: bool
    parse_mode: str | None = None
    source_text: str | None = None  # the text as the bot sent it, before parsing
    reply_markup: dict[str, Any] | None = None
    reply_to_message_id: int | None = None
    message_thread_id: int | None = None
    disable_notification: bool = False
    link_preview_options: dict[str, Any] | None = None
    params: dict[str, Any] = field(default_factory=dict)  # the whole call, for outgoing ones
    method: str = "sendMessage"
    edited: bool = False
    edit_date: dt.datetime | None = None
    deleted: bool = False
    history: list[tuple[str, list[dict[str, Any]], dict[str, Any] | None]] = field(
        default_factory=list
    )  # earlier (text, entities, reply_markup) versions, oldest first
    sender_chat_id: int | None = None  # channel posts
    service: dict[str, Any] = field(default_factory=dict)  # e.g. migrate_to_chat_id
    document: StoredFile | None = None  # a file sent as a document; ``text`` is its caption
    # A photo: its sizes (Bot API PhotoSize objects) and, when sent by URL, that URL; ``text``
    # is its caption.
    photo: list[dict[str, Any]] | None = None
    photo_url: str | None = None

    @property
    def has_caption(self) -> bool:
        """Whether ``text`` is a caption (the message is a document or a photo)."""
        return self.document is not None or self.photo is not None

    def buttons(self) -> list[dict[str, Any]]:
        """Return the inline keyboard buttons of the message, row by row."""
        if not self.reply_markup:
            return []
        rows = self.reply_markup.get("inline_keyboard", [])
        return [button for row in rows for button in row]

    def callback_data(self) -> list[str]:
        """Return the callback_data of every inline button."""
        return [b["callback_data"] for b in self.buttons() if "callback_data" in b]


@dataclass(frozen=True, eq=False)
class StoredFile:
    """A file on the double's "servers": uploaded by the bot or sent by a user."""

    file_id: str
    file_unique_id: str
    data: bytes
    file_name: str | None
    mime_type: str | None

    @property
    def file_path(self) -> str:
        """Where getFile says the file is: ``/file/bot<token>/<file_path>``."""
        return f"documents/{self.file_unique_id}"

    def document_api(self) -> dict[str, Any]:
        """Return the Bot API ``Document`` object."""
        document: dict[str, Any] = {"file_id": self.file_id, "file_unique_id": self.file_unique_id}
        if self.file_name is not None:
            document["file_name"] = self.file_name
        if self.mime_type is not None:
            document["mime_type"] = self.mime_type
        document["file_size"] = len(self.data)
        return document


@dataclass
class CallbackQueryRecord:
    """A button press the double injected."""

    id: str
    user: User
    message: RecordedMessage
    data: str
    created: float  # time.monotonic()
    answered: bool = False


@dataclass
class InlineQueryRecord:
    """An inline query the double injected."""

    id: str
    user: User
    query: str
    offset: str
    created: float
    answered: bool = False


@dataclass(frozen=True)
class CallbackAnswer:
    """A recorded answerCallbackQuery."""

    query_id: str
    text: str | None
    show_alert: bool
    url: str | None
    cache_time: int
    time: dt.datetime


@dataclass(frozen=True)
class InlineAnswer:
    """A recorded answerInlineQuery."""

    query_id: str
    results: list[dict[str, Any]]
    cache_time: int | None
    is_personal: bool
    next_offset: str | None
    button: dict[str, Any] | None
    time: dt.datetime


@dataclass
class ApiCall:
    """One HTTP call to the double, as answered."""

    method: str
    params: dict[str, Any]
    status: int | None  # None: the connection was dropped without an answer
    response: dict[str, Any] | None
    time: dt.datetime
    http_method: str = "POST"
    fault: str | None = None  # which injected fault answered, if any

    @property
    def ok(self) -> bool:
        """Whether the call succeeded."""
        return self.status == 200

    @property
    def description(self) -> str | None:
        """The error description, for failed calls."""
        if self.response is None:
            return None
        value = self.response.get("description")
        return None if value is None else str(value)
