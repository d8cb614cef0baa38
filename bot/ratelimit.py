"""Telegram's flood limits, kept in every window, with replies ahead of bulk delivery.

A slot is held from the moment a request is granted until one period after its answer came
back. Telegram received the request somewhere between the two, so counting from the answer
means no window *as Telegram measures it* ever holds more than the limit, whatever the
network's latency; a limiter that counts from the grant can let N+1 through when one request
is slow on the wire and the next is fast.

Grants go to waiting requests in priority order (replies to users first, then bulk delivery),
skipping a request whose own chat is at its limit so that one chat's backlog never holds up
the others. A 429 pauses every request until ``retry_after`` has passed, then the request is
sent again: nothing is dropped for flood control.

With paid broadcasts (``Limits.paid_per_second``), a request that carries
``allow_paid_broadcast`` counts only against that overall window (1,000/s at Telegram); every
other request counts against both it and the free ``per_second`` window, so replies and edits
keep Telegram's free limit while bulk sends go at the paid rate. Per-chat limits apply to all.

Where several instances send (webhook mode), a ``Budget`` shared between them
(bot/shared_limits.py, in Redis) counts every message too, before this process's own windows
grant it: the same windows, kept once for all instances.
"""

from __future__ import annotations

import asyncio
import heapq
import itertools
import logging
import time
from collections import deque
from collections.abc import Callable, Coroutine, Sequence
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any, Protocol

from telegram.error import RetryAfter
from telegram.ext import BaseRateLimiter

log = logging.getLogger(__name__)

INTERACTIVE, BULK = 0, 1

# Requests that put a message in a chat; the rest (getUpdates, answerCallbackQuery, ...) are
# not under the message limits and must never wait behind them.
_LIMITED_PREFIXES = ("send", "copyMessage", "forwardMessage", "editMessage")
_UNLIMITED = {"sendChatAction"}


@dataclass(frozen=True, slots=True)
class Limits:
    per_second: float = 30.0
    private_per_second: float = 1.0
    group_per_minute: float = 20.0
    paid_per_second: float | None = None  # None: no paid broadcasts


class Window:
    """At most ``limit`` requests per ``period`` seconds, each counted until period after its
    answer."""

    def __init__(self, limit: int, period: float) -> None:
        self.limit = max(1, limit)
        self.period = period
        self.in_flight = 0
        self.releases: deque[float] = deque()  # when each answered request stops counting

    def _expire(self, now: float) -> None:
        while self.releases and self.releases[0] <= now:
            self.releases.popleft()

    def free(self, now: float) -> bool:
        self._expire(now)
        return self.in_flight + len(self.releases) < self.limit

    def next_free(self, now: float) -> float | None:
        """When a slot frees by time alone; None when only an answer can free one."""
        self._expire(now)
        if self.in_flight + len(self.releases) < self.limit:
            return now
        return self.releases[0] if self.releases else None

    def take(self) -> None:
        self.in_flight += 1

    def answered(self, now: float) -> None:
        self.in_flight -= 1
        self.releases.append(now + self.period)

    def fill_until(self, until: float) -> None:
        """Count the window as full until ``until`` (what another process may have sent)."""
        missing = self.limit - self.in_flight - len(self.releases)
        self.releases.extend([until] * max(0, missing))

    def idle(self, now: float) -> bool:
        self._expire(now)
        return self.in_flight == 0 and not self.releases


def window_for_limit(per_period: float, period: float) -> Window:
    """A rate such as 30/s as whole requests per window: 0.5/s becomes 1 per 2 s."""
    if per_period >= 1:
        return Window(int(per_period), period)
    return Window(1, period / per_period)


class SharedLimitsUnreachable(RuntimeError):
    """The server of the windows shared between instances (``[delivery] shared_limits``) did not
    answer at start. Here, not beside the Redis client, so that naming it imports no client."""


@dataclass(frozen=True, slots=True)
class Span:
    """A window as every instance names it: ``limit`` messages per ``period`` seconds."""

    name: str  # "all", "paid" or "chat:<id>"
    limit: int
    period: float


class Budget(Protocol):
    """Windows shared with other instances (bot/shared_limits.py): a message takes a slot in
    each it counts against (``acquire`` waits for it; the first ``overall`` are the windows of
    every chat) and gives it back once answered."""

    async def acquire(self, spans: Sequence[Span], overall: int, *, interactive: bool) -> object:
        """A slot in every window of ``spans``; whatever ``release`` needs to give it back."""
        ...

    async def release(self, slot: object) -> None: ...


class Unshared:
    """One instance sends: its own windows are all there is."""

    async def acquire(self, spans: Sequence[Span], overall: int, *, interactive: bool) -> object:
        return None

    async def release(self, slot: object) -> None:
        pass


@dataclass(order=True)
class _Waiter:
    priority: int
    seq: int
    chat: str | None = field(compare=False)
    future: asyncio.Future[None] = field(compare=False)
    paid: bool = field(default=False, compare=False)


class TelegramRateLimiter(BaseRateLimiter[int]):
    """PTB rate limiter: global and per-chat windows, priorities, and retry on 429.

    ``rate_limit_args`` is the priority: ``BULK`` for delivery, anything else is a reply.
    """

    def __init__(
        self,
        limits: Limits = Limits(),
        *,
        clock: Callable[[], float] = time.monotonic,
        shared: Budget | None = None,
    ) -> None:
        self.limits = limits
        self.clock = clock
        self.shared: Budget = shared if shared is not None else Unshared()
        self.global_window = window_for_limit(limits.per_second, 1.0)
        paid = limits.paid_per_second
        self.paid_window = None if paid is None else window_for_limit(paid, 1.0)
        self.chats: dict[str, Window] = {}
        self.waiters: list[_Waiter] = []
        self.paused_until = 0.0
        self.inherited_at: float | None = None
        self.retries_after_429 = 0
        self._seq = itertools.count()
        self._timer: asyncio.TimerHandle | None = None

    async def initialize(self) -> None:
        pass

    async def shutdown(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None

    # -- PTB's hook ------------------------------------------------------------------------

    async def process_request(
        self,
        callback: Callable[..., Coroutine[Any, Any, bool | dict[str, Any] | list[dict[str, Any]]]],
        args: Any,
        kwargs: dict[str, Any],
        endpoint: str,
        data: dict[str, Any],
        rate_limit_args: int | None,
    ) -> bool | dict[str, Any] | list[dict[str, Any]]:
        if not _is_limited(endpoint):
            return await callback(*args, **kwargs)
        chat = _chat_key(data.get("chat_id"))
        priority = BULK if rate_limit_args == BULK else INTERACTIVE
        paid = bool(data.get("allow_paid_broadcast")) and self.paid_window is not None
        while True:
            # The other instances' messages count too: first a slot of the shared windows
            # (where replies of every instance go ahead of bulk sends), then this process's.
            # Not the other way round: a bulk send holding a local slot while it waits for a
            # shared one would keep this instance's own replies waiting behind it.
            slot = await self.shared.acquire(
                self.spans(chat, paid),
                len(self._overall(paid)),
                interactive=priority == INTERACTIVE,
            )
            try:
                await self.acquire(chat, priority, paid=paid)
                try:
                    return await callback(*args, **kwargs)
                except RetryAfter as exc:
                    seconds = _seconds(exc.retry_after)
                    self.pause(seconds)
                    self.retries_after_429 += 1
                    log.warning("Telegram asked to wait %.0f s (429); every request waits", seconds)
                    # The retry keeps the priority of a reply: it has waited already.
                    priority = INTERACTIVE
                finally:
                    self.release(chat, paid=paid)
            finally:
                await self.shared.release(slot)

    # -- the mechanism ---------------------------------------------------------------------

    def window_of(self, chat: str | None) -> Window | None:
        if chat is None:
            return None
        window = self.chats.get(chat)
        if window is None:
            if _is_private(chat):
                window = window_for_limit(self.limits.private_per_second, 1.0)
            else:
                window = window_for_limit(self.limits.group_per_minute, 60.0)
            if self.inherited_at is not None and self.clock() < self.inherited_at + window.period:
                window.fill_until(self.inherited_at + window.period)
            self.chats[chat] = window
        return window

    def inherit(self) -> None:
        """Another process sent for this bot until a moment ago (this one took over): it may
        have used every window to the full, so each counts as full for one period from now
        (a second overall and per private chat, a minute per group)."""
        now = self.clock()
        self.inherited_at = now
        for window in (self.global_window, self.paid_window):
            if window is not None:
                window.fill_until(now + window.period)
        for window in self.chats.values():
            window.fill_until(now + window.period)
        self._grant()

    def chat_ready(self, chat: str) -> bool:
        """Whether a message to this chat would be granted now as far as its own window goes."""
        window = self.window_of(chat)
        return window is None or window.free(self.clock())

    async def acquire(
        self, chat: str | None, priority: int = INTERACTIVE, *, paid: bool = False
    ) -> None:
        loop = asyncio.get_running_loop()
        waiter = _Waiter(priority, next(self._seq), chat, loop.create_future(), paid)
        heapq.heappush(self.waiters, waiter)
        self._grant()
        try:
            await waiter.future
        except asyncio.CancelledError:
            if waiter.future.done() and not waiter.future.cancelled():
                self.release(chat, paid=paid)  # granted, then cancelled: give the slot back
            else:
                self.waiters.remove(waiter)
                heapq.heapify(self.waiters)
            raise

    def _overall(self, paid: bool) -> list[Window]:
        """The windows every request of this kind counts against, besides its chat's."""
        if self.paid_window is None:
            return [self.global_window]
        return [self.paid_window] if paid else [self.paid_window, self.global_window]

    def spans(self, chat: str | None, paid: bool) -> list[Span]:
        """The windows a message counts against, as all instances name them: overall first."""
        spans = []
        for window in self._overall(paid):
            name = "paid" if window is self.paid_window else "all"
            spans.append(Span(name, window.limit, window.period))
        mine = self.window_of(chat)
        if mine is not None:
            spans.append(Span(f"chat:{chat}", mine.limit, mine.period))
        return spans

    def release(self, chat: str | None, *, paid: bool = False) -> None:
        now = self.clock()
        for overall in self._overall(paid):
            overall.answered(now)
        window = self.window_of(chat)
        if window is not None:
            window.answered(now)
        self._forget_idle_chats(now)
        self._grant()

    def pause(self, seconds: float) -> None:
        self.paused_until = max(self.paused_until, self.clock() + seconds)
        self._grant()

    def _grant(self) -> None:
        now = self.clock()
        wake_at: float | None = None
        if now < self.paused_until:
            self._wake_at(self.paused_until)
            return
        kept: list[_Waiter] = []
        # Every request counts against this one: when it is full, nothing can be granted.
        everyone = self._overall(True)[0]
        while self.waiters:
            if not everyone.free(now):
                later = everyone.next_free(now)
                if later is not None:
                    wake_at = later if wake_at is None else min(wake_at, later)
                break
            waiter = heapq.heappop(self.waiters)
            if waiter.future.done():
                continue
            windows = self._overall(waiter.paid)
            window = self.window_of(waiter.chat)
            if window is not None:
                windows = [*windows, window]
            full = [w for w in windows if not w.free(now)]
            if full:
                kept.append(waiter)
                for w in full:
                    later = w.next_free(now)
                    if later is not None:
                        wake_at = later if wake_at is None else min(wake_at, later)
                continue
            for w in windows:
                w.take()
            waiter.future.set_result(None)
        for waiter in kept:
            heapq.heappush(self.waiters, waiter)
        if self.waiters and wake_at is not None:
            self._wake_at(wake_at)

    def _wake_at(self, when: float) -> None:
        loop = asyncio.get_running_loop()
        delay = max(0.0, when - self.clock())
        if self._timer is not None:
            self._timer.cancel()
        self._timer = loop.call_later(delay, self._on_timer)

    def _on_timer(self) -> None:
        self._timer = None
        self._grant()

    def _forget_idle_chats(self, now: float) -> None:
        # Keep memory flat across 100,000 chats: drop windows that hold nothing any more.
        if len(self.chats) < 4096:
            return
        for key in [k for k, w in self.chats.items() if w.idle(now)]:
            del self.chats[key]


def _is_limited(endpoint: str) -> bool:
    return endpoint not in _UNLIMITED and endpoint.startswith(_LIMITED_PREFIXES)


def _chat_key(chat_id: object) -> str | None:
    if chat_id is None:
        return None
    return str(chat_id)


def _is_private(chat: str) -> bool:
    # Telegram gives users positive ids and groups, supergroups and channels negative ones;
    # an @username target is a channel or a public group.
    return not chat.startswith(("-", "@"))


def _seconds(retry_after: int | float | timedelta) -> float:
    if isinstance(retry_after, timedelta):
        return retry_after.total_seconds()
    return float(retry_after)
