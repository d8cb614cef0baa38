"""Fixtures shared by the whole suite."""

from __future__ import annotations

import pytest


@pytest.fixture(autouse=True)
def _ptb_timedelta(monkeypatch: pytest.MonkeyPatch) -> None:
    # PTB 22 warns (an error under filterwarnings=error) when a RetryAfter is built with int
    # seconds unless timedelta mode is on; newsbot runs with it on too (bot/app.py).
    monkeypatch.setenv("PTB_TIMEDELTA", "true")
