"""Fault injection and Telegram's flood limits, as the server applies them to calls.

* :class:`FaultRule` / :class:`Faults`: answer the next matching call(s) with an error (any
  ``error_code``, including 5xx with an HTML body like Telegram's front-end), delay the answer, or
  close the connection without answering; ``every=N`` makes a rule hit every Nth matching
  call only, and a large ``count`` keeps it for the whole test (latency on every answer, a 500
  on every seventh call).
* :class:`RateLimiter`: sliding windows measured at the double (overall per second, per private
  chat per second, per group or channel per minute); a call over a limit gets
  ``429 Too Many Requests: retry after N`` with ``parameters.retry_after``.
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Literal

from botapi_double.errors import ApiError
from botapi_double.state import Chat

__all__ = ["FaultKind", "FaultRule", "Faults", "RateLimiter", "is_rate_limited_method"]

FaultKind = Literal["error", "delay", "drop"]


@dataclass
class FaultRule:
    """One injected fault: which calls it hits, how many times, and what it does."""

    kind: FaultKind
    method: str | None  # canonical method name; None hits every method
    chat_id: int | None = None  # None hits every chat
    count: int = 1
    error: ApiError | None = None
    raw_body: bytes | None = None  # answer with this body instead of Telegram's JSON
    content_type: str = "application/json"
    delay: float = 0.0
    executed: bool = True  # delay/drop: does the call take effect?
    every: int = 1  # fire on every Nth matching call only (the others pass on untouched)
    seen: int = 0

    def matches(self, method: str, chat_id: int | None) -> bool:
        """Whether this rule hits a call of ``method`` aimed at ``chat_id``."""
        if self.method is not None and self.method.lower() != method.lower():
            return False
        return self.chat_id is None or self.chat_id == chat_id


class Faults:
    """The pending fault rules, consumed in the order they were added."""

    def __init__(self) -> None:
        self.rules: list[FaultRule] = []
        self.fired: list[FaultRule] = []

    def add(self, rule: FaultRule) -> FaultRule:
        """Add a rule."""
        if rule.count < 1:
            raise ValueError("count must be at least 1")
        if rule.every < 1:
            raise ValueError("every must be at least 1")
        self.rules.append(rule)
        return rule

    def take(self, method: str, chat_id: int | None) -> FaultRule | None:
        """Use up one firing of the first rule matching this call, if any."""
        for rule in self.rules:
            if rule.matches(method, chat_id):
                rule.seen += 1
                if rule.seen % rule.every:
                    continue  # not this call: a later rule may still take it
                rule.count -= 1
                if rule.count == 0:
                    self.rules.remove(rule)
                self.fired.append(rule)
                return rule
        return None

    def clear(self) -> None:
        """Drop all pending rules."""
        self.rules.clear()


_LIMITED_PREFIXES = ("send", "copyMessage", "forwardMessage")
_UNLIMITED = frozenset({"sendChatAction"})


def is_rate_limited_method(method: str) -> bool:
    """Whether Telegram's message flood limits apply to ``method`` (sending messages)."""
    return method.startswith(_LIMITED_PREFIXES) and method not in _UNLIMITED


@dataclass
class _Window:
    limit: int
    seconds: float
    stamps: deque[float] = field(default_factory=deque)

    def retry_after(self, now: float) -> float | None:
        while self.stamps and self.stamps[0] <= now - self.seconds:
            self.stamps.popleft()
        if len(self.stamps) < self.limit:
            return None
        return self.stamps[0] + self.seconds - now


class RateLimiter:
    """Sliding-window flood limits; disabled until :meth:`configure` is called."""

    def __init__(self) -> None:
        self.global_per_second: int | None = None
        self.per_private_chat_per_second: int | None = None
        self.per_group_per_minute: int | None = None
        self.paid_per_second: int | None = None
        self.methods: frozenset[str] | None = None  # None: every message-sending method
        self.hits = 0
        self._global: _Window | None = None
        self._paid: _Window | None = None
        self._chats: dict[int, _Window] = {}

    def configure(
        self,
        *,
        global_per_second: int | None,
        per_private_chat_per_second: int | None,
        per_group_per_minute: int | None,
        paid_per_second: int | None = None,
        methods: Iterable[str] | None = None,
    ) -> None:
        """Set the limits (None disables one) and start counting afresh.

        ``paid_per_second`` is the overall limit of paid broadcasts: a message sent with
        ``allow_paid_broadcast`` counts against it alone (besides its chat's limit); every
        other message counts against ``global_per_second`` and this overall one too.
        """
        self.global_per_second = global_per_second
        self.per_private_chat_per_second = per_private_chat_per_second
        self.per_group_per_minute = per_group_per_minute
        self.paid_per_second = paid_per_second
        self.methods = None if methods is None else frozenset(methods)
        self._global = None if global_per_second is None else _Window(global_per_second, 1.0)
        self._paid = None if paid_per_second is None else _Window(paid_per_second, 1.0)
        self._chats = {}

    def applies_to(self, method: str) -> bool:
        """Whether calls of ``method`` count against the limits."""
        if self.methods is not None:
            return method in self.methods
        return is_rate_limited_method(method)

    def _chat_window(self, chat: Chat) -> _Window | None:
        window = self._chats.get(chat.id)
        if window is not None:
            return window
        if chat.type == "private":
            if self.per_private_chat_per_second is None:
                return None
            window = _Window(self.per_private_chat_per_second, 1.0)
        else:
            if self.per_group_per_minute is None:
                return None
            window = _Window(self.per_group_per_minute, 60.0)
        self._chats[chat.id] = window
        return window

    def check(
        self, method: str, chat: Chat | None, now: float, *, paid: bool = False
    ) -> int | None:
        """Count a call; return the retry_after seconds if it breaks a limit (not counted).

        ``paid``: the call carries ``allow_paid_broadcast``.
        """
        if not self.applies_to(method):
            return None
        windows: list[_Window] = []
        if self._paid is not None:
            windows.append(self._paid)
        if self._global is not None and not paid:
            windows.append(self._global)
        chat_window = self._chat_window(chat) if chat is not None else None
        if chat_window is not None:
            windows.append(chat_window)
        waits = [wait for w in windows if (wait := w.retry_after(now)) is not None]
        if waits:
            self.hits += 1
            return max(1, math.ceil(max(waits)))
        for window in windows:
            window.stamps.append(now)
        return None
