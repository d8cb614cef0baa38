"""Which times the store can hold: written as (unix seconds, offset) and read back."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest

from storage.timeutil import from_row, storable, to_row

EAST = timezone(timedelta(hours=14))
WEST = timezone(timedelta(hours=-12))


@pytest.mark.parametrize(
    ("value", "holds"),
    [
        (datetime(2018, 6, 9, 12, 34, tzinfo=timezone(timedelta(hours=4))), True),
        (datetime(2, 1, 1, tzinfo=EAST), True),
        (datetime(9998, 12, 31, 23, 59, tzinfo=WEST), True),
        (datetime(1, 1, 1, 0, 0, tzinfo=UTC), True),
        (datetime(9999, 12, 31, 23, 59, tzinfo=UTC), True),
        # In UTC these fall in year 0 and year 10000: Python cannot read them back.
        (datetime(1, 1, 1, 0, 0, tzinfo=EAST), False),
        (datetime(9999, 12, 31, 23, 0, tzinfo=WEST), False),
        (datetime(2018, 6, 9, 12, 34), False),  # naive: no zone to store
    ],
)
def test_a_time_is_storable_exactly_when_it_reads_back_the_same(
    value: datetime, holds: bool
) -> None:
    assert storable(value) is holds
    if holds:
        assert from_row(*to_row(value)) == value
