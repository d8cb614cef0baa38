"""Run a built Application inside an event loop that is already running, in run_polling's order.

``Application.run_polling`` owns its event loop and the process's signals, so ``newsbot run``
uses it; the demo and the test harness run the bot beside other work in a loop they already
have, so they drive the same steps themselves, through this one helper::

    async with polling(build_application(config)) as app:
        ...  # the bot answers over getUpdates until the block ends

Up: ``initialize``, ``post_init``, (``before_start``), ``start``, ``updater.start_polling``.
Down, as run_polling ends and also after a step that failed: ``updater.stop``, ``stop``,
``post_stop``, ``shutdown``, ``post_shutdown`` (each only if its counterpart ran).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable, Coroutine
from contextlib import AsyncExitStack, asynccontextmanager
from typing import Any

from telegram import Update
from telegram.ext import Application

__all__ = ["App", "polling"]

App = Application[Any, Any, Any, Any, Any, Any]


@asynccontextmanager
async def polling(
    app: App,
    *,
    before_start: Callable[[App], Awaitable[None]] | None = None,
    poll_timeout: int = 1,
) -> AsyncIterator[App]:
    """``app`` started and polling for the block; stopped and shut down after it.

    ``before_start`` runs after ``post_init`` (the services exist) and before any update is
    handled: the place to load data the first update must already see.
    """
    async with AsyncExitStack() as stack:
        await app.initialize()
        stack.push_async_callback(_hook, app.post_shutdown, app)
        stack.push_async_callback(app.shutdown)
        await _hook(app.post_init, app)
        stack.push_async_callback(_hook, app.post_stop, app)
        if before_start is not None:
            await before_start(app)
        await app.start()
        stack.push_async_callback(app.stop)
        assert app.updater is not None, "the builder makes an Updater unless told not to"
        await app.updater.start_polling(
            poll_interval=0.0, timeout=poll_timeout, allowed_updates=Update.ALL_TYPES
        )
        stack.push_async_callback(app.updater.stop)
        yield app


async def _hook(hook: Callable[[App], Coroutine[Any, Any, None]] | None, app: App) -> None:
    if hook is not None:
        await hook(app)
