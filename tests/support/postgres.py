"""A throwaway PostgreSQL database for the tests that coordinate several instances.

The server is the machine's own (user postgres on 127.0.0.1:5432, or ``NEWSBOT_TEST_POSTGRES``).
Where none answers, the test is skipped saying so, except in CI (``CI=true``), where it fails:
CI starts the server and must never pass by skipping these tests.
"""

from __future__ import annotations

import asyncio
import os
import secrets
from collections.abc import Iterator
from contextlib import contextmanager

import psycopg
import pytest

from botapi_double import BotApiDouble
from storage.pg import apply_migrations
from tests.support.store import POSTGRES_SERVER, server_url

__all__ = ["committed_past", "server_url", "throwaway_database"]


@contextmanager
def throwaway_database() -> Iterator[str]:
    """The URL of a new database with the store's tables (as ``newsbot run`` migrates it before
    it asks for the lead), dropped (with its sessions ended) afterwards."""
    name = f"newsbot_cluster_{secrets.token_hex(4)}"
    try:
        with psycopg.connect(server_url("postgres"), autocommit=True, connect_timeout=3) as conn:
            conn.execute(f"CREATE DATABASE {name}")
    except psycopg.OperationalError as exc:
        reason = f"no PostgreSQL server answers at {POSTGRES_SERVER}: {exc}".strip()
        if os.environ.get("CI") == "true":
            pytest.fail(f"{reason} (CI must run the PostgreSQL tests: .ci/run starts the server)")
        pytest.skip(reason)
    url = server_url(name)
    try:
        with psycopg.connect(url, autocommit=True) as conn:
            apply_migrations(conn, url)
        yield url
    finally:
        with psycopg.connect(server_url("postgres"), autocommit=True) as conn:
            conn.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


async def committed_past(pg_url: str, tg: BotApiDouble) -> None:
    """Wait until the leader has committed every update handed out so far as handled (it does
    so right after each handler returns; a kill before that would repeat the update)."""
    last = max(
        update["update_id"]
        for call in tg.calls("getUpdates")
        for update in (call.response or {}).get("result") or []
    )
    async with asyncio.timeout(10):
        while True:
            async with await psycopg.AsyncConnection.connect(pg_url) as conn:
                cursor = await conn.execute("SELECT next_update_id FROM cluster_poll_offsets")
                row = await cursor.fetchone()
            if row is not None and row[0] > last:
                return
            await asyncio.sleep(0.05)  # reading another process's progress
