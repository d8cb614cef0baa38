"""One time vocabulary: the clock, the current time, and times of day as ``"HH:MM"``.

Every "now" comes from a ``Clock`` (tests pass their own). A time of day (a digest time, the
ends of quiet hours) has one form everywhere, in the config, the store and the delivery rules:
``"HH:MM"`` text, two digits each, which is also what the user types and reads.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import UTC, datetime, time

# Returns the current time, always timezone-aware.
Clock = Callable[[], datetime]

# ASCII digits only: \d would also take "٠٨:٠٠" or "０８:００".
_HHMM = re.compile(r"([01]?[0-9]|2[0-3]):([0-5][0-9])")


def utc_now() -> datetime:
    """The real clock."""
    return datetime.now(UTC)


def parse_hhmm(text: str) -> time:
    """``"08:00"`` or ``"8:00"`` -> ``time(8, 0)``; anything else is ValueError."""
    match = _HHMM.fullmatch(text.strip())
    if not match:
        raise ValueError(f"{text!r} is not a time like 08:00")
    return time(int(match.group(1)), int(match.group(2)))


def hhmm(text: str) -> str:
    """A time of day in its one form: ``"8:00"`` -> ``"08:00"``; anything else is ValueError."""
    return f"{parse_hhmm(text):%H:%M}"
