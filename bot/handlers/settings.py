"""Per-chat settings: instant or digest, time zone for datelines, quiet hours, language."""

from __future__ import annotations

from telegram import InlineKeyboardButton, InlineKeyboardMarkup, Update
from telegram.error import BadRequest

from bot.commands import AUTO_LANGUAGE, SettingsChange, UsageError, parse_settings
from bot.context import Context
from bot.handlers.common import EXPIRED, args_of, may_manage, reply_text
from bot.i18n import N_, Languages, Translator
from bot.render.messages import callback, parse_callback
from bot.render.text import escape, markup
from storage.chats import DIGEST, Chat

PRESETS = {
    "instant": ["instant"],
    "digest": ["digest", "08:00"],
    "evening": ["digest", "18:00"],
    "quiet": ["quiet", "23:00-07:00"],
    "noquiet": ["quiet", "off"],
}
LANGUAGE_PRESET = "lang"  # set:lang:<code>, or set:lang:auto
SETTINGS_NOT_ALLOWED = N_("Only this group's admins can change its settings.")


def describe(chat: Chat, tr: Translator, languages: Languages) -> str:
    """The chat's settings, in ``tr``'s language (HTML)."""
    if chat.mode == DIGEST:
        mode = markup(
            tr.gettext("one digest a day at %(time)s"),
            time=f"<b>{escape(chat.digest_time or '08:00')}</b>",
        )
    else:
        mode = "<b>" + markup(tr.gettext("each article as it is published")) + "</b>"
    zone = escape(chat.timezone or tr.gettext("the publisher's own zone"))
    quiet = (
        escape(f"{chat.quiet_start}–{chat.quiet_end}")
        if chat.quiet_start and chat.quiet_end
        else markup(tr.gettext("none"))
    )
    chosen = languages.supported(chat.language)
    language = escape(
        languages.get(chosen).name
        if chosen
        else tr.gettext("each reader's own (now %(language)s)") % {"language": tr.name}
    )
    return "\n".join(
        [
            "<b>" + markup(tr.gettext("Settings")) + "</b>",
            markup(tr.gettext("Delivery: %(mode)s"), mode=mode),
            markup(tr.gettext("Datelines: %(zone)s"), zone=zone),
            markup(tr.gettext("Quiet hours: %(quiet)s"), quiet=quiet),
            markup(tr.gettext("Language: %(language)s"), language=language),
            "",
            markup(
                tr.gettext(
                    "Change with the buttons, or /settings digest 07:30, /settings tz"
                    " Europe/Berlin, /settings quiet 22:00-06:30, /settings language ru."
                )
            ),
        ]
    )


def keyboard(tr: Translator, languages: Languages) -> InlineKeyboardMarkup:
    def button(label: str, *preset: str) -> InlineKeyboardButton:
        return InlineKeyboardButton(label, callback_data=callback("set", *preset))

    spoken = [button(languages.get(code).name, LANGUAGE_PRESET, code) for code in languages.codes]
    return InlineKeyboardMarkup(
        [
            [
                button(tr.gettext("Instant"), "instant"),
                button(tr.gettext("Digest 08:00"), "digest"),
            ],
            [button(tr.gettext("Digest 18:00"), "evening")],
            [
                button(tr.gettext("Quiet 23:00–07:00"), "quiet"),
                button(tr.gettext("No quiet hours"), "noquiet"),
            ],
            spoken,
            [button(tr.gettext("Each reader's language"), LANGUAGE_PRESET, AUTO_LANGUAGE)],
        ]
    )


async def apply(
    update: Update, context: Context, change: SettingsChange
) -> tuple[Chat | None, Translator]:
    """Store the change; the chat as it is now, and the language to answer in from now on."""
    services = context.bot_data.services
    chat = update.effective_chat
    if chat is None:
        return None, context.tr
    services.forget_chat(chat.id)
    stored = await services.store.chats.update_settings(chat.id, services.now(), **change.values)
    if "language" not in change.values:
        return stored, context.tr
    user = update.effective_user
    # The answer to a language change is already in the new language.
    tr = services.languages.get(stored.language or (user.language_code if user else None))
    context.translator = tr
    return stored, tr


async def settings(update: Update, context: Context) -> None:
    """Show the chat's settings, or change one: /settings digest 08:00."""
    services = context.bot_data.services
    chat, message = update.effective_chat, update.effective_message
    if chat is None or message is None:
        return
    args = args_of(context)
    languages = services.languages
    if not args:
        stored = await services.store.chats.get(chat.id)  # recorded in group -1
        if stored is not None:
            await message.reply_text(
                describe(stored, context.tr, languages),
                reply_markup=keyboard(context.tr, languages),
                do_quote=False,
            )
        return
    try:
        change = parse_settings(args, languages.codes)
    except UsageError as exc:
        await reply_text(update, escape(exc.text(context.tr)))
        return
    if not await may_manage(update, context):
        await reply_text(update, markup(context.tr.gettext(SETTINGS_NOT_ALLOWED)))
        return
    _, tr = await apply(update, context, change)
    await reply_text(update, escape(change.summary.render(tr)))


def _preset(data: str | None, languages: Languages) -> SettingsChange | None:
    """The change a settings button stands for; None for a button that is not ours."""
    try:
        _, args = parse_callback(data)
        if args[0] == LANGUAGE_PRESET and len(args) == 2:
            return parse_settings(["language", args[1]], languages.codes)
        return parse_settings(PRESETS[args[0]], languages.codes)
    except (ValueError, KeyError, IndexError):  # UsageError is a ValueError
        return None


async def on_settings_button(update: Update, context: Context) -> None:
    query = update.callback_query
    if query is None:
        return
    languages = context.bot_data.services.languages
    change = _preset(query.data, languages)
    if change is None:
        await query.answer(context.tr.gettext(EXPIRED))
        return
    if not await may_manage(update, context):
        await query.answer(context.tr.gettext(SETTINGS_NOT_ALLOWED), show_alert=True)
        return
    chat, tr = await apply(update, context, change)
    if chat is not None:
        try:
            await query.edit_message_text(
                describe(chat, tr, languages), reply_markup=keyboard(tr, languages)
            )
        except BadRequest as exc:
            if "not modified" not in str(exc):
                raise
    await query.answer(change.summary.render(tr)[:200])
