"""An event loop in a background thread, so that the terminal can keep the main thread."""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import threading
from collections.abc import Coroutine
from types import TracebackType
from typing import Any, TypeVar

__all__ = ["LoopThread"]

T = TypeVar("T")


class LoopThread:
    """An event loop in a background thread; the main thread keeps the terminal.

    ``input()`` blocks, and Ctrl-C is delivered to the main thread only: with the bot's loop
    elsewhere, neither stops the bot from working nor leaves it half-stopped.
    """

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._run, name="newsbot-demo", daemon=True)

    def _run(self) -> None:
        asyncio.set_event_loop(self.loop)
        self.loop.run_forever()

    def __enter__(self) -> LoopThread:
        self._thread.start()
        return self

    def submit(self, coro: Coroutine[Any, Any, T]) -> concurrent.futures.Future[T]:
        return asyncio.run_coroutine_threadsafe(coro, self.loop)

    def run(self, coro: Coroutine[Any, Any, T]) -> T:
        """Run ``coro`` on the loop and wait; Ctrl-C cancels it and is raised here."""
        future = self.submit(coro)
        try:
            return future.result()
        except KeyboardInterrupt:
            future.cancel()
            raise

    def finish(self, coro: Coroutine[Any, Any, T]) -> T:
        """Run ``coro`` to the end even through Ctrl-C: for shutting down."""
        future = self.submit(coro)
        while True:
            try:
                return future.result()
            except KeyboardInterrupt:
                continue

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.finish(self._drain())
        self.loop.call_soon_threadsafe(self.loop.stop)
        while self._thread.is_alive():
            # A Ctrl-C now would only leave the loop unclosed; the thread ends in a moment.
            with contextlib.suppress(KeyboardInterrupt):
                self._thread.join()
        self.loop.close()

    async def _drain(self) -> None:
        """What ``asyncio.run`` does before it closes a loop."""
        current = asyncio.current_task()
        tasks = [t for t in asyncio.all_tasks() if t is not current]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        await self.loop.shutdown_asyncgens()
        await self.loop.shutdown_default_executor()
