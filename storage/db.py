"""The SQLite connection: pragmas, migrations and units of work.

Everything that only SQLite has (pragmas, the aiosqlite thread, FTS5 syntax in ``fts.py``) lives
in this package's ``db.py`` and ``fts.py`` so that another backend replaces two modules, not the
whole store.
"""

from __future__ import annotations

import asyncio
import logging
import sqlite3
import time
from collections.abc import Callable
from importlib import resources
from pathlib import Path
from typing import TypeVar

import aiosqlite

log = logging.getLogger(__name__)

T = TypeVar("T")

PRAGMAS = (
    "PRAGMA journal_mode = WAL",
    # NORMAL under WAL loses at most the last commits on power loss, never corrupts; the
    # ledger's guarantee is stated against process death (kill -9), which NORMAL survives.
    "PRAGMA synchronous = NORMAL",
    "PRAGMA foreign_keys = ON",
    "PRAGMA busy_timeout = 5000",
    "PRAGMA temp_store = MEMORY",
    "PRAGMA cache_size = -65536",
)


class MigrationError(RuntimeError):
    pass


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
    """One aiosqlite connection; units of work run whole in its thread.

    Each awaited aiosqlite call is a round trip to the connection's thread (~0.1-0.3 ms), so a
    unit of work is a plain function over ``sqlite3.Connection`` run there in one hop.
    """

    def __init__(self, conn: aiosqlite.Connection, path: str) -> None:
        self._conn = conn
        self.path = path
        self._write_lock = asyncio.Lock()

    @classmethod
    async def open(cls, path: str | Path) -> Database:
        path = str(path)
        if path != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        conn = await aiosqlite.connect(path, isolation_level=None)
        db = cls(conn, path)
        try:
            await db.run(_set_up)
        except BaseException:
            await conn.close()
            raise
        return db

    async def close(self) -> None:
        await self._conn.close()

    async def run(self, fn: Callable[[sqlite3.Connection], T]) -> T:
        """Run ``fn`` in the connection's thread (reads, or writes that manage themselves)."""
        # aiosqlite has no public "run this callable in your thread"; _execute is the one seam
        # every public method uses, and this is the only place we touch it.
        return await self._conn._execute(fn, self._conn._conn)  # type: ignore[no-untyped-call,no-any-return]

    async def write(self, fn: Callable[[sqlite3.Connection], T]) -> T:
        """Run ``fn`` in one IMMEDIATE transaction: all of it is stored, or none."""
        async with self._write_lock:
            return await self.run(lambda conn: _in_transaction(conn, fn))


def _in_transaction(conn: sqlite3.Connection, fn: Callable[[sqlite3.Connection], T]) -> T:
    conn.execute("BEGIN IMMEDIATE")
    try:
        result = fn(conn)
    except BaseException:
        conn.execute("ROLLBACK")
        raise
    conn.execute("COMMIT")
    return result


def _set_up(conn: sqlite3.Connection) -> None:
    for pragma in PRAGMAS:
        conn.execute(pragma)
    apply_migrations(conn)
