"""What users do, as updates for the bot: injected messages, presses and queries, queued.

``UpdateQueue`` is the second layer of :class:`botapi_double.state.BotState`: it records what a
user does in the world and queues the update Telegram would send (unless privacy mode or the
bot's ``allowed_updates`` hide it), for getUpdates or the webhook to hand out.
"""

from __future__ import annotations

import asyncio
import itertools
import time
from dataclasses import dataclass
from typing import Any, TypeVar

from botapi_double.errors import bad_request
from botapi_double.html import detect_entities
from botapi_double.model import (
    CallbackQueryRecord,
    Chat,
    InlineQueryRecord,
    MemberStatus,
    RecordedMessage,
    User,
    unix,
    utcnow,
)
from botapi_double.serialise import chat_member, message_api
from botapi_double.world import World

__all__ = ["ALL_UPDATE_TYPES", "DEFAULT_UPDATE_TYPES", "PendingUpdate", "Signal", "UpdateQueue"]

_Query = TypeVar("_Query", CallbackQueryRecord, InlineQueryRecord)

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


@dataclass
class PendingUpdate:
    """An update waiting in the queue (getUpdates) or for webhook delivery."""

    update_id: int
    kind: str
    payload: dict[str, Any]

    def to_api(self) -> dict[str, Any]:
        """Return the Bot API ``Update`` object."""
        return {"update_id": self.update_id, self.kind: self.payload}


class UpdateQueue(World):
    """The world, plus the updates waiting for the bot and the queries it has to answer."""

    def __init__(
        self,
        *,
        token: str,
        bot_username: str,
        bot_name: str = "Test Bot",
        privacy_mode: bool = True,
        query_ttl: float = 15.0,
    ) -> None:
        super().__init__(token=token, bot_username=bot_username, bot_name=bot_name)
        self.privacy_mode = privacy_mode
        self.query_ttl = query_ttl
        self.updates: list[PendingUpdate] = []
        self.allowed_updates: frozenset[str] = DEFAULT_UPDATE_TYPES
        self.callback_queries: dict[str, CallbackQueryRecord] = {}
        self.inline_queries: dict[str, InlineQueryRecord] = {}
        self.updates_signal = Signal()
        self._update_ids = itertools.count(100_001)
        self._query_ids = itertools.count(7_000_000_001)

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
        thread: int | None = None,
    ) -> tuple[RecordedMessage, PendingUpdate | None]:
        """Record a message from ``user`` in ``chat`` and queue it as an update if the bot
        would receive it (privacy mode hides ordinary group messages not meant for the bot).
        ``thread``: written in that topic of a forum (an open one: users cannot write in a
        closed topic)."""
        if chat.type == "private" and (
            chat.user is None or user is None or chat.user.id != user.id
        ):
            raise ValueError("a private chat only has messages from its user")
        if thread is not None and self.forum_topic(chat, thread).closed:
            raise ValueError(f"topic {thread} of chat {chat.id} is closed")
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
            message_thread_id=thread,
            sender_chat_id=chat.id if chat.type == "channel" and user is None else None,
        )
        self.messages[(chat.id, message.message_id)] = message
        if not self._bot_receives(chat, message, reply_to):
            return message, None
        kind = "channel_post" if chat.type == "channel" else "message"
        return message, self.enqueue(kind, message_api(self.chats, self.messages, message))

    def user_document(
        self,
        chat: Chat,
        user: User,
        data: bytes,
        *,
        file_name: str | None,
        mime_type: str | None,
        caption: str = "",
    ) -> tuple[RecordedMessage, PendingUpdate | None]:
        """Record a file ``user`` sends in ``chat`` as a document and queue it like a message."""
        if chat.type == "private" and (chat.user is None or chat.user.id != user.id):
            raise ValueError("a private chat only has messages from its user")
        message = RecordedMessage(
            chat_id=chat.id,
            message_id=chat.next_message_id(),
            text=caption,
            entities=detect_entities(caption, None) if caption else [],
            date=utcnow(),
            from_user=user,
            outgoing=False,
            document=self.store_file(data, file_name, mime_type),
        )
        self.messages[(chat.id, message.message_id)] = message
        if not self._bot_receives(chat, message, None):
            return message, None
        return message, self.enqueue("message", message_api(self.chats, self.messages, message))

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
            "message": message_api(self.chats, self.messages, message),
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
            "old_chat_member": chat_member(self.bot, old_status),
            "new_chat_member": chat_member(self.bot, new_status, can_post=chat.bot_can_post),
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
            update = self.enqueue("message", message_api(self.chats, self.messages, message))
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
        return self._take(self.callback_queries, query_id)

    def take_inline_query(self, query_id: str) -> InlineQueryRecord:
        """Mark an inline query answered; raise Telegram's error if it is unknown or stale."""
        return self._take(self.inline_queries, query_id)

    def _take(self, records: dict[str, _Query], query_id: str) -> _Query:
        record = records.get(query_id)
        if record is None or record.answered or time.monotonic() - record.created > self.query_ttl:
            raise bad_request(
                "query is too old and response timeout expired or query ID is invalid"
            )
        record.answered = True
        return record
