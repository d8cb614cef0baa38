"""The world the bot lives in: its users and chats, how they are made, and who may do what.

``World`` is the first layer of :class:`botapi_double.state.BotState`: test set-up builds users,
groups and channels here, and the method handlers look chats up and check the bot's rights with
the errors Telegram gives.
"""

from __future__ import annotations

import itertools

from botapi_double.errors import bad_request, forbidden
from botapi_double.model import (
    Chat,
    ForumTopic,
    MemberStatus,
    RecordedMessage,
    StoredFile,
    User,
    utcnow,
)

__all__ = ["World"]


class World:
    """Users, chats and messages, with Telegram-shaped ids handed out for new ones."""

    def __init__(self, *, token: str, bot_username: str, bot_name: str = "Test Bot") -> None:
        bot_id = int(token.split(":", 1)[0]) if token.split(":", 1)[0].isdigit() else 1
        self.token = token
        self.bot = User(id=bot_id, first_name=bot_name, username=bot_username, is_bot=True)
        self.users: dict[int, User] = {self.bot.id: self.bot}
        self.chats: dict[int, Chat] = {}
        self.messages: dict[tuple[int, int], RecordedMessage] = {}
        self.files: dict[str, StoredFile] = {}
        self._file_numbers = itertools.count(1)
        self._user_ids = itertools.count(1_000_001)
        self._group_ids = itertools.count(5_000_001)
        self._channel_ids = itertools.count(1_001_000_000_001)

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
        forum: bool = False,
    ) -> Chat:
        """Create a group (or supergroup) the bot is in; the first admin is the creator.
        ``forum``: a supergroup with topics."""
        if supergroup or forum:
            chat_id = -next(self._channel_ids)
            chat = Chat(
                id=chat_id, type="supergroup", title=title, username=username, is_forum=forum
            )
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

    def add_forum_topic(self, chat: Chat, name: str) -> int:
        """Create a topic in a forum; return its message_thread_id (as Telegram, the id of the
        service message that created it)."""
        if not chat.is_forum:
            raise ValueError(f"chat {chat.id} is not a forum")
        message = RecordedMessage(
            chat_id=chat.id,
            message_id=chat.next_message_id(),
            text="",
            entities=[],
            date=utcnow(),
            from_user=None,
            outgoing=False,
            service={"forum_topic_created": {"name": name, "icon_color": 7322096}},
        )
        message.message_thread_id = message.message_id
        self.messages[(chat.id, message.message_id)] = message
        chat.topics[message.message_id] = ForumTopic(message.message_id, name)
        return message.message_id

    def forum_topic(self, chat: Chat, thread_id: int) -> ForumTopic:
        """A topic of ``chat`` that exists (closed or not)."""
        topic = chat.topics.get(thread_id)
        if topic is None or topic.deleted:
            raise ValueError(f"chat {chat.id} has no topic {thread_id}")
        return topic

    def check_thread(self, chat: Chat, thread_id: int | None) -> None:
        """Raise Telegram's error for a send into a thread that is not there (or closed)."""
        if thread_id is None:
            return
        topic = chat.topics.get(thread_id) if chat.is_forum else None
        if topic is None or topic.deleted:
            raise bad_request("message thread not found")
        if topic.closed:
            raise bad_request("TOPIC_CLOSED")

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

    def store_file(self, data: bytes, file_name: str | None, mime_type: str | None) -> StoredFile:
        """Keep a file and give it ids shaped like Telegram's (opaque, URL-safe)."""
        number = next(self._file_numbers)
        stored = StoredFile(
            file_id=f"BQACAgIAAxkBAAI{number:08d}",
            file_unique_id=f"AgAD{number:06d}",
            data=data,
            file_name=file_name,
            mime_type=mime_type,
        )
        self.files[stored.file_id] = stored
        return stored

    def find_message(self, chat_id: int, message_id: int) -> RecordedMessage | None:
        """Return the (not deleted) message, or None."""
        message = self.messages.get((chat_id, message_id))
        return None if message is None or message.deleted else message
