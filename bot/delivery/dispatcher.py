"""The dispatcher: one long-lived task that drains the delivery ledger into Telegram.

It claims due rows in batches, keeps one queue per chat and takes chats in turn, so one chat's
backlog never starves the others; at most one message per chat is in flight, and a chat whose
flood window is full is passed over until it frees. Sending goes through the bot's rate
limiter at bulk priority, so replies to commands always go first and no window is overrun.

Every outcome is written to the ledger before the send counts as done (writes are grouped
into one transaction per batch), so a crash can repeat only the sends in flight at that moment.
Where the store runs row-locked writes side by side (PostgreSQL: ``Database.row_writers``),
that many grouped writes are under way at once, so a send's mark never waits for a write
that started before it was asked for, and the claims run beside them.
A write that fails (the store locked by another process past its busy timeout) loses nothing:
the changes stay in memory and are written again until they are stored, and a clean stop waits
for them (bounded by ``stop_timeout``) and names any it could not write.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import OrderedDict, deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from zoneinfo import ZoneInfo

from bot.delivery.policy import (
    Action,
    Verdict,
    classify,
    ledger_outcome,
    quiet_until,
    retry_outcome,
    zone_named,
)
from bot.i18n import ENGLISH, Languages, Translator
from bot.ratelimit import TelegramRateLimiter
from bot.render.messages import (
    RenderedMessage,
    render_article,
    render_article_plain,
    render_story_article,
    render_thread_lost,
)
from bot.transport import NewsbotBot
from core.clock import Clock, utc_now
from storage import Article, Store, StoreBusy
from storage.deliveries import CANCELLED, FAILED, OWED, PHOTO, SENT, TEXT, Due, Outcome

log = logging.getLogger(__name__)

NOT_MODIFIED = "message is not modified"
ARTICLE_CACHE = 2048
PER_CHAT_QUEUE = 8
SPILL_DELAY = 1
RENDER_CACHE = 4096
# A clean stop waits this long for sends in flight and unwritten ledger changes: longer than
# a send may take ([delivery] send_timeout, 15 s), and with the one write then allowed to
# finish (the store's write patience, 10 s) within the 30 s the service files give a stop.
STOP_TIMEOUT = 18.0
# Waits between attempts at a ledger write that failed: short at first, then at most this.
WRITE_RETRY_FIRST = 0.05
WRITE_RETRY_MAX = 1.0


@dataclass(frozen=True, slots=True)
class Sent:
    """A message that reached the chat: its id, and whether it went as a photo (its text is
    then a caption, edited with editMessageCaption)."""

    message_id: int
    photo: bool = False

    @property
    def sent_as(self) -> str:
        return PHOTO if self.photo else TEXT


@dataclass
class DispatcherStats:
    sent: int = 0
    failed: int = 0
    retried: int = 0
    cancelled: int = 0
    deferred: int = 0
    last_progress: float = field(default=0.0)
    unrecorded: int = 0  # outcomes known here and not yet in the ledger
    ledger_write_failures: int = 0


@dataclass
class _Change:
    """One ledger change waiting for a grouped write; ``done`` says whether it was stored."""

    outcome: Outcome | None
    sending: int | None
    done: asyncio.Future[bool] | None


class Dispatcher:
    def __init__(
        self,
        store: Store,
        bot: NewsbotBot,
        topics: dict[str, str],
        *,
        limiter: TelegramRateLimiter | None = None,
        clock: Clock = utc_now,
        languages: Languages | None = None,
        concurrency: int = 32,
        claim_batch: int = 512,
        idle_poll: float = 0.5,
        stop_timeout: float = STOP_TIMEOUT,
        listeners: list[Callable[[Outcome], None]] | None = None,
    ) -> None:
        self.store = store
        self.bot = bot
        self.topics = topics
        self.limiter = limiter
        self.clock = clock
        # Each chat's articles come with our words and dates in its language.
        self.languages = languages if languages is not None else Languages(())
        self.concurrency = concurrency
        self.claim_batch = claim_batch
        self.idle_poll = idle_poll
        self._hourly_caps: dict[int, int] = {}
        self.stop_timeout = stop_timeout
        # Told every outcome once it is counted (metrics); a list the owner may add to later.
        self.listeners = listeners if listeners is not None else []
        self.stats = DispatcherStats()
        self._queues: OrderedDict[int, deque[Due]] = OrderedDict()
        self._busy_chats: set[int] = set()
        self._sending: set[int] = set()  # ids of the rows in flight
        self._queued = 0  # rows in the per-chat queues
        self._counted = asyncio.Event()
        self._in_flight: set[asyncio.Task[None]] = set()
        self._wake = asyncio.Event()
        self._stopping = False
        self._task: asyncio.Task[None] | None = None
        self._articles: OrderedDict[int, Article | None] = OrderedDict()
        self._renders: OrderedDict[tuple[int, str | None, str, bool], RenderedMessage] = (
            OrderedDict()
        )
        self._pending: list[_Change] = []
        self._write_failing_since: float | None = None
        self._store_busy = False  # the last claim found the store locked by another writer
        self._giving_up = asyncio.Event()  # a stop ran out of time: write nothing more
        self._writers: set[asyncio.Task[None]] = set()
        self._prefetch: asyncio.Task[None] | None = None  # a claim running beside the sends
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
        """Finish and record the sends in flight; put everything not yet sent back as owed.

        Waits at most ``stop_timeout`` for the sends and the ledger (a locked store is tried
        again meanwhile); what could still not be written is named in the log, since those
        rows are owed again at the next start and a send among them may repeat.
        """
        self._stopping = True
        self._wake.set()
        if self._task is not None:
            await self._task
        unsent = [due for queue in self._queues.values() for due in queue]
        self._queues.clear()
        self._queued = 0
        if unsent:
            now = self.now()
            self._enqueue([Outcome(d.id, OWED, attempted=False, retry_at=now) for d in unsent])
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.stop_timeout
        while (waiting := self._unfinished()) and (left := deadline - loop.time()) > 0:
            await asyncio.wait(waiting, timeout=left, return_when=asyncio.FIRST_COMPLETED)
        if self._unfinished() or self._pending:
            await self._abandon()

    async def resign(self) -> None:
        """Another instance leads now: stop claiming and sending at once, and leave the ledger
        to the leader. The rows claimed here and not sent stay as they are: the leader's
        ``start`` puts them back as owed (writing them back from here could undo its claim).
        Sends in flight finish and their outcomes are written; the dispatcher may start again.
        """
        self._stopping = True
        self._wake.set()
        if self._task is not None:
            await self._task
            self._task = None
        self._queues.clear()
        self._queued = 0
        if self._in_flight:
            await asyncio.wait(set(self._in_flight), timeout=self.stop_timeout)
        self._stopping = False

    def _unfinished(self) -> set[asyncio.Task[None]]:
        tasks = set(self._in_flight)
        tasks.update(w for w in self._writers if not w.done())
        return tasks

    async def _abandon(self) -> None:
        """Give up on what the stop could not finish in time, and say exactly what it was."""
        self._giving_up.set()
        for task in self._in_flight:
            task.cancel()  # a send still on the wire keeps its row 'sending'
        # The writer ends after the write it is in (bounded by the store's write patience), so
        # what is left pending is exactly what was not written.
        await asyncio.gather(*self._unfinished(), return_exceptions=True)
        self._forget_pending()

    def _forget_pending(self) -> None:
        lost = [c.outcome for c in self._pending if c.outcome is not None]
        if lost:
            shown = ", ".join(_describe(o) for o in lost[:20])
            more = f" and {len(lost) - 20} more" if len(lost) > 20 else ""
            log.error(
                "stopping without recording %d delivery outcomes (the store refused writes for"
                " %g s): %s%s; they are owed again at the next start, and sent ones may repeat",
                len(lost),
                self.stop_timeout,
                shown,
                more,
            )
        for change in self._pending:
            if change.done is not None and not change.done.done():
                change.done.set_result(False)
        self._pending = []
        self.stats.unrecorded = 0

    # -- the loop --------------------------------------------------------------------------

    async def _run(self) -> None:
        loop = asyncio.get_running_loop()
        while not self._stopping:
            try:
                if self._queued < self.claim_batch // 2 and self._prefetch is None:
                    if self._queued:
                        # Rows are at hand: send them while the next batch is claimed (a
                        # claim is a few round trips to PostgreSQL, tens of ms).
                        self._prefetch = asyncio.create_task(self._claim_beside())
                    else:
                        await self._claim()
                        self._claimed_again()
                launched = await self._launch_ready()
                self.stats.last_progress = loop.time()
                if launched:
                    continue
                await self._idle()
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                self._claim_failed(exc)
                await self._idle()
        if self._prefetch is not None:
            await self._prefetch  # its rows join the queues, which the stop hands back

    async def _claim_beside(self) -> None:
        """A claim beside the sends (the loop goes on launching meanwhile)."""
        try:
            await self._claim()
            self._claimed_again()
        except Exception as exc:
            self._claim_failed(exc)
        finally:
            self._prefetch = None
            self._wake.set()

    def _claimed_again(self) -> None:
        if self._store_busy:
            self._store_busy = False
            log.info("the store takes writes again; claiming deliveries")

    def _claim_failed(self, exc: Exception) -> None:
        if isinstance(exc, StoreBusy):
            # Another process holds the write lock: expected now and then, nothing lost
            # (the rows stay owed). Said once per streak, without a traceback.
            if not self._store_busy:
                self._store_busy = True
                log.warning("cannot claim deliveries yet: %s; trying again", exc)
        else:
            log.error("dispatcher loop failed; carrying on", exc_info=exc)

    async def _idle(self) -> None:
        self._wake.clear()
        timeout = self.idle_poll
        if self._queues and self.limiter is not None:
            timeout = min(timeout, 0.05)  # a chat's flood window frees by time alone
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._wake.wait(), timeout)

    async def _claim(self) -> None:
        claimed = await self.store.deliveries.claim(self.now(), self.claim_batch)
        # A row still held here whose lease lapsed (the clock jumped) was claimed again: the
        # copy in hand goes, a second one would be sent twice.
        held = self._sending.union(d.id for queue in self._queues.values() for d in queue)
        claimed = [d for d in claimed if d.id not in held]
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
            self._enqueue([Outcome(d.id, OWED, attempted=False, retry_at=later) for d in spill])

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
            self._sending.add(picked[-1].id)
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
        if not task.cancelled() and (exc := task.exception()) is not None:
            log.error("a delivery task failed", exc_info=exc)  # retrieved, never left dangling

    # -- one delivery ----------------------------------------------------------------------

    async def _deliver(self, due: Due) -> None:
        try:
            # On the wire only once the ledger says so: a crash can then repeat only rows
            # marked sending. The mark rides in the next grouped write; a stop that could not
            # write it sends nothing.
            if not await self._write(sending=due.id):
                return
            outcome = await self.attempt_safely(due)
        finally:
            self._busy_chats.discard(due.chat_id)
            self._sending.discard(due.id)
        await self.settle([outcome])

    async def attempt_safely(self, due: Due) -> Outcome:
        """``attempt``, with a failure of ours (a store error, a bug) kept owed and logged."""
        try:
            return await self.attempt(due)
        except Exception as exc:
            log.exception("delivery %d to chat %d failed unexpectedly", due.id, due.chat_id)
            return retry_outcome(due, f"{type(exc).__name__}: {exc}", self.now())

    async def settle(self, outcomes: Sequence[Outcome]) -> bool:
        """Record these outcomes, trying again until the ledger takes them, then count them.

        False only when a stop gave up on them (and named them in the log).
        """
        if not outcomes:
            return True
        done = self._enqueue(outcomes)
        if not await done:
            return False
        for outcome in outcomes:
            self.count(outcome)
        return True

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
        for listener in self.listeners:
            listener(outcome)
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
        tr = self.languages.get(due.language)
        now = self.clock()
        until = quiet_until(now, due.quiet_start, due.quiet_end, zone)
        if until is not None:
            return Outcome(due.id, OWED, retry_at=int(until.timestamp()), attempted=False)
        if due.edit_message_id is not None:
            result = await self._add_to_story(due, zone, tr)
            if result is None:
                return Outcome(due.id, CANCELLED, error="the story's message is no longer stored")
        elif await self.over_hourly_cap(due.chat_id):
            return Outcome(due.id, OWED, retry_at=self.now() + 60, attempted=False)
        else:
            result = await self.send(
                due.chat_id,
                self._render(article, due.timezone, zone, tr, plain=False),
                plain=lambda: self._render(article, due.timezone, zone, tr, plain=True),
                thread=due.thread_id,
                tr=tr,
            )
        if isinstance(result, Sent):
            return Outcome(due.id, SENT, message_id=result.message_id, sent_as=result.sent_as)
        outcome = ledger_outcome(due, result, self.now())
        self._log_refusal(due, result, outcome)
        return outcome

    async def _add_to_story(
        self, due: Due, zone: ZoneInfo | None, tr: Translator
    ) -> Sent | Verdict | None:
        """Edit the chat's message of this story so it names this report too (never a new
        message: a refused edit is the delivery's outcome). None if that article is gone."""
        assert due.edit_article_id is not None
        assert due.edit_of is not None
        later = [*await self.store.deliveries.edited_in(due.edit_of), due.article_id]
        articles = {
            a.id: a for a in await self.store.articles.get_many([due.edit_article_id, *later])
        }
        original = articles.get(due.edit_article_id)
        if original is None:
            return None
        others = [articles[i] for i in later if i in articles]
        caption = due.edit_sent_as == PHOTO
        rendered = render_story_article(
            original, others, topics=self.topics, tz=zone, tr=tr, caption=caption
        )
        return await self.send(due.chat_id, rendered, edit=due.edit_message_id)

    async def send(
        self,
        chat_id: int,
        rendered: RenderedMessage,
        *,
        plain: Callable[[], RenderedMessage] | None = None,
        edit: int | None = None,
        thread: int | None = None,
        tr: Translator = ENGLISH,
    ) -> Sent | Verdict:
        """Send one message to a chat: the one send path of single deliveries, channel posts
        and digests. Returns what was sent, or Telegram's refusal as a ``Verdict``.

        A group that became a supergroup is re-addressed and sent to again; formatting that
        Telegram refuses is sent once more as plain text when there is a ``plain`` version; a
        picture Telegram cannot fetch is left out and the text sent alone (one message, one
        delivery: the picture is no failure of the chat); a chat that is gone is marked
        inactive (what it was owed is cancelled). With ``edit``, that message of the chat is
        edited instead (its caption when ``rendered`` is a photo); "not modified" means it
        says this already. ``thread`` is a forum topic to send into; one Telegram refuses
        (deleted or closed) is recorded as lost, the message goes to the chat's General topic
        instead, and the group is told once (in ``tr``, its language).
        """
        no_picture = False
        while True:
            try:
                return await self._put(chat_id, rendered, edit, thread)
            except Exception as exc:
                verdict = classify(exc)
            if edit is not None and NOT_MODIFIED in verdict.reason.lower():
                return Sent(edit, rendered.photo is not None)
            if verdict.action is Action.MIGRATE and verdict.new_chat_id is not None:
                await self.store.chats.migrate(chat_id, verdict.new_chat_id, self.now())
                log.info("chat %d migrated to %d; sending there", chat_id, verdict.new_chat_id)
                chat_id = verdict.new_chat_id
                continue
            if verdict.action is Action.PLAIN and plain is not None:
                log.info(
                    "chat %d refused the formatted message (%s); sending plain text",
                    chat_id,
                    verdict.reason,
                )
                rendered, plain = plain(), None
                if no_picture:
                    rendered = rendered.without_picture()
                continue
            if verdict.action is Action.NO_PICTURE and edit is None and rendered.photo:
                log.info(
                    "chat %d: Telegram could not use the picture %s (%s); sending the text",
                    chat_id,
                    rendered.photo,
                    verdict.reason,
                )
                rendered, no_picture = rendered.without_picture(), True
                continue
            if verdict.action is Action.NO_THREAD and thread is not None and edit is None:
                await self._thread_lost(chat_id, thread, verdict.reason, tr)
                thread = None
                continue
            if verdict.action is Action.DEACTIVATE:
                await self._deactivate(chat_id, verdict.reason)
            return verdict

    async def _thread_lost(self, chat_id: int, thread: int, reason: str, tr: Translator) -> None:
        """A forum topic Telegram refused: its deliveries go to General; say so once."""
        lost = await self.store.chats.lose_thread(chat_id, thread, reason, self.now())
        log.warning("chat %d: thread %d refused (%s); sending to General", chat_id, thread, reason)
        if lost is None:
            return  # told before (the record survives restarts)
        told = await self.send(chat_id, render_thread_lost(lost, self.topics, tr))
        if isinstance(told, Verdict):
            log.warning("chat %d: could not say thread %d is lost: %s", chat_id, thread, told)

    async def _put(
        self, chat_id: int, rendered: RenderedMessage, edit: int | None, thread: int | None
    ) -> Sent:
        """One request to Telegram for ``rendered``: a send, or with ``edit`` an edit."""
        if edit is not None:
            await self.bot.edit_bulk(
                chat_id,
                edit,
                rendered.text,
                parse_mode=rendered.parse_mode,
                reply_markup=rendered.reply_markup,
                disable_preview=rendered.disable_preview,
                large_preview=rendered.large_preview,
                caption=rendered.photo is not None,
            )
            return Sent(edit, rendered.photo is not None)
        message_id = await self.bot.send_bulk(
            chat_id,
            rendered.text,
            parse_mode=rendered.parse_mode,
            reply_markup=rendered.reply_markup,
            disable_preview=rendered.disable_preview,
            photo=rendered.photo,
            large_preview=rendered.large_preview,
            thread=thread,
        )
        return Sent(message_id, rendered.photo is not None)

    def _log_refusal(self, due: Due, verdict: Verdict, outcome: Outcome) -> None:
        if outcome.status == CANCELLED:
            return  # said by _deactivate
        where = f"delivery {due.id} to chat {due.chat_id}"
        if outcome.lost_answer and outcome.status == FAILED:
            log.warning("%s: %s again; not sent a third time", where, verdict.reason)
        elif outcome.lost_answer:
            log.warning("%s: %s; it may have arrived, sending once more", where, verdict.reason)
        elif outcome.status == OWED:
            log.warning("%s: %s; will retry", where, verdict.reason)
        else:
            log.warning("%s failed: %s", where, verdict.reason)

    def cap_per_hour(self, chat_id: int, cap: int | None) -> None:
        """Send at most ``cap`` messages an hour to this chat (a channel's max_per_hour)."""
        if cap is None:
            self._hourly_caps.pop(chat_id, None)
        else:
            self._hourly_caps[chat_id] = cap

    async def over_hourly_cap(self, chat_id: int) -> bool:
        cap = self._hourly_caps.get(chat_id)
        if cap is None:
            return False
        return await self.store.deliveries.sent_since(chat_id, self.now() - 3600) >= cap

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
        self,
        article: Article,
        zone_name: str | None,
        zone: ZoneInfo | None,
        tr: Translator,
        *,
        plain: bool,
    ) -> RenderedMessage:
        key = (article.id, zone_name, tr.code, plain)
        rendered = self._renders.get(key)
        if rendered is None:
            render = render_article_plain if plain else render_article
            rendered = render(article, topics=self.topics, tz=zone, tr=tr)
            self._renders[key] = rendered
            if len(self._renders) > RENDER_CACHE:
                self._renders.popitem(last=False)
        return rendered

    # -- the ledger, written in groups -------------------------------------------------------

    def _enqueue(self, outcomes: Sequence[Outcome]) -> asyncio.Future[bool]:
        """Queue outcomes for the next grouped write; the future says when they are stored."""
        done: asyncio.Future[bool] = asyncio.get_running_loop().create_future()
        for outcome in outcomes[:-1]:
            self._pending.append(_Change(outcome, None, None))
        self._pending.append(_Change(outcomes[-1], None, done))
        self.stats.unrecorded += len(outcomes)
        self._start_writer()
        return done

    async def _write(self, *, sending: int) -> bool:
        """Queue a 'sending' mark and wait until a grouped transaction has stored it."""
        done: asyncio.Future[bool] = asyncio.get_running_loop().create_future()
        self._pending.append(_Change(None, sending, done))
        self._start_writer()
        return await done

    def _start_writer(self) -> None:
        if self._giving_up.is_set():  # after a stop that ran out of time: say what is lost
            self._forget_pending()
            return
        writing = [w for w in self._writers if not w.done()]
        # One more writer while the store takes writes; while it refuses them, only the one
        # that is trying again (at its own pace).
        wanted = 1 if self._write_failing_since is not None else self.store.db.row_writers
        if self._pending and len(writing) < wanted:
            writer = asyncio.create_task(self._flush(), name="newsbot-ledger-writer")
            self._writers.add(writer)
            writer.add_done_callback(self._writers.discard)

    async def _flush(self) -> None:
        """Write the pending changes in groups until none is left; a failed write is kept
        and tried again (outcomes of sends that happened must reach the ledger)."""
        loop = asyncio.get_running_loop()
        pause = WRITE_RETRY_FIRST
        retrying = False  # this writer's last write failed
        while self._pending and not self._giving_up.is_set():
            if self._write_failing_since is not None and not retrying:
                return  # another writer is trying the store again; it writes these too
            batch = self._pending
            self._pending = []
            outcomes = [c.outcome for c in batch if c.outcome is not None]
            marks = [c.sending for c in batch if c.sending is not None]
            try:
                await self.store.deliveries.record(outcomes, self.now(), sending=marks)
            except Exception:
                self._pending[:0] = batch  # first in, first written, once the store lets us
                self.stats.ledger_write_failures += 1
                self._counted.set()
                if self._write_failing_since is None:
                    self._write_failing_since = loop.time()
                    log.warning(
                        "could not write %d ledger changes; keeping them and trying again",
                        len(batch),
                        exc_info=True,
                    )
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._giving_up.wait(), pause)
                pause = min(pause * 2, WRITE_RETRY_MAX)
                retrying = True
                continue
            pause, retrying = WRITE_RETRY_FIRST, False
            if self._write_failing_since is not None:
                log.warning(
                    "ledger written again after %.1f s of failed writes",
                    loop.time() - self._write_failing_since,
                )
                self._write_failing_since = None
            self.stats.unrecorded -= len(outcomes)
            for change in batch:
                if change.done is not None and not change.done.done():
                    change.done.set_result(True)


def _describe(outcome: Outcome) -> str:
    detail = f" (message {outcome.message_id})" if outcome.message_id is not None else ""
    return f"delivery {outcome.delivery_id} {outcome.status}{detail}"
