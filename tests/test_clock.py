"""One time vocabulary: one "HH:MM" parser, and quiet hours in one form wherever they come from."""

from __future__ import annotations

from datetime import time

import pytest

from bot.commands import UsageError, parse_settings
from bot.config import parse_clock_range
from core.clock import hhmm, parse_hhmm
from core.settings import QuietHours


@pytest.mark.parametrize(
    ("text", "expected"),
    [("08:00", time(8, 0)), ("8:00", time(8, 0)), (" 23:59 ", time(23, 59)), ("0:05", time(0, 5))],
)
def test_a_time_of_day_is_read(text: str, expected: time) -> None:
    assert parse_hhmm(text) == expected


@pytest.mark.parametrize(
    "text", ["24:00", "07:60", "8", "0800", "08:00:00", "8:5", "", "-1:00", "٠٨:٠٠", "²:00"]
)
def test_anything_else_is_refused(text: str) -> None:
    with pytest.raises(ValueError, match="not a time like 08:00"):
        parse_hhmm(text)


def test_the_one_form_is_two_digits_each() -> None:
    assert hhmm("7:30") == "07:30"


def test_quiet_hours_from_the_config_and_from_settings_are_the_same_text() -> None:
    # A channel's window (config) and a chat's window (/settings) land in the same chats
    # columns; both are "HH:MM" text from the same parser, so they compare and display alike.
    from_config = parse_clock_range("7:00-9:30")
    from_chat = parse_settings(["quiet", "7:00-9:30"]).values
    assert from_config == QuietHours("07:00", "09:30")
    assert from_chat == {"quiet_start": "07:00", "quiet_end": "09:30"}


def test_a_bad_time_in_settings_is_a_usage_line() -> None:
    with pytest.raises(UsageError, match="'25:00' is not a time like 08:00"):
        parse_settings(["digest", "25:00"])
