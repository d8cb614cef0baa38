"""Document counts of words for the related engine, and the copy of them kept in the store.

fts5vocab counts a term's documents by reading its whole doclist (~8 ms for a word in 150k of
200k articles), too slow to ask for every word of 40 candidates per /related. So the commoner
terms' counts are copied into ``search_term_stats`` (``TermStats.refresh``) and scaled to the
store's size when read; rare terms, left out of the copy, are cheap to ask the index live.
``TermCounts`` caches the counts in memory for the thread that ranks; ``TermStats`` keeps the
copy current through the store's ``Database`` (its read connections and its writer).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
import time
from collections.abc import Iterable

from storage import fts
from storage.chunks import in_chunks
from storage.db import POSTGRESQL, Conn, Database

log = logging.getLogger(__name__)

__all__ = ["TermCounts", "TermStats", "count_documents", "read_term_stats", "store_term_stats"]

# How often related() asks whether the copy is stale: it costs a round trip to the thread.
STALE_CHECK_SECONDS = 60.0


class TermStats:
    """The store's copy of term counts: rebuilt on demand, or in the background when stale."""

    def __init__(self, db: Database) -> None:
        self._db = db
        self.counts = TermCounts()
        self._next_stale_check = 0.0
        self._refreshing: asyncio.Task[None] | None = None

    async def check(self) -> None:
        """Start a background rebuild if the copy is stale; looked at once a minute at most."""
        if time.monotonic() < self._next_stale_check:
            return
        self._next_stale_check = time.monotonic() + STALE_CHECK_SECONDS
        if self._db.readonly or self._refreshing is not None:
            return
        if await self._db.read(self.counts.stale):
            # In the background: the caller uses the counts there are (live lookups for what
            # the copy lacks), and no reader waits for the rebuild.
            self._refreshing = asyncio.create_task(self._refresh_in_background())

    async def refresh(self, *, min_doc: int | None = None) -> int:
        """Copy the commoner terms' document counts out of the index; return how many.

        It reads the whole FTS vocabulary (~2 s at 200k articles). related() does it by itself
        when a store of 20,000+ articles has no copy or has doubled since the last one; a
        scheduled job calling this after big imports keeps that wait off a user's request.
        """
        # Reading the whole vocabulary takes seconds on a big store: it runs on a read
        # connection, so the others keep answering meanwhile; only the short write of the
        # result goes through the writer.
        rows = await self._db.read(lambda conn: read_term_stats(conn, min_doc))
        count = await self._db.write(lambda conn: store_term_stats(conn, *rows))
        self.counts.clear()
        return count

    async def refresh_if_stale(self) -> int | None:
        """Rebuild the copy if related() would; return how many terms, or None.

        ``newsbot import`` calls this at its end: a big import into a store without a current
        copy otherwise leaves the rebuild to the bot's first /related, which then looks every
        word up live in the index (seconds at 200k articles) while the rebuild runs beside it.
        """
        if not await self._db.read(self.counts.stale):
            return None
        count = await self.refresh()
        log.info("term statistics rebuilt: %d terms", count)
        return count

    async def refreshed(self) -> None:
        """Wait for a background rebuild, if one is running."""
        if self._refreshing is not None:
            await asyncio.shield(self._refreshing)

    async def close(self) -> None:
        """Stop a background rebuild (a read under way finishes on its connection's thread)."""
        if self._refreshing is not None:
            self._refreshing.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._refreshing

    async def _refresh_in_background(self) -> None:
        try:
            count = await self.refresh()
            log.info("term statistics rebuilt: %d terms", count)
        except Exception:
            log.exception("could not rebuild term statistics")
        finally:
            self._refreshing = None


class TermCounts:
    """Document counts of terms: from memory, else the term-stats table, else the index.

    Used from the read connections' threads: one lookup at a time holds the lock. ``clear``
    only marks the memory stale (it is called on the event loop, which must never wait for a
    lookup); the next lookup empties it.
    """

    # A store this big without a term-stats copy gets one (see TermStats.check).
    AUTO_COPY_AT = 20_000
    MAX_CACHED = 200_000

    def __init__(self) -> None:
        self._df: dict[str, int] = {}
        self._basis = 0
        self._cleared = False
        self._lock = threading.Lock()

    def clear(self) -> None:
        """Forget the counts held in memory (the store's copy was rebuilt)."""
        self._cleared = True

    def stale(self, conn: Conn) -> bool:
        """Whether the store is big and its term-stats copy missing or half its size."""
        documents = count_documents(conn)
        if documents < self.AUTO_COPY_AT:
            return False
        info = conn.execute("SELECT documents FROM search_term_stats_info").fetchone()
        return info is None or documents > 2 * int(info[0])

    def lookup(
        self, conn: Conn, terms: Iterable[str], *, exact: bool
    ) -> tuple[int, dict[str, int]]:
        """The number of articles and each term's document count (0 if no article has it).

        With ``exact`` False a term the copy left out is given half the copy's threshold
        instead of being looked up in the index.
        """
        with self._lock:
            return self._lookup(conn, terms, exact=exact)

    def _lookup(
        self, conn: Conn, terms: Iterable[str], *, exact: bool
    ) -> tuple[int, dict[str, int]]:
        documents = count_documents(conn)
        # Counts drift as the store grows; start again once it is a tenth bigger or smaller.
        if (
            self._cleared
            or abs(documents - self._basis) * 10 > self._basis
            or len(self._df) > self.MAX_CACHED
        ):
            self._df.clear()
            self._basis = documents
            self._cleared = False
        found: dict[str, int] = {}
        missing = []
        for term in terms:
            cached = self._df.get(term)
            if cached is None:
                missing.append(term)
            else:
                found[term] = cached
        if not missing:
            return max(documents, 1), found
        info = conn.execute(
            "SELECT documents, min_doc FROM search_term_stats_info WHERE id = 1"
        ).fetchone()
        if info is not None and info[0] > 0:
            scale = documents / info[0]
            for term, doc in in_chunks(
                conn, "SELECT term, doc FROM search_term_stats WHERE term IN ({})", missing
            ):
                found[term] = self._df[term] = max(1, round(doc * scale))
            missing = [t for t in missing if t not in found]
            if not exact:
                for term in missing:
                    found[term] = max(1, int(info[1]) // 2)
                return max(documents, 1), found
        # Terms the copy left out were rare when it was made, so their doclists are short and
        # asking the index is cheap. Without a copy every term is asked (small stores).
        for term, doc in _index_counts(conn, missing):
            found[term] = int(doc)
        for term in missing:
            found.setdefault(term, 0)
            self._df[term] = found[term]
        return max(documents, 1), found


def _index_counts(conn: Conn, terms: list[str]) -> list[tuple[str, int]]:
    """Each term's document count, asked of the full-text index."""
    if conn.dialect != POSTGRESQL:
        return in_chunks(conn, "SELECT term, doc FROM articles_fts_terms WHERE term IN ({})", terms)
    # No vocabulary table: one index look-up per term, all in one statement; each term goes
    # as a quoted tsquery literal (fts.and_query), never read as query syntax.
    queries = [fts.and_query([t], tsquery=True) or "''" for t in terms]
    rows = conn.execute(
        "SELECT w.term, (SELECT count(*) FROM article_search a WHERE a.search @@ w.q::tsquery)"
        " FROM unnest(?::text[], ?::text[]) AS w(term, q)",
        (terms, queries),
    )
    return [(term, int(doc)) for term, doc in rows if doc]


def count_documents(conn: Conn) -> int:
    """The number of articles, for idf (an upper bound, read in one b-tree descent)."""
    # max(id) is one b-tree descent; count(*) would read the whole table. Ids are never reused
    # (AUTOINCREMENT), so deleted articles make this a slight overestimate, harmless for idf.
    return int(conn.execute("SELECT coalesce(max(id), 0) FROM articles").fetchone()[0])


def read_term_stats(conn: Conn, min_doc: int | None) -> tuple[list[tuple[str, int]], int, int]:
    """The commoner terms' counts, the number of articles and the threshold used."""
    count = int(conn.execute("SELECT count(*) FROM articles").fetchone()[0])
    # Keep terms in at least 1 in 10,000 articles (and at least 20): about 60k terms at 200k
    # articles. Below that a live fts5vocab lookup reads only a short doclist.
    threshold = min_doc if min_doc is not None else max(20, count // 10_000)
    if conn.dialect == POSTGRESQL:
        # ts_stat reads every article's vector once (fts5vocab reads the index's doclists).
        vocabulary = (
            "SELECT word, ndoc FROM ts_stat('SELECT search FROM article_search') WHERE ndoc >= ?"
        )
    else:
        vocabulary = "SELECT term, doc FROM articles_fts_terms WHERE doc >= ?"
    rows = [(str(t), int(d)) for t, d in conn.execute(vocabulary, (threshold,))]
    return rows, count, threshold


def store_term_stats(
    conn: Conn, rows: list[tuple[str, int]], documents: int, threshold: int
) -> int:
    """Replace the copy with ``rows``; return how many terms it holds."""
    conn.execute("DELETE FROM search_term_stats")
    conn.executemany("INSERT INTO search_term_stats (term, doc) VALUES (?, ?)", rows)
    conn.execute(
        "INSERT INTO search_term_stats_info (id, documents, min_doc, built_at)"
        " VALUES (1, ?, ?, ?) ON CONFLICT (id) DO UPDATE SET documents = excluded.documents,"
        " min_doc = excluded.min_doc, built_at = excluded.built_at",
        (documents, threshold, int(time.time())),
    )
    return len(rows)
