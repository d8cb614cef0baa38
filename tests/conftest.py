"""Fixtures shared by the whole suite."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from core.settings import StorageConfig
from storage import Store
from tests.support.store import (
    BACKENDS,
    DEFAULT_BACKEND,
    drop_test_database,
    opened_store,
    storage_config,
    use_harness_backend,
)


@pytest.fixture(autouse=True)
def _ptb_timedelta(monkeypatch: pytest.MonkeyPatch) -> None:
    # PTB 22 warns (an error under filterwarnings=error) when a RetryAfter is built with int
    # seconds unless timedelta mode is on; newsbot runs with it on too (bot/app.py).
    monkeypatch.setenv("PTB_TIMEDELTA", "true")


@pytest.fixture(autouse=True)
def _own_cache_folder(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    # A PostgreSQL store's meaning index goes to the user's cache folder unless the config
    # names one (bot.bootstrap.index_dir): the tests' throwaway stores, and the bots they
    # start, keep theirs in the test's folder instead of the home folder.
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))


@pytest.fixture(scope="session", autouse=True)
def _throwaway_postgres() -> Iterator[None]:
    """Drop the run's PostgreSQL database (made by the first test that needed one) at the end."""
    yield
    drop_test_database()


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    # The bot tests that exercise the store run their harness bots on each backend.
    if metafunc.definition.get_closest_marker("both_stores") is not None:
        metafunc.parametrize("harness_backend", BACKENDS, indirect=True)


@pytest.fixture
def harness_backend(request: pytest.FixtureRequest) -> str:
    """The backend of this test's harness bots: each in turn in a module marked
    ``both_stores``, else the default (tests/support/store.py)."""
    backend: str = getattr(request, "param", DEFAULT_BACKEND)
    return backend


@pytest.fixture(autouse=True)
def _harness_store(harness_backend: str) -> Iterator[None]:
    use_harness_backend(harness_backend)
    yield
    use_harness_backend(DEFAULT_BACKEND)


@pytest.fixture(params=BACKENDS)
def store_backend(request: pytest.FixtureRequest) -> str:
    """The id of the store backend a test runs on (every test that opens a store runs on each)."""
    backend: str = request.param
    return backend


@pytest.fixture
def store_config(store_backend: str, tmp_path: Path) -> StorageConfig:
    """Where this test's store lives: fresh per test (an SQLite file in tmp_path, or a new
    PostgreSQL schema in the run's database)."""
    return storage_config(store_backend, tmp_path)


@pytest.fixture
async def store(store_config: StorageConfig) -> AsyncIterator[Store]:
    """A fresh real store, migrated and empty, closed when the test ends."""
    async with opened_store(store_config) as opened:
        yield opened
