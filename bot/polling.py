"""Long polling that confirms an update to Telegram only once it was handled.

python-telegram-bot's Updater confirms a batch of updates (by asking for the next offset) as
soon as it has queued them, before any handler ran: a process killed then loses them. Here
the offset given to getUpdates is the first update not yet handled, so Telegram keeps handing
out an update until its handler finished; ids already being handled are not started twice.
The same offset is committed through the ``Leadership`` (on PostgreSQL, over the connection
that holds the leader's lock), so an instance that takes over starts exactly after the last
update handled, even if the dead one never asked Telegram again.

Only the leader polls: a standby never calls getUpdates, which Telegram would answer with 409
Conflict and which would cut the leader's long poll short.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from telegram import Update
from telegram.error import Conflict, InvalidToken, NetworkError, TelegramError
from telegram.ext import Application

from core.aio import cancel_and_wait
from storage.cluster import Leadership, LostLead

log = logging.getLogger(__name__)

App = Application[Any, Any, Any, Any, Any, Any]

CONCURRENCY = 16  # updates handled at once, as the Application's concurrent_updates
BUSY_WAIT = 0.2  # all fetched updates are being handled: look again after this long
RETRY_FIRST, RETRY_MAX = 1.0, 30.0  # back-off after a failed getUpdates


class Poller:
    """getUpdates while this instance leads; each update handled once, confirmed after."""

    def __init__(
        self,
        app: App,
        leadership: Leadership,
        *,
        timeout: int = 10,
        concurrency: int = CONCURRENCY,
    ) -> None:
        self.app = app
        self.leadership = leadership
        self.timeout = timeout
        self.concurrency = concurrency
        self._handling: dict[int, asyncio.Task[None]] = {}
        self._handled: set[int] = set()  # ids at or past the offset that are done
        self._next: int | None = None  # the first update id not yet handled
        self._committed: int | None = None
        self._term = -1
        self._task: asyncio.Task[None] | None = None
        self.failed: BaseException | None = None  # what ended polling for good (a bad token)

    async def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="newsbot-poller")

    async def stop(self) -> None:
        """Stop asking; let the updates being handled finish and commit them."""
        await cancel_and_wait(self._task)
        self._task = None
        if self._handling:
            await asyncio.wait(list(self._handling.values()))
        await self._commit()
        await self._confirm()

    async def _confirm(self) -> None:
        """Tell Telegram that every update below the offset was handled, as PTB's Updater
        does on stop. Without it the updates handled since the last getUpdates stay on
        Telegram's side, and the next start (with SQLite, whose offset lives in memory)
        would handle them a second time: a settings button pressed just before a restart
        was pressed again after it, undoing a later change."""
        if self._next is None or not self.leadership.leading:
            return
        try:
            await self.app.bot.get_updates(offset=self._next, limit=1, timeout=0)
        except TelegramError as exc:
            log.warning("could not confirm the updates handled to Telegram: %s", exc)

    # -- the loop --------------------------------------------------------------------------

    async def _run(self) -> None:
        pause = RETRY_FIRST
        while True:
            await self.leadership.wait_leading()
            if self.leadership.term != self._term:
                await self._begin_term()
            if len(self._handling) >= self.concurrency:
                await self._some_done(None)
                continue
            term = self.leadership.term
            try:
                updates = await self.app.bot.get_updates(
                    offset=self._next,
                    # Updates being handled come back at once: no long poll then.
                    timeout=0 if self._handling else self.timeout,
                    allowed_updates=Update.ALL_TYPES,
                )
                pause = RETRY_FIRST
            except InvalidToken as exc:
                self.failed = exc
                log.error("Telegram rejected the token; polling stops")
                return
            except Conflict as exc:
                # Another process polls with this token: not one of ours, or one that lost
                # the lead without noticing yet. Telegram serves one poller at a time.
                log.warning("getUpdates: %s; trying again in %.0f s", exc.message, pause)
                await asyncio.sleep(pause)
                pause = min(pause * 2, RETRY_MAX)
                continue
            except (NetworkError, TelegramError) as exc:
                log.warning("getUpdates failed (%s); trying again in %.0f s", exc, pause)
                await asyncio.sleep(pause)
                pause = min(pause * 2, RETRY_MAX)
                continue
            if not self.leadership.leading or self.leadership.term != term:
                continue  # fetched while leading, and the lead is gone: the new leader has them
            fresh = [u for u in updates if self._is_new(u.update_id)]
            for update in fresh:
                self._start(update)
            if not fresh and self._handling:
                await self._some_done(BUSY_WAIT)
            elif not self._handling and updates:
                self._next = updates[-1].update_id + 1
            await self._commit()

    async def _begin_term(self) -> None:
        """Newly leading: carry on from the committed offset, not from what this process
        remembers from an earlier term (another instance led in between)."""
        if self._handling:
            await asyncio.wait(list(self._handling.values()))
        self._term = self.leadership.term
        self._handled.clear()
        try:
            self._next = await self.leadership.next_update_id()
        except LostLead:
            return
        self._committed = self._next
        log.info("polling Telegram from update %s", self._next or "(the oldest waiting)")

    def _is_new(self, update_id: int) -> bool:
        if self._next is not None and update_id < self._next:
            return False
        return update_id not in self._handling and update_id not in self._handled

    def _start(self, update: Update) -> None:
        task = asyncio.create_task(self._handle(update))
        self._handling[update.update_id] = task

    async def _handle(self, update: Update) -> None:
        try:
            await self.app.process_update(update)  # a handler's error goes to the error handler
        except Exception:
            log.exception("update %d could not be handled", update.update_id)
        finally:
            self._handling.pop(update.update_id, None)
            self._handled.add(update.update_id)
            self._advance()
        # At once, not at the next poll: a kill between the two would have the next leader
        # handle this update again.
        await self._commit()

    def _advance(self) -> None:
        """Move the offset past every update handled with none below it still being handled."""
        if self._handling:
            floor = min(self._handling)
            done = [i for i in self._handled if i < floor]
            if done:
                self._next = max(done) + 1
        elif self._handled:
            self._next = max(self._handled) + 1
        if self._next is not None:
            self._handled = {i for i in self._handled if i >= self._next}

    async def _some_done(self, wait: float | None) -> None:
        if self._handling:
            await asyncio.wait(
                list(self._handling.values()),
                timeout=wait,
                return_when=asyncio.FIRST_COMPLETED,
            )

    async def _commit(self) -> None:
        if self._next is None or self._next == self._committed:
            return
        try:
            await self.leadership.commit_update_id(self._next)
            self._committed = self._next
        except LostLead as exc:
            log.warning("update offset %d not committed: %s", self._next, exc)
