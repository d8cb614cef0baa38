"""Per-chat delivery settings: instant or digest, time zone for datelines, quiet hours."""

from __future__ import annotations

import html

from telegram import InlineKeyboardButton, InlineKeyboardMarkup, Update
from telegram.error import BadRequest

from bot.commands import SettingsChange, UsageError, parse_settings
from bot.context import Context
from bot.handlers.common import EXPIRED, args_of, may_manage, reply_text
from bot.handlers.subscriptions import NOT_ALLOWED
from bot.render.messages import callback, parse_callback
from storage.chats import DIGEST, Chat

PRESETS = {
    "instant": ["instant"],
    "digest": ["digest", "08:00"],
    "evening": ["digest", "18:00"],
    "quiet": ["quiet", "23:00-07:00"],
    "noquiet": ["quiet", "off"],
}


def describe(chat: Chat) -> str:
    if chat.mode == DIGEST:
        mode = f"one digest a day at <b>{html.escape(chat.digest_time or '08:00')}</b>"
    else:
        mode = "<b>each article as it is published</b>"
    zone = html.escape(chat.timezone) if chat.timezone else "the publisher's own zone"
    quiet = (
        f"{html.escape(chat.quiet_start)}–{html.escape(chat.quiet_end)}"
        if chat.quiet_start and chat.quiet_end
        else "none"
    )
    return (
        f"<b>Settings</b>\nDelivery: {mode}\nDatelines: {zone}\nQuiet hours: {quiet}\n\n"
        "Change with the buttons, or /settings digest 07:30, /settings tz Europe/Berlin,"
        " /settings quiet 22:00-06:30."
    )


def keyboard() -> InlineKeyboardMarkup:
    def button(label: str, preset: str) -> InlineKeyboardButton:
        return InlineKeyboardButton(label, callback_data=callback("set", preset))

    return InlineKeyboardMarkup(
        [
            [button("Instant", "instant"), button("Digest 08:00", "digest")],
            [button("Digest 18:00", "evening")],
            [button("Quiet 23:00–07:00", "quiet"), button("No quiet hours", "noquiet")],
        ]
    )


async def apply(update: Update, context: Context, change: SettingsChange) -> Chat | None:
    services = context.bot_data.services
    chat = update.effective_chat
    if chat is None:
        return None
    services.forget_chat(chat.id)
    return await services.store.chats.update_settings(chat.id, services.now(), **change.values)


async def settings(update: Update, context: Context) -> None:
    """Show the chat's settings, or change one: /settings digest 08:00."""
    services = context.bot_data.services
    chat, message = update.effective_chat, update.effective_message
    if chat is None or message is None:
        return
    args = args_of(context)
    if not args:
        stored = await services.store.chats.get(chat.id)  # recorded in group -1
        if stored is not None:
            await message.reply_text(describe(stored), reply_markup=keyboard(), do_quote=False)
        return
    try:
        change = parse_settings(args)
    except UsageError as exc:
        await reply_text(update, html.escape(str(exc)))
        return
    if not await may_manage(update, context):
        await reply_text(update, NOT_ALLOWED)
        return
    await apply(update, context, change)
    await reply_text(update, html.escape(change.summary))


async def on_settings_button(update: Update, context: Context) -> None:
    query = update.callback_query
    if query is None:
        return
    try:
        _, args = parse_callback(query.data)
        change = parse_settings(PRESETS[args[0]])
    except (ValueError, KeyError, IndexError):
        await query.answer(EXPIRED)
        return
    if not await may_manage(update, context):
        await query.answer(NOT_ALLOWED, show_alert=True)
        return
    chat = await apply(update, context, change)
    if chat is not None:
        try:
            await query.edit_message_text(describe(chat), reply_markup=keyboard())
        except BadRequest as exc:
            if "not modified" not in str(exc):
                raise
    await query.answer(change.summary[:200])
