"""Reading news: /latest, /related, /search, article buttons and inline queries."""

from __future__ import annotations

import logging
from collections.abc import Mapping

from babel.lists import format_list
from telegram import (
    InlineQueryResultArticle,
    InputTextMessageContent,
    LinkPreviewOptions,
    Message,
    Update,
)
from telegram.error import BadRequest

from bot import usecases
from bot.commands import (
    LATEST_MAX,
    MAX_OFFSET,
    RELATED_USAGE,
    UnknownTopic,
    UsageError,
    clip,
    parse_article_id,
    parse_latest,
    parse_number,
)
from bot.context import Context
from bot.handlers.common import (
    EXPIRED,
    args_of,
    chat_zone,
    reply,
    reply_text,
)
from bot.render.messages import (
    UNTITLED,
    button_pressed,
    callback,
    render_article,
    render_list,
    render_related,
    suggest_topics,
)
from bot.render.text import clean_line, escape, markup, truncate
from bot.transport import preview

log = logging.getLogger(__name__)

SEARCH_LIMIT = 10
INLINE_LIMIT = 20
RELATED_LIMIT = 5
MAX_QUERY = 256  # longer search text is cut, not echoed


async def latest(update: Update, context: Context) -> None:
    """Send the newest articles, optionally of one topic, with a "More" button."""
    services = context.bot_data.services
    try:
        wanted = parse_latest(args_of(context), services.config.topics)
    except UnknownTopic as exc:
        await reply_text(update, unknown_topic_text(exc.word, context))
        return
    except UsageError as exc:
        await reply_text(update, escape(exc.text(context.tr)))
        return
    await send_latest_page(update, context, wanted.topic, 0, wanted.count, edit=None)


async def send_latest_page(
    update: Update,
    context: Context,
    topic: str | None,
    offset: int,
    count: int,
    *,
    edit: Message | None,
) -> bool:
    services = context.bot_data.services
    tr = context.tr
    found = await usecases.latest_page(services.store, topic, offset, count)
    articles, more = found.articles, found.more
    if not articles and edit is not None:
        return False
    name = services.topic_names.get(topic, topic) if topic else None
    title = (
        tr.gettext("Latest in %(topic)s") % {"topic": name} if name else tr.gettext("Latest news")
    )
    if offset:
        title += f" ({offset + 1}–{offset + len(articles)})"
    page = callback("more", topic or "-", offset + count, count) if more else None
    back = callback("more", topic or "-", max(offset - count, 0), count) if offset else None
    rendered = render_list(
        title,
        articles,
        tz=await chat_zone(services, update.effective_chat),
        page_callback=page,
        back_callback=back,
        first=offset + 1,
        sources=found.sources,
        tr=tr,
    )
    if edit is not None:
        await edit.edit_text(
            rendered.text,
            reply_markup=rendered.reply_markup,
            link_preview_options=LinkPreviewOptions(is_disabled=True),
        )
    else:
        await reply(update, context, rendered)
    return True


def unknown_topic_text(word: str, context: Context) -> str:
    services = context.bot_data.services
    pairs = [(t.slug, t.name) for t in services.config.topics]
    close = suggest_topics(word, pairs)
    tr = context.tr
    text = markup(tr.gettext("I don't know the topic “%(word)s”."), word=escape(clip(word)))
    if close:
        # "A, B or C" with the language's own "or" (CLDR list patterns).
        names = format_list([f"<b>{escape(n)}</b>" for n in close], "or", tr.locale)
        text += " " + markup(tr.gettext("Did you mean %(names)s?"), names=names)
    return text + " " + markup(tr.gettext("/topics lists them all."))


def article_id_from_reply(message: Message | None) -> int | None:
    """The article behind a bot message the user replied to, read from its buttons."""
    if message is None or message.reply_markup is None:
        return None
    for row in message.reply_markup.inline_keyboard:
        for button in row:
            action, args = button_pressed(button.callback_data)  # type: ignore[arg-type]
            found = parse_number(args[0], low=1) if action == "rel" else None
            if found is not None:
                return found
    return None


async def related(update: Update, context: Context) -> None:
    """Send the related list for /related ID, or for the article message replied to."""
    services = context.bot_data.services
    message = update.effective_message
    args = args_of(context)
    article_id: int | None = None
    if args:
        try:
            article_id = parse_article_id(args[0])
        except UsageError as exc:
            await reply_text(update, escape(exc.text(context.tr)))
            return
    elif message is not None and message.reply_to_message is not None:
        replied = message.reply_to_message
        article_id = article_id_from_reply(replied)
        if article_id is None:
            # A delivered article: the ledger knows which article that message carried.
            article_id = await services.store.deliveries.article_for_message(
                replied.chat.id, replied.message_id
            )
    if article_id is None:
        await reply_text(update, markup(context.tr.gettext(RELATED_USAGE)))
        return
    await send_related(update, context, article_id)


async def send_related(update: Update, context: Context, article_id: int) -> bool:
    services = context.bot_data.services
    article = await services.store.articles.get(article_id)
    if article is None:
        await reply_text(
            update, markup(context.tr.gettext("There is no article #%(id)d.") % {"id": article_id})
        )
        return False
    # The story's other reports come first; the related stories after them are other events.
    reports = await services.store.articles.in_story(article.story or article.id)
    same = {r.id for r in reports} | {article.id}
    found = [
        a
        for a in await services.store.search.related(article_id, limit=RELATED_LIMIT + len(same))
        if a.id not in same
    ][:RELATED_LIMIT]
    # When nothing in the store relates, the publisher's own box still says something.
    tz = await chat_zone(services, update.effective_chat)
    rendered = render_related(
        article,
        found or article.related,
        limit=RELATED_LIMIT,
        tz=tz,
        reports=reports,
        tr=context.tr,
    )
    await reply(update, context, rendered)
    return True


async def search(update: Update, context: Context) -> None:
    """Send the best matches for the words, newest first among them."""
    services = context.bot_data.services
    tr = context.tr
    text = " ".join(args_of(context))[:MAX_QUERY]
    if not text.strip():
        await reply_text(update, markup(tr.gettext("Usage: /search words")))
        return
    found = await services.store.search.search(text, limit=SEARCH_LIMIT)
    shown = truncate(clean_line(text), 40)
    rendered = render_list(
        tr.gettext("Search: %(words)s") % {"words": shown},
        found,
        tz=await chat_zone(services, update.effective_chat),
        empty=tr.gettext("No articles match “%(words)s”.") % {"words": shown},
        tr=tr,
    )
    await reply(update, context, rendered)


async def on_article_button(update: Update, context: Context) -> None:
    """Buttons under articles and lists: open an article, its related list, or the next page."""
    query = update.callback_query
    if query is None:
        return
    services = context.bot_data.services
    action, args = button_pressed(query.data)
    if action == "more":
        page = _page(args, services.topic_names)
        message = query.message if isinstance(query.message, Message) else None
        if page is None or message is None:
            await query.answer(context.tr.gettext(EXPIRED))
            return
        shown = await send_latest_page(update, context, *page, edit=message)
        await query.answer(None if shown else context.tr.gettext("No more articles."))
        return
    article_id = parse_number(args[0], low=1) if action in ("art", "rel") and args else None
    article = await services.store.articles.get(article_id) if article_id is not None else None
    if article_id is None or article is None:
        await query.answer(context.tr.gettext(EXPIRED))
        return
    await query.answer()
    if action == "rel":
        await send_related(update, context, article_id)
    else:
        tz = await chat_zone(services, update.effective_chat)
        rendered = render_article(article, topics=services.topic_names, tz=tz, tr=context.tr)
        await reply(update, context, rendered)


def _page(args: list[str], topic_names: Mapping[str, str]) -> tuple[str | None, int, int] | None:
    """Topic, offset and count of a "More ›" button, or None if it could not be ours."""
    if len(args) != 3:
        return None
    topic = None if args[0] == "-" else args[0]
    offset = parse_number(args[1], high=MAX_OFFSET)
    count = parse_number(args[2], low=1, high=LATEST_MAX)
    if offset is None or count is None or (topic is not None and topic not in topic_names):
        return None
    return topic, offset, count


async def inline_query(update: Update, context: Context) -> None:
    """Offer matching articles (or the latest, for an empty query) to share in any chat."""
    query = update.inline_query
    if query is None:
        return
    services = context.bot_data.services
    text = query.query.strip()[:MAX_QUERY]
    if text:
        found = await services.store.search.search(text, limit=INLINE_LIMIT)
    else:
        found = await services.store.articles.latest(limit=INLINE_LIMIT)
    results = []
    for article in found:
        # Shared into any chat, but in the language of the one who shares it.
        rendered = render_article(article, topics=services.topic_names, tr=context.tr)
        description = truncate(clean_line(article.summary or article.body), 120)
        results.append(
            InlineQueryResultArticle(
                id=str(article.id),
                title=truncate(clean_line(article.title) or context.tr.gettext(UNTITLED), 120),
                description=description or None,
                url=article.url if article.url and article.url.startswith("http") else None,
                input_message_content=InputTextMessageContent(
                    rendered.text,
                    parse_mode=rendered.parse_mode,
                    # A shared article has no photo: its picture, if any, is the preview.
                    link_preview_options=preview(rendered.disable_preview, rendered.picture),
                ),
            )
        )
    try:
        await query.answer(results, cache_time=30, is_personal=False)
    except BadRequest as exc:
        # An inline query expires after about 10 s; a late answer is not worth an error.
        log.info("inline answer not accepted: %s", exc)
