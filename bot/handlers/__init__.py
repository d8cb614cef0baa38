"""Every handler, registered in one place. Order matters only where noted."""

from __future__ import annotations

from typing import Any

from telegram import Update
from telegram.ext import (
    Application,
    CallbackQueryHandler,
    ChatMemberHandler,
    CommandHandler,
    InlineQueryHandler,
    MessageHandler,
    TypeHandler,
    filters,
)

from bot.commands import ADMIN_COMMANDS, PUBLIC_COMMANDS
from bot.context import Context
from bot.handlers import admin, articles, chats, opml, settings, start, subscriptions, words
from bot.handlers.common import EXPIRED, record_chat
from bot.handlers.errors import on_error

COMMANDS = PUBLIC_COMMANDS


def register_handlers(app: Application[Any, Any, Any, Any, Any, Any]) -> None:
    command_handlers = {
        "start": start.start,
        "help": start.help_command,
        "latest": articles.latest,
        "related": articles.related,
        "search": articles.search,
        "topics": subscriptions.topics,
        "subscribe": subscriptions.subscribe,
        "unsubscribe": subscriptions.unsubscribe,
        "subscriptions": subscriptions.subscriptions,
        "follow": words.follow,
        "unfollow": words.unfollow,
        "mute": words.mute,
        "unmute": words.unmute,
        "settings": settings.settings,
        "stats": admin.stats,
        "feeds": admin.feeds,
        "addfeed": admin.addfeed,
        "removefeed": admin.removefeed,
    }
    assert set(command_handlers) == {name for name, _ in PUBLIC_COMMANDS + ADMIN_COMMANDS}
    # Before every other handler, whatever handles the update after it: the chat it came
    # from is recorded once, here, so no handler has to remember to.
    app.add_handler(TypeHandler(Update, record_chat), group=-1)
    # New messages only: editing a message that held a command must not run it again
    # (a second /subscribe, another /stats). CommandHandler alone also takes edits.
    new_messages = filters.UpdateType.MESSAGE
    for name, callback in command_handlers.items():
        app.add_handler(CommandHandler(name, callback, filters=new_messages))

    app.add_handler(CallbackQueryHandler(articles.on_article_button, pattern=r"^(art|rel|more):"))
    app.add_handler(CallbackQueryHandler(subscriptions.on_topic_button, pattern=r"^(tog|sub):"))
    app.add_handler(CallbackQueryHandler(settings.on_settings_button, pattern=r"^set:"))
    app.add_handler(CallbackQueryHandler(opml.on_export_button, pattern=rf"^{opml.EXPORT_DATA}$"))
    app.add_handler(CallbackQueryHandler(words.on_word_button, pattern=r"^wrd:"))
    app.add_handler(CallbackQueryHandler(expired_button))
    app.add_handler(InlineQueryHandler(articles.inline_query))
    app.add_handler(ChatMemberHandler(chats.my_chat_member, ChatMemberHandler.MY_CHAT_MEMBER))
    app.add_handler(MessageHandler(filters.StatusUpdate.MIGRATE, chats.migration))
    opml_file = filters.Document.FileExtension("opml") | filters.Document.MimeType("text/x-opml")
    app.add_handler(MessageHandler(opml_file & new_messages, opml.on_document))
    # Last in the group: within a group only the first matching handler runs, so the hint
    # answers just the commands no CommandHandler above took.
    app.add_handler(MessageHandler(filters.COMMAND & new_messages, start.unknown_command))
    app.add_error_handler(on_error)


async def expired_button(update: Update, context: Context) -> None:
    """A button this version of the bot does not know (an old message's)."""
    if update.callback_query is not None:
        await update.callback_query.answer(context.tr.gettext(EXPIRED))
