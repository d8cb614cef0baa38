"""The SQLite connections: pragmas, migrations, units of work, and store faults in words.

Everything that only SQLite has (pragmas, the aiosqlite threads, FTS5 syntax in ``fts.py``) lives
in this package's ``db.py`` and ``fts.py`` so that another backend replaces two modules, not the
whole store.

One writer connection and separate read connections (datasette's pattern): under WAL a reader
never waits for a writer, so a write lock held by another process (a backup, an import, a second
bot) does not hold up ``/latest``. A write that finds the store locked waits with SQLite's own
back-off for at most ``write_patience`` seconds and then raises ``StoreBusy``: the caller tells
the user to try again; nothing is ever reported as stored that was not.
"""

from __future__ import annotations

import asyncio
import logging
import os
import sqlite3
import time
from collections.abc import Callable, Sequence
from functools import partial
from importlib import resources
from pathlib import Path
from typing import TypeVar
from urllib.parse import quote

import aiosqlite

log = logging.getLogger(__name__)

T = TypeVar("T")

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
    "PRAGMA cache_size = -16384",
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


def _migration_files() -> list[tuple[str, str]]:
    folder = resources.files("storage") / "migrations"
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
    for name, sql in _migration_files():
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
        applied.append(name)
        log.info("applied migration %s", name)
    return applied


class Database:
    """One writer connection and a few read connections, each with its own aiosqlite thread.

    Each awaited aiosqlite call is a round trip to a connection's thread (~0.1-0.3 ms), so a
    unit of work is a plain function over ``sqlite3.Connection`` run there in one hop:
    ``read(fn)`` on a read connection (one snapshot, no writes), ``write(fn)`` in one IMMEDIATE
    transaction on the writer. ``:memory:`` has no second connection to read from, and a store
    opened ``readonly`` has no writer, so there one connection does both.
    """

    def __init__(
        self,
        conn: aiosqlite.Connection,
        path: str,
        readers: Sequence[aiosqlite.Connection] = (),
        *,
        readonly: bool = False,
    ) -> None:
        self._conn = conn
        self.path = path
        self.readonly = readonly
        self.write_patience = WRITE_PATIENCE
        self.busy_waits = 0  # writes that found the store locked and had to wait
        # Called (in the writer's thread) with the seconds a write will wait for the lock:
        # for a caller that tells a person it is waiting (the CLI); storage logs it at DEBUG.
        self.on_wait: Callable[[float], None] | None = None
        self._write_lock = asyncio.Lock()
        self._all_readers = list(readers)
        self._readers: asyncio.Queue[aiosqlite.Connection] = asyncio.Queue()
        for reader in readers:
            self._readers.put_nowait(reader)

    @classmethod
    async def open(
        cls, path: str | Path, *, readonly: bool = False, readers: int = READERS
    ) -> Database:
        """Open (creating and migrating, unless ``readonly``) the store at ``path``.

        Raises ``StoreError`` with one line naming the store and the problem; a file that is
        not a newsbot store is refused before anything in it changes.
        """
        path = str(path)
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
            conn = await aiosqlite.connect(path, isolation_level=None)
            opened.append(conn)
            await _call(conn, partial(_set_up, path=path))
            for _ in range(0 if memory else readers):
                reader = await aiosqlite.connect(
                    f"file:{quote(path)}?mode=ro", uri=True, isolation_level=None
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

    async def run(self, fn: Callable[[sqlite3.Connection], T]) -> T:
        """Run ``fn`` in the writer's thread (writes that manage their own transaction)."""
        return await _call(self._conn, fn)

    async def read(self, fn: Callable[[sqlite3.Connection], T]) -> T:
        """Run ``fn`` on a read connection, in one snapshot; it never waits for a writer."""
        if not self._all_readers:
            return await self.run(lambda conn: _in_snapshot(conn, fn))
        reader = await self._readers.get()
        try:
            return await _call(reader, lambda conn: _in_snapshot(conn, fn))
        finally:
            self._readers.put_nowait(reader)

    async def write(self, fn: Callable[[sqlite3.Connection], T]) -> T:
        """Run ``fn`` in one IMMEDIATE transaction: all of it is stored, or none.

        A store locked by another connection is waited for (SQLite's busy handler backs off
        between tries) until ``write_patience`` seconds after the call; then ``StoreBusy``.
        """
        if self.readonly:
            raise StoreError(f"{self.path}: opened read-only; this command cannot write")
        deadline = time.monotonic() + self.write_patience
        try:
            async with asyncio.timeout(self.write_patience):
                await self._write_lock.acquire()
        except TimeoutError:
            raise StoreBusy(self._busy_message()) from None
        try:
            return await self.run(lambda conn: self._in_transaction(conn, fn, deadline))
        finally:
            self._write_lock.release()

    def _busy_message(self) -> str:
        return (
            f"{self.path}: the store is locked by another process"
            f" (waited {self.write_patience:g} s); try again when it is done"
        )

    def _in_transaction(
        self, conn: sqlite3.Connection, fn: Callable[[sqlite3.Connection], T], deadline: float
    ) -> T:
        _begin_immediate(conn, self, deadline)
        try:
            result = fn(conn)
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


async def _call(conn: aiosqlite.Connection, fn: Callable[[sqlite3.Connection], T]) -> T:
    # aiosqlite has no public "run this callable in your thread"; _execute is the one seam
    # every public method uses, and this is the only place we touch it.
    return await conn._execute(fn, conn._conn)  # type: ignore[no-untyped-call,no-any-return]


def _begin_immediate(conn: sqlite3.Connection, db: Database, deadline: float) -> None:
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
    db.busy_waits += 1
    remaining = deadline - time.monotonic()
    # DEBUG: a bot waits now and then as a matter of course; whoever must tell a person (the
    # CLI) does so from busy_waits or StoreBusy, once.
    log.debug("%s is locked by another connection; waiting up to %.1f s", db.path, remaining)
    if db.on_wait is not None:
        db.on_wait(remaining)
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


def _in_snapshot(conn: sqlite3.Connection, fn: Callable[[sqlite3.Connection], T]) -> T:
    # Deferred BEGIN: every statement of ``fn`` sees the same committed state.
    conn.execute("BEGIN")
    try:
        return fn(conn)
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
    conn = await aiosqlite.connect(uri, uri=True, isolation_level=None)
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
        "SELECT 1 FROM schema_migrations WHERE name = ?", (_migration_files()[0][0],)
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
    if any(name not in done for name, _ in _migration_files()):
        raise StoreError(
            f"{path}: made by an older newsbot; run a command that writes (`newsbot fetch`)"
            " once to upgrade it"
        )
