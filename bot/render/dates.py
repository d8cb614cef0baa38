"""Datelines the way the publisher prints them: ``9 June 2018 12:34 (UTC+04:00)``."""

from __future__ import annotations

from datetime import datetime, timedelta


def format_offset(offset: timedelta | None) -> str:
    """``UTC+04:00``, ``UTC-03:30``, ``UTC+00:00``."""
    minutes = int((offset or timedelta()).total_seconds() // 60)
    sign = "+" if minutes >= 0 else "-"
    hours, mins = divmod(abs(minutes), 60)
    return f"UTC{sign}{hours:02d}:{mins:02d}"


def format_dateline(moment: datetime) -> str:
    """The full dateline in ``moment``'s own zone."""
    return f"{moment.day} {moment:%B %Y %H:%M} ({format_offset(moment.utcoffset())})"


def format_box_time(moment: datetime, reference: datetime) -> str:
    """A related-box time: ``13:29`` on the reference's day, ``8 June 20:45`` otherwise.

    ``moment`` is shown in the reference's zone, as the publisher's box does.
    """
    zone = reference.tzinfo
    local = moment.astimezone(zone) if zone is not None else moment
    if local.date() == reference.date():
        return f"{local:%H:%M}"
    if local.year == reference.year:
        return f"{local.day} {local:%B %H:%M}"
    return f"{local.day} {local:%B %Y %H:%M}"
