"""The one place tests create stores.

A backend is named by an id: ``"sqlite"`` (a fresh file per test) or ``"postgresql"`` (a fresh
schema per test, in one throwaway database per test run). The conftest's ``store_backend``
fixture is parametrised over ``BACKENDS``, so every test that takes a store runs on both.

PostgreSQL is the server at ``NEWSBOT_TEST_POSTGRES`` (default: the machine's own, user
postgres on 127.0.0.1:5432). The run's database, ``newsbot_test_<random>``, is made at the first
test that needs it and dropped at the end of the session (``drop_test_database``). Where no
server answers, PostgreSQL tests are skipped, saying so, except in CI (``CI=true``), where they
fail: CI starts the server (.ci/run) and must never pass by skipping them.

The harness's bots keep their store on ``harness_backend()``: in a module marked
``pytestmark = pytest.mark.both_stores`` (the bot tests that exercise the store: subscriptions,
the ledger, stories, digests, channels) each test runs once on each backend (the conftest
parametrises it); elsewhere on ``DEFAULT_BACKEND``, SQLite or the backend named by
``NEWSBOT_TEST_BACKEND`` (``NEWSBOT_TEST_BACKEND=postgresql pytest`` runs every bot on
PostgreSQL).
"""

from __future__ import annotations

import itertools
import os
import secrets
import sqlite3
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import AbstractContextManager, asynccontextmanager, contextmanager
from pathlib import Path
from urllib.parse import quote

import psycopg
import pytest

from core.settings import StorageConfig
from storage import Store
from storage.db import Conn, SqliteConnection
from storage.pg import WRITE_LOCK, PgConnection

BACKENDS = ("sqlite", "postgresql")
DEFAULT_BACKEND = os.environ.get("NEWSBOT_TEST_BACKEND", "sqlite")
POSTGRES_SERVER = os.environ.get("NEWSBOT_TEST_POSTGRES", "postgresql://postgres@127.0.0.1:5432")

# The backend of the running test's harness bots (set by the conftest for each test).
_harness = [DEFAULT_BACKEND]
_database: str | None = None
_unreachable: str | None = None
_schemas = itertools.count(1)
# A folder's PostgreSQL store, as its SQLite file would be: the same folder and name is the same
# store (a bot restarted on the same tmp_path finds what it stored).
_urls: dict[tuple[str, str], str] = {}


def storage_config(backend: str, folder: Path, name: str = "news") -> StorageConfig:
    """Where a test's store of ``backend`` lives: a fresh SQLite file in ``folder``, or a fresh
    PostgreSQL schema in the run's database."""
    if backend == "sqlite":
        return StorageConfig(str(folder / f"{name}.db"))
    if backend == "postgresql":
        key = (str(folder), name)
        if key not in _urls:
            _urls[key] = fresh_schema_url(name)
        # The meaning index's file in the test's folder, not the user's cache folder.
        return StorageConfig(url=_urls[key], index_dir=str(folder))
    raise ValueError(f"unknown store backend {backend!r}")


def harness_backend() -> str:
    """The backend the running test's harness bots keep their store on."""
    return _harness[0]


def use_harness_backend(backend: str) -> None:
    _harness[0] = backend


def storage_table(config: StorageConfig) -> str:
    """The ``[storage]`` table of a config file naming this store."""
    if config.url is not None:
        folder = f'index_dir = "{config.index_dir}"\n' if config.index_dir else ""
        return f'[storage]\nurl = "{config.url}"\n{folder}'
    return f'[storage]\npath = "{config.path}"\n'


def server_url(database: str) -> str:
    return f"{POSTGRES_SERVER.rstrip('/')}/{database}"


def test_database() -> str:
    """The run's throwaway database, made now if it is not yet; skips (or fails in CI) when no
    PostgreSQL server answers."""
    global _database, _unreachable
    if _database is not None:
        return _database
    if _unreachable is None:
        name = f"newsbot_test_{secrets.token_hex(4)}"
        try:
            with psycopg.connect(server_url("postgres"), autocommit=True, connect_timeout=3) as c:
                c.execute(f"CREATE DATABASE {name}")
            _database = name
            return name
        except psycopg.OperationalError as exc:
            _unreachable = str(exc).strip().splitlines()[0]
    reason = f"no PostgreSQL server answers at {POSTGRES_SERVER}: {_unreachable}"
    if os.environ.get("CI") == "true":
        pytest.fail(f"{reason} (CI must run the PostgreSQL tests: .ci/run starts the server)")
    pytest.skip(reason)


def fresh_schema_url(name: str = "news") -> str:
    """The URL of a new empty schema in the run's database (search_path set to it)."""
    database = test_database()
    schema = f"t{next(_schemas)}_{name}".lower()
    with psycopg.connect(server_url(database), autocommit=True) as conn:
        conn.execute(f"CREATE SCHEMA {schema}")
    # The application name tells this store's connections from the rest of the run's (a test
    # that cuts them off, as a server restart would, finds them by it: ``cut_connections``).
    # Commits need not wait for the disk: a test store outlives no crash of the server.
    options = quote(f"-csearch_path={schema} -csynchronous_commit=off")
    return f"{server_url(database)}?options={options}&application_name={schema}"


def cut_connections(config: StorageConfig) -> int:
    """End every server connection of the store ``config`` names, as a restart of the server
    would (pg_terminate_backend); returns how many there were."""
    assert config.url is not None
    name = config.url.rsplit("application_name=", 1)[1]
    with psycopg.connect(server_url(test_database()), autocommit=True) as conn:
        rows = conn.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = %s",
            (name,),
        ).fetchall()
    return len(rows)


def drop_test_database() -> None:
    """Drop the run's database, if one was made (at the end of the session)."""
    global _database
    if _database is None:
        return
    with psycopg.connect(server_url("postgres"), autocommit=True) as conn:
        conn.execute(f"DROP DATABASE IF EXISTS {_database} WITH (FORCE)")
    _database = None


async def open_store(config: StorageConfig) -> Store:
    """Open (creating and migrating) the store ``config`` names; the caller closes it."""
    index_dir = Path(config.index_dir) if config.index_dir else None
    return await Store.open(config.target, index_dir=index_dir)


@asynccontextmanager
async def opened_store(config: StorageConfig) -> AsyncIterator[Store]:
    """The store ``config`` names, open for the block and closed after it (closing twice is
    harmless, so a test may close it early to look at the file)."""
    store = await open_store(config)
    try:
        yield store
    finally:
        await store.close()


def harness_store(folder: Path) -> AbstractContextManager[Conn]:
    """A plain connection to the store of the harness's bot that runs in ``folder``."""
    return raw_store(storage_config(harness_backend(), folder))


@contextmanager
def write_lock_held(config: StorageConfig) -> Iterator[Callable[[], object]]:
    """Another process's connection holding the store's write lock until the block ends (or
    the function it yields is called): SQLite's IMMEDIATE transaction, or on PostgreSQL
    ``PG_WRITE_LOCKED``."""
    if config.url is not None:
        with psycopg.connect(config.url) as raw:  # the locks go with the transaction's end
            for statement in PG_WRITE_LOCKED:
                raw.execute(statement)
            yield raw.rollback
        return
    conn = sqlite3.connect(config.path, isolation_level=None, timeout=10)
    try:
        conn.execute("BEGIN IMMEDIATE")
        yield lambda: conn.execute("ROLLBACK")
    finally:
        if conn.in_transaction:
            conn.execute("ROLLBACK")
        conn.close()


def sqlite_only(why: str) -> pytest.MarkDecorator:
    """Run a test on SQLite alone; ``why`` says what it checks that only SQLite has (a file's
    permissions, its journal, its application_id)."""
    del why  # said where the mark is used, for the reader
    return pytest.mark.parametrize("store_backend", ["sqlite"])


# What keeps every write of newsbot waiting on PostgreSQL, as SQLite's IMMEDIATE transaction
# does: the advisory lock that its writes take, and the ledger locked whole (the ledger's
# claims and outcomes take only their rows' locks, storage/pg.py's write_rows), as a
# maintenance transaction or a migration of it would hold it. Reads go on beside both.
PG_WRITE_LOCKED = (
    f"SELECT pg_advisory_xact_lock({WRITE_LOCK[0]}, {WRITE_LOCK[1]})",
    "LOCK TABLE deliveries IN EXCLUSIVE MODE",
)


@contextmanager
def raw_store(config: StorageConfig) -> Iterator[Conn]:
    """A plain connection to the store's database, as an operator's tool opens it (outside
    newsbot): ``?`` placeholders on both backends; what it changes is committed at the end."""
    if config.url is not None:
        with psycopg.connect(config.url, autocommit=True) as raw:
            yield PgConnection(raw)
        return
    conn = sqlite3.connect(config.path, factory=SqliteConnection)
    try:
        with conn:
            yield conn
    finally:
        conn.close()
