"""The error handler: log with the traceback, tell the user briefly, keep the bot running."""

from __future__ import annotations

import logging

from telegram import Update
from telegram.error import Forbidden, NetworkError, TelegramError

from bot.context import Context
from bot.handlers.common import cached_translator
from bot.i18n import N_
from storage.db import StoreBusy

log = logging.getLogger(__name__)

SORRY = N_("Sorry, something went wrong on my side. Please try again in a moment.")
BUSY = N_("The news store is busy right now. Please try again in a minute.")


async def on_error(update: object, context: Context) -> None:
    """Log every error with its traceback; one bad update never stops the bot."""
    error = context.error
    if isinstance(error, StoreBusy):  # expected under load: no traceback, a plain answer
        log.warning("could not handle an update: %s", error)
    else:
        log.error("error while handling an update", exc_info=error)
    if not isinstance(update, Update) or isinstance(error, Forbidden | NetworkError):
        return  # nobody to tell, or telling would fail the same way
    tr = cached_translator(context.bot_data.services, update)
    answer = tr.gettext(BUSY if isinstance(error, StoreBusy) else SORRY)
    try:
        if update.callback_query is not None:
            await update.callback_query.answer(answer)
        elif update.effective_message is not None and update.effective_chat is not None:
            await context.bot.send_message(update.effective_chat.id, answer)
    except TelegramError:
        log.warning("could not tell the user about the error", exc_info=True)
