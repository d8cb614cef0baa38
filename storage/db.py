"""The store's connections: units of work, SQLite's pragmas and migrations, faults in words.

A unit of work is a plain function over a ``Conn`` (the few ``sqlite3.Connection`` methods the
store uses), run by ``Database.read`` or ``Database.write`` in a thread: the same function serves
SQLite (this module) and PostgreSQL (``pg.py``, chosen by a ``postgresql://`` URL). Where the two
dialects differ, the module that owns the query picks its SQL by ``conn.dialect``.

One writer connection and separate read connections (datasette's pattern): under WAL a reader
never waits for a writer, so a write lock held by another process (a backup, an import, a second
bot) does not hold up ``/latest``. A write that finds the store locked waits with SQLite's own
back-off for at most ``write_patience`` seconds and then raises ``StoreBusy``: the caller tells
the user to try again; nothing is ever reported as stored that was not.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import sqlite3
import time
from collections.abc import AsyncIterator, Callable, Iterable, Iterator, Sequence
from functools import partial
from importlib import resources
from pathlib import Path
from typing import Any, ClassVar, Protocol, TypeVar
from urllib.parse import quote

import aiosqlite

from core.settings import POSTGRESQL_SCHEMES

log = logging.getLogger(__name__)

T = TypeVar("T")

SQLITE, POSTGRESQL = "sqlite", "postgresql"


class Cursor(Protocol):
    """What a unit of work reads back from a statement (sqlite3's and psycopg's cursors)."""

    @property
    def rowcount(self) -> int: ...

    def fetchone(self) -> Any: ...

    def fetchall(self) -> list[Any]: ...

    def __iter__(self) -> Iterator[Any]: ...


class Conn(Protocol):
    """What a unit of work is given: ``?`` placeholders on either backend, and its dialect."""

    @property
    def dialect(self) -> str: ...

    def execute(self, sql: str, parameters: Sequence[Any] = ..., /) -> Cursor: ...

    def executemany(self, sql: str, parameters: Iterable[Sequence[Any]], /) -> Cursor: ...

    def insert_rows(
        self,
        table: str,
        columns: Sequence[str],
        rows: Iterable[Sequence[Any]],
        /,
        *,
        types: Sequence[str] | None = None,
    ) -> None:
        """Insert ``rows`` (values of ``columns``) into ``table`` in as few statements as the
        backend takes: the bulk path of an import. No conflict handling: the caller knows
        the rows are new. ``rows`` may be made as they are taken (a generator, which must
        not use the connection): PostgreSQL streams each to the server as it comes.
        ``types``: the columns' PostgreSQL types, for values in their binary form there
        (PostgreSQL sends the rows in binary); SQLite stores the values as they are."""
        ...


class SqliteConnection(sqlite3.Connection):
    """sqlite3's own connection, naming its dialect for the units of work."""

    dialect: ClassVar[str] = SQLITE

    def insert_rows(
        self,
        table: str,
        columns: Sequence[str],
        rows: Iterable[Sequence[Any]],
        /,
        *,
        types: Sequence[str] | None = None,
    ) -> None:
        rows = rows if isinstance(rows, Sequence) else list(rows)
        # Many rows a statement (multi-row VALUES), not one: FTS5 writes its pending terms
        # out as a new segment at the end of every statement that changes it (a statement
        # savepoint), so a statement per article wrote a segment per article, and merging
        # them was half an import's full-text cost (measured 0.29 -> 0.17 ms an article).
        if not rows:
            return
        width = len(columns)
        per = max(1, self.getlimit(sqlite3.SQLITE_LIMIT_VARIABLE_NUMBER) // width)
        row_marks = f"({', '.join('?' * width)})"
        for at in range(0, len(rows), per):
            chunk = rows[at : at + per]
            self.execute(
                f"INSERT INTO {table} ({', '.join(columns)})"
                f" VALUES {', '.join([row_marks] * len(chunk))}",
                [value for row in chunk for value in row],
            )


BUSY_TIMEOUT_MS = 5000
PRAGMAS = (
    "PRAGMA journal_mode = WAL",
    # NORMAL under WAL loses at most the last commits on power loss, never corrupts; the
    # ledger's guarantee is stated against process death (kill -9), which NORMAL survives.
    "PRAGMA synchronous = NORMAL",
    "PRAGMA foreign_keys = ON",
    f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}",
    "PRAGMA temp_store = MEMORY",
    "PRAGMA cache_size = -65536",
)
READER_PRAGMAS = (
    "PRAGMA query_only = ON",
    f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}",
    "PRAGMA temp_store = MEMORY",
    # 4 MB each: every write by another connection empties a reader's cache anyway, and the
    # OS keeps the file's pages; 16 MB each was ~30 MB of the bot's memory at 200,000 articles
    # with no faster /related (docs/benchmarks.md, issue 10).
    "PRAGMA cache_size = -4096",
)


# Written into a new store, and checked on every open: a file whose application_id is another
# application's is refused before anything in it is changed. The bytes spell "NEWS".
APPLICATION_ID = 0x4E455753
# How long a write waits for another connection's write lock before giving up (StoreBusy).
WRITE_PATIENCE = 10.0
READERS = 2


class StoreError(sqlite3.Error):
    """The store cannot be used; the message is one line naming the store and the problem."""


class StoreBusy(StoreError, sqlite3.OperationalError):
    """A write waited its whole patience for another connection's lock; nothing was written."""


class StoreUnreachable(StoreError):
    """The database server did not answer at start: a config or operations problem."""


class MigrationError(StoreError):
    pass


def describe(path: str, exc: BaseException) -> str:
    """One line saying what is wrong with the store at ``path``, from an SQLite error."""
    if isinstance(exc, MigrationError) and isinstance(exc.__cause__, sqlite3.Error):
        return f"{describe(path, exc.__cause__)} ({exc})"
    if isinstance(exc, StoreError):
        return str(exc)
    if isinstance(exc, OSError):
        return f"{path}: cannot open or create the store: {exc.strerror or exc}"
    code = getattr(exc, "sqlite_errorcode", None)
    primary = code & 0xFF if isinstance(code, int) else None
    if primary in (sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED):
        return f"{path}: the store is locked by another process; try again when it is done"
    if primary == sqlite3.SQLITE_FULL:
        return f"{path}: the disk is full; the write that failed was undone, the store is intact"
    if primary == sqlite3.SQLITE_NOTADB:
        return f"{path}: not an SQLite database, so not a newsbot store (see [storage].path)"
    if primary == sqlite3.SQLITE_CORRUPT:
        return f"{path}: the store is damaged ({exc}); restore it from a backup"
    if primary in (sqlite3.SQLITE_READONLY, sqlite3.SQLITE_CANTOPEN, sqlite3.SQLITE_PERM):
        if Path(path).is_dir():
            return f"{path}: a folder, not a store file (see [storage].path)"
        if primary == sqlite3.SQLITE_READONLY or not _writable(Path(path)):
            return (
                f"{path}: the store or its folder is read-only; only the commands that look"
                " (latest, show, search, related, topics, stats, backup) can run"
            )
        return f"{path}: cannot open the store ({exc}); check the file and its folder"
    if primary == sqlite3.SQLITE_IOERR:
        return f"{path}: the disk failed a read or write ({exc})"
    return f"{path}: store error: {exc}"


def _writable(path: Path) -> bool:
    if path.exists():
        return os.access(path, os.W_OK) and os.access(path.parent, os.W_OK)
    return os.access(path.parent, os.W_OK)


def migration_files(dialect: str = SQLITE) -> list[tuple[str, str]]:
    """(name, SQL) of every migration of ``dialect``, in order. SQLite's are in migrations/,
    PostgreSQL's under the same names in migrations/postgresql/."""
    folder = resources.files("storage") / "migrations"
    if dialect == POSTGRESQL:
        folder = folder / "postgresql"
    found = sorted(
        (entry.name, entry.read_text(encoding="utf-8"))
        for entry in folder.iterdir()
        if entry.name.endswith(".sql")
    )
    return found


def apply_migrations(conn: sqlite3.Connection) -> list[str]:
    """Apply every migration not yet recorded, each in one transaction with its record."""
    conn.execute(
        "CREATE TABLE IF NOT EXISTS schema_migrations ("
        " name TEXT PRIMARY KEY, applied_at INTEGER NOT NULL)"
    )
    done = {row[0] for row in conn.execute("SELECT name FROM schema_migrations")}
    applied = []
    for name, sql in migration_files():
        if name in done:
            continue
        try:
            # executescript commits anything pending first, so the BEGIN must be inside it.
            conn.executescript(f"BEGIN IMMEDIATE;\n{sql}\n;")
            conn.execute(
                "INSERT INTO schema_migrations (name, applied_at) VALUES (?, ?)",
                (name, int(time.time())),
            )
            conn.execute("COMMIT")
        except sqlite3.Error as exc:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            raise MigrationError(f"migration {name} failed: {exc}") from exc
        # Each migration rewrites the schema pages: without a checkpoint between them the WAL
        # of a new store grew to ~470 kB of frames for ~100 kB of pages (a small disk full).
        conn.execute("PRAGMA wal_checkpoint")
        applied.append(name)
        log.info("applied migration %s", name)
    return applied


class Database:
    """A store's database: units of work run by ``read`` (one snapshot) and ``write`` (one
    transaction, all of it stored or none), on SQLite or PostgreSQL alike.

    ``path`` names the store in messages: the file, or the URL with its password masked. A write
    that waits ``write_patience`` seconds for another connection's lock raises ``StoreBusy``.
    """

    dialect: ClassVar[str]

    def __init__(self, path: str, *, readonly: bool) -> None:
        self.path = path
        self.readonly = readonly
        self.write_patience = WRITE_PATIENCE
        self.busy_waits = 0  # writes that found the store locked and had to wait
        # Called (in the writer's thread) with the seconds a write will wait for the lock:
        # for a caller that tells a person it is waiting (the CLI); storage logs it at DEBUG.
        self.on_wait: Callable[[float], None] | None = None
        # One write at a time per process: a second would only queue behind the first's lock.
        self._write_lock = asyncio.Lock()

    @classmethod
    async def open(
        cls, target: str | Path, *, readonly: bool = False, readers: int = READERS
    ) -> Database:
        """Open (creating and migrating, unless ``readonly``) the store ``target`` names: an
        SQLite file, or a PostgreSQL database by its ``postgresql://`` URL.

        Raises ``StoreError`` with one line naming the store and the problem; a database that
        is not a newsbot store is refused before anything in it changes.
        """
        target = str(target)
        if target.startswith(POSTGRESQL_SCHEMES):
            from storage.pg import PostgresDatabase

            return await PostgresDatabase.connect(target, readonly=readonly, readers=readers)
        return await SqliteDatabase.connect(target, readonly=readonly, readers=readers)

    async def close(self) -> None:
        raise NotImplementedError

    async def run(self, fn: Callable[[Conn], T]) -> T:
        """Run ``fn`` outside ``read`` and ``write``'s transactions (a ping, a maintenance step)."""
        raise NotImplementedError

    async def read(self, fn: Callable[[Conn], T]) -> T:
        """Run ``fn`` in one snapshot of the store; it never waits for a writer."""
        raise NotImplementedError

    async def write(self, fn: Callable[[Conn], T]) -> T:
        """Run ``fn`` in one transaction that holds the store's write lock: all of it is stored,
        or none. A lock held by another connection is waited for until ``write_patience``
        seconds after the call; then ``StoreBusy``.
        """
        async with self._writing(self._write_lock) as deadline:
            return await self._write(fn, deadline)

    @contextlib.asynccontextmanager
    async def _writing(self, lock: asyncio.Lock | asyncio.Semaphore) -> AsyncIterator[float]:
        """Hold ``lock`` (this process's turn to write), waited for until ``write_patience``
        seconds from now, then ``StoreBusy``; the deadline given is the same moment, for the
        database's own lock waits."""
        if self.readonly:
            raise StoreError(f"{self.path}: opened read-only; this command cannot write")
        deadline = time.monotonic() + self.write_patience
        try:
            async with asyncio.timeout(self.write_patience):
                await lock.acquire()
        except TimeoutError:
            raise StoreBusy(self._busy_message()) from None
        try:
            yield deadline
        finally:
            lock.release()

    async def _write(self, fn: Callable[[Conn], T], deadline: float) -> T:
        raise NotImplementedError

    # Units of ``write_rows`` that may run at once in one process (more only queue).
    row_writers: ClassVar[int] = 1

    async def write_rows(self, fn: Callable[[Conn], T], tables: Sequence[str]) -> T:
        """``write`` for a unit that changes only rows of ``tables`` it names or locks itself
        (by id, or claimed ``FOR UPDATE SKIP LOCKED``), so row locks alone keep it right
        beside other writes. SQLite has one writer: the same as ``write``. PostgreSQL runs it
        without the store's write lock, up to ``row_writers`` at once (pg.py)."""
        del tables  # SQLite's write lock covers every table
        return await self.write(fn)

    def _busy_message(self) -> str:
        return (
            f"{self.path}: the store is locked by another process"
            f" (waited {self.write_patience:g} s); try again when it is done"
        )

    def _waiting(self, remaining: float) -> None:
        """A write found the lock taken and will wait up to ``remaining`` seconds for it."""
        self.busy_waits += 1
        # DEBUG: a bot waits now and then as a matter of course; whoever must tell a person
        # (the CLI) does so from busy_waits or StoreBusy, once.
        log.debug("%s is locked by another connection; waiting up to %.1f s", self.path, remaining)
        if self.on_wait is not None:
            self.on_wait(remaining)


class SqliteDatabase(Database):
    """One writer connection and a few read connections, each with its own aiosqlite thread.

    Each awaited aiosqlite call is a round trip to a connection's thread (~0.1-0.3 ms), so a
    unit of work is a plain function over the connection run there in one hop: ``read(fn)`` on
    a read connection (one snapshot, no writes), ``write(fn)`` in one IMMEDIATE transaction on
    the writer. ``:memory:`` has no second connection to read from, and a store opened
    ``readonly`` has no writer, so there one connection does both.
    """

    dialect: ClassVar[str] = SQLITE

    def __init__(
        self,
        conn: aiosqlite.Connection,
        path: str,
        readers: Sequence[aiosqlite.Connection] = (),
        *,
        readonly: bool = False,
    ) -> None:
        super().__init__(path, readonly=readonly)
        self._conn = conn
        self._all_readers = list(readers)
        self._readers: asyncio.Queue[aiosqlite.Connection] = asyncio.Queue()
        for reader in readers:
            self._readers.put_nowait(reader)

    @classmethod
    async def connect(
        cls, path: str, *, readonly: bool = False, readers: int = READERS
    ) -> SqliteDatabase:
        """Open (creating and migrating, unless ``readonly``) the SQLite store at ``path``."""
        memory = path == ":memory:"
        if not memory:
            _check_path(path, readonly)
            if not readonly:
                Path(path).parent.mkdir(parents=True, exist_ok=True)
        opened: list[aiosqlite.Connection] = []
        try:
            if readonly:
                conn = await _connect_readonly(path)
                opened.append(conn)
                await _call(conn, partial(_check_readonly, path=path))
                return cls(conn, path, readonly=True)
            conn = await aiosqlite.connect(path, isolation_level=None, factory=SqliteConnection)
            opened.append(conn)
            await _call(conn, partial(_set_up, path=path))
            for _ in range(0 if memory else readers):
                reader = await aiosqlite.connect(
                    f"file:{quote(path)}?mode=ro",
                    uri=True,
                    isolation_level=None,
                    factory=SqliteConnection,
                )
                opened.append(reader)
                await _call(reader, _set_up_reader)
            return cls(conn, path, opened[1:])
        except BaseException as exc:
            for each in opened:
                await each.close()
            if isinstance(exc, sqlite3.Error | OSError):
                raise StoreError(describe(path, exc)) from exc
            raise

    async def close(self) -> None:
        for reader in self._all_readers:
            await reader.close()
        await self._conn.close()

    async def run(self, fn: Callable[[Conn], T]) -> T:
        return await _call(self._conn, fn)

    async def read(self, fn: Callable[[Conn], T]) -> T:
        if not self._all_readers:
            return await _call(self._conn, lambda conn: _in_snapshot(conn, fn))
        reader = await self._readers.get()
        try:
            return await _call(reader, lambda conn: _in_snapshot(conn, fn))
        finally:
            self._readers.put_nowait(reader)

    async def _write(self, fn: Callable[[Conn], T], deadline: float) -> T:
        return await _call(self._conn, lambda conn: self._in_transaction(conn, fn, deadline))

    def _in_transaction(
        self, conn: sqlite3.Connection, fn: Callable[[Conn], T], deadline: float
    ) -> T:
        _begin_immediate(conn, self, deadline)
        try:
            result = fn(_unit(conn))
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        try:
            conn.execute("COMMIT")
        except sqlite3.Error:
            # A COMMIT that fails (disk full, I/O error) can leave the transaction open, and
            # then every later BEGIN IMMEDIATE on this connection would fail: undo it here.
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            raise
        return result


def _unit(conn: sqlite3.Connection) -> Conn:
    # Every connection this module opens is a SqliteConnection (factory=), which is a Conn.
    assert isinstance(conn, SqliteConnection)
    return conn


async def _call(conn: aiosqlite.Connection, fn: Callable[[Any], T]) -> T:
    # aiosqlite has no public "run this callable in your thread"; _execute is the one seam
    # every public method uses, and this is the only place we touch it.
    return await conn._execute(fn, conn._conn)  # type: ignore[no-untyped-call,no-any-return]


def _begin_immediate(conn: sqlite3.Connection, db: SqliteDatabase, deadline: float) -> None:
    """BEGIN IMMEDIATE, waiting for another connection's write lock until ``deadline``."""
    try:
        conn.execute("PRAGMA busy_timeout = 0")
        conn.execute("BEGIN IMMEDIATE")
        return
    except sqlite3.OperationalError as exc:
        if not _is_busy(exc):
            raise
    finally:
        conn.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
    remaining = deadline - time.monotonic()
    db._waiting(remaining)
    try:
        conn.execute(f"PRAGMA busy_timeout = {max(int(remaining * 1000), 1)}")
        conn.execute("BEGIN IMMEDIATE")
    except sqlite3.OperationalError as exc:
        if _is_busy(exc):
            raise StoreBusy(db._busy_message()) from exc
        raise
    finally:
        conn.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")


def _is_busy(exc: sqlite3.Error) -> bool:
    code = getattr(exc, "sqlite_errorcode", 0) & 0xFF
    return code in (sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED)


def _in_snapshot(conn: sqlite3.Connection, fn: Callable[[Conn], T]) -> T:
    # Deferred BEGIN: every statement of ``fn`` sees the same committed state.
    conn.execute("BEGIN")
    try:
        return fn(_unit(conn))
    finally:
        conn.execute("ROLLBACK")


def _check_path(path: str, readonly: bool) -> None:
    target = Path(path)
    if target.is_dir():
        raise StoreError(f"{path}: a folder, not a store file (see [storage].path)")
    if readonly and not target.exists():
        raise StoreError(
            f"{path}: no store here (see [storage].path); `newsbot import` or `newsbot run`"
            " creates it"
        )


def readonly_uri(path: str) -> str:
    """The URI that opens the store at ``path`` for reading without writing anything.

    Read-write with ``query_only`` first: its close then removes the -wal and -shm files as
    the bot's own would (mode=rw never creates a missing file). Where the file or its folder
    is read-only, mode=ro; where not even the -shm file can be made, the file is read as
    immutable, which is safe because nobody can be writing it there either.
    """
    last: sqlite3.Error | None = None
    for mode in ("rw", "ro", "ro&immutable=1"):
        uri = f"file:{quote(path)}?mode={mode}"
        conn = sqlite3.connect(uri, uri=True, isolation_level=None)
        try:
            conn.execute("SELECT count(*) FROM sqlite_master")
            return uri
        except sqlite3.OperationalError as exc:
            code = getattr(exc, "sqlite_errorcode", 0) & 0xFF
            if code not in (sqlite3.SQLITE_CANTOPEN, sqlite3.SQLITE_READONLY):
                raise
            last = exc
        finally:
            conn.close()
    assert last is not None
    raise last


async def _connect_readonly(path: str) -> aiosqlite.Connection:
    uri = await asyncio.to_thread(readonly_uri, path)
    conn = await aiosqlite.connect(uri, uri=True, isolation_level=None, factory=SqliteConnection)
    await conn.execute("PRAGMA query_only = ON")
    return conn


def recognise(conn: sqlite3.Connection, path: str) -> bool:
    """True for a newsbot store (or an empty file); raise for any other database.

    Returns whether the store still needs its application_id stamped. Reads only.
    """
    app_id = conn.execute("PRAGMA application_id").fetchone()[0]
    if app_id == APPLICATION_ID:
        return False
    tables = {row[0] for row in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")}
    if app_id == 0 and (not tables or _unstamped_store(conn, tables)):
        return True  # a new file, or a store made before newsbot stamped its id
    raise StoreError(
        f"{path}: another application's database, not a newsbot store; left untouched"
        " (see [storage].path)"
    )


def _unstamped_store(conn: sqlite3.Connection, tables: set[str]) -> bool:
    """Whether a file without an application_id is a store newsbot made before stamping one.

    Table names alone are not enough (a Rails blog has ``schema_migrations`` and ``articles``
    too): newsbot's ledger has its own columns and records newsbot's first migration.
    """
    if not {"schema_migrations", "articles"} <= tables:
        return False
    columns = {row[1] for row in conn.execute("PRAGMA table_info(schema_migrations)")}
    if not {"name", "applied_at"} <= columns:
        return False
    first = conn.execute(
        "SELECT 1 FROM schema_migrations WHERE name = ?", (migration_files()[0][0],)
    ).fetchone()
    return first is not None


def _set_up(conn: sqlite3.Connection, path: str) -> None:
    conn.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
    stamp = recognise(conn, path)
    for pragma in PRAGMAS:
        conn.execute(pragma)
    apply_migrations(conn)
    if stamp:
        conn.execute(f"PRAGMA application_id = {APPLICATION_ID}")


def _set_up_reader(conn: sqlite3.Connection) -> None:
    for pragma in READER_PRAGMAS:
        conn.execute(pragma)


def _check_readonly(conn: sqlite3.Connection, path: str) -> None:
    """A store opened read-only must be a newsbot store with every migration applied."""
    for pragma in READER_PRAGMAS:
        conn.execute(pragma)
    if recognise(conn, path):
        tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")}
        if not tables:
            raise StoreError(f"{path}: an empty file, not a newsbot store (see [storage].path)")
    done = {row[0] for row in conn.execute("SELECT name FROM schema_migrations")}
    if any(name not in done for name, _ in migration_files()):
        raise StoreError(
            f"{path}: made by an older newsbot; run a command that writes (`newsbot fetch`)"
            " once to upgrade it"
        )
