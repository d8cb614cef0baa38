"""Full-text search, and the engine that answers search and related news for the store.

Search: the user's words must all match (any of them, if no article has all); among the matches
the good ones (scoring at least half as well as the best) come newest first, the weaker after.
Related news is ranked in ``related.py``, with the word counts of ``term_stats.py``.

All SQL for a call runs in one hop to a read connection's thread, in one snapshot. FTS5
syntax lives in ``fts.py``.
"""

from __future__ import annotations

import contextlib
import logging
import sqlite3
from collections.abc import Sequence
from dataclasses import dataclass

from storage import fts
from storage.ann import VectorIndex
from storage.articles import load_articles
from storage.chunks import in_chunks
from storage.db import POSTGRESQL, Conn, Database
from storage.models import Article
from storage.related import STOP_WORDS, RelatedTuning, normalise_title, related, similarity
from storage.term_stats import TermStats

log = logging.getLogger(__name__)

__all__ = ["RelatedTuning", "SearchEngine", "SearchTuning", "normalise_title"]


@dataclass(frozen=True, slots=True)
class SearchTuning:
    # bm25 column weights (title, summary, body): a word in the headline says most.
    weights: tuple[float, float, float] = (4.0, 2.0, 1.0)
    # How many of the newest matches are ranked. Bounds the work for broad queries (a common
    # word matches most of the store); narrower queries have fewer matches and are ranked whole.
    pool: int = 300
    # A match is "good" if it scores at least this share of the best match's score.
    good_share: float = 0.5
    max_limit: int = 100
    # Paging stops here: results past the 1,000th are not worth their cost to anyone.
    max_results: int = 1_000


class SearchEngine:
    """Search and related news over one store's database."""

    def __init__(
        self,
        db: Database,
        *,
        search_tuning: SearchTuning | None = None,
        related_tuning: RelatedTuning | None = None,
        index: VectorIndex | None = None,
    ) -> None:
        self._db = db
        self.index = index  # the store's meaning index: candidates for related by meaning
        self.search_tuning = search_tuning or SearchTuning()
        self.related_tuning = related_tuning or RelatedTuning()
        self.term_stats = TermStats(db)

    async def search(self, text: str, *, limit: int = 10, offset: int = 0) -> list[Article]:
        """Articles matching ``text``, newest first among the best matches; any text is safe."""
        tuning = self.search_tuning
        offset = max(offset, 0)
        limit = min(limit, tuning.max_limit, tuning.max_results - offset)
        if limit <= 0:
            return []
        return await self._db.read(lambda conn: _search(conn, text, limit, offset, tuning))

    async def related(self, article_id: int, *, limit: int = 5) -> list[Article]:
        """The publisher's related articles that we hold, then the most similar by content."""
        if limit <= 0:
            return []
        tuning, counts, index = self.related_tuning, self.term_stats.counts, self.index
        await self.term_stats.check()
        return await self._db.read(
            lambda conn: related(conn, article_id, limit, tuning, counts, index)
        )

    async def similarity_scores(
        self, article_id: int, candidate_ids: Sequence[int]
    ) -> dict[int, float]:
        """The score ``related`` ranks each candidate by for ``article_id`` (0 = unrelated).

        Content cosine (0..1) times the recency factor and the shared-topic boost; it does not
        depend on which candidates the FTS query would have found, so any pair can be scored.
        """
        tuning, counts = self.related_tuning, self.term_stats.counts
        wanted = list(candidate_ids)
        return await self._db.read(
            lambda conn: similarity(conn, article_id, wanted, tuning, counts)
        )

    async def merge_pending(self) -> None:
        """PostgreSQL: move the full-text index's pending entries into the index proper now,
        on a connection of its own; SQLite: nothing (FTS5 merges as it writes).

        A GIN index takes new documents into an unsorted pending list and merges the list into
        its tree once it passes ``gin_pending_list_limit`` (4 MB), in the statement that
        overflows it: a bulk writer paid the merge inside its own transaction, about 100 µs a
        document on the import's path. An import's bulk writes let the list grow larger
        (``storage.articles.BULK_PENDING_LIST``) and call this every few batches: the merge
        runs beside the next batch's transaction (on the other core) instead, and sorts more
        documents' words at once, which costs less a document.
        Needs the index's owner (as VACUUM does), which the role that migrated the store is.
        """
        if self._db.dialect != POSTGRESQL:
            return

        def work(conn: Conn) -> None:
            conn.execute("BEGIN")
            try:
                # The merge sorts the list's words in this much memory at a time (work_mem):
                # the default 4 MB held a fifth of a 4,000-document list, and each part
                # descended the index again for every word it held.
                conn.execute("SET LOCAL work_mem = '64MB'")
                conn.execute("SELECT gin_clean_pending_list('article_search_words'::regclass)")
                conn.execute("COMMIT")
            except BaseException:
                with contextlib.suppress(Exception):  # the error at hand says more
                    conn.execute("ROLLBACK")
                raise

        await self._db.run(work)

    async def refresh_term_stats(self, *, min_doc: int | None = None) -> int:
        """Rebuild the store's copy of term counts now; return how many terms it holds."""
        return await self.term_stats.refresh(min_doc=min_doc)

    async def refresh_term_stats_if_stale(self) -> int | None:
        """Rebuild the copy if related() would (see ``TermStats.refresh_if_stale``)."""
        return await self.term_stats.refresh_if_stale()

    async def refreshed(self) -> None:
        """Wait for a background rebuild of the word statistics, if one is running."""
        await self.term_stats.refreshed()

    async def close(self) -> None:
        """Stop a background rebuild of the word statistics."""
        await self.term_stats.close()


def _search(conn: Conn, text: str, limit: int, offset: int, tuning: SearchTuning) -> list[Article]:
    words = list(dict.fromkeys(fts.tokens(text)))[: fts.MAX_QUERY_TERMS]
    content = [w for w in words if w not in STOP_WORDS]
    pool = max(tuning.pool, offset + limit)
    if content:
        pg = conn.dialect == POSTGRESQL
        rows = _search_rows(conn, fts.and_query(content, tsquery=pg), pool, tuning.weights)
        if not rows and len(content) > 1:
            rows = _search_rows(conn, fts.or_query(content, tsquery=pg), pool, tuning.weights)
    else:
        # Only stop words ("the who"): they match nearly everything and no article matches them
        # better than another, so skip scoring (it would read their huge doclists): newest first.
        query = fts.and_query(words, tsquery=conn.dialect == POSTGRESQL)
        rows = _search_rows(conn, query, pool, None)
    if not rows:
        return []
    best = min(score for _, score in rows)  # bm25 is negative: lower is better
    # PostgreSQL's narrow full-text table has the time too: no read of the wide articles rows.
    times = (
        "SELECT article_id, published_at FROM article_search WHERE article_id IN ({})"
        if conn.dialect == POSTGRESQL
        else "SELECT id, published_at FROM articles WHERE id IN ({})"
    )
    published = dict(in_chunks(conn, times, [i for i, _ in rows]))
    good = [(i, s) for i, s in rows if s <= best * tuning.good_share]
    weaker = [(i, s) for i, s in rows if s > best * tuning.good_share]
    good.sort(key=lambda r: (-published.get(r[0], 0), -r[0]))
    weaker.sort(key=lambda r: (r[1], -published.get(r[0], 0), -r[0]))
    ids = [i for i, _ in good + weaker][offset : offset + limit]
    return load_articles(conn, ids, with_related=False)


def _search_rows(
    conn: Conn,
    expression: str | None,
    pool: int,
    weights: tuple[float, float, float] | None,
) -> list[tuple[int, float]]:
    if expression is None:
        return []
    if conn.dialect == POSTGRESQL:
        return _search_rows_pg(conn, expression, pool, weights)
    # ORDER BY rowid DESC lets FTS5 walk the doclists from the newest end and stop after `pool`
    # matches; ordering by rank instead would score every match in the store first. bm25 is
    # computed for the rows returned only, after one pass counting each term's documents
    # (~0.05 us a doclist entry: why stop words are left out of the query).
    score = "bm25(articles_fts, ?, ?, ?)" if weights else "0.0"
    sql = (
        f"SELECT rowid, {score} FROM articles_fts WHERE articles_fts MATCH ?"
        " ORDER BY rowid DESC LIMIT ?"
    )
    params: tuple[object, ...] = (*(weights or ()), expression, pool)
    try:
        return [(int(r), float(s)) for r, s in conn.execute(sql, params)]
    except sqlite3.OperationalError as exc:
        # Unreachable while fts.py quotes every word; if a tokenizer change ever lets syntax
        # through, the user gets no results rather than an error, and the log says why.
        if "fts5" not in str(exc):
            raise
        log.warning("FTS5 rejected %r: %s", expression, exc)
        return []


# PostgreSQL looks for the newest matches among the newest ids first: this many times the
# pool, then this many times more at each step, then everywhere.
_FIRST_WINDOW = 4
_WINDOW_GROWTH = 16
# Matches at least this dense (1 in 20 ids) are found by walking the newest ids.
_DENSE = 20


def _search_rows_pg(
    conn: Conn, expression: str, pool: int, weights: tuple[float, float, float] | None
) -> list[tuple[int, float]]:
    """The newest ``pool`` matches with their score, as bm25 gives them: lower is better.

    FTS5 walks a word's matches newest first and stops at ``pool``; PostgreSQL's full-text
    index cannot, and the planner's other way, walking the ids newest first and testing each
    article, reads each one's whole tsvector (~4 kB, out of line): 60 ms for a word in 2% of
    100,000 articles. So the index is asked for the matches among the newest ids, a window
    that grows until it holds ``pool`` of them (each wider step one look-up in each index, the
    two bitmaps intersected: only index bitmaps are allowed for those). Each match found is a
    row of the narrow article_search table (0016), not of the articles with their bodies."""
    top, scan, seq = conn.execute(
        "SELECT (SELECT coalesce(max(article_id), 0) FROM article_search),"
        " current_setting('enable_indexscan'), current_setting('enable_seqscan')"
    ).fetchone()
    matches = "SELECT article_id FROM article_search WHERE search @@ ?::tsquery"
    span = _FIRST_WINDOW * pool
    forced = False
    while True:
        if span < top:
            window: tuple[object, ...] = (expression, int(top) - span, pool)
            newest = f"{matches} AND article_id > ? ORDER BY article_id DESC LIMIT ?"
        else:
            window, newest = (expression, pool), f"{matches} ORDER BY article_id DESC LIMIT ?"
        if not weights:
            rows = [(int(r[0]), 0.0) for r in conn.execute(newest, window)]
        else:
            # ts_rank reads a match's whole tsvector: only the ``pool`` kept are ranked (in
            # one SELECT with the search, the server ranked every match first: p95 204 ms at
            # 120,000). Higher-is-better and positive: negated, as bm25 is.
            rows = [
                (int(r), float(s))
                for r, s in conn.execute(
                    f"SELECT a.article_id, -ts_rank(?::real[], a.search, ?::tsquery)"
                    f" FROM ({newest}) m JOIN article_search a ON a.article_id = m.article_id",
                    (fts.ts_weights(weights), expression, *window),
                )
            ]
        if len(rows) >= pool or span >= top:
            break
        # The next window: as wide as the matches found so far say holds the pool, at most
        # _WINDOW_GROWTH times this one. Where matches are dense, walking the newest ids and
        # testing each is the planner's fast way (a bitmap of a word in most articles costs
        # 100-200 ms at 1,000,000); where they are sparse (under 1 in _DENSE ids), that walk
        # would test too many articles: then only index bitmaps.
        dense = len(rows) * _DENSE >= span
        wanted = span * pool * 5 // (4 * len(rows)) if rows else span * _WINDOW_GROWTH
        span = min(max(wanted, span + 1), span * _WINDOW_GROWTH)
        if not dense and not forced:
            conn.execute(
                "SELECT set_config('enable_indexscan', 'off', true),"
                " set_config('enable_seqscan', 'off', true)"
            )
            forced = True
    if forced:
        conn.execute(
            "SELECT set_config('enable_indexscan', ?, true), set_config('enable_seqscan', ?, true)",
            (scan, seq),
        )
    return rows
