"""The double's model of Telegram: users, chats, messages, pending updates and what was called.

Everything here is plain synchronous Python, changed only from the event loop that runs the
server. The server's method handlers (``methods.py``) and the test-facing API
(:class:`botapi_double.BotApiDouble`) both work on one :class:`BotState`.

Identifiers follow Telegram's shapes: users are positive, basic groups are small negative
numbers and supergroups and channels are ``-100...``. Message ids increase per chat. Dates are
Unix seconds in the Bot API objects and aware UTC datetimes in the records.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import itertools
import json
import time
from dataclasses import dataclass, field
from typing import Any, Literal

from botapi_double.errors import bad_request, forbidden
from botapi_double.html import detect_entities

__all__ = [
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
    "User",
]

ChatType = Literal["private", "group", "supergroup", "channel"]
MemberStatus = Literal["creator", "administrator", "member", "restricted", "left", "kicked"]

# Update types Telegram sends when allowed_updates was never given: all but these opt-in ones.
_OPT_IN_UPDATES = frozenset({"chat_member", "message_reaction", "message_reaction_count"})
DEFAULT_UPDATE_TYPES: frozenset[str] = frozenset(
    {
        "message",
        "edited_message",
        "channel_post",
        "edited_channel_post",
        "business_connection",
        "business_message",
        "edited_business_message",
        "deleted_business_messages",
        "guest_message",
        "inline_query",
        "chosen_inline_result",
        "callback_query",
        "shipping_query",
        "pre_checkout_query",
        "purchased_paid_media",
        "poll",
        "poll_answer",
        "my_chat_member",
        "chat_join_request",
        "chat_boost",
        "removed_chat_boost",
        "managed_bot",
    }
)
ALL_UPDATE_TYPES = DEFAULT_UPDATE_TYPES | _OPT_IN_UPDATES


def utcnow() -> dt.datetime:
    """Return the current time as an aware UTC datetime."""
    return dt.datetime.now(dt.UTC)


def unix(moment: dt.datetime) -> int:
    """Return ``moment`` as Unix seconds."""
    return int(moment.timestamp())


class Signal:
    """Wakes every coroutine waiting for "something changed"; notify() is synchronous.

    Must be used from the event loop's thread. Waiters re-check their condition after waking,
    so spurious wake-ups are harmless.
    """

    def __init__(self) -> None:
        self._waiters: set[asyncio.Future[None]] = set()

    def notify(self) -> None:
        """Wake all current waiters."""
        for waiter in self._waiters:
            if not waiter.done():
                waiter.set_result(None)
        self._waiters.clear()

    async def wait(self, timeout: float | None) -> bool:  # noqa: ASYNC109
        """Wait for the next notify(); return False if ``timeout`` seconds passed first."""
        waiter: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._waiters.add(waiter)
        try:
            await asyncio.wait_for(waiter, timeout)
        except TimeoutError:
            return False
        finally:
            self._waiters.discard(waiter)
        return True


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
        return chat


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

    def buttons(self) -> list[dict[str, Any]]:
        """Return the inline keyboard buttons of the message, row by row."""
        if not self.reply_markup:
            return []
        rows = self.reply_markup.get("inline_keyboard", [])
        return [button for row in rows for button in row]

    def callback_data(self) -> list[str]:
        """Return the callback_data of every inline button."""
        return [b["callback_data"] for b in self.buttons() if "callback_data" in b]


@dataclass
class PendingUpdate:
    """An update waiting in the queue (getUpdates) or for webhook delivery."""

    update_id: int
    kind: str
    payload: dict[str, Any]

    def to_api(self) -> dict[str, Any]:
        """Return the Bot API ``Update`` object."""
        return {"update_id": self.update_id, self.kind: self.payload}


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


def _chat_member(user: User, status: MemberStatus, *, can_post: bool = True) -> dict[str, Any]:
    """Build a Bot API ``ChatMember`` object of the given status."""
    member: dict[str, Any] = {"status": status, "user": user.to_api()}
    if status == "creator":
        member["is_anonymous"] = False
    elif status == "administrator":
        member.update(
            can_be_edited=False,
            is_anonymous=False,
            can_manage_chat=True,
            can_delete_messages=True,
            can_manage_video_chats=True,
            can_restrict_members=True,
            can_promote_members=False,
            can_change_info=True,
            can_invite_users=True,
            can_post_stories=False,
            can_edit_stories=False,
            can_delete_stories=False,
            can_post_messages=can_post,
            can_edit_messages=can_post,
            can_pin_messages=True,
        )
    elif status == "restricted":
        member.update(
            is_member=True,
            can_send_messages=False,
            can_send_audios=False,
            can_send_documents=False,
            can_send_photos=False,
            can_send_videos=False,
            can_send_video_notes=False,
            can_send_voice_notes=False,
            can_send_polls=False,
            can_send_other_messages=False,
            can_add_web_page_previews=False,
            can_change_info=False,
            can_invite_users=False,
            can_pin_messages=False,
            can_manage_topics=False,
            until_date=0,
        )
    elif status == "kicked":
        member["until_date"] = 0
    return member


class BotState:
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
        bot_id = int(token.split(":", 1)[0]) if token.split(":", 1)[0].isdigit() else 1
        self.token = token
        self.bot = User(id=bot_id, first_name=bot_name, username=bot_username, is_bot=True)
        self.privacy_mode = privacy_mode
        self.query_ttl = query_ttl
        self.users: dict[int, User] = {self.bot.id: self.bot}
        self.chats: dict[int, Chat] = {}
        self.messages: dict[tuple[int, int], RecordedMessage] = {}
        self.outgoing: list[RecordedMessage] = []
        self._outgoing_by_chat: dict[int, list[RecordedMessage]] = {}
        self.updates: list[PendingUpdate] = []
        self.allowed_updates: frozenset[str] = DEFAULT_UPDATE_TYPES
        self.callback_queries: dict[str, CallbackQueryRecord] = {}
        self.inline_queries: dict[str, InlineQueryRecord] = {}
        self.callback_answers: list[CallbackAnswer] = []
        self.inline_answers: list[InlineAnswer] = []
        self.commands: dict[tuple[str, str], list[dict[str, str]]] = {}
        self.calls: list[ApiCall] = []
        self._calls_by_method: dict[str, list[ApiCall]] = {}
        self.webhook_url: str = ""
        self.webhook_secret: str | None = None
        self.webhook_max_connections = 40
        self.webhook_last_error: tuple[dt.datetime, str] | None = None
        self.updates_signal = Signal()
        self.activity = Signal()
        self._user_ids = itertools.count(1_000_001)
        self._group_ids = itertools.count(5_000_001)
        self._channel_ids = itertools.count(1_001_000_000_001)
        self._update_ids = itertools.count(100_001)
        self._query_ids = itertools.count(7_000_000_001)

    # -- building the world ---------------------------------------------------------------------

    def add_user(
        self,
        first_name: str = "Alice",
        *,
        username: str | None = None,
        last_name: str | None = None,
        language_code: str | None = "en",
        user_id: int | None = None,
        is_bot: bool = False,
    ) -> User:
        """Create a user (not yet in a private chat with the bot)."""
        uid = user_id if user_id is not None else next(self._user_ids)
        if uid in self.users:
            raise ValueError(f"user id {uid} already exists")
        user = User(uid, first_name, last_name, username, language_code, is_bot)
        self.users[uid] = user
        return user

    def add_private_chat(self, user: User) -> Chat:
        """Open the private chat of ``user`` with the bot (as if the user pressed Start)."""
        chat = self.chats.get(user.id)
        if chat is None:
            chat = Chat(id=user.id, type="private", user=user)
            self.chats[user.id] = chat
        return chat

    def add_group(
        self,
        title: str,
        *,
        admins: list[User] | None = None,
        members: list[User] | None = None,
        supergroup: bool = False,
        username: str | None = None,
        bot_status: MemberStatus = "member",
    ) -> Chat:
        """Create a group (or supergroup) the bot is in; the first admin is the creator."""
        if supergroup:
            chat_id = -next(self._channel_ids)
            chat = Chat(id=chat_id, type="supergroup", title=title, username=username)
        else:
            chat = Chat(id=-next(self._group_ids), type="group", title=title)
        chat.bot_status = bot_status
        for index, admin in enumerate(admins or []):
            chat.members[admin.id] = "creator" if index == 0 else "administrator"
        for member in members or []:
            chat.members.setdefault(member.id, "member")
        self.chats[chat.id] = chat
        return chat

    def add_channel(
        self,
        username: str | None,
        *,
        title: str | None = None,
        bot_is_admin: bool = True,
        can_post_messages: bool = True,
        admins: list[User] | None = None,
    ) -> Chat:
        """Create a channel; the bot is an administrator in it unless ``bot_is_admin=False``."""
        name = username.lstrip("@") if username else None
        chat = Chat(
            id=-next(self._channel_ids),
            type="channel",
            title=title or name or "Channel",
            username=name,
            bot_status="administrator" if bot_is_admin else "member",
            bot_can_post=can_post_messages,
        )
        for index, admin in enumerate(admins or []):
            chat.members[admin.id] = "creator" if index == 0 else "administrator"
        self.chats[chat.id] = chat
        return chat

    def migrate_group(self, chat: Chat) -> Chat:
        """Upgrade a basic group to a new supergroup; return the supergroup."""
        if chat.type != "group":
            raise ValueError("only basic groups can be migrated")
        if chat.migrated_to is not None:
            return self.chats[chat.migrated_to]
        new = Chat(
            id=-next(self._channel_ids),
            type="supergroup",
            title=chat.title,
            bot_status=chat.bot_status,
            members=dict(chat.members),
            migrated_from=chat.id,
        )
        chat.migrated_to = new.id
        self.chats[new.id] = new
        return new

    # -- looking things up ----------------------------------------------------------------------

    def resolve_chat(self, chat_id: int | str) -> Chat:
        """Find the chat for a ``chat_id`` parameter (id or ``@username``) or raise 400."""
        if isinstance(chat_id, str):
            name = chat_id.lstrip("@").lower()
            if chat_id.startswith("@"):
                for chat in self.chats.values():
                    if chat.type != "private" and (chat.username or "").lower() == name:
                        return chat
            raise bad_request("chat not found")
        found = self.chats.get(chat_id)
        if found is None:
            if chat_id in self.users and chat_id != self.bot.id:
                raise forbidden("bot can't initiate conversation with a user")
            raise bad_request("chat not found")
        return found

    def check_can_read(self, chat: Chat) -> None:
        """Raise the error Telegram gives when the bot may not look at ``chat``."""
        if chat.migrated_to is not None:
            raise bad_request(
                "group chat was upgraded to a supergroup chat",
                {"migrate_to_chat_id": chat.migrated_to},
            )
        if chat.type == "private":
            return
        if chat.bot_status == "kicked":
            raise forbidden(f"bot was kicked from the {chat.kind_label} chat")
        if chat.bot_status == "left":
            raise forbidden(f"bot is not a member of the {chat.kind_label} chat")

    def check_can_send(self, chat: Chat) -> None:
        """Raise the error Telegram gives when the bot may not post in ``chat``."""
        if chat.type == "private":
            assert chat.user is not None
            if chat.user.deactivated:
                raise forbidden("user is deactivated")
            if chat.bot_status == "kicked":
                raise forbidden("bot was blocked by the user")
            return
        self.check_can_read(chat)
        if chat.type == "channel" and (chat.bot_status != "administrator" or not chat.bot_can_post):
            raise bad_request("need administrator rights in the channel chat")
        if chat.bot_status == "restricted":
            raise bad_request("not enough rights to send text messages to the chat")

    def member_status(self, chat: Chat, user_id: int) -> MemberStatus:
        """Return the status of a user (or the bot) in ``chat``."""
        if user_id == self.bot.id:
            return chat.bot_status
        if chat.type == "private":
            return "member" if chat.user is not None and chat.user.id == user_id else "left"
        return chat.members.get(user_id, "left")

    def chat_member_api(self, chat: Chat, user: User) -> dict[str, Any]:
        """Return the Bot API ``ChatMember`` of ``user`` in ``chat``."""
        status = self.member_status(chat, user.id)
        return _chat_member(user, status, can_post=chat.bot_can_post or user is not self.bot)

    def chat_full_info(self, chat: Chat) -> dict[str, Any]:
        """Return the Bot API ``ChatFullInfo`` of ``chat``."""
        info = chat.to_api()
        info.update(
            accent_color_id=0,
            max_reaction_count=11,
            accepted_gift_types={
                "unlimited_gifts": False,
                "limited_gifts": False,
                "unique_gifts": False,
                "premium_subscription": False,
                "gifts_from_channels": False,
            },
        )
        return info

    def find_message(self, chat_id: int, message_id: int) -> RecordedMessage | None:
        """Return the (not deleted) message, or None."""
        message = self.messages.get((chat_id, message_id))
        return None if message is None or message.deleted else message

    def message_api(self, message: RecordedMessage, *, with_reply: bool = True) -> dict[str, Any]:
        """Return the Bot API ``Message`` object for a recorded message."""
        chat = self.chats[message.chat_id]
        result: dict[str, Any] = {"message_id": message.message_id}
        if message.from_user is not None:
            result["from"] = message.from_user.to_api()
        if message.sender_chat_id is not None:
            result["sender_chat"] = self.chats[message.sender_chat_id].to_api()
        result["date"] = unix(message.date)
        result["chat"] = chat.to_api()
        if message.message_thread_id is not None:
            result["message_thread_id"] = message.message_thread_id
        if message.reply_to_message_id is not None and with_reply:
            replied = self.messages.get((message.chat_id, message.reply_to_message_id))
            if replied is not None:
                result["reply_to_message"] = self.message_api(replied, with_reply=False)
        if message.edit_date is not None:
            result["edit_date"] = unix(message.edit_date)
        if message.text:
            result["text"] = message.text
            if message.entities:
                result["entities"] = [dict(e) for e in message.entities]
        if message.link_preview_options:
            result["link_preview_options"] = dict(message.link_preview_options)
        if message.reply_markup and "inline_keyboard" in message.reply_markup:
            result["reply_markup"] = json.loads(json.dumps(message.reply_markup))
        result.update(message.service)
        return result

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
            source_text=params.get("text"),
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

    # -- injecting what users do ----------------------------------------------------------------

    def enqueue(self, kind: str, payload: dict[str, Any]) -> PendingUpdate | None:
        """Queue an update unless the bot opted out of its type; wake pollers."""
        if kind not in self.allowed_updates:
            return None
        update = PendingUpdate(next(self._update_ids), kind, payload)
        self.updates.append(update)
        self.updates_signal.notify()
        return update

    def user_message(
        self,
        chat: Chat,
        user: User | None,
        text: str,
        *,
        reply_to: RecordedMessage | None = None,
        entities: list[dict[str, Any]] | None = None,
    ) -> tuple[RecordedMessage, PendingUpdate | None]:
        """Record a message from ``user`` in ``chat`` and queue it as an update if the bot
        would receive it (privacy mode hides ordinary group messages not meant for the bot)."""
        if chat.type == "private" and (
            chat.user is None or user is None or chat.user.id != user.id
        ):
            raise ValueError("a private chat only has messages from its user")
        found = detect_entities(text, entities)
        message = RecordedMessage(
            chat_id=chat.id,
            message_id=chat.next_message_id(),
            text=text,
            entities=found,
            date=utcnow(),
            from_user=user,
            outgoing=False,
            reply_to_message_id=reply_to.message_id if reply_to is not None else None,
            sender_chat_id=chat.id if chat.type == "channel" and user is None else None,
        )
        self.messages[(chat.id, message.message_id)] = message
        if not self._bot_receives(chat, message, reply_to):
            return message, None
        kind = "channel_post" if chat.type == "channel" else "message"
        return message, self.enqueue(kind, self.message_api(message))

    def _bot_receives(
        self, chat: Chat, message: RecordedMessage, reply_to: RecordedMessage | None
    ) -> bool:
        if chat.type == "private":
            return chat.bot_status != "kicked"
        if chat.bot_status in ("left", "kicked"):
            return False
        if chat.type == "channel" or not self.privacy_mode:
            return True
        if chat.bot_status == "administrator":
            return True
        if reply_to is not None and reply_to.outgoing:
            return True
        for entity in message.entities:
            if entity["type"] == "bot_command" and entity["offset"] == 0:
                command = message.text[: entity["length"]]
                target = command.partition("@")[2]
                return not target or target.lower() == (self.bot.username or "").lower()
        return False

    def callback_query(self, message: RecordedMessage, data: str, user: User) -> str:
        """Press the inline button carrying ``data`` on ``message``; return the query id."""
        if not message.outgoing:
            raise ValueError("only the bot's messages have inline buttons to press")
        if data not in message.callback_data():
            raise ValueError(
                f"message {message.message_id} has no button with callback_data {data!r}; "
                f"it has {message.callback_data()!r}"
            )
        query_id = str(next(self._query_ids))
        record = CallbackQueryRecord(query_id, user, message, data, time.monotonic())
        self.callback_queries[query_id] = record
        payload = {
            "id": query_id,
            "from": user.to_api(),
            "message": self.message_api(message),
            "chat_instance": str(abs(message.chat_id) * 7919 % 10**12),
            "data": data,
        }
        self.enqueue("callback_query", payload)
        return query_id

    def inline_query(
        self, user: User, query: str, *, offset: str = "", chat_type: str | None = "sender"
    ) -> str:
        """Inject an inline query from ``user``; return the query id."""
        query_id = str(next(self._query_ids))
        self.inline_queries[query_id] = InlineQueryRecord(
            query_id, user, query, offset, time.monotonic()
        )
        payload: dict[str, Any] = {
            "id": query_id,
            "from": user.to_api(),
            "query": query,
            "offset": offset,
        }
        if chat_type is not None:
            payload["chat_type"] = chat_type
        self.enqueue("inline_query", payload)
        return query_id

    def my_chat_member(
        self,
        chat: Chat,
        old_status: MemberStatus,
        new_status: MemberStatus,
        *,
        by: User | None = None,
    ) -> PendingUpdate | None:
        """Change the bot's status in ``chat`` and queue the ``my_chat_member`` update."""
        actor = by or chat.user
        if actor is None:
            admins = chat.admins()
            actor = self.users[admins[0]] if admins else self.bot
        chat.bot_status = new_status
        payload = {
            "chat": chat.to_api(),
            "from": actor.to_api(),
            "date": unix(utcnow()),
            "old_chat_member": _chat_member(self.bot, old_status),
            "new_chat_member": _chat_member(self.bot, new_status, can_post=chat.bot_can_post),
        }
        return self.enqueue("my_chat_member", payload)

    def migration_messages(self, chat: Chat, by: User | None = None) -> list[PendingUpdate]:
        """Queue the two service messages Telegram sends when a group becomes a supergroup."""
        new = self.migrate_group(chat)
        admins = chat.admins()
        actor = by or (self.users[admins[0]] if admins else None)
        queued: list[PendingUpdate] = []
        for where, key, value in (
            (chat, "migrate_to_chat_id", new.id),
            (new, "migrate_from_chat_id", chat.id),
        ):
            message = RecordedMessage(
                chat_id=where.id,
                message_id=where.next_message_id(),
                text="",
                entities=[],
                date=utcnow(),
                from_user=actor,
                outgoing=False,
                service={key: value},
            )
            self.messages[(where.id, message.message_id)] = message
            update = self.enqueue("message", self.message_api(message))
            if update is not None:
                queued.append(update)
        return queued

    # -- the update queue -----------------------------------------------------------------------

    def confirm_updates(self, offset: int) -> None:
        """Forget updates below ``offset``; a negative offset keeps only the last ``-offset``."""
        if offset < 0:
            self.updates = self.updates[offset:]
        else:
            self.updates = [u for u in self.updates if u.update_id >= offset]

    def take_callback_query(self, query_id: str) -> CallbackQueryRecord:
        """Mark a callback query answered; raise Telegram's error if it is unknown or stale."""
        record = self.callback_queries.get(query_id)
        if record is None or record.answered or time.monotonic() - record.created > self.query_ttl:
            raise bad_request(
                "query is too old and response timeout expired or query ID is invalid"
            )
        record.answered = True
        return record

    def take_inline_query(self, query_id: str) -> InlineQueryRecord:
        """Mark an inline query answered; raise Telegram's error if it is unknown or stale."""
        record = self.inline_queries.get(query_id)
        if record is None or record.answered or time.monotonic() - record.created > self.query_ttl:
            raise bad_request(
                "query is too old and response timeout expired or query ID is invalid"
            )
        record.answered = True
        return record


def commands_key(scope: dict[str, Any] | None, language_code: str | None) -> tuple[str, str]:
    """Key the command lists by scope and language, as Telegram does."""
    scope = scope or {"type": "default"}
    return json.dumps(scope, sort_keys=True), language_code or ""
