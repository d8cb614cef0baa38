"""Run a built Application in python-telegram-bot's order, with newsbot's own long polling.

``newsbot run`` (``run_polling``), the demo and the test harness all drive the same steps,
through this one helper::

    async with polling(build_application(config)) as app:
        ...  # the bot answers over getUpdates until the block ends

Up: ``initialize``, ``post_init``, (``before_start``), ``start``, the ``Poller``.
Down, as the block ends and also after a step that failed: the poller, ``stop``,
``post_stop``, ``shutdown`` (each only if its counterpart ran), and ``post_shutdown`` always.

The poller is ``bot.polling.Poller`` rather than PTB's Updater: it confirms an update to
Telegram only once it was handled, and polls only while this instance leads.
"""

from __future__ import annotations

import asyncio
import signal
from collections.abc import AsyncIterator, Awaitable, Callable, Coroutine
from contextlib import AsyncExitStack, asynccontextmanager
from typing import Any

from telegram.ext import Application

from bot.polling import Poller
from storage.cluster import Leadership

__all__ = ["App", "polling", "run_polling"]

App = Application[Any, Any, Any, Any, Any, Any]


@asynccontextmanager
async def polling(
    app: App,
    *,
    before_start: Callable[[App], Awaitable[None]] | None = None,
    poll_timeout: int = 1,
    leadership: Leadership | None = None,
) -> AsyncIterator[App]:
    """``app`` started and polling (while it leads) for the block; stopped and shut down after.

    ``before_start`` runs after ``post_init`` (the services exist) and before any update is
    handled: the place to load data the first update must already see. ``leadership`` is the
    services' own unless given (an Application that is not newsbot's).
    """
    async with AsyncExitStack() as stack:
        # post_shutdown runs even after a failed initialize (a rejected token), as in PTB's
        # run_polling: it closes the bot's HTTP sessions, which Application.shutdown skips then.
        stack.push_async_callback(_hook, app.post_shutdown, app)
        await app.initialize()
        stack.push_async_callback(app.shutdown)
        await _hook(app.post_init, app)
        stack.push_async_callback(_hook, app.post_stop, app)
        if before_start is not None:
            await before_start(app)
        await app.start()
        stack.push_async_callback(app.stop)
        if leadership is None:
            leadership = app.bot_data.services.leadership
        poller = Poller(app, leadership, timeout=poll_timeout)
        # A webhook left registered would make Telegram refuse getUpdates (409).
        await app.bot.delete_webhook()
        await poller.start()
        stack.push_async_callback(poller.stop)
        yield app


def run_polling(app: App, *, poll_timeout: int, leadership: Leadership | None = None) -> None:
    """Serve by long polling until SIGINT or SIGTERM, then stop gracefully (``newsbot run``)."""

    async def serve() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(signum, stop.set)
        async with polling(app, poll_timeout=poll_timeout, leadership=leadership):
            await stop.wait()

    asyncio.run(serve())


async def _hook(hook: Callable[[App], Coroutine[Any, Any, None]] | None, app: App) -> None:
    if hook is not None:
        await hook(app)
