"""Small pieces every handler uses: who may change a chat, replying with a rendered message."""

from __future__ import annotations

import logging
from zoneinfo import ZoneInfo

from telegram import Chat as TgChat
from telegram import Message, ReplyParameters, Update
from telegram.constants import ChatMemberStatus, ChatType
from telegram.error import BadRequest

from bot.context import Context, Services
from bot.delivery.policy import Action, classify, zone_named
from bot.i18n import N_, Translator, language_of
from bot.render.messages import RenderedMessage
from bot.transport import preview
from storage import StoreBusy

log = logging.getLogger(__name__)

EXPIRED = N_("This button has expired.")
MANAGERS = {ChatMemberStatus.ADMINISTRATOR, ChatMemberStatus.OWNER}


async def record_chat(update: Update, context: Context) -> None:
    """Record the chat every update comes from, and resolve the language to answer it in.

    Registered once, in group -1, ahead of every handler (python-telegram-bot's
    ``examples/contexttypesbot.py`` tracks users the same way). A chat seen recently with the
    same name is not written again: a write transaction on every update would cost more than
    the command itself. The language is the chat's chosen one (/settings), else the sender's
    Telegram ``language_code``; it is set on the context, which PTB hands to every handler of
    this update.
    """
    services = context.bot_data.services
    chat, user = update.effective_chat, update.effective_user
    user_language = user.language_code if user is not None else None
    chosen = await _record(services, chat, user_language) if chat is not None else None
    context.translator = services.languages.get(chosen or user_language)


async def _record(services: Services, chat: TgChat, user_language: str | None) -> str | None:
    """Record ``chat``; the language chosen for it (None: follow the reader)."""
    # A private chat keeps its reader's language for what is sent with nobody asking.
    reader = language_of(user_language) if chat.type == ChatType.PRIVATE else None
    key = (chat.type, chat.title, chat.username, reader)
    recent = services.recent_chats.get(chat.id)
    if recent is not None and recent[0] == key:
        return recent[1]
    try:
        stored = await services.store.chats.seen(
            chat.id, chat.type, chat.title, chat.username, services.now(), reader
        )
    except StoreBusy:
        # Not an answer of its own: the update goes on to its command, which answers "busy"
        # itself only if it has to write. Not remembered, so the next update records the chat.
        if chat.id not in _unrecorded:
            _unrecorded.add(chat.id)
            log.warning("chat %d not recorded yet: the store is locked; recorded later", chat.id)
        return recent[1] if recent is not None else None
    _unrecorded.discard(chat.id)
    services.remember(chat.id, key, stored.language)
    return stored.language


# Chats whose recording a write lock held elsewhere put off: warned about once each.
_unrecorded: set[int] = set()


async def may_manage(update: Update, context: Context) -> bool:
    """In a private chat its user; in a group only the group's admins (anonymous ones too)."""
    chat, user = update.effective_chat, update.effective_user
    if chat is None:
        return False
    if chat.type == ChatType.PRIVATE:
        return True
    message = update.effective_message
    if message is not None and message.sender_chat is not None:
        # An anonymous admin posts as the group itself; a channel post comes from the channel.
        return message.sender_chat.id == chat.id
    if user is None:
        return False
    member = await context.bot.get_chat_member(chat.id, user.id)
    return member.status in MANAGERS


async def send(
    context: Context,
    chat_id: int,
    rendered: RenderedMessage,
    *,
    reply_to: int | None = None,
    thread: int | None = None,
) -> Message:
    """Send a rendered answer: an article with a picture as a photo (or a text under its large
    preview); a picture Telegram cannot fetch is left out, and the text goes alone."""
    reply_parameters = (
        ReplyParameters(reply_to, allow_sending_without_reply=True)
        if reply_to is not None
        else None
    )
    if rendered.photo is not None:
        try:
            return await context.bot.send_photo(
                chat_id,
                rendered.photo,
                caption=rendered.text,
                parse_mode=rendered.parse_mode,
                reply_markup=rendered.reply_markup,
                reply_parameters=reply_parameters,
                message_thread_id=thread,
            )
        except BadRequest as exc:
            if classify(exc).action is not Action.NO_PICTURE:
                raise
            log.info("chat %d: the picture %s is refused (%s)", chat_id, rendered.photo, exc)
            rendered = rendered.without_picture()
    return await context.bot.send_message(
        chat_id,
        rendered.text,
        parse_mode=rendered.parse_mode,
        reply_markup=rendered.reply_markup,
        link_preview_options=preview(rendered.disable_preview, rendered.large_preview),
        reply_parameters=reply_parameters,
        message_thread_id=thread,
    )


def thread_of(update: Update) -> int | None:
    """The forum topic thread an update came from (None: not a forum topic, or General)."""
    chat, message = update.effective_chat, update.effective_message
    if chat is None or message is None or not chat.is_forum or not message.is_topic_message:
        return None
    return message.message_thread_id


async def reply(update: Update, context: Context, rendered: RenderedMessage) -> Message | None:
    """Answer in the chat (and forum topic) the update came from."""
    chat = update.effective_chat
    if chat is None:
        return None
    return await send(context, chat.id, rendered, thread=thread_of(update))


async def reply_text(update: Update, text: str) -> None:
    """A short HTML answer to the message that asked (text must already be escaped)."""
    message = update.effective_message
    if message is not None:
        await message.reply_text(text, do_quote=False)


async def chat_zone(services: Services, chat: TgChat | None) -> ZoneInfo | None:
    """The chat's chosen zone for datelines; None shows the publisher's own."""
    if chat is None:
        return None
    stored = await services.store.chats.get(chat.id)
    return zone_named(stored.timezone) if stored is not None else None


def cached_translator(services: Services, update: Update) -> Translator:
    """The update's language from what is already known, without the store: for the error
    handler, which PTB calls with a context of its own (and often because the store failed)."""
    chat, user = update.effective_chat, update.effective_user
    recent = services.recent_chats.get(chat.id) if chat is not None else None
    chosen = recent[1] if recent is not None else None
    return services.languages.get(chosen or (user.language_code if user else None))


def args_of(context: Context) -> list[str]:
    return list(context.args or [])
