"""Choosing topics: /topics, /subscribe, /unsubscribe, /subscriptions and the toggle buttons."""

from __future__ import annotations

from telegram import CallbackQuery, InlineKeyboardMarkup, Message, Update
from telegram.error import BadRequest

from bot import usecases
from bot.commands import resolve_topics
from bot.context import Context, Services
from bot.handlers.articles import unknown_topic_text
from bot.handlers.common import EXPIRED, args_of, may_manage, reply_text, thread_of
from bot.i18n import N_, Translator
from bot.render.messages import (
    button_pressed,
    delivered_into,
    moved_into,
    quoted_word,
    render_topics_keyboard,
    render_word_rows,
    with_threads,
)
from bot.render.text import escape, markup
from storage.words import FOLLOW, MUTE

NOT_ALLOWED = N_("Only this group's admins can change what it follows.")
NO_TOPICS = N_("No topics are set up yet.")


def names(services: Services, slugs: list[str]) -> str:
    topic_names = services.topic_names
    return ", ".join(f"<b>{escape(topic_names.get(s, s))}</b>" for s in slugs)


async def show_picker(update: Update, context: Context, intro: str) -> None:
    """The topic toggles under ``intro`` (a msgid)."""
    services = context.bot_data.services
    chat = update.effective_chat
    message = update.effective_message
    if chat is None or message is None:
        return
    if not services.config.topics:
        await reply_text(update, markup(context.tr.gettext(NO_TOPICS)))
        return
    subscribed = await services.store.subscriptions.of_chat(chat.id)
    keyboard = render_topics_keyboard(services.config.topics, set(subscribed))
    await message.reply_text(
        markup(context.tr.gettext(intro)), reply_markup=keyboard, do_quote=False
    )


async def topics(update: Update, context: Context) -> None:
    """List every topic as toggle buttons."""
    await show_picker(update, context, N_("Tap a topic to follow it or to stop:"))


async def subscriptions(update: Update, context: Context) -> None:
    """Show what this chat follows and mutes, with the buttons to change it."""
    services = context.bot_data.services
    chat = update.effective_chat
    message = update.effective_message
    if chat is None or message is None:
        return
    tr = context.tr
    threads = await services.store.subscriptions.threads(chat.id)
    current = list(threads)
    here = thread_of(update)
    if chat.is_forum and current:
        # A forum group: which topic thread gets what.
        placed = [(names(services, [slug]), thread) for slug, thread in threads.items()]
        lines = [
            markup(
                tr.gettext("This chat follows %(topics)s."), topics=with_threads(placed, here, tr)
            )
        ]
    else:
        lines = [
            markup(tr.gettext("This chat follows %(topics)s."), topics=names(services, current))
            if current
            else markup(tr.gettext("This chat follows no topics yet."))
        ]
    words = await services.store.words.of_chat(chat.id)
    for kind, label in (
        (FOLLOW, N_("Words followed: %(words)s.")),
        (MUTE, N_("Words muted: %(words)s.")),
    ):
        mine = [w for w in words if w.kind == kind]
        if chat.is_forum and kind == FOLLOW:
            listed = with_threads(
                [(escape(quoted_word(w.word)), w.thread_id) for w in mine], here, tr
            )
        else:
            listed = ", ".join(escape(quoted_word(w.word)) for w in mine)
        if listed:
            lines.append(markup(tr.gettext(label), words=listed))
    if not services.config.topics and not words:
        await reply_text(update, markup(tr.gettext(NO_TOPICS)))
        return
    keyboard = await subscriptions_keyboard(services, chat.id, tr)
    await message.reply_text(
        "\n".join(lines) + " " + markup(tr.gettext("Tap to change:")),
        reply_markup=keyboard,
        do_quote=False,
    )


async def subscriptions_keyboard(
    services: Services, chat_id: int, tr: Translator
) -> InlineKeyboardMarkup:
    """The topic toggles, then a remove button for each followed or muted word."""
    subscribed = await services.store.subscriptions.of_chat(chat_id)
    topics = render_topics_keyboard(services.config.topics, set(subscribed))
    words = await services.store.words.of_chat(chat_id)
    rows = render_word_rows([(w.id, w.word, w.kind) for w in words], tr)
    return InlineKeyboardMarkup([*topics.inline_keyboard, *rows])


async def edit_keyboard(query: CallbackQuery, markup: InlineKeyboardMarkup) -> None:
    """Show ``markup`` under the pressed message."""
    try:
        await query.edit_message_reply_markup(markup)
    except BadRequest as exc:
        # Two quick taps can leave the keyboard as it already is; that is not a failure.
        if "not modified" not in str(exc):
            raise


def has_word_buttons(message: object) -> bool:
    """Whether a message is a /subscriptions listing (its keyboard has word buttons)."""
    markup = message.reply_markup if isinstance(message, Message) else None
    if markup is None:
        return False
    return any(
        str(button.callback_data).startswith("wrd:")
        for row in markup.inline_keyboard
        for button in row
    )


async def topic_change(update: Update, context: Context, picker_intro: str) -> list[str] | None:
    """The topic words of /subscribe or /unsubscribe, once the sender may change this chat.

    None when there is nothing to do: no chat, no words (the picker was shown instead), or a
    sender who may not change the chat (told so).
    """
    if update.effective_chat is None:
        return None
    words = args_of(context)
    if not words:
        await show_picker(update, context, picker_intro)
        return None
    if not await may_manage(update, context):
        await reply_text(update, markup(context.tr.gettext(NOT_ALLOWED)))
        return None
    return words


async def subscribe(update: Update, context: Context) -> None:
    """Follow the named topics; with none named, show the toggles."""
    services = context.bot_data.services
    tr = context.tr
    words = await topic_change(update, context, N_("Tap the topics to follow:"))
    chat = update.effective_chat
    if words is None or chat is None:
        return
    slugs, unknown = resolve_topics(words, services.config.topics)
    if unknown:
        await reply_text(update, unknown_topic_text(unknown[0], context))
        if not slugs:
            return
    thread = thread_of(update)
    added = await usecases.subscribe(
        services.store, services.delivery, chat.id, slugs, services.now(), thread=thread
    )
    already = [s for s in slugs if s not in added]
    # In a forum, subscribing in a topic thread delivers there, whatever thread had it before.
    moved = (
        await services.store.subscriptions.move(chat.id, already, thread) if chat.is_forum else []
    )
    already = [s for s in already if s not in moved]
    parts = []
    if added:
        parts.append(markup(tr.gettext("Subscribed to %(topics)s."), topics=names(services, added)))
        if chat.is_forum:
            parts.append(delivered_into(thread, thread, tr))
    if moved:
        parts.append(moved_into(names(services, moved), thread, thread, tr))
    if already:
        parts.append(
            markup(tr.gettext("Already following %(topics)s."), topics=names(services, already))
        )
    await reply_text(update, " ".join(parts))


async def unsubscribe(update: Update, context: Context) -> None:
    """Stop following the named topics, or ``all``; with none named, show the toggles."""
    services = context.bot_data.services
    tr = context.tr
    words = await topic_change(update, context, N_("Tap a ticked topic to stop following it:"))
    chat = update.effective_chat
    if words is None or chat is None:
        return
    if [w.lower() for w in words] == ["all"]:
        removed = await services.store.subscriptions.unsubscribe(chat.id, None)
        await reply_text(
            update,
            markup(tr.gettext("Unsubscribed from %(topics)s."), topics=names(services, removed))
            if removed
            else markup(tr.gettext("Nothing to remove.")),
        )
        return
    slugs, unknown = resolve_topics(words, services.config.topics)
    if unknown:
        await reply_text(update, unknown_topic_text(unknown[0], context))
        if not slugs:
            return
    removed = await services.store.subscriptions.unsubscribe(chat.id, slugs)
    if removed:
        await reply_text(
            update,
            markup(tr.gettext("Unsubscribed from %(topics)s."), topics=names(services, removed)),
        )
    else:
        await reply_text(
            update,
            markup(
                tr.gettext("This chat was not following %(topics)s."), topics=names(services, slugs)
            ),
        )


async def on_topic_button(update: Update, context: Context) -> None:
    """``tog:`` flips a topic in the picker; ``sub:`` (under an article) follows it."""
    query = update.callback_query
    chat = update.effective_chat
    if query is None or chat is None:
        return
    services = context.bot_data.services
    tr = context.tr
    action, args = button_pressed(query.data)
    slug = args[0] if args else ""
    if slug not in services.topic_names:
        await query.answer(tr.gettext(EXPIRED))
        return
    if not await may_manage(update, context):
        await query.answer(tr.gettext(NOT_ALLOWED), show_alert=True)
        return
    name = services.topic_names[slug]
    current = set(await services.store.subscriptions.of_chat(chat.id))
    if action == "tog" and slug in current:
        await services.store.subscriptions.unsubscribe(chat.id, [slug])
        current.discard(slug)
        note = tr.gettext("Stopped following %(topic)s") % {"topic": name}
    else:
        added = await usecases.subscribe(
            services.store,
            services.delivery,
            chat.id,
            [slug],
            services.now(),
            thread=thread_of(update),
        )
        current.add(slug)
        note = (
            tr.gettext("Subscribed to %(topic)s")
            if added
            else tr.gettext("Already following %(topic)s")
        ) % {"topic": name}
    if action == "tog":
        await edit_keyboard(
            query,
            await subscriptions_keyboard(services, chat.id, tr)
            if has_word_buttons(query.message)
            else render_topics_keyboard(services.config.topics, current),
        )
    await query.answer(note)
