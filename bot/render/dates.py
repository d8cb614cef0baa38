"""Datelines the way the publisher prints them, in the reader's language.

``9 June 2018 12:34 (UTC+04:00)`` in English, ``9 июня 2018 12:34 (UTC+04:00)`` in Russian:
the month comes from Babel's CLDR data in its format (genitive) form, the clock is 24-hour in
every language, and the offset is written the same everywhere.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from babel.core import Locale
from babel.dates import format_datetime

ENGLISH = Locale("en")
# CLDR patterns: "MMMM" is the month's format form (Russian "июня"), not its stand-alone form
# ("LLLL", "июнь"); a day-first order is what the publisher prints in every language.
DATELINE = "d MMMM y HH:mm"
SAME_YEAR = "d MMMM HH:mm"
SAME_DAY = "HH:mm"


def format_offset(offset: timedelta | None) -> str:
    """``UTC+04:00``, ``UTC-03:30``, ``UTC+00:00``."""
    minutes = int((offset or timedelta()).total_seconds() // 60)
    sign = "+" if minutes >= 0 else "-"
    hours, mins = divmod(abs(minutes), 60)
    return f"UTC{sign}{hours:02d}:{mins:02d}"


def _format(moment: datetime, pattern: str, locale: Locale) -> str:
    # Babel reads the fields in moment's own zone (a naive moment is taken as it is).
    return format_datetime(moment, pattern, tzinfo=moment.tzinfo, locale=locale)


def format_dateline(moment: datetime, locale: Locale = ENGLISH) -> str:
    """The full dateline in ``moment``'s own zone."""
    return f"{_format(moment, DATELINE, locale)} ({format_offset(moment.utcoffset())})"


def format_box_time(moment: datetime, reference: datetime, locale: Locale = ENGLISH) -> str:
    """A related-box time: ``13:29`` on the reference's day, ``8 June 20:45`` otherwise.

    ``moment`` is shown in the reference's zone, as the publisher's box does.
    """
    zone = reference.tzinfo
    local = moment.astimezone(zone) if zone is not None else moment
    if local.date() == reference.date():
        return _format(local, SAME_DAY, locale)
    if local.year == reference.year:
        return _format(local, SAME_YEAR, locale)
    return _format(local, DATELINE, locale)
