from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

from babel.core import Locale

from bot.render.dates import format_box_time, format_dateline

BAKU = timezone(timedelta(hours=4))


def test_dateline_as_the_publisher_prints_it() -> None:
    assert format_dateline(datetime(2018, 6, 9, 12, 34, tzinfo=BAKU)) == (
        "9 June 2018 12:34 (UTC+04:00)"
    )


def test_dateline_with_negative_and_half_hour_offsets() -> None:
    assert format_dateline(
        datetime(2020, 1, 2, 3, 4, tzinfo=timezone(-timedelta(hours=3, minutes=30)))
    ) == ("2 January 2020 03:04 (UTC-03:30)")
    assert (
        format_dateline(datetime(2020, 1, 2, 3, 4, tzinfo=UTC))
        == "2 January 2020 03:04 (UTC+00:00)"
    )


def test_box_times_are_short_on_the_same_day() -> None:
    article = datetime(2018, 6, 9, 12, 34, tzinfo=BAKU)
    assert format_box_time(datetime(2018, 6, 9, 13, 29, tzinfo=BAKU), article) == "13:29"
    assert format_box_time(datetime(2018, 6, 8, 20, 45, tzinfo=BAKU), article) == "8 June 20:45"
    # A time stored in UTC is shown in the article's zone, as the box printed it.
    assert format_box_time(datetime(2018, 6, 8, 16, 45, tzinfo=UTC), article) == "8 June 20:45"
    assert format_box_time(datetime(2017, 12, 31, 9, 0, tzinfo=BAKU), article) == (
        "31 December 2017 09:00"
    )


RUSSIAN = Locale("ru")
# Russian writes a date's month in the genitive: "9 июня", never the dictionary form "июнь".
GENITIVE = [
    "января",
    "февраля",
    "марта",
    "апреля",
    "мая",
    "июня",
    "июля",
    "августа",
    "сентября",
    "октября",
    "ноября",
    "декабря",
]


def test_a_russian_dateline() -> None:
    assert format_dateline(datetime(2018, 6, 9, 12, 34, tzinfo=BAKU), RUSSIAN) == (
        "9 июня 2018 12:34 (UTC+04:00)"
    )


def test_every_russian_month_is_in_the_genitive() -> None:
    for month, name in enumerate(GENITIVE, 1):
        moment = datetime(2020, month, 1, 0, 5, tzinfo=UTC)
        assert format_dateline(moment, RUSSIAN) == f"1 {name} 2020 00:05 (UTC+00:00)"


def test_russian_box_times_and_a_naive_moment() -> None:
    article = datetime(2018, 6, 9, 12, 34, tzinfo=BAKU)
    assert format_box_time(datetime(2018, 6, 9, 13, 29, tzinfo=BAKU), article, RUSSIAN) == "13:29"
    assert format_box_time(datetime(2018, 5, 8, 16, 45, tzinfo=UTC), article, RUSSIAN) == (
        "8 мая 20:45"
    )
    assert format_box_time(datetime(2017, 12, 31, 9, 0, tzinfo=BAKU), article, RUSSIAN) == (
        "31 декабря 2017 09:00"
    )
    # A naive moment is shown as it is, not moved to another zone.
    assert format_dateline(datetime(2018, 3, 8, 7, 0), RUSSIAN) == "8 марта 2018 07:00 (UTC+00:00)"
