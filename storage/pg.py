"""PostgreSQL: a pool of connections, the connection units of work see, migrations, faults.

The units of work are the same plain functions SQLite runs (see ``db.py``): each runs in one of
this database's worker threads on a pooled psycopg connection, wrapped in ``PgConnection``, which
gives them the ``execute``/``executemany`` they use with ``?`` placeholders (translated here, in
one place, by ``translate``). psycopg 3 rather than asyncpg: its synchronous connections run the
units unchanged in threads, as aiosqlite runs SQLite's, so there is one codebase of units; an
async driver would have meant a second, awaiting copy of every query.

``write`` holds one transaction-scoped advisory lock for its whole transaction: writes are one
at a time across every process on the database, as SQLite's IMMEDIATE transactions are, so the
units keep the guarantees they were written for. Waiting for it is bounded by ``lock_timeout``;
then ``StoreBusy``, as on SQLite. ``write_rows`` is for the units whose rows' own locks are
enough (the ledger's claims, which take rows ``FOR UPDATE SKIP LOCKED``, and its outcomes,
written by id to rows the writer holds): they run without that lock, several at once on
connections of their own, so a claim never queues behind an outcome or another instance's
import, and two claimers take disjoint rows at the same time.

A connection that broke (the server restarted) is dropped by the pool, which opens new ones; a
read that failed on one is run once more (it changed nothing), a write is not: it reports
``StoreBusy`` and its caller tries again as after any busy store (the dispatcher keeps its rows
owed, so nothing is lost and nothing recorded twice).
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any, ClassVar, TypeVar

import psycopg
import psycopg_pool
from psycopg import errors as pg_errors

from core.settings import masked_url
from storage.db import (
    POSTGRESQL,
    READERS,
    Conn,
    Database,
    MigrationError,
    StoreBusy,
    StoreError,
    StoreUnreachable,
    migration_files,
)

log = logging.getLogger(__name__)

T = TypeVar("T")

# Keys of the advisory locks (any two numbers; these spell "news" "migr" and "news" "writ").
MIGRATION_LOCK = (0x6E657773, 0x6D696772)
WRITE_LOCK = (0x6E657773, 0x77726974)
CONNECT_TIMEOUT = 5  # seconds to reach the server at start
# Row-locked writes (``write_rows``) one process runs at once, each on a connection of its own.
ROW_WRITERS = 3
# A statement that runs this long is stopped (StoreBusy): a wedged query must not hold a
# connection, and the write lock with it, for ever. Far above any unit's normal time.
STATEMENT_TIMEOUT_MS = 120_000
# SQLSTATE classes that mean "try again later", never "this is wrong".
_BUSY = (
    pg_errors.LockNotAvailable,  # lock_timeout
    pg_errors.QueryCanceled,  # statement_timeout
    pg_errors.SerializationFailure,
    pg_errors.DeadlockDetected,
    pg_errors.AdminShutdown,  # the server is restarting
    pg_errors.CannotConnectNow,  # ... and not yet up
)


@functools.lru_cache(maxsize=4096)
def translate(sql: str) -> str:
    """The units' SQL for psycopg: each ``?`` outside quotes becomes ``%s``; ``%`` is doubled.

    The units write SQLite's ``?`` placeholders. psycopg reads ``%s`` and takes any other ``%``
    as the start of one, in quoted text too, so every ``%`` is doubled; a ``?`` inside a quoted
    string or identifier (``coalesce(last_error, '?')``) is text and stays as it is.
    """
    out: list[str] = []
    quote = ""
    for char in sql:
        if char == "%":
            out.append("%%")
        elif quote:
            out.append(char)
            if char == quote:
                quote = ""  # '' (a quote written twice) closes and opens again: still text
        elif char in "'\"":
            quote = char
            out.append(char)
        elif char == "?":
            out.append("%s")
        else:
            out.append(char)
    return "".join(out)


class PgConnection:
    """What a unit of work sees on PostgreSQL: ``execute`` and ``executemany`` with ``?``."""

    dialect: ClassVar[str] = POSTGRESQL

    def __init__(self, raw: psycopg.Connection[Any]) -> None:
        self.raw = raw

    def execute(self, sql: str, parameters: Sequence[Any] = (), /) -> psycopg.Cursor[Any]:
        return self.raw.execute(translate(sql), tuple(parameters))

    def insert_rows(
        self,
        table: str,
        columns: Sequence[str],
        rows: Iterable[Sequence[Any]],
        /,
        *,
        types: Sequence[str] | None = None,
    ) -> None:
        # COPY: the rows stream to the server in one statement, parsed by its bulk loader;
        # an INSERT per row, even pipelined, is parsed, planned and answered row by row.
        # Rows made as they are taken go out as they come: the server inserts them meanwhile.
        # With the columns' ``types``, in binary: nothing for the server to parse.
        if isinstance(rows, Sequence) and not rows:
            return
        cursor = self.raw.cursor()
        binary = " (FORMAT BINARY)" if types is not None else ""
        with cursor.copy(f"COPY {table} ({', '.join(columns)}) FROM STDIN{binary}") as copy:
            if types is not None:
                copy.set_types(list(types))
            for row in rows:
                copy.write_row(row)

    def executemany(self, sql: str, parameters: Iterable[Sequence[Any]], /) -> psycopg.Cursor[Any]:
        cursor = self.raw.cursor()
        rows = [tuple(p) for p in parameters]
        if rows:
            cursor.executemany(translate(sql), rows)
        return cursor


def describe(url: str, exc: BaseException) -> str:
    """One line saying what is wrong with the database at ``url`` (password masked)."""
    where = masked_url(url)
    if isinstance(exc, StoreError):
        return str(exc)
    if isinstance(exc, psycopg_pool.PoolTimeout):
        return f"{where}: the database did not answer in time; try again"
    message = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    if isinstance(exc, _BUSY):
        return f"{where}: the store is busy ({message}); try again"
    if isinstance(exc, psycopg.OperationalError):
        return f"{where}: cannot reach the database: {message}"
    return f"{where}: store error: {message}"


def _is_broken(raw: psycopg.Connection[Any]) -> bool:
    return raw.closed or raw.broken


class PostgresDatabase(Database):
    """A pool of connections to one PostgreSQL database and the threads that use them."""

    dialect: ClassVar[str] = POSTGRESQL

    def __init__(
        self, url: str, pool: psycopg_pool.ConnectionPool[Any], threads: int, *, readonly: bool
    ) -> None:
        super().__init__(masked_url(url), readonly=readonly)
        self.url = url
        self._row_writers = asyncio.Semaphore(ROW_WRITERS)
        self._pool = pool
        self.threads = threads  # units of work that can run at once (one connection each)
        self._threads = ThreadPoolExecutor(threads, thread_name_prefix="newsbot-pg")
        self._closed = threading.Event()

    @classmethod
    async def connect(
        cls, url: str, *, readonly: bool = False, readers: int = READERS
    ) -> PostgresDatabase:
        """Reach the database, migrate it (unless ``readonly``) and open the pool.

        An unreachable server is ``StoreUnreachable``: one line naming the URL, password masked.
        """
        await asyncio.to_thread(_prepare, url, readonly)
        threads = readers + 1 + ROW_WRITERS
        pool: psycopg_pool.ConnectionPool[Any] = psycopg_pool.ConnectionPool(
            url,
            min_size=1,
            max_size=threads,
            kwargs={"autocommit": True, "connect_timeout": CONNECT_TIMEOUT},
            configure=_configure,
            open=False,
            name="newsbot",
        )
        await asyncio.to_thread(pool.open)
        return cls(url, pool, threads, readonly=readonly)

    async def close(self) -> None:
        if self._closed.is_set():
            return
        self._closed.set()
        await asyncio.to_thread(self._pool.close)
        self._threads.shutdown(wait=False)

    async def _in_thread(self, fn: Callable[[], T]) -> T:
        if self._closed.is_set():
            raise StoreError(f"{self.path}: the store is closed")
        return await asyncio.get_running_loop().run_in_executor(self._threads, fn)

    async def run(self, fn: Callable[[Conn], T]) -> T:
        return await self._in_thread(lambda: self._unit(fn, None, retry=True))

    async def read(self, fn: Callable[[Conn], T]) -> T:
        return await self._in_thread(
            lambda: self._unit(fn, "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY", retry=True)
        )

    async def _write(self, fn: Callable[[Conn], T], deadline: float) -> T:
        return await self._in_thread(
            lambda: self._unit(fn, "BEGIN", retry=False, deadline=deadline)
        )

    row_writers: ClassVar[int] = ROW_WRITERS

    async def write_rows(self, fn: Callable[[Conn], T], tables: Sequence[str]) -> T:
        async with self._writing(self._row_writers) as deadline:
            return await self._in_thread(
                lambda: self._unit(fn, "BEGIN", retry=False, deadline=deadline, tables=tables)
            )

    def _unit(
        self,
        fn: Callable[[Conn], T],
        begin: str | None,
        *,
        retry: bool,
        deadline: float | None = None,
        tables: Sequence[str] | None = None,
    ) -> T:
        """Run ``fn`` on a pooled connection in one transaction (``begin``) and commit it; with
        a ``deadline``, a write: holding the store's write lock, or with ``tables`` only
        those tables' row-write lock (``write_rows``)."""
        try:
            try:
                return self._attempt(fn, begin, deadline, tables)
            except psycopg.OperationalError as exc:
                if not _is_broken_error(exc):
                    raise
                # The server went away (a restart): the other idle connections are likely
                # broken too. Check them all now, rather than a round trip before every unit.
                self._pool.check()
                if not retry:
                    raise
                log.info("%s: a connection broke (%s); reading once more", self.path, exc)
                return self._attempt(fn, begin, deadline, tables)
        except (psycopg.Error, psycopg_pool.PoolTimeout) as exc:
            # Busy, or the server went away: nothing of a write was stored, and the caller
            # tries again as after another process's lock. Anything else is a fault.
            busy = isinstance(exc, (*_BUSY, psycopg_pool.PoolTimeout)) or _is_broken_error(exc)
            raise (StoreBusy if busy else StoreError)(describe(self.url, exc)) from exc

    def _attempt(
        self,
        fn: Callable[[Conn], T],
        begin: str | None,
        deadline: float | None,
        tables: Sequence[str] | None = None,
    ) -> T:
        with self._pool.connection(timeout=self.write_patience) as raw:
            if begin is None:
                return fn(PgConnection(raw))
            try:
                if deadline is not None and tables is None:
                    self._lock_for_write(raw, begin, deadline)
                elif deadline is not None and tables is not None:
                    self._lock_tables(raw, begin, deadline, tables)
                else:
                    raw.execute(begin)
                result = fn(PgConnection(raw))
                raw.execute("COMMIT")
            except BaseException:
                if not _is_broken(raw):
                    with contextlib.suppress(psycopg.Error):  # the error at hand says more
                        raw.execute("ROLLBACK")
                raise
            return result

    def _lock_tables(
        self, raw: psycopg.Connection[Any], begin: str, deadline: float, tables: Sequence[str]
    ) -> None:
        """Begin a row-locked write: ``tables`` in ROW EXCLUSIVE mode (what its UPDATEs take
        anyway), taken first so that a table locked whole by another transaction (a
        maintenance job, a migration) is a wait the store can tell of, as for the write lock;
        every lock wait of the transaction (rows too) ends at ``deadline``."""
        lock = f"LOCK TABLE {', '.join(tables)} IN ROW EXCLUSIVE MODE"
        try:
            with raw.pipeline():
                raw.execute(begin)
                raw.execute("SELECT set_config('lock_timeout', %s, true)", (_patience(deadline),))
                raw.execute(f"{lock} NOWAIT")
            return
        except pg_errors.LockNotAvailable:
            raw.execute("ROLLBACK")
        self._waiting(deadline - time.monotonic())
        with raw.pipeline():
            raw.execute(begin)
            raw.execute("SELECT set_config('lock_timeout', %s, true)", (_patience(deadline),))
        try:
            raw.execute(lock)
        except pg_errors.LockNotAvailable as exc:
            raise StoreBusy(self._busy_message()) from exc

    def _lock_for_write(self, raw: psycopg.Connection[Any], begin: str, deadline: float) -> None:
        """Begin and take the database's write lock for the transaction, waiting for it until
        ``deadline``."""
        # lock_timeout bounds every lock wait of the transaction (rows too), not only this one.
        patience = _patience(deadline)
        with raw.pipeline():  # BEGIN and the try in one round trip
            raw.execute(begin)
            cursor = raw.execute(
                "SELECT set_config('lock_timeout', %s, true), pg_try_advisory_xact_lock(%s, %s)",
                (patience, *WRITE_LOCK),
            )
        row = cursor.fetchone()
        if row is not None and row[1]:
            return
        remaining = deadline - time.monotonic()
        self._waiting(remaining)
        raw.execute(
            "SELECT set_config('lock_timeout', %s, true)", (f"{max(int(remaining * 1000), 1)}ms",)
        )
        try:
            raw.execute("SELECT pg_advisory_xact_lock(%s, %s)", WRITE_LOCK)
        except pg_errors.LockNotAvailable as exc:
            raise StoreBusy(self._busy_message()) from exc


def _patience(deadline: float) -> str:
    """``lock_timeout`` for the time left until ``deadline``."""
    return f"{max(int((deadline - time.monotonic()) * 1000), 1)}ms"


def _is_broken_error(exc: BaseException) -> bool:
    """Whether ``exc`` says the connection itself failed (not the statement)."""
    if isinstance(exc, pg_errors.AdminShutdown | pg_errors.CannotConnectNow):
        return True
    return isinstance(exc, psycopg.OperationalError) and getattr(exc, "sqlstate", None) is None


class _BinaryTsvectorDumper(psycopg.adapt.Dumper):
    """Sends bytes already in ``tsvector``'s binary form (``storage.fts.tsvector_binary``) as
    they are: psycopg has none. Registered for no Python type, only the oid: a binary COPY
    that names its columns' types (``insert_rows``) finds it; plain bytes stay ``bytea``."""

    format = psycopg.pq.Format.BINARY
    oid = psycopg.postgres.types["tsvector"].oid

    def dump(self, obj: Any) -> bytes:
        return bytes(obj)


def _configure(raw: psycopg.Connection[Any]) -> None:
    raw.adapters.register_dumper(None, _BinaryTsvectorDumper)
    raw.execute(f"SET statement_timeout = {STATEMENT_TIMEOUT_MS}")
    # The guarantee SQLite's synchronous=NORMAL gives (db.py): a commit survives the death of
    # any newsbot process at once; only a crash of the database server itself can lose the
    # last commits (~0.6 s), never corrupt. Waiting for the disk at every commit cost ~4 ms a
    # write on this machine (the ledger records outcomes 32 at a time, many times a second).
    raw.execute("SET synchronous_commit = off")
    # The server's default JIT compiles any plan it guesses costly (a full-text query over a
    # big store): ~100-200 ms of compiling for a query that runs in a few; never a gain here.
    raw.execute("SET jit = off")
    # psycopg prepares a statement run 5 times; the server then plans it once for any values
    # (a generic plan). For a full-text query that plan guesses how many articles a word
    # matches without the word, and walked the whole table newest first for a rare one
    # (~0.6 s at 30,000 articles): every statement is planned for its own values instead.
    raw.execute("SET plan_cache_mode = force_custom_plan")


def _prepare(url: str, readonly: bool) -> None:
    """Reach the database; migrate it, or check it is migrated when ``readonly``."""
    try:
        raw = psycopg.connect(url, autocommit=True, connect_timeout=CONNECT_TIMEOUT)
    except psycopg.Error as exc:
        raise StoreUnreachable(describe(url, exc)) from exc
    try:
        with raw:
            if readonly:
                _check_migrated(raw, url)
            else:
                apply_migrations(raw, url)
    except StoreError:
        raise
    except psycopg.Error as exc:
        raise StoreError(describe(url, exc)) from exc


def _tables(raw: psycopg.Connection[Any]) -> set[str]:
    rows = raw.execute(
        "SELECT table_name FROM information_schema.tables"
        " WHERE table_schema = current_schema() AND table_type = 'BASE TABLE'"
    ).fetchall()
    return {r[0] for r in rows}


def recognise(raw: psycopg.Connection[Any], url: str) -> None:
    """Refuse (untouched) a database holding another application's tables."""
    tables = _tables(raw)
    if not tables:
        return
    first = migration_files(POSTGRESQL)[0][0]
    if {"schema_migrations", "articles"} <= tables:
        columns = {
            r[0]
            for r in raw.execute(
                "SELECT column_name FROM information_schema.columns"
                " WHERE table_schema = current_schema() AND table_name = 'schema_migrations'"
            )
        }
        if {"name", "applied_at"} <= columns and raw.execute(
            "SELECT 1 FROM schema_migrations WHERE name = %s", (first,)
        ).fetchone():
            return
    raise StoreError(
        f"{masked_url(url)}: another application's database, not a newsbot store; left"
        " untouched (see [storage].url)"
    )


def apply_migrations(raw: psycopg.Connection[Any], url: str) -> list[str]:
    """Apply every migration not yet recorded, each in one transaction with its record.

    Under a session advisory lock: two instances starting at once take turns, and the second
    finds the first's migrations recorded.
    """
    raw.execute("SELECT pg_advisory_lock(%s, %s)", MIGRATION_LOCK)
    try:
        recognise(raw, url)
        raw.execute(
            "CREATE TABLE IF NOT EXISTS schema_migrations ("
            " name TEXT PRIMARY KEY, applied_at BIGINT NOT NULL)"
        )
        done = {r[0] for r in raw.execute("SELECT name FROM schema_migrations")}
        applied = []
        for name, sql in migration_files(POSTGRESQL):
            if name in done:
                continue
            try:
                with raw.transaction():
                    raw.execute(sql.encode())  # bytes: run as written, no placeholders
                    raw.execute(
                        "INSERT INTO schema_migrations (name, applied_at) VALUES (%s, %s)",
                        (name, int(time.time())),
                    )
            except psycopg.Error as exc:
                raise MigrationError(f"{masked_url(url)}: migration {name} failed: {exc}") from exc
            applied.append(name)
            log.info("applied migration %s", name)
        return applied
    finally:
        if not _is_broken(raw):
            raw.execute("SELECT pg_advisory_unlock(%s, %s)", MIGRATION_LOCK)


def _check_migrated(raw: psycopg.Connection[Any], url: str) -> None:
    recognise(raw, url)
    if "schema_migrations" not in _tables(raw):
        raise StoreError(
            f"{masked_url(url)}: an empty database, not a newsbot store yet; `newsbot import`"
            " or `newsbot run` creates it"
        )
    done = {r[0] for r in raw.execute("SELECT name FROM schema_migrations")}
    if any(name not in done for name, _ in migration_files(POSTGRESQL)):
        raise StoreError(
            f"{masked_url(url)}: made by an older newsbot; run a command that writes"
            " (`newsbot fetch`) once to upgrade it"
        )
