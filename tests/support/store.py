"""The one place tests create stores.

A backend is named by an id (today only ``"sqlite"``: a fresh file per test). The conftest's
``store_backend`` fixture is parametrised over ``BACKENDS``; a new backend (PostgreSQL, issue
12) is one more id here, one more branch in ``storage_config``, and every store test runs on it.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from core.settings import StorageConfig
from storage import Store

BACKENDS = ("sqlite",)
DEFAULT_BACKEND = "sqlite"  # where the harness's bots keep their store


def storage_config(backend: str, folder: Path, name: str = "news") -> StorageConfig:
    """Where a test's store of ``backend`` lives: a fresh SQLite file in ``folder``."""
    if backend == "sqlite":
        return StorageConfig(str(folder / f"{name}.db"))
    raise ValueError(f"unknown store backend {backend!r}")


async def open_store(config: StorageConfig) -> Store:
    """Open (creating and migrating) the store ``config`` names; the caller closes it."""
    return await Store.open(config.path)


@asynccontextmanager
async def opened_store(config: StorageConfig) -> AsyncIterator[Store]:
    """The store ``config`` names, open for the block and closed after it (closing twice is
    harmless, so a test may close it early to look at the file)."""
    store = await open_store(config)
    try:
        yield store
    finally:
        await store.close()
