"""One instance of a bot that only echoes, polling through newsbot's Poller and Leadership.

    python -m tests.support.poll_node BASE_URL TOKEN DATABASE_URL NAME

Each text message is answered ``NAME: TEXT`` (after 5 s when the text starts with "slow"), so a
test reads in the Bot API double's record who handled which update, and how often. Prints
``NAME leads`` when it comes to lead. The tests of takeover run three of these and kill one.
"""

from __future__ import annotations

import asyncio
import os
import sys

from telegram import Update
from telegram.ext import Application, ContextTypes, MessageHandler, filters

from bot.lifecycle import run_polling
from storage.cluster import PostgresLeadership


def main() -> None:
    base_url, token, database_url, name = sys.argv[1:5]
    os.environ.setdefault("PTB_TIMEDELTA", "true")

    async def echo(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        assert update.message is not None
        assert update.message.text is not None
        if update.message.text.startswith("slow"):
            await asyncio.sleep(5)  # long enough to be killed in the middle, even under load
        await update.message.reply_text(f"{name}: {update.message.text}")

    async def leads() -> None:
        print(f"{name} leads", flush=True)

    async def stands_by() -> None:
        print(f"{name} stands by", flush=True)

    leadership = PostgresLeadership(database_url, "bot 1")  # newsbot run's own timings
    leadership.watch(promoted=leads, demoted=stands_by)

    async def post_init(app: Application) -> None:  # type: ignore[type-arg]
        await leadership.start()
        print(f"{name} started", flush=True)

    async def post_stop(app: Application) -> None:  # type: ignore[type-arg]
        await leadership.stop()

    app = (
        Application.builder()
        .token(token)
        .base_url(base_url)
        .concurrent_updates(16)
        .post_init(post_init)
        .post_stop(post_stop)
        .build()
    )
    app.add_handler(MessageHandler(filters.TEXT, echo))
    run_polling(app, poll_timeout=1, leadership=leadership)


if __name__ == "__main__":
    main()
