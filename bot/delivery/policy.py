"""Pure delivery rules: what a Telegram error means for a delivery (and for its ledger row),
back-off, quiet hours."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, tzinfo
from enum import Enum
from zoneinfo import ZoneInfo

from telegram.error import BadRequest, ChatMigrated, Forbidden, NetworkError, RetryAfter, TimedOut

from bot.transport import AnswerLost
from core.clock import parse_hhmm
from storage.deliveries import CANCELLED, FAILED, OWED, Due, Outcome

MAX_BACKOFF = 600
MAX_ATTEMPTS = 50  # with the back-off cap, about eight hours of trying


class Action(Enum):
    RETRY = "retry"  # transient: network, timeout, 5xx, flood control
    DEACTIVATE = "deactivate"  # the chat is gone for us: blocked, kicked, deleted
    MIGRATE = "migrate"  # the group became a supergroup: re-address and send again
    PLAIN = "plain"  # Telegram refused the formatting: send once more as plain text
    NO_PICTURE = "no_picture"  # Telegram could not fetch the picture: send the text alone
    NO_THREAD = "no_thread"  # the forum topic is deleted or closed: send to General instead
    FAIL = "fail"  # this message will never go through


@dataclass(frozen=True, slots=True)
class Verdict:
    action: Action
    reason: str
    new_chat_id: int | None = None
    # The request went out and its answer was lost (timeout, dropped connection): the message
    # may have arrived, so it is sent again at most once.
    ambiguous: bool = False


_THREAD = ("message thread not found", "topic_closed", "topic_deleted")
_GONE = ("chat not found", "user is deactivated", "bot was kicked", "bot was blocked")
_FORMAT = ("message is too long", "can't parse entities", "text is too long")
# Telegram fetches a photo sent by URL itself; these say it could not use that URL.
_PICTURE = (
    "wrong file identifier/http url specified",
    "failed to get http url content",
    "wrong type of the web page content",
)


def classify(error: Exception) -> Verdict:
    """What to do with a delivery whose send raised ``error``."""
    reason = str(error) or type(error).__name__
    lowered = reason.lower()
    if isinstance(error, ChatMigrated):
        return Verdict(Action.MIGRATE, reason, int(error.new_chat_id))
    if isinstance(error, Forbidden):
        return Verdict(Action.DEACTIVATE, reason)
    if isinstance(error, BadRequest):
        if any(marker in lowered for marker in _THREAD):
            return Verdict(Action.NO_THREAD, reason)
        if any(marker in lowered for marker in _GONE):
            return Verdict(Action.DEACTIVATE, reason)
        if any(marker in lowered for marker in _FORMAT):
            return Verdict(Action.PLAIN, reason)
        if any(marker in lowered for marker in _PICTURE):
            return Verdict(Action.NO_PICTURE, reason)
        return Verdict(Action.FAIL, reason)
    if isinstance(error, AnswerLost):
        return Verdict(Action.RETRY, reason, ambiguous=True)
    if isinstance(error, RetryAfter | TimedOut | NetworkError):
        return Verdict(Action.RETRY, reason)
    return Verdict(Action.RETRY, f"{type(error).__name__}: {reason}")


def ledger_outcome(due: Due, verdict: Verdict, now: int) -> Outcome:
    """What the ledger records for ``due`` once Telegram refused its send with ``verdict``.

    The one mapping from an answer to an outcome, for single sends, channel posts and digest
    pages alike. MIGRATE, PLAIN, NO_PICTURE and NO_THREAD are handled by the send path before
    this (they re-send); reaching here with them means the re-send was refused too, which fails
    the delivery.
    """
    if verdict.action is Action.DEACTIVATE:
        return Outcome(due.id, CANCELLED, error=verdict.reason)
    if verdict.action is Action.RETRY and verdict.ambiguous:
        # It may have arrived: send once more, and after a second lost answer stop, rather
        # than fill the chat with copies. The count is in the ledger, so a restart keeps it.
        if due.lost_answers >= 1:
            error = f"answer lost twice (it may have arrived): {verdict.reason}"
            return Outcome(due.id, FAILED, error=error, lost_answer=True)
        return retry_outcome(due, f"answer lost: {verdict.reason}", now, lost_answer=True)
    if verdict.action is Action.RETRY:
        return retry_outcome(due, verdict.reason, now)
    return Outcome(due.id, FAILED, error=verdict.reason)


def retry_outcome(due: Due, reason: str, now: int, *, lost_answer: bool = False) -> Outcome:
    """Owed again after a back-off, or failed once the attempts are used up."""
    attempts = due.attempts + 1
    if attempts >= MAX_ATTEMPTS:
        error = f"gave up after {attempts} attempts: {reason}"
        return Outcome(due.id, FAILED, error=error, lost_answer=lost_answer)
    return Outcome(
        due.id,
        OWED,
        error=reason,
        retry_at=now + backoff_seconds(attempts),
        lost_answer=lost_answer,
    )


def backoff_seconds(attempts: int) -> int:
    """2, 4, 8 ... seconds after each failed attempt, at most ten minutes."""
    return int(min(MAX_BACKOFF, 2 ** max(1, min(attempts, 10))))


def zone_named(name: str | None) -> ZoneInfo | None:
    """The chat's IANA zone, or None (publisher's zone) when unset or no longer known."""
    if not name:
        return None
    try:
        return ZoneInfo(name)
    except (KeyError, ValueError):
        return None


def quiet_until(
    now: datetime, start: str | None, end: str | None, zone: tzinfo | None
) -> datetime | None:
    """The end of the quiet window ``now`` falls in (UTC), or None when sending is allowed.

    The window is in the chat's local time and may wrap midnight (23:00-07:00).
    """
    if not start or not end:
        return None
    local = now.astimezone(zone or UTC)
    begin, finish = parse_hhmm(start), parse_hhmm(end)
    clock = local.time().replace(second=0, microsecond=0, tzinfo=None)
    if begin < finish:
        inside = begin <= clock < finish
        end_day = local.date()
    else:
        inside = clock >= begin or clock < finish
        end_day = local.date() + timedelta(days=1) if clock >= begin else local.date()
    if not inside:
        return None
    local_end = datetime.combine(end_day, finish, tzinfo=zone or UTC)
    return local_end.astimezone(UTC)


def digest_moment(now: datetime, digest_time: str, zone: tzinfo | None) -> datetime:
    """Today's digest time in the chat's zone (the most recent one not after ``now``), UTC."""
    local = now.astimezone(zone or UTC)
    at = datetime.combine(local.date(), parse_hhmm(digest_time), tzinfo=zone or UTC)
    if at > local:
        at -= timedelta(days=1)
    return at.astimezone(UTC)
