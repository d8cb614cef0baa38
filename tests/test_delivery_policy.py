"""The pure delivery rules: what Telegram's errors mean, back-off, quiet hours, digest time."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from telegram.error import BadRequest, ChatMigrated, Forbidden, NetworkError, RetryAfter, TimedOut

from bot.delivery.policy import (
    MAX_ATTEMPTS,
    Action,
    backoff_seconds,
    classify,
    digest_moment,
    ledger_outcome,
    quiet_until,
    zone_named,
)
from bot.transport import AnswerLost
from storage.deliveries import CANCELLED, FAILED, OWED, Due, Outcome


def due(*, attempts: int = 0, lost_answers: int = 0) -> Due:
    return Due(7, 100, 1, attempts, "private", None, None, None, lost_answers)


@pytest.mark.parametrize(
    ("error", "action"),
    [
        (Forbidden("Forbidden: bot was blocked by the user"), Action.DEACTIVATE),
        (Forbidden("Forbidden: user is deactivated"), Action.DEACTIVATE),
        (Forbidden("Forbidden: bot was kicked from the supergroup chat"), Action.DEACTIVATE),
        (BadRequest("Bad Request: chat not found"), Action.DEACTIVATE),
        (BadRequest("Bad Request: message is too long"), Action.PLAIN),
        (BadRequest("Bad Request: can't parse entities: Unsupported start tag"), Action.PLAIN),
        (BadRequest("Bad Request: BUTTON_DATA_INVALID"), Action.FAIL),
        (TimedOut(), Action.RETRY),
        (NetworkError("Bad Gateway (502)"), Action.RETRY),
        (RuntimeError("a bug of ours"), Action.RETRY),
    ],
)
def test_telegram_errors_map_to_what_delivery_does(error: Exception, action: Action) -> None:
    assert classify(error).action is action


def test_flood_control_is_retried() -> None:
    # Built here, not at collection: PTB warns unless its timedelta mode (set by a fixture) is on.
    assert classify(RetryAfter(timedelta(seconds=3))).action is Action.RETRY


def test_a_migration_carries_the_new_chat_id() -> None:
    verdict = classify(ChatMigrated(-1001234))
    assert verdict.action is Action.MIGRATE
    assert verdict.new_chat_id == -1001234


def test_backoff_doubles_and_is_capped() -> None:
    assert [backoff_seconds(n) for n in (1, 2, 3, 4)] == [2, 4, 8, 16]
    assert backoff_seconds(30) == 600


def test_quiet_hours_across_midnight_in_the_chats_zone() -> None:
    berlin = ZoneInfo("Europe/Berlin")
    late = datetime(2026, 11, 28, 22, 30, tzinfo=UTC)  # 23:30 in Berlin
    early = datetime(2026, 11, 29, 5, 0, tzinfo=UTC)  # 06:00 in Berlin
    day = datetime(2026, 11, 29, 12, 0, tzinfo=UTC)
    assert quiet_until(late, "23:00", "07:00", berlin) == datetime(2026, 11, 29, 6, 0, tzinfo=UTC)
    assert quiet_until(early, "23:00", "07:00", berlin) == datetime(2026, 11, 29, 6, 0, tzinfo=UTC)
    assert quiet_until(day, "23:00", "07:00", berlin) is None
    assert quiet_until(day, None, None, berlin) is None


def test_quiet_hours_within_one_day() -> None:
    noon = datetime(2026, 11, 28, 12, 30, tzinfo=UTC)
    assert quiet_until(noon, "12:00", "14:00", None) == datetime(2026, 11, 28, 14, 0, tzinfo=UTC)
    assert quiet_until(noon, "13:00", "14:00", None) is None


def test_digest_moment_is_the_latest_local_digest_time_not_after_now() -> None:
    tokyo = ZoneInfo("Asia/Tokyo")
    before = datetime(2026, 11, 28, 22, 0, tzinfo=UTC)  # 07:00 on the 29th in Tokyo
    after = datetime(2026, 11, 28, 23, 30, tzinfo=UTC)  # 08:30 on the 29th in Tokyo
    assert digest_moment(before, "08:00", tokyo) == datetime(2026, 11, 27, 23, 0, tzinfo=UTC)
    assert digest_moment(after, "08:00", tokyo) == datetime(2026, 11, 28, 23, 0, tzinfo=UTC)


def test_unknown_zones_fall_back_to_the_publishers() -> None:
    assert zone_named("Europe/Berlin") == ZoneInfo("Europe/Berlin")
    assert zone_named("Mars/Olympus") is None
    assert zone_named(None) is None


@pytest.mark.parametrize(
    ("row", "error", "expected"),
    [
        (
            due(),
            Forbidden("Forbidden: bot was blocked by the user"),
            Outcome(7, CANCELLED, error="Forbidden: bot was blocked by the user"),
        ),
        (
            due(),
            BadRequest("Bad Request: BUTTON_DATA_INVALID"),
            Outcome(7, FAILED, error="Button_data_invalid"),
        ),
        (
            due(attempts=2),
            TimedOut("Timed out"),
            Outcome(7, OWED, error="Timed out", retry_at=1000 + 8),
        ),
        (
            due(attempts=MAX_ATTEMPTS - 1),
            TimedOut("Timed out"),
            Outcome(7, FAILED, error=f"gave up after {MAX_ATTEMPTS} attempts: Timed out"),
        ),
        (
            due(),
            AnswerLost("no answer"),
            Outcome(7, OWED, error="answer lost: no answer", retry_at=1002, lost_answer=True),
        ),
        (
            due(lost_answers=1),
            AnswerLost("no answer"),
            Outcome(
                7,
                FAILED,
                error="answer lost twice (it may have arrived): no answer",
                lost_answer=True,
            ),
        ),
    ],
)
def test_one_mapping_from_a_refused_send_to_the_ledger(
    row: Due, error: Exception, expected: Outcome
) -> None:
    assert ledger_outcome(row, classify(error), 1000) == expected
