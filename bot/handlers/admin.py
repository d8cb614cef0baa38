"""Admin-only commands: /stats, /feeds, /addfeed, /removefeed."""

from __future__ import annotations

import html
import re
from collections.abc import Callable, Coroutine
from typing import Any

from telegram import Update

from bot.commands import UsageError, clip, parse_id, resolve_topics
from bot.context import Context
from bot.handlers.common import args_of, remember_chat, reply_text
from bot.stats import gather_stats, render_stats
from ingest.errors import ImportFailure
from ingest.fetch import fetch_feed
from ingest.pipeline import Importer

REFUSAL = "Sorry, that command is only for this bot's admins."
Handler = Callable[[Update, Context], Coroutine[Any, Any, None]]
FEED_URL = re.compile(r"https?://[^\s/$.?#][^\s]*", re.IGNORECASE)
DEFAULT_EVERY = 600
REMOVEFEED_USAGE = "Usage: /removefeed ID (the #ID from /feeds)"


def admin_only(handler: Handler) -> Handler:
    """Refuse politely unless the sender is in ``[telegram].admins``."""

    async def guarded(update: Update, context: Context) -> None:
        services = context.bot_data.services
        await remember_chat(update, services)
        user = update.effective_user
        if not services.is_admin(user.id if user else None):
            await reply_text(update, REFUSAL)
            return
        await handler(update, context)

    guarded.__doc__ = handler.__doc__
    guarded.__name__ = handler.__name__
    return guarded


@admin_only
async def stats(update: Update, context: Context) -> None:
    """Delivery, chat, channel and feed figures."""
    services = context.bot_data.services
    report = await gather_stats(services)
    await reply_text(update, render_stats(report))


@admin_only
async def feeds(update: Update, context: Context) -> None:
    """Every feed with its topics and health."""
    store = context.bot_data.services.store
    all_feeds = await store.feeds.all()
    if not all_feeds:
        await reply_text(update, "No feeds yet. Add one with /addfeed URL [topics].")
        return
    lines = ["<b>Feeds</b>"]
    for feed in all_feeds[:50]:
        health = (
            f"failing ×{feed.error_count}: {html.escape(clip(feed.last_error or '', 100))}"
            if feed.error_count
            else "ok"
        )
        topics = ", ".join(feed.topics) or "by rules"
        lines.append(f"#{feed.id} {html.escape(clip(feed.url, 80))}\n   {topics} · {health}")
    await reply_text(update, "\n".join(lines))


@admin_only
async def addfeed(update: Update, context: Context) -> None:
    """Add a feed (/addfeed URL [topics]) once a first fetch shows it works."""
    services = context.bot_data.services
    args = args_of(context)
    if not args or not FEED_URL.fullmatch(args[0]) or len(args[0]) > 2000:
        await reply_text(update, "Usage: /addfeed URL [topics] (an http:// or https:// feed URL)")
        return
    slugs, unknown = resolve_topics(args[1:], services.config.topics)
    if unknown:
        await reply_text(
            update, f"Unknown topic “{html.escape(clip(unknown[0]))}”. /topics lists them."
        )
        return
    url = args[0]
    # Fetched before it is registered: an address that never answered with a feed (or that
    # the fetch policy refuses) must not stay in the store to be polled for ever.
    try:
        fetched = await fetch_feed(
            services.http, url, etag=None, last_modified=None, config=services.config.fetch
        )
    except ImportFailure as failure:
        await reply_text(update, f"Not added: {html.escape(clip(failure.reason, 200))}")
        return
    known = await services.store.feeds.find(url)
    feed = await services.store.feeds.add(url, slugs, DEFAULT_EVERY, services.now())
    on_new = services.delivery.articles_stored if services.delivery else None
    importer = Importer(services.store, services.tagger, now=services.clock, on_new=on_new)
    summary = await importer.poll_feed(feed, services.http, services.config.fetch, fetched)
    if summary.failed:
        detail = html.escape(clip(summary.failures[0], 200))
        if known is None:
            await services.store.feeds.remove(feed.id)  # never worked: not registered
            await reply_text(update, f"Not added: {detail}")
        else:
            await reply_text(update, f"Feed #{feed.id} is known, but reading it failed: {detail}")
    else:
        await reply_text(
            update,
            f"Added feed #{feed.id}: {summary.imported} new articles, {summary.duplicate} known.",
        )


@admin_only
async def removefeed(update: Update, context: Context) -> None:
    """Remove a feed by its id (/removefeed ID)."""
    services = context.bot_data.services
    args = args_of(context)
    try:
        if len(args) != 1:
            raise UsageError(REMOVEFEED_USAGE)
        feed_id = parse_id(args[0], REMOVEFEED_USAGE)
    except UsageError as exc:
        await reply_text(update, html.escape(str(exc)))
        return
    if await services.store.feeds.remove(feed_id):
        await reply_text(update, f"Removed feed #{feed_id}.")
    else:
        await reply_text(update, f"There is no feed #{feed_id}.")
