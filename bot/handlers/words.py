"""Following and muting words: /follow, /unfollow, /mute, /unmute and the remove buttons."""

from __future__ import annotations

import html

from telegram import Update

from bot.commands import UsageError, parse_number, parse_words
from bot.context import Context
from bot.handlers.common import EXPIRED, may_manage, reply_text
from bot.handlers.subscriptions import (
    NOT_ALLOWED,
    edit_keyboard,
    has_word_buttons,
    subscriptions_keyboard,
)
from bot.render.messages import parse_callback, quoted_word
from storage.words import FOLLOW, MAX_WORDS, MUTE


def shown(words: list[str] | tuple[str, ...]) -> str:
    return ", ".join(f"<b>{html.escape(quoted_word(w))}</b>" for w in words)


async def _words_to_change(update: Update, context: Context, command: str) -> list[str] | None:
    """The command's words once the sender may change this chat; None when told otherwise.

    ``["all"]`` stands for every word (only /unfollow and /unmute take it).
    """
    message = update.effective_message
    if update.effective_chat is None or message is None or message.text is None:
        return None
    _, _, rest = message.text.partition(" ")
    if command in ("unfollow", "unmute") and rest.strip().casefold() == "all":
        words = ["all"]
    else:
        try:
            words = parse_words(rest, command)
        except UsageError as exc:
            await reply_text(update, html.escape(str(exc)))
            return None
    if not await may_manage(update, context):
        await reply_text(update, NOT_ALLOWED)
        return None
    return words


async def _add(update: Update, context: Context, kind: str) -> None:
    services = context.bot_data.services
    chat = update.effective_chat
    words = await _words_to_change(update, context, kind)
    if words is None or chat is None:
        return
    change = await services.store.words.add(chat.id, kind, words, services.now())
    parts = []
    if change.added:
        if kind == FOLLOW:
            parts.append(f"Following {shown(change.added)}.")
        else:
            parts.append(f"Muted {shown(change.added)}: articles holding them are not sent here.")
    if change.already:
        verb = "Already following" if kind == FOLLOW else "Already muted"
        parts.append(f"{verb} {shown(change.already)}.")
    if change.refused:
        parts.append(
            f"Not added: {shown(change.refused)}; a chat may have {MAX_WORDS} words"
            " (/unfollow or /unmute some first)."
        )
    await reply_text(update, " ".join(parts))
    if change.added and kind == FOLLOW and services.delivery is not None:
        await services.delivery.followed(chat.id, list(change.added))
    if change.added and kind == MUTE:
        await services.store.deliveries.withhold(chat.id, list(change.added), services.now())


async def _remove(update: Update, context: Context, kind: str, command: str) -> None:
    services = context.bot_data.services
    chat = update.effective_chat
    words = await _words_to_change(update, context, command)
    if words is None or chat is None:
        return
    removed = await services.store.words.remove(chat.id, kind, None if words == ["all"] else words)
    done = "Stopped following" if kind == FOLLOW else "Unmuted"
    if removed:
        await reply_text(update, f"{done} {shown(removed)}.")
    elif words == ["all"]:
        await reply_text(update, "Nothing to remove.")
    else:
        not_had = "was not following" if kind == FOLLOW else "was not muting"
        await reply_text(update, f"This chat {not_had} {shown(words)}.")


async def follow(update: Update, context: Context) -> None:
    """Deliver articles holding these words or "quoted phrases"."""
    await _add(update, context, FOLLOW)


async def mute(update: Update, context: Context) -> None:
    """Withhold articles holding these words from every delivery to this chat."""
    await _add(update, context, MUTE)


async def unfollow(update: Update, context: Context) -> None:
    """Stop following the named words, or ``all``."""
    await _remove(update, context, FOLLOW, "unfollow")


async def unmute(update: Update, context: Context) -> None:
    """Stop muting the named words, or ``all``."""
    await _remove(update, context, MUTE, "unmute")


async def on_word_button(update: Update, context: Context) -> None:
    """``wrd:ID`` under /subscriptions removes that followed or muted word."""
    query = update.callback_query
    chat = update.effective_chat
    if query is None or chat is None:
        return
    services = context.bot_data.services
    try:
        _, args = parse_callback(query.data)
    except ValueError:
        await query.answer(EXPIRED)
        return
    word_id = parse_number(args[0], low=1)
    if word_id is None:
        await query.answer(EXPIRED)
        return
    if not await may_manage(update, context):
        await query.answer(NOT_ALLOWED, show_alert=True)
        return
    removed = await services.store.words.remove_id(chat.id, word_id)
    if removed is None:
        await query.answer(EXPIRED)
        return
    if has_word_buttons(query.message):
        await edit_keyboard(query, await subscriptions_keyboard(services, chat.id))
    verb = "Stopped following" if removed.kind == FOLLOW else "Unmuted"
    await query.answer(f"{verb} {quoted_word(removed.word)}")
