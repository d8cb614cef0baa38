"""Keeping the chats table true: the bot added, removed or blocked; groups becoming supergroups."""

from __future__ import annotations

import logging

from telegram import Update
from telegram.constants import ChatMemberStatus, ChatType

from bot.context import Context

log = logging.getLogger(__name__)

PRESENT = {
    ChatMemberStatus.MEMBER,
    ChatMemberStatus.ADMINISTRATOR,
    ChatMemberStatus.OWNER,
}


def leave_reason(chat_type: str, status: str) -> str:
    if chat_type == ChatType.PRIVATE:
        return "bot was blocked by the user"
    if status == ChatMemberStatus.BANNED:
        return f"bot was kicked from the {chat_type}"
    return f"bot left the {chat_type}"


async def my_chat_member(update: Update, context: Context) -> None:
    """The bot's own membership changed: added, removed, blocked or unblocked."""
    change = update.my_chat_member
    if change is None:
        return
    services = context.bot_data.services
    chat = change.chat
    new = change.new_chat_member
    present = new.status in PRESENT or (
        new.status == ChatMemberStatus.RESTRICTED and getattr(new, "is_member", False)
    )
    reason = None if present else leave_reason(chat.type, new.status)
    await services.store.chats.set_active(chat.id, present, reason, services.now())
    services.forget_chat(chat.id)
    log.info("chat %s (%s) is now %s", chat.id, chat.type, "active" if present else reason)


async def migration(update: Update, context: Context) -> None:
    """A group became a supergroup: its subscriptions and owed articles move to the new id."""
    message = update.effective_message
    if message is None:
        return
    services = context.bot_data.services
    if message.migrate_to_chat_id:
        old, new = message.chat.id, message.migrate_to_chat_id
    elif message.migrate_from_chat_id:
        old, new = message.migrate_from_chat_id, message.chat.id
    else:
        return
    await services.store.chats.migrate(old, new, services.now())
    services.forget_chat(old)
    services.forget_chat(new)
    log.info("chat %s migrated to %s", old, new)
