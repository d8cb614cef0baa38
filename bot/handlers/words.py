"""Following and muting words: /follow, /unfollow, /mute, /unmute and the remove buttons."""

from __future__ import annotations

from telegram import Update

from bot.commands import UsageError, parse_number, parse_words
from bot.context import Context
from bot.handlers.common import EXPIRED, may_manage, reply_text, thread_of
from bot.handlers.subscriptions import (
    NOT_ALLOWED,
    edit_keyboard,
    has_word_buttons,
    subscriptions_keyboard,
)
from bot.render.messages import button_pressed, delivered_into, moved_into, quoted_word
from bot.render.text import escape, markup
from storage.words import FOLLOW, MAX_WORDS, MUTE


def shown(words: list[str] | tuple[str, ...]) -> str:
    return ", ".join(f"<b>{escape(quoted_word(w))}</b>" for w in words)


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
            await reply_text(update, escape(exc.text(context.tr)))
            return None
    if not await may_manage(update, context):
        await reply_text(update, markup(context.tr.gettext(NOT_ALLOWED)))
        return None
    return words


async def _add(update: Update, context: Context, kind: str) -> None:
    services = context.bot_data.services
    chat = update.effective_chat
    words = await _words_to_change(update, context, kind)
    if words is None or chat is None:
        return
    # In a forum, a word followed inside a topic thread is delivered there.
    thread = thread_of(update) if kind == FOLLOW else None
    change = await services.store.words.add(chat.id, kind, words, services.now(), thread=thread)
    if thread is not None:
        await services.store.chats.thread_back(chat.id, thread)
    tr = context.tr
    parts = []
    if change.added:
        added = (
            tr.gettext("Following %(words)s.")
            if kind == FOLLOW
            else tr.gettext("Muted %(words)s: articles holding them are not sent here.")
        )
        parts.append(markup(added, words=shown(change.added)))
        if kind == FOLLOW and chat.is_forum:
            parts.append(delivered_into(thread, thread, tr))
    if change.moved:
        parts.append(moved_into(shown(change.moved), thread, thread, tr))
    if change.already:
        already = (
            tr.gettext("Already following %(words)s.")
            if kind == FOLLOW
            else tr.gettext("Already muted %(words)s.")
        )
        parts.append(markup(already, words=shown(change.already)))
    if change.refused:
        refused = tr.ngettext(
            "Not added: %(words)s; a chat may have %(max)d word (/unfollow or /unmute some first).",
            "Not added: %(words)s; a chat may have %(max)d words"
            " (/unfollow or /unmute some first).",
            MAX_WORDS,
        )
        parts.append(markup(refused, words=shown(change.refused), max=MAX_WORDS))
    await reply_text(update, " ".join(parts))
    if change.added and kind == FOLLOW and services.delivery is not None:
        await services.delivery.followed(chat.id, list(change.added), thread)
    if change.added and kind == MUTE:
        await services.store.deliveries.withhold(chat.id, list(change.added), services.now())


async def _remove(update: Update, context: Context, kind: str, command: str) -> None:
    services = context.bot_data.services
    chat = update.effective_chat
    words = await _words_to_change(update, context, command)
    if words is None or chat is None:
        return
    removed = await services.store.words.remove(chat.id, kind, None if words == ["all"] else words)
    tr = context.tr
    if removed:
        done = (
            tr.gettext("Stopped following %(words)s.")
            if kind == FOLLOW
            else tr.gettext("Unmuted %(words)s.")
        )
        await reply_text(update, markup(done, words=shown(removed)))
    elif words == ["all"]:
        await reply_text(update, markup(tr.gettext("Nothing to remove.")))
    else:
        not_had = (
            tr.gettext("This chat was not following %(words)s.")
            if kind == FOLLOW
            else tr.gettext("This chat was not muting %(words)s.")
        )
        await reply_text(update, markup(not_had, words=shown(words)))


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
    tr = context.tr
    _, args = button_pressed(query.data)
    word_id = parse_number(args[0], low=1) if args else None
    if word_id is None:
        await query.answer(tr.gettext(EXPIRED))
        return
    if not await may_manage(update, context):
        await query.answer(tr.gettext(NOT_ALLOWED), show_alert=True)
        return
    removed = await services.store.words.remove_id(chat.id, word_id)
    if removed is None:
        await query.answer(tr.gettext(EXPIRED))
        return
    if has_word_buttons(query.message):
        await edit_keyboard(query, await subscriptions_keyboard(services, chat.id, tr))
    done = (
        tr.gettext("Stopped following %(word)s")
        if removed.kind == FOLLOW
        else tr.gettext("Unmuted %(word)s")
    )
    await query.answer(done % {"word": quoted_word(removed.word)})
