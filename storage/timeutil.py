"""Aware datetimes to and from the store's (unix seconds, minutes east of UTC) pairs."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

# What a read of a stored time raises when the row holds a time Python cannot represent (a
# year outside 1..9999 in UTC or in the publisher's zone, or an offset of a day or more).
DECODE_ERRORS = (ValueError, OverflowError, OSError)


def to_row(value: datetime) -> tuple[int, int]:
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError(f"naive datetime {value!r}: every time needs its zone")
    offset = value.utcoffset()
    assert offset is not None
    return int(value.timestamp()), int(offset.total_seconds() // 60)


def from_row(seconds: int, offset_minutes: int | None) -> datetime:
    zone = timezone(timedelta(minutes=offset_minutes)) if offset_minutes else UTC
    return datetime.fromtimestamp(seconds, tz=zone)


def utc_from_seconds(seconds: int) -> datetime:
    return datetime.fromtimestamp(seconds, tz=UTC)


def storable(value: datetime) -> bool:
    """Whether ``value`` survives the store: written with to_row, read back with from_row."""
    if value.utcoffset() is not None and 1 < value.year < 9999:
        # Any zone is less than a day off UTC: such a time is inside years 1..9999 in UTC and
        # in its own zone. Decided without the round trip, which an import paid for every
        # time of every article (~20 µs an article).
        return True
    try:
        from_row(*to_row(value))
    except DECODE_ERRORS:
        return False
    return True
