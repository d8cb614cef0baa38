"""Admins' OPML in Telegram: send an .opml file to import its feeds; /feeds → Export sends one."""

from __future__ import annotations

import html

from telegram import InlineKeyboardButton, InlineKeyboardMarkup, InputFile, Update

from bot.commands import clip
from bot.context import Context
from bot.handlers.admin import REFUSAL, admin_only
from bot.handlers.common import EXPIRED, reply_text
from bot.i18n import Translator
from bot.opml import export_opml, import_opml_feeds, report_lines
from bot.render.text import markup
from ingest.opml import MAX_BYTES

EXPORT_DATA = "opml:export"
EXPORT_NAME = "newsbot-feeds.opml"
MAX_LINES = 30  # of problems in the answer: a 10,000-line report is no answer


def export_keyboard(tr: Translator) -> InlineKeyboardMarkup:
    """The Export button under /feeds."""
    button = InlineKeyboardButton(tr.gettext("Export OPML"), callback_data=EXPORT_DATA)
    return InlineKeyboardMarkup([[button]])


@admin_only
async def on_document(update: Update, context: Context) -> None:
    """Import the feeds of an OPML file an admin sent."""
    services = context.bot_data.services
    tr = context.tr
    message = update.effective_message
    document = message.document if message is not None else None
    if document is None:
        return
    name = html.escape(clip(document.file_name or tr.gettext("the file"), 60))
    if document.file_size is not None and document.file_size > MAX_BYTES:
        too_big = tr.gettext("Not imported: %(name)s is over %(size)d MB.")
        await reply_text(update, markup(too_big, name=name, size=MAX_BYTES // 2**20))
        return
    importing = tr.gettext("Importing %(name)s: each feed is fetched before it is added…")
    await reply_text(update, markup(importing, name=name))
    file = await context.bot.get_file(document.file_id)
    data = bytes(await file.download_as_bytearray())
    report = await import_opml_feeds(
        services.store, services.importer, services.http, services.config, data, services.now
    )
    *problems, counts = report_lines(report)
    shown = [f"• {html.escape(line)}" for line in problems[:MAX_LINES]]
    more = len(problems) - MAX_LINES
    if more > 0:
        shown.append(
            markup(
                tr.ngettext("… and %(n)d more problem", "… and %(n)d more problems", more), n=more
            )
        )
    # The problem lines and counts are the CLI's too (bot/opml.py): they stay in English.
    head = markup(tr.gettext("OPML import: %(counts)s"), counts=html.escape(counts))
    await reply_text(update, "\n".join([head, *shown]))


async def on_export_button(update: Update, context: Context) -> None:
    """Send every feed as an OPML file (the Export button under /feeds)."""
    services = context.bot_data.services
    tr = context.tr
    query = update.callback_query
    if query is None:
        return
    if not services.is_admin(query.from_user.id):
        await query.answer(context.tr.gettext(REFUSAL), show_alert=True)
        return
    chat = update.effective_chat
    if chat is None:
        await query.answer(context.tr.gettext(EXPIRED))
        return
    document = await export_opml(services.store, services.config, services.clock())
    feeds = document.count("<outline ")
    caption = tr.ngettext(
        "%(n)d feed as OPML 2.0: import it into another reader, or send it back here.",
        "%(n)d feeds as OPML 2.0: import it into another reader, or send it back here.",
        feeds,
    )
    await context.bot.send_document(
        chat.id,
        InputFile(document.encode("utf-8"), filename=EXPORT_NAME),
        caption=markup(caption, n=feeds),
    )
    await query.answer()
