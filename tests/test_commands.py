"""The one parser of numbers users send: command arguments and callback data."""

from __future__ import annotations

import pytest

from bot.commands import (
    LATEST_MAX,
    SQLITE_MAX_INTEGER,
    UsageError,
    clip,
    parse_article_id,
    parse_latest,
    parse_number,
    parse_settings,
)
from tests.harness import TOPICS


@pytest.mark.parametrize(
    "text",
    [
        "²",
        "٣",
        "１２",
        "1²",
        "-1",
        "+1",
        " 1",
        "1 ",
        "1\n",
        "",
        "1_000",
        "0x10",
        "1e3",
        "9223372036854775808",
        "99999999999999999999999",
    ],
)
def test_parse_number_takes_only_ascii_digits_within_int64(text: str) -> None:
    assert parse_number(text) is None


def test_parse_number_bounds() -> None:
    assert parse_number("0") == 0
    assert parse_number("007") == 7
    assert parse_number(str(SQLITE_MAX_INTEGER)) == SQLITE_MAX_INTEGER
    assert parse_number("0", low=1) is None
    assert parse_number("21", high=20) is None
    assert parse_number("20", high=20) == 20


@pytest.mark.parametrize("text", ["²", "#²", "0", "#0", "9223372036854775808", "abc", "#"])
def test_parse_article_id_refuses_with_the_usage_line(text: str) -> None:
    with pytest.raises(UsageError, match="Usage: /related ID"):
        parse_article_id(text)


def test_parse_article_id_takes_a_hash() -> None:
    assert parse_article_id("#42") == 42
    assert parse_article_id(" 9223372036854775807 ") == SQLITE_MAX_INTEGER


@pytest.mark.parametrize("arg", ["²", "0", str(LATEST_MAX + 1), "-3", "1" * 30])
def test_parse_latest_count_out_of_range_is_usage(arg: str) -> None:
    with pytest.raises(UsageError, match=r"Usage: /latest \[topic\] \[n\]"):
        parse_latest([arg], TOPICS)


def test_clip_drops_bidi_controls_from_names() -> None:
    assert clip("Evil\u202e group\u200b name") == "Evil group name"


@pytest.mark.parametrize("clock", ["8:0٠", "٨:00", "0²:00"])
def test_a_clock_takes_only_ascii_digits(clock: str) -> None:
    with pytest.raises(UsageError, match="is not a time like 08:00"):
        parse_settings(["digest", clock])
