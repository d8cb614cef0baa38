"""First contact: /start (with deep links), /help, and a hint for unknown commands."""

from __future__ import annotations

from telegram import Update

from bot import usecases
from bot.commands import ADMIN_COMMANDS, PUBLIC_COMMANDS, find_topic
from bot.context import Context
from bot.handlers.common import args_of, may_manage, reply_text
from bot.handlers.subscriptions import NOT_ALLOWED
from bot.render.messages import render_help, render_topics_keyboard, render_welcome
from bot.render.text import escape, markup

DEEP_LINK_SUBSCRIBE = "sub_"


async def start(update: Update, context: Context) -> None:
    """Welcome the reader with the topic picker; ``?start=sub_<topic>`` subscribes at once."""
    services = context.bot_data.services
    tr = context.tr
    chat, message = update.effective_chat, update.effective_message
    if chat is None or message is None:
        return
    args = args_of(context)
    if args and args[0].startswith(DEEP_LINK_SUBSCRIBE):
        topic = find_topic(args[0][len(DEEP_LINK_SUBSCRIBE) :], services.config.topics)
        if topic is None:
            await reply_text(
                update,
                markup(tr.gettext("That link names a topic I no longer have. /topics lists them.")),
            )
        elif not await may_manage(update, context):
            await reply_text(update, markup(tr.gettext(NOT_ALLOWED)))
        else:
            # The same use case as /subscribe: a newly followed topic brings its backlog.
            await usecases.subscribe(
                services.store, services.delivery, chat.id, [topic.slug], services.now()
            )
            await reply_text(
                update,
                markup(
                    tr.gettext("Subscribed to %(topic)s. New articles will come here."),
                    topic=f"<b>{escape(topic.name)}</b>",
                ),
            )
            return
    subscribed = set(await services.store.subscriptions.of_chat(chat.id))
    keyboard = (
        render_topics_keyboard(services.config.topics, subscribed)
        if services.config.topics
        else None
    )
    await message.reply_text(
        render_welcome(context.bot.first_name, tr), reply_markup=keyboard, do_quote=False
    )


async def help_command(update: Update, context: Context) -> None:
    """List every command with one line each (admin commands for admins only)."""
    services = context.bot_data.services
    user = update.effective_user
    commands = list(PUBLIC_COMMANDS)
    if services.is_admin(user.id if user else None):
        commands += ADMIN_COMMANDS
    await reply_text(update, render_help(commands, context.tr))


async def unknown_command(update: Update, context: Context) -> None:
    """Point at /help, but only for commands meant for this bot."""
    message = update.effective_message
    chat = update.effective_chat
    if message is None or chat is None or not message.text:
        return
    command = message.text.split()[0]
    addressed = "@" in command
    if addressed and command.split("@", 1)[1].lower() != (context.bot.username or "").lower():
        return  # another bot's command in a group
    if chat.type != "private" and not addressed:
        return  # in groups, unaddressed commands may be for other bots
    await reply_text(
        update, markup(context.tr.gettext("I don't know that command. /help lists what I can do."))
    )
