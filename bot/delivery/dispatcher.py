"""The dispatcher: one long-lived task that drains the delivery ledger into Telegram.

It claims due rows in batches, keeps one queue per chat and takes chats in turn, so one chat's
backlog never starves the others; at most one message per chat is in flight, and a chat whose
flood window is full is passed over until it frees. Sending goes through the bot's rate
limiter at bulk priority, so replies to commands always go first and no window is overrun.

Every outcome is written to the ledger before the send counts as done (writes are grouped
into one transaction per batch), so a crash can repeat only the sends in flight at that moment.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import OrderedDict, deque
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

from bot.delivery.policy import (
    MAX_ATTEMPTS,
    Action,
    backoff_seconds,
    classify,
    quiet_until,
    zone_named,
)
from bot.ratelimit import TelegramRateLimiter
from bot.render.messages import RenderedMessage, render_article, render_article_plain
from bot.transport import NewsbotBot
from storage import Article, Store
from storage.deliveries import CANCELLED, FAILED, OWED, SENT, Due, Outcome

log = logging.getLogger(__name__)

ARTICLE_CACHE = 2048
PER_CHAT_QUEUE = 8
SPILL_DELAY = 1
RENDER_CACHE = 4096


@dataclass
class DispatcherStats:
    sent: int = 0
    failed: int = 0
    retried: int = 0
    cancelled: int = 0
    deferred: int = 0
    last_progress: float = field(default=0.0)


class Dispatcher:
    def __init__(
        self,
        store: Store,
        bot: NewsbotBot,
        topics: dict[str, str],
        *,
        limiter: TelegramRateLimiter | None = None,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
        concurrency: int = 32,
        claim_batch: int = 512,
        idle_poll: float = 0.5,
        hourly_caps: dict[int, int] | None = None,
    ) -> None:
        self.store = store
        self.bot = bot
        self.topics = topics
        self.limiter = limiter
        self.clock = clock
        self.concurrency = concurrency
        self.claim_batch = claim_batch
        self.idle_poll = idle_poll
        self.hourly_caps = hourly_caps or {}
        self.stats = DispatcherStats()
        self._queues: OrderedDict[int, deque[Due]] = OrderedDict()
        self._busy_chats: set[int] = set()
        self._queued = 0  # rows in the per-chat queues
        self._counted = asyncio.Event()
        self._in_flight: set[asyncio.Task[None]] = set()
        self._wake = asyncio.Event()
        self._stopping = False
        self._task: asyncio.Task[None] | None = None
        self._articles: OrderedDict[int, Article | None] = OrderedDict()
        self._renders: OrderedDict[tuple[int, str | None, bool], RenderedMessage] = OrderedDict()
        self._pending: list[tuple[Outcome | None, int | None, asyncio.Future[None]]] = []
        self._writer: asyncio.Task[None] | None = None
        self._ledger_empty_at: float | None = None

    # -- lifecycle -------------------------------------------------------------------------

    def now(self) -> int:
        return int(self.clock().timestamp())

    async def start(self) -> None:
        queued, sending = await self.store.deliveries.recover(self.now())
        if queued or sending:
            log.info(
                "owed again after the last stop: %d queued, %d on the wire (these may repeat)",
                queued,
                sending,
            )
        self._task = asyncio.create_task(self._run(), name="newsbot-dispatcher")

    def notify(self) -> None:
        """New rows may be due: look now rather than at the next idle poll."""
        self._wake.set()

    @property
    def running(self) -> bool:
        return self._task is not None and not self._task.done()

    async def stop(self) -> None:
        """Finish and record the sends in flight; put everything not yet sent back as owed."""
        self._stopping = True
        self._wake.set()
        if self._task is not None:
            await self._task
        if self._in_flight:
            await asyncio.gather(*self._in_flight, return_exceptions=True)
        unsent = [due for queue in self._queues.values() for due in queue]
        self._queues.clear()
        self._queued = 0
        if unsent:
            await self.store.deliveries.record(
                [Outcome(d.id, OWED, attempted=False, retry_at=self.now()) for d in unsent],
                self.now(),
            )
        await self._flush()

    # -- the loop --------------------------------------------------------------------------

    async def _run(self) -> None:
        loop = asyncio.get_running_loop()
        while not self._stopping:
            try:
                if self._queued < self.claim_batch // 2:
                    await self._claim()
                launched = await self._launch_ready()
                self.stats.last_progress = loop.time()
                if launched:
                    continue
                await self._idle()
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("dispatcher loop failed; carrying on")
                await self._idle()

    async def _idle(self) -> None:
        self._wake.clear()
        timeout = self.idle_poll
        if self._queues and self.limiter is not None:
            timeout = min(timeout, 0.05)  # a chat's flood window frees by time alone
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._wake.wait(), timeout)

    async def _claim(self) -> None:
        claimed = await self.store.deliveries.claim(self.now(), self.claim_batch)
        if not claimed:
            return
        await self._load_articles({d.article_id for d in claimed})
        spill = []
        for due in claimed:
            queue = self._queues.setdefault(due.chat_id, deque())
            if len(queue) < PER_CHAT_QUEUE:
                queue.append(due)
                self._queued += 1
            else:
                spill.append(due)
        if spill:
            # A chat with a long backlog sends at its own flood rate anyway; its extra rows go
            # back a moment later so that other chats' rows come up in the next claim.
            later = self.now() + SPILL_DELAY
            await self.store.deliveries.record(
                [Outcome(d.id, OWED, attempted=False, retry_at=later) for d in spill], self.now()
            )

    async def _launch_ready(self) -> int:
        """Start sends for chats in turn, one in flight per chat, up to the concurrency."""
        picked: list[Due] = []
        for chat_id in list(self._queues):
            if len(self._in_flight) + len(picked) >= self.concurrency:
                break
            if chat_id in self._busy_chats:
                continue
            if self.limiter is not None and not self.limiter.chat_ready(str(chat_id)):
                continue
            queue = self._queues[chat_id]
            picked.append(queue.popleft())
            self._queued -= 1
            if queue:
                self._queues.move_to_end(chat_id)  # the next chat goes first next time
            else:
                del self._queues[chat_id]
            self._busy_chats.add(chat_id)
        if not picked:
            return 0
        for due in picked:
            task = asyncio.create_task(self._deliver(due))
            self._in_flight.add(task)
            task.add_done_callback(self._sent)
        return len(picked)

    def _sent(self, task: asyncio.Task[None]) -> None:
        self._in_flight.discard(task)
        self._wake.set()

    # -- one delivery ----------------------------------------------------------------------

    async def _deliver(self, due: Due) -> None:
        try:
            # On the wire only once the ledger says so: a crash can then repeat only rows
            # marked sending. The mark rides in the next grouped write.
            await self._write(sending=due.id)
            outcome = await self.attempt(due)
        except Exception as exc:  # a bug of ours: keep the row owed, log it, carry on
            log.exception("delivery %d to chat %d failed unexpectedly", due.id, due.chat_id)
            outcome = self._retry(due, f"{type(exc).__name__}: {exc}")
        finally:
            self._busy_chats.discard(due.chat_id)
        await self._record(outcome)
        self.count(outcome)

    def count(self, outcome: Outcome) -> None:
        """Counted once the outcome is in the ledger, so the figures never run ahead of it."""
        if outcome.status == SENT:
            self.stats.sent += 1
        elif outcome.status == FAILED:
            self.stats.failed += 1
        elif outcome.status == CANCELLED:
            self.stats.cancelled += 1
        elif outcome.attempted:
            self.stats.retried += 1
        else:
            self.stats.deferred += 1
        self._counted.set()

    async def wait_until(self, condition: Callable[[DispatcherStats], bool]) -> None:
        """Wait until the figures satisfy ``condition`` (they move once outcomes are stored)."""
        while not condition(self.stats):
            self._counted.clear()
            await self._counted.wait()

    async def attempt(self, due: Due) -> Outcome:
        article = self._articles.get(due.article_id)
        if article is None:
            await self._load_articles({due.article_id})
            article = self._articles.get(due.article_id)
        if article is None:
            return Outcome(due.id, CANCELLED, error="article no longer stored")
        zone = zone_named(due.timezone)
        now = self.clock()
        until = quiet_until(now, due.quiet_start, due.quiet_end, zone)
        if until is not None:
            return Outcome(due.id, OWED, retry_at=int(until.timestamp()), attempted=False)
        cap = self.hourly_caps.get(due.chat_id)
        if (
            cap is not None
            and await self.store.deliveries.sent_since(due.chat_id, self.now() - 3600) >= cap
        ):
            return Outcome(due.id, OWED, retry_at=self.now() + 60, attempted=False)
        chat_id = due.chat_id
        plain = False
        while True:
            rendered = self._render(article, due.timezone, zone, plain=plain)
            try:
                message_id = await self.bot.send_bulk(
                    chat_id,
                    rendered.text,
                    parse_mode=rendered.parse_mode,
                    reply_markup=rendered.reply_markup,
                    disable_preview=rendered.disable_preview,
                )
            except Exception as exc:
                verdict = classify(exc)
                if verdict.action is Action.MIGRATE and verdict.new_chat_id is not None:
                    await self.store.chats.migrate(chat_id, verdict.new_chat_id, self.now())
                    log.info("chat %d migrated to %d; sending there", chat_id, verdict.new_chat_id)
                    chat_id = verdict.new_chat_id
                    continue
                if verdict.action is Action.PLAIN and not plain:
                    log.info(
                        "chat %d refused the formatted message (%s); sending plain text",
                        chat_id,
                        verdict.reason,
                    )
                    plain = True
                    continue
                if verdict.action is Action.DEACTIVATE:
                    await self._deactivate(chat_id, verdict.reason)
                    return Outcome(due.id, CANCELLED, error=verdict.reason)
                if verdict.action is Action.RETRY:
                    log.warning(
                        "delivery %d to chat %d: %s; will retry", due.id, chat_id, verdict.reason
                    )
                    return self._retry(due, verdict.reason)
                log.warning("delivery %d to chat %d failed: %s", due.id, chat_id, verdict.reason)
                return Outcome(due.id, FAILED, error=verdict.reason)
            return Outcome(due.id, SENT, message_id=message_id)

    def _retry(self, due: Due, reason: str) -> Outcome:
        attempts = due.attempts + 1
        if attempts >= MAX_ATTEMPTS:
            return Outcome(due.id, FAILED, error=f"gave up after {attempts} attempts: {reason}")
        return Outcome(due.id, OWED, error=reason, retry_at=self.now() + backoff_seconds(attempts))

    async def _deactivate(self, chat_id: int, reason: str) -> None:
        await self.store.chats.set_active(chat_id, False, reason, self.now())
        dropped = self._queues.pop(chat_id, deque())
        self._queued -= len(dropped)
        if dropped:
            # Already cancelled in the ledger by set_active; forget them here.
            log.info(
                "chat %d is gone (%s): %d queued deliveries cancelled",
                chat_id,
                reason,
                len(dropped),
            )

    # -- caches ----------------------------------------------------------------------------

    async def _load_articles(self, ids: set[int]) -> None:
        missing = [i for i in ids if i not in self._articles]
        if not missing:
            return
        found = {a.id: a for a in await self.store.articles.get_many(missing)}
        for article_id in missing:
            self._articles[article_id] = found.get(article_id)
        while len(self._articles) > ARTICLE_CACHE:
            self._articles.popitem(last=False)

    def _render(
        self, article: Article, zone_name: str | None, zone: ZoneInfo | None, *, plain: bool
    ) -> RenderedMessage:
        key = (article.id, zone_name, plain)
        rendered = self._renders.get(key)
        if rendered is None:
            render = render_article_plain if plain else render_article
            rendered = render(article, topics=self.topics, tz=zone)
            self._renders[key] = rendered
            if len(self._renders) > RENDER_CACHE:
                self._renders.popitem(last=False)
        return rendered

    # -- the ledger, written in groups -------------------------------------------------------

    async def _record(self, outcome: Outcome) -> None:
        await self._write(outcome=outcome)

    async def _write(self, *, outcome: Outcome | None = None, sending: int | None = None) -> None:
        """Queue one ledger change and wait until a grouped transaction has stored it."""
        done: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._pending.append((outcome, sending, done))
        if self._writer is None or self._writer.done():
            self._writer = asyncio.create_task(self._flush())
        await done

    async def _flush(self) -> None:
        while self._pending:
            batch, self._pending = self._pending, []
            outcomes = [o for o, _, _ in batch if o is not None]
            marks = [m for _, m, _ in batch if m is not None]
            try:
                await self.store.deliveries.record(outcomes, self.now(), sending=marks)
            except Exception as exc:
                log.exception("could not write %d ledger changes", len(batch))
                for _, _, done in batch:
                    if not done.done():
                        done.set_exception(exc)
                continue
            for _, _, done in batch:
                if not done.done():
                    done.set_result(None)
