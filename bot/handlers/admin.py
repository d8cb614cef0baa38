"""Admin-only commands: /stats, /feeds, /addfeed, /removefeed."""

from __future__ import annotations

import html
import re
from collections.abc import Callable, Coroutine
from typing import Any

from telegram import Update

from bot import usecases
from bot.commands import UsageError, clip, parse_id, resolve_topics
from bot.context import Context
from bot.handlers.common import args_of, reply_text
from bot.i18n import N_
from bot.render.text import markup
from bot.stats import gather_stats, render_stats

REFUSAL = N_("Sorry, that command is only for this bot's admins.")
Handler = Callable[[Update, Context], Coroutine[Any, Any, None]]
FEED_URL = re.compile(r"https?://[^\s/$.?#][^\s]*", re.IGNORECASE)
REMOVEFEED_USAGE = N_("Usage: /removefeed ID (the #ID from /feeds)")
MAX_WARNINGS = 5  # a feed with many bad entries gets a short answer, not a wall of text


def admin_only(handler: Handler) -> Handler:
    """Refuse politely unless the sender is in ``[telegram].admins``."""

    async def guarded(update: Update, context: Context) -> None:
        services = context.bot_data.services
        user = update.effective_user
        if not services.is_admin(user.id if user else None):
            await reply_text(update, markup(context.tr.gettext(REFUSAL)))
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
    await reply_text(update, render_stats(report, context.tr))


@admin_only
async def feeds(update: Update, context: Context) -> None:
    """Every feed with its topics and health."""
    store = context.bot_data.services.store
    tr = context.tr
    all_feeds = await store.feeds.all()
    if not all_feeds:
        await reply_text(
            update, markup(tr.gettext("No feeds yet. Add one with /addfeed URL [topics]."))
        )
        return
    lines = ["<b>" + markup(tr.gettext("Feeds")) + "</b>"]
    for feed in all_feeds[:50]:
        health = (
            markup(
                tr.gettext("failing ×%(count)d: %(error)s"),
                count=feed.error_count,
                error=html.escape(clip(feed.last_error or "", 100)),
            )
            if feed.error_count
            else markup(tr.gettext("ok"))
        )
        topics = html.escape(", ".join(feed.topics) or tr.gettext("by rules"))
        lines.append(f"#{feed.id} {html.escape(clip(feed.url, 80))}\n   {topics} · {health}")
    from bot.handlers.opml import export_keyboard  # that module builds on this one's admin_only

    if update.effective_message is not None:
        await update.effective_message.reply_text(
            "\n".join(lines), do_quote=False, reply_markup=export_keyboard(tr)
        )


@admin_only
async def addfeed(update: Update, context: Context) -> None:
    """Add a feed (/addfeed URL [topics]) once a first fetch shows it works."""
    services = context.bot_data.services
    tr = context.tr
    args = args_of(context)
    if not args or not FEED_URL.fullmatch(args[0]) or len(args[0]) > 2000:
        usage = tr.gettext("Usage: /addfeed URL [topics] (an http:// or https:// feed URL)")
        await reply_text(update, markup(usage))
        return
    slugs, unknown = resolve_topics(args[1:], services.config.topics)
    if unknown:
        await reply_text(
            update,
            markup(
                tr.gettext("Unknown topic “%(word)s”. /topics lists them."),
                word=html.escape(clip(unknown[0])),
            ),
        )
        return
    added = await usecases.add_feed(
        services.store,
        services.importer,
        services.http,
        services.config,
        args[0],
        slugs,
        services.now(),
    )
    if added.error is None:
        new = tr.ngettext("%(n)d new article", "%(n)d new articles", added.imported) % {
            "n": added.imported
        }
        lines = [
            markup(
                tr.gettext("Added feed #%(id)d: %(new)s, %(known)d known."),
                id=added.feed_id or 0,
                new=html.escape(new),
                known=added.duplicate,
            )
        ]
        shown = added.warnings[:MAX_WARNINGS]
        lines += [
            markup(tr.gettext("Warning: %(warning)s"), warning=html.escape(clip(w, 200)))
            for w in shown
        ]
        more = len(added.warnings) - len(shown)
        if more > 0:
            lines.append(
                markup(
                    tr.ngettext("… and %(n)d more warning.", "… and %(n)d more warnings.", more),
                    n=more,
                )
            )
        await reply_text(update, "\n".join(lines))
        return
    detail = html.escape(clip(added.error, 200))
    if added.known:
        known = tr.gettext("Feed #%(id)d is known, but reading it failed: %(detail)s")
        await reply_text(update, markup(known, id=added.feed_id or 0, detail=detail))
    else:
        await reply_text(update, markup(tr.gettext("Not added: %(detail)s"), detail=detail))


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
        await reply_text(update, html.escape(exc.text(context.tr)))
        return
    if await services.store.feeds.remove(feed_id):
        await reply_text(update, markup(context.tr.gettext("Removed feed #%(id)d."), id=feed_id))
    else:
        await reply_text(
            update, markup(context.tr.gettext("There is no feed #%(id)d."), id=feed_id)
        )
