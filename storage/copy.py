"""Copying a whole store into another, SQLite to PostgreSQL or back (``newsbot copy-store``).

The target is created and migrated first, and must be empty. Then every table is copied in
batches of rows, each committed in the target, in an order that satisfies the foreign keys (the
source is read in one snapshot, so a bot writing it meanwhile does not tear the copy). Ids are
kept, so links to articles (``#12``) and the ledger's rows mean the same in the copy. The full-text
index is the target's own (SQLite's triggers fill FTS5; PostgreSQL's column is computed from the
text here). At the end each table's rows are counted on both sides and must agree.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from typing import Any

import psycopg

from core.settings import POSTGRESQL_SCHEMES, masked_url
from storage.articles import SEARCH_COLUMNS, search_words
from storage.db import (
    POSTGRESQL,
    Conn,
    Database,
    SqliteConnection,
    StoreError,
    readonly_uri,
)
from storage.pg import PgConnection

__all__ = ["BATCH", "CopyError", "CopyReport", "copy_store"]

BATCH = 2000
# Parents before children; tables a later migration adds and this list lacks come after these.
ORDER = (
    "topics",
    "articles",
    "related_entries",
    "article_topics",
    "article_vectors",
    "chats",
    "subscriptions",
    "chat_words",
    "feeds",
    "deliveries",
    "search_term_stats",
    "search_term_stats_info",
)
# Kept by each store itself: its migrations' record, SQLite's index and counters, and the
# state of the instances sharing a PostgreSQL store (storage/cluster.py: who polls from where),
# each story's newest report (story_heads: its triggers fill it as the articles arrive), and
# PostgreSQL's full-text documents (article_search: computed from the text, as FTS5's are).
_OWN = (
    "schema_migrations",
    "sqlite_",
    "articles_fts",
    "article_search",
    "cluster_",
    "story_heads",
)


class CopyError(StoreError):
    """The copy was refused or did not come out whole; the message says which."""


@dataclass(frozen=True, slots=True)
class CopyReport:
    counts: dict[str, int]  # rows per table, the same in source and target

    @property
    def rows(self) -> int:
        return sum(self.counts.values())


def copy_store(
    source: str, target: str, *, progress: Callable[[int], object] | None = None
) -> CopyReport:
    """Copy the store ``source`` names into ``target`` (a file or a ``postgresql://`` URL).

    Runs in the calling thread (``asyncio.to_thread`` it). Raises ``CopyError`` when the target
    holds anything or a count disagrees, ``StoreError`` when either store cannot be used.
    """
    if source == target:
        raise CopyError(f"{_name(target)}: the store itself; copy it to another")
    with ExitStack() as stack:
        src = stack.enter_context(_connection(source, reading=True))
        dst = stack.enter_context(_connection(target, reading=False))
        tables = _tables(src)
        missing = [t for t in tables if t not in set(_tables(dst))]
        if missing:
            raise CopyError(
                f"{_name(target)}: has no table {missing[0]}; is it made by an older newsbot?"
            )
        filled = {t: n for t in _tables(dst) if (n := _count(dst, t))}
        if filled:
            listed = ", ".join(f"{n} rows in {t}" for t, n in sorted(filled.items()))
            raise CopyError(
                f"{_name(target)}: not empty ({listed}); copy-store fills only an empty store"
            )
        counts = {t: _count(src, t) for t in tables}
        for table in tables:
            _copy_table(src, dst, table, progress)
        if dst.dialect == POSTGRESQL:
            _advance_identities(dst, tables)
            # Now, not whenever autovacuum comes: the planner's statistics (until then it
            # guesses how many articles a word matches, badly in a big store), and the
            # visibility map, without which counting a word's articles in the full-text
            # index (the related engine's rarer words) reads every one of them.
            dst.execute("VACUUM (ANALYZE)")
        copied = {t: _count(dst, t) for t in tables}
        if dst.dialect == POSTGRESQL and "articles" in tables:
            documents = _count(dst, "article_search")
            if documents != copied["articles"]:
                raise CopyError(
                    f"{_name(target)}: the copy is not whole ({copied['articles']} articles,"
                    f" {documents} full-text documents)"
                )
    wrong = [t for t in tables if copied[t] != counts[t]]
    if wrong:
        details = ", ".join(f"{t}: {counts[t]} rows, {copied[t]} copied" for t in wrong)
        raise CopyError(f"{_name(target)}: the copy is not whole ({details})")
    return CopyReport(counts)


def _name(target: str) -> str:
    return masked_url(target) if target.startswith(POSTGRESQL_SCHEMES) else target


async def prepare(source: str, target: str) -> None:
    """Check the source is a whole newsbot store, and create and migrate the target."""
    db = await Database.open(source, readonly=True)
    await db.close()
    db = await Database.open(target)
    await db.close()


@contextmanager
def _connection(target: str, *, reading: bool) -> Iterator[Conn]:
    """A plain connection: a snapshot to read the source in, or the target to write."""
    if target.startswith(POSTGRESQL_SCHEMES):
        with psycopg.connect(target, autocommit=not reading) as raw:
            if reading:
                raw.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
            yield PgConnection(raw)
        return
    uri, uri_flag = (readonly_uri(target), True) if reading else (target, False)
    conn = sqlite3.connect(uri, uri=uri_flag, isolation_level=None, factory=SqliteConnection)
    try:
        conn.execute("PRAGMA foreign_keys = ON")
        if reading:
            conn.execute("BEGIN")  # one snapshot for the whole copy
        yield conn
    finally:
        conn.close()


def _tables(conn: Conn) -> list[str]:
    """The store's tables that hold its data, parents first."""
    if conn.dialect == POSTGRESQL:
        rows = conn.execute(
            "SELECT table_name FROM information_schema.tables"
            " WHERE table_schema = current_schema() AND table_type = 'BASE TABLE'"
        )
    else:
        rows = conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")
    names = {r[0] for r in rows if not str(r[0]).startswith(_OWN)}
    return [t for t in ORDER if t in names] + sorted(names - set(ORDER))


def _columns(conn: Conn, table: str) -> list[str]:
    if conn.dialect == POSTGRESQL:
        rows = conn.execute(
            "SELECT column_name FROM information_schema.columns"
            " WHERE table_schema = current_schema() AND table_name = ?"
            " ORDER BY ordinal_position",
            (table,),
        )
        return [r[0] for r in rows]
    return [r[1] for r in conn.execute(f"PRAGMA table_info({table})")]


def _count(conn: Conn, table: str) -> int:
    return int(conn.execute(f"SELECT count(*) FROM {table}").fetchone()[0])


def _copy_table(src: Conn, dst: Conn, table: str, progress: Callable[[int], object] | None) -> None:
    wanted = set(_columns(dst, table))
    # The full-text column of a store made before 0016: never copied (below).
    columns = [c for c in _columns(src, table) if c in wanted and c != "search"]
    listed = ", ".join(columns)
    marks = ", ".join("?" * len(columns))
    batches = (
        [tuple(r) for r in batch]
        for batch in _batches(src, f"SELECT {', '.join(columns)} FROM {table}")
    )
    if isinstance(dst, PgConnection):
        _copy_into_postgresql(dst, table, listed, batches, progress)
        if table == "articles":
            _copy_search_documents(src, dst)
        return
    insert = f"INSERT INTO {table} ({listed}) VALUES ({marks})"
    for rows in batches:
        _write_batch(dst, insert, rows)
        if progress is not None:
            progress(len(rows))


def _copy_search_documents(src: Conn, dst: PgConnection) -> None:
    """PostgreSQL's full-text documents (article_search) of the articles just copied: each
    backend's index is its own, computed from the text here (SQLite's triggers fill FTS5)."""
    sql = "SELECT id, published_at, title, summary, body FROM articles"
    batches = (
        [
            (article_id, published_at, *search_words(dst, title, summary or "", body or ""))
            for article_id, published_at, title, summary, body in batch
        ]
        for batch in _batches(src, sql)
    )
    _copy_into_postgresql(dst, "article_search", ", ".join(SEARCH_COLUMNS), batches, None)


def _copy_into_postgresql(
    dst: PgConnection,
    table: str,
    listed: str,
    batches: Iterator[list[tuple[Any, ...]]],
    progress: Callable[[int], object] | None,
) -> None:
    """One table by COPY, in one transaction, its indexes (but those of its keys) built after.

    INSERTs of 2,000-row batches copied ~330 articles/s, the server's time going mostly into
    the full-text index, updated row by row; COPY and one index build at the end do the same
    work in bulk (docs/benchmarks.md). One transaction: a failed copy leaves the table as it
    was, indexes and all."""
    with dst.raw.transaction():
        # The index builds sort in memory up to this, on the server (the default is 64 MB).
        dst.execute("SET LOCAL maintenance_work_mem = '256MB'")
        indexes = dst.execute(
            "SELECT indexrelid::regclass::text, pg_get_indexdef(indexrelid) FROM pg_index i"
            " WHERE indrelid = ?::regclass"
            " AND NOT EXISTS (SELECT 1 FROM pg_constraint c WHERE c.conindid = i.indexrelid)",
            (table,),
        ).fetchall()
        for name, _ in indexes:
            dst.execute(f"DROP INDEX {name}")
        with dst.raw.cursor().copy(f"COPY {table} ({listed}) FROM STDIN") as copy:
            for rows in batches:
                for row in rows:
                    copy.write_row(row)
                if progress is not None:
                    progress(len(rows))
        for _, definition in indexes:
            dst.execute(definition)


def _batches(conn: Conn, sql: str) -> Iterator[list[tuple[Any, ...]]]:
    """The rows of ``sql`` a batch at a time, never all in memory."""
    if isinstance(conn, PgConnection):
        with conn.raw.cursor(name="newsbot_copy") as server:  # read on the server as we go
            server.execute(sql.encode())
            while batch := server.fetchmany(BATCH):
                yield batch
        return
    assert isinstance(conn, sqlite3.Connection)
    local = conn.execute(sql)
    while batch := local.fetchmany(BATCH):
        yield batch


def _write_batch(dst: Conn, insert: str, rows: list[tuple[Any, ...]]) -> None:
    dst.execute("BEGIN IMMEDIATE")
    try:
        dst.executemany(insert, rows)
    except BaseException:
        dst.execute("ROLLBACK")
        raise
    dst.execute("COMMIT")


def _advance_identities(dst: Conn, tables: list[str]) -> None:
    """Start each id sequence past the ids copied in, so new rows never take one."""
    for table in tables:
        if "id" not in _columns(dst, table):
            continue
        sequence = dst.execute("SELECT pg_get_serial_sequence(?, 'id')", (table,)).fetchone()[0]
        if sequence is None:
            continue
        dst.execute(
            f"SELECT setval(?, coalesce(max(id), 0) + 1, false) FROM {table}",
            (sequence,),
        )
