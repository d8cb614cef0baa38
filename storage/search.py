"""Full-text search and "related news" over the articles' FTS5 index.

Search: the user's words must all match (any of them, if no article has all); among the matches
the good ones (scoring at least half as well as the best) come newest first, the weaker after.

Related: the publisher's own related box first (the headlines that resolve to stored articles),
then articles like this one by content. The article's salient terms (tf-idf over its text, a
title word counted twice, stop words and numbers dropped) are OR-ed into one FTS5 query ranked
by bm25; the best 40 candidates are then reranked in Python by the cosine of sqrt(tf)-idf
vectors of the whole texts, times a recency factor (closer publication times score higher) and
a shared-topic boost. Neither list ever holds the article itself or a duplicate (same guid or
url, same content, or the same headline).

All SQL for a call runs in one hop to the connection's thread. FTS5 syntax lives in ``fts.py``.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import sqlite3
import time
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from storage import fts
from storage.articles import load_articles
from storage.db import Database
from storage.models import Article

log = logging.getLogger(__name__)

__all__ = ["RelatedTuning", "SearchEngine", "SearchTuning", "normalise_title"]

# Common English function words plus newswire filler ("said", "mr"): they match nearly every
# article, so as related-query terms they only add cost and noise.
_STOP_WORDS = """
    a about above after again against ago all almost also although am among an and another any
    are around as at back be became because become been before being below between both but by
    can could did do does doing done down during each either else even ever every few for from
    further get gets got had has have having he her here hers herself him himself his how however
    i if in including into is it its itself just last least less like made make many may me might
    more most mr mrs ms much must my myself near need never new next no nor not now of off often
    on once one only or other others our ours ourselves out over own per put rather really said
    same say says see seen she should since so some still such take than that the their theirs
    them themselves then there these they this those though three through thus to too took two
    under until up upon us used very via was way we well were what whatever when where whether
    which while who whom whose why will with within without would yes yet you your yours yourself
    yourselves
"""
STOP_WORDS = frozenset(_STOP_WORDS.split())

# The related box's title key, spelled exactly as the index in 0002_related_lookup.sql.
_TITLE_KEY = (
    "lower(replace(replace(replace(replace(replace("
    "{}, ' ', ''), char(9), ''), char(10), ''), char(13), ''), char(160), ''))"
)

_DAY = 86_400.0
_FEW = 50
# fts5vocab and IN lists: SQLite's default limit on host parameters is 32766; stay far below.
_CHUNK = 500


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


@dataclass(frozen=True, slots=True)
class RelatedTuning:
    # Defaults tuned on the BBC News set (bench/quality.py --sweep); P@5 moved by at most
    # +-0.004 around them, so they are not fragile.
    terms: int = 30  # salient terms OR-ed into the candidate query
    title_weight: float = 2.0  # a title word counts as this many body words
    summary_weight: float = 1.0
    candidates: int = 40  # best bm25 matches that are reranked (each costs ~0.2 ms of Python)
    fts_weights: tuple[float, float, float] = (2.0, 1.0, 1.0)
    # Terms in more than this share of the store say little and cost a long doclist.
    max_doc_share: float = 0.2
    # At most this many doclist entries across the query's terms: FTS5 scores every document
    # that matches any term, ~1 us each with 30 terms: this keeps the query near 10 ms at any
    # store size (measured at 200k articles: 11 ms on average).
    posting_budget: int = 12_000
    # Recency: the content score is multiplied by floor + (1 - floor) * 0.5 ** (days / half_life)
    # where days is the gap between the two publication times.
    half_life_days: float = 7.0
    recency_floor: float = 0.75
    # Shared topics: multiplied by 1 + boost * (share of the source's topics the candidate has).
    topic_boost: float = 0.2
    # False keeps FTS5's bm25 order (the plain baseline), for benchmarks.
    rerank: bool = True
    # Candidates scoring under this share of the best one are left out. Off: on the BBC set a
    # floor of 0.2 cut P@5 from 0.929 to 0.836 (0.3: 0.779), because the weaker tail is still
    # mostly on topic; only a store of a few dozen articles lists truly unrelated ones.
    min_share: float = 0.0


@dataclass(frozen=True, slots=True)
class _Doc:
    id: int
    title: str
    summary: str
    body: str
    published_at: int
    guid: str | None
    url: str | None
    content_hash: str
    topics: frozenset[str] = field(default=frozenset())


@dataclass(frozen=True, slots=True)
class _Profile:
    """What the related engine knows of the source article."""

    doc: _Doc
    vector: dict[str, float]  # its unit tf-idf vector over its salient terms
    query: tuple[str, ...]  # the terms sent to FTS5


def normalise_title(title: str) -> str:
    """A headline as compared for duplicates: case-folded, whitespace runs made one space."""
    return " ".join(title.casefold().split())


class SearchEngine:
    """Search and related news over one store's database."""

    def __init__(
        self,
        db: Database,
        *,
        search_tuning: SearchTuning | None = None,
        related_tuning: RelatedTuning | None = None,
    ) -> None:
        self._db = db
        self.search_tuning = search_tuning or SearchTuning()
        self.related_tuning = related_tuning or RelatedTuning()
        self._stats = _TermStats()
        self._next_stale_check = 0.0
        self._refreshing: asyncio.Task[None] | None = None

    async def search(self, text: str, *, limit: int = 10, offset: int = 0) -> list[Article]:
        """Articles matching ``text``, newest first among the best matches; any text is safe."""
        tuning = self.search_tuning
        offset = max(offset, 0)
        limit = min(limit, tuning.max_limit, tuning.max_results - offset)
        if limit <= 0:
            return []
        return await self._db.run(lambda conn: _search(conn, text, limit, offset, tuning))

    async def related(self, article_id: int, *, limit: int = 5) -> list[Article]:
        """The publisher's related articles that we hold, then the most similar by content."""
        if limit <= 0:
            return []
        tuning, stats = self.related_tuning, self._stats
        # Checked once a minute, not per call: it costs a round trip to the thread.
        if time.monotonic() >= self._next_stale_check:
            self._next_stale_check = time.monotonic() + 60.0
            if self._refreshing is None and await self._db.run(stats.stale):
                # In the background: this request uses the counts there are (live lookups
                # for what the copy lacks), and no reader waits for the rebuild.
                self._refreshing = asyncio.create_task(self._refresh_in_background())
        return await self._db.run(lambda conn: _related(conn, article_id, limit, tuning, stats))

    async def similarity_scores(
        self, article_id: int, candidate_ids: Sequence[int]
    ) -> dict[int, float]:
        """The score ``related`` ranks each candidate by for ``article_id`` (0 = unrelated).

        Content cosine (0..1) times the recency factor and the shared-topic boost; it does not
        depend on which candidates the FTS query would have found, so any pair can be scored.
        """
        tuning, stats = self.related_tuning, self._stats
        wanted = list(candidate_ids)
        return await self._db.run(lambda conn: _similarity(conn, article_id, wanted, tuning, stats))

    async def refresh_term_stats(self, *, min_doc: int | None = None) -> int:
        """Copy the commoner terms' document counts out of the index; return how many.

        It reads the whole FTS vocabulary (~2 s at 200k articles). related() does it by itself
        when a store of 20,000+ articles has no copy or has doubled since the last one; a
        scheduled job calling this after big imports keeps that wait off a user's request.
        """
        if self._db.path == ":memory:":
            count = await self._db.write(lambda conn: _refresh_term_stats(conn, min_doc))
        else:
            # Reading the whole vocabulary takes seconds on a big store: it runs on a
            # connection of its own, so the bot's connection keeps answering meanwhile; only
            # the short write of the result goes through the shared writer.
            read = await asyncio.to_thread(_read_term_stats, self._db.path, min_doc)
            count = await self._db.write(lambda conn: _store_term_stats(conn, *read))
        self._stats.clear()
        return count

    async def refresh_term_stats_if_stale(self) -> int | None:
        """Rebuild the word statistics if related() would; return how many terms, or None.

        ``newsbot import`` calls this at its end: a big import into a store without a current
        copy otherwise leaves the rebuild to the bot's first /related, which then looks every
        word up live in the index (seconds at 200k articles) while the rebuild runs beside it.
        """
        if not await self._db.run(self._stats.stale):
            return None
        count = await self.refresh_term_stats()
        log.info("term statistics rebuilt: %d terms", count)
        return count

    async def refreshed(self) -> None:
        """Wait for a background rebuild of the word statistics, if one is running."""
        if self._refreshing is not None:
            await asyncio.shield(self._refreshing)

    async def close(self) -> None:
        """Stop a background rebuild (its read-only connection finishes on its own thread)."""
        if self._refreshing is not None:
            self._refreshing.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._refreshing

    async def _refresh_in_background(self) -> None:
        try:
            count = await self.refresh_term_stats()
            log.info("term statistics rebuilt: %d terms", count)
        except Exception:
            log.exception("could not rebuild term statistics")
        finally:
            self._refreshing = None


# --- search -------------------------------------------------------------------------------


def _search(
    conn: sqlite3.Connection, text: str, limit: int, offset: int, tuning: SearchTuning
) -> list[Article]:
    words = list(dict.fromkeys(fts.tokens(text)))[: fts.MAX_QUERY_TERMS]
    content = [w for w in words if w not in STOP_WORDS]
    pool = max(tuning.pool, offset + limit)
    if content:
        rows = _search_rows(conn, fts.and_query(content), pool, tuning.weights)
        if not rows and len(content) > 1:
            rows = _search_rows(conn, fts.or_query(content), pool, tuning.weights)
    else:
        # Only stop words ("the who"): they match nearly everything and no article matches them
        # better than another, so skip scoring (it would read their huge doclists): newest first.
        rows = _search_rows(conn, fts.and_query(words), pool, None)
    if not rows:
        return []
    best = min(score for _, score in rows)  # bm25 is negative: lower is better
    published = dict(
        _in_chunks(
            conn, "SELECT id, published_at FROM articles WHERE id IN ({})", [i for i, _ in rows]
        )
    )
    good = [(i, s) for i, s in rows if s <= best * tuning.good_share]
    weaker = [(i, s) for i, s in rows if s > best * tuning.good_share]
    good.sort(key=lambda r: (-published.get(r[0], 0), -r[0]))
    weaker.sort(key=lambda r: (r[1], -published.get(r[0], 0), -r[0]))
    ids = [i for i, _ in good + weaker][offset : offset + limit]
    return load_articles(conn, ids, with_related=False)


def _search_rows(
    conn: sqlite3.Connection,
    expression: str | None,
    pool: int,
    weights: tuple[float, float, float] | None,
) -> list[tuple[int, float]]:
    if expression is None:
        return []
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


# --- related ------------------------------------------------------------------------------


def _related(
    conn: sqlite3.Connection,
    article_id: int,
    limit: int,
    tuning: RelatedTuning,
    stats: _TermStats,
) -> list[Article]:
    source = _load_docs(conn, [article_id]).get(article_id)
    if source is None:
        return []
    seen = _Seen(source)
    chosen: list[int] = []
    for doc in _publisher_related(conn, source):
        if len(chosen) >= limit:
            break
        if seen.admit(doc):
            chosen.append(doc.id)
    if len(chosen) < limit:
        best: float | None = None
        for doc, score in _content_ranked(conn, source, tuning, stats):
            best = score if best is None else best
            if tuning.rerank and score < tuning.min_share * best:
                break  # ranked best first: everything after is weaker still
            if seen.admit(doc):
                chosen.append(doc.id)
                if len(chosen) >= limit:
                    break
    return load_articles(conn, chosen, with_related=False)


class _Seen:
    """What is already listed (or is the article itself): ids, keys, content and headlines."""

    def __init__(self, source: _Doc) -> None:
        self._ids: set[int] = set()
        self._keys: set[str] = set()
        self._hashes: set[str] = set()
        self._titles: set[str] = set()
        self.admit(source)

    def admit(self, doc: _Doc) -> bool:
        keys = {k for k in (doc.guid, doc.url) if k}
        title = normalise_title(doc.title)
        if (
            doc.id in self._ids
            or keys & self._keys
            or doc.content_hash in self._hashes
            or title in self._titles
        ):
            return False
        self._ids.add(doc.id)
        self._keys |= keys
        self._hashes.add(doc.content_hash)
        self._titles.add(title)
        return True


def _publisher_related(conn: sqlite3.Connection, source: _Doc) -> list[_Doc]:
    """The stored articles the publisher's box names, in its order (newest if a title repeats)."""
    rows = conn.execute(
        "SELECT r.position, r.title, a.id, a.title FROM related_entries r"
        f" JOIN articles a ON {_TITLE_KEY.format('a.title')} = {_TITLE_KEY.format('r.title')}"
        " WHERE r.article_id = ? ORDER BY r.position, a.published_at DESC, a.id DESC",
        (source.id,),
    ).fetchall()
    # The index key drops all whitespace and folds ASCII only; the real rule is checked here.
    picks = [
        (position, found_id)
        for position, wanted, found_id, found in rows
        if normalise_title(wanted) == normalise_title(found)
    ]
    docs = _load_docs(conn, list(dict.fromkeys(i for _, i in picks)))
    return [docs[i] for _, i in picks if i in docs]


def _content_ranked(
    conn: sqlite3.Connection, source: _Doc, tuning: RelatedTuning, stats: _TermStats
) -> list[tuple[_Doc, float]]:
    profile = _profile(conn, source, tuning, stats)
    expression = fts.or_query(profile.query, max_terms=max(tuning.terms, 1))
    if expression is None:
        return []
    rows = conn.execute(
        "SELECT rowid FROM articles_fts WHERE articles_fts MATCH ?"
        " ORDER BY bm25(articles_fts, ?, ?, ?) LIMIT ?",
        (expression, *tuning.fts_weights, tuning.candidates + 1),
    ).fetchall()
    ids = [int(r[0]) for r in rows if r[0] != source.id]
    docs = _load_docs(conn, ids)
    candidates = [docs[i] for i in ids if i in docs]
    if not tuning.rerank:
        return [(doc, float(len(candidates) - n)) for n, doc in enumerate(candidates)]
    scores = _scores(conn, profile, candidates, tuning, stats)
    ranked = sorted(zip(candidates, scores, strict=True), key=lambda p: (-p[1], -p[0].id))
    return [(doc, score) for doc, score in ranked if score > 0]


def _similarity(
    conn: sqlite3.Connection,
    article_id: int,
    candidate_ids: list[int],
    tuning: RelatedTuning,
    stats: _TermStats,
) -> dict[int, float]:
    source = _load_docs(conn, [article_id]).get(article_id)
    if source is None:
        return {}
    profile = _profile(conn, source, tuning, stats)
    docs = _load_docs(conn, candidate_ids)
    candidates = [docs[i] for i in candidate_ids if i in docs]
    scores = _scores(conn, profile, candidates, tuning, stats)
    return {doc.id: score for doc, score in zip(candidates, scores, strict=True)}


def _salient_counts(doc: _Doc, tuning: RelatedTuning) -> dict[str, float]:
    """Each salient term's count, a title word counting ``title_weight`` times."""
    counts: dict[str, float] = dict(Counter(fts.tokens(doc.body)))
    for text, weight in ((doc.title, tuning.title_weight), (doc.summary, tuning.summary_weight)):
        for term in fts.tokens(text):
            counts[term] = counts.get(term, 0.0) + weight
    # Stop words, numbers and single characters are never salient.
    return {t: counts[t] for t in counts.keys() - STOP_WORDS if len(t) > 1 and not t.isnumeric()}


def _idf(documents: int, df: int) -> float:
    # Smoothed, and positive even for a term in every article.
    return math.log(1.0 + documents / max(df, 1))


def _unit_vector(counts: dict[str, float], idf: dict[str, float]) -> dict[str, float]:
    # sqrt(tf): a word said twice is not twice as telling. Raw counts let one repeated word
    # dominate (exhaustive cosine on BBC: P@5 0.886 raw, 0.926 with 1 + ln tf, 0.929 sqrt).
    vector = {t: math.sqrt(c) * idf[t] for t, c in counts.items()}
    norm = math.sqrt(sum(w * w for w in vector.values())) or 1.0
    return {t: w / norm for t, w in vector.items()}


def _profile(
    conn: sqlite3.Connection, source: _Doc, tuning: RelatedTuning, stats: _TermStats
) -> _Profile:
    counts = _salient_counts(source, tuning)
    documents, df = stats.lookup(conn, counts, exact=True)
    idf = {t: _idf(documents, df[t]) for t in counts}
    vector = _unit_vector(counts, idf)
    # The query's terms are picked by plain tf-idf, not the vector's sqrt(tf)-idf: the damped
    # counts favour rare words seen once, which find fewer related articles (BBC P@5 of the
    # bm25 order alone with 8 terms: 0.87 picked by tf-idf, 0.83 by sqrt(tf)-idf).
    salience = {t: c * idf[t] for t, c in counts.items()}
    query: list[str] = []
    postings = 0
    for term in sorted(salience, key=lambda t: (-salience[t], t)):
        if len(query) >= tuning.terms:
            break
        count = df.get(term, 0)
        # A term no other article has cannot find anything; one most articles have finds
        # everything. Either way it would cost a slot (and the second a long doclist). In a
        # small store every shared word is in a large share of it, and cheap: those stay.
        if count < 2 or count > max(tuning.max_doc_share * documents, _FEW):
            continue
        if postings + count > tuning.posting_budget:
            continue
        postings += count
        query.append(term)
    return _Profile(source, vector, tuple(query))


def _scores(
    conn: sqlite3.Connection,
    profile: _Profile,
    docs: Sequence[_Doc],
    tuning: RelatedTuning,
    stats: _TermStats,
) -> list[float]:
    """Cosine of tf-idf vectors, times the recency factor and the shared-topic boost."""
    counts = [_salient_counts(d, tuning) for d in docs]
    # Candidates' own words need a document count only for their vector's length, where an
    # estimate will do: no live lookups for them once the store has a term-stats copy.
    documents, df = stats.lookup(conn, {t for c in counts for t in c}, exact=False)
    idf = {t: _idf(documents, n) for t, n in df.items()}
    source, source_topics = profile.vector, profile.doc.topics
    scores = []
    for doc, doc_counts in zip(docs, counts, strict=True):
        # The candidate's unit vector is never built: with sqrt(tf) weights its squared length
        # is the sum of tf * idf^2, and only the source's terms enter the dot product.
        length = math.sqrt(sum(c * idf[t] ** 2 for t, c in doc_counts.items())) or 1.0
        content = (
            sum(w * math.sqrt(doc_counts[t]) * idf[t] for t, w in source.items() if t in doc_counts)
            / length
        )
        days = abs(doc.published_at - profile.doc.published_at) / _DAY
        recency = tuning.recency_floor + (1 - tuning.recency_floor) * 0.5 ** (
            days / tuning.half_life_days
        )
        topical = 1.0
        if source_topics:
            topical += tuning.topic_boost * len(source_topics & doc.topics) / len(source_topics)
        scores.append(content * recency * topical)
    return scores


# --- term statistics ----------------------------------------------------------------------


class _TermStats:
    """Document counts of terms: from memory, else the term-stats table, else the index.

    Only ever used from the connection's thread, one call at a time.
    """

    # A store this big without a term-stats copy gets one (see SearchEngine.related).
    AUTO_COPY_AT = 20_000
    MAX_CACHED = 200_000

    def __init__(self) -> None:
        self._df: dict[str, int] = {}
        self._basis = 0

    def clear(self) -> None:
        self._df.clear()
        self._basis = 0

    def stale(self, conn: sqlite3.Connection) -> bool:
        """Whether the store is big and its term-stats copy missing or half its size."""
        documents = _documents(conn)
        if documents < self.AUTO_COPY_AT:
            return False
        info = conn.execute("SELECT documents FROM search_term_stats_info").fetchone()
        return info is None or documents > 2 * int(info[0])

    def lookup(
        self, conn: sqlite3.Connection, terms: Iterable[str], *, exact: bool
    ) -> tuple[int, dict[str, int]]:
        """The number of articles and each term's document count (0 if no article has it).

        With ``exact`` False a term the copy left out is given half the copy's threshold
        instead of being looked up in the index.
        """
        documents = _documents(conn)
        # Counts drift as the store grows; start again once it is a tenth bigger or smaller.
        if abs(documents - self._basis) * 10 > self._basis or len(self._df) > self.MAX_CACHED:
            self.clear()
            self._basis = documents
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
            for term, doc in _in_chunks(
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
        for term, doc in _in_chunks(
            conn, "SELECT term, doc FROM articles_fts_terms WHERE term IN ({})", missing
        ):
            found[term] = int(doc)
        for term in missing:
            found.setdefault(term, 0)
            self._df[term] = found[term]
        return max(documents, 1), found


def _documents(conn: sqlite3.Connection) -> int:
    # max(id) is one b-tree descent; count(*) would read the whole table. Ids are never reused
    # (AUTOINCREMENT), so deleted articles make this a slight overestimate, harmless for idf.
    return int(conn.execute("SELECT coalesce(max(id), 0) FROM articles").fetchone()[0])


def _read_term_stats(path: str, min_doc: int | None) -> tuple[list[tuple[str, int]], int, int]:
    """Read the commoner terms' counts on a read-only connection of this thread's own."""
    conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        documents, threshold = _term_threshold(conn, min_doc)
        rows = conn.execute(
            "SELECT term, doc FROM articles_fts_terms WHERE doc >= ?", (threshold,)
        ).fetchall()
    finally:
        conn.close()
    return rows, documents, threshold


def _term_threshold(conn: sqlite3.Connection, min_doc: int | None) -> tuple[int, int]:
    documents = int(conn.execute("SELECT count(*) FROM articles").fetchone()[0])
    # Keep terms in at least 1 in 10,000 articles (and at least 20): about 60k terms at 200k
    # articles. Below that a live fts5vocab lookup reads only a short doclist.
    return documents, min_doc if min_doc is not None else max(20, documents // 10_000)


def _refresh_term_stats(conn: sqlite3.Connection, min_doc: int | None) -> int:
    documents, threshold = _term_threshold(conn, min_doc)
    rows = conn.execute(
        "SELECT term, doc FROM articles_fts_terms WHERE doc >= ?", (threshold,)
    ).fetchall()
    return _store_term_stats(conn, rows, documents, threshold)


def _store_term_stats(
    conn: sqlite3.Connection, rows: list[tuple[str, int]], documents: int, threshold: int
) -> int:
    conn.execute("DELETE FROM search_term_stats")
    conn.executemany("INSERT INTO search_term_stats (term, doc) VALUES (?, ?)", rows)
    count = len(rows)
    conn.execute(
        "INSERT INTO search_term_stats_info (id, documents, min_doc, built_at)"
        " VALUES (1, ?, ?, ?) ON CONFLICT (id) DO UPDATE SET documents = excluded.documents,"
        " min_doc = excluded.min_doc, built_at = excluded.built_at",
        (documents, threshold, int(time.time())),
    )
    return count


# --- loading ------------------------------------------------------------------------------


def _load_docs(conn: sqlite3.Connection, ids: Sequence[int]) -> dict[int, _Doc]:
    if not ids:
        return {}
    topics: dict[int, set[str]] = {}
    for article_id, topic in _in_chunks(
        conn, "SELECT article_id, topic FROM article_topics WHERE article_id IN ({})", ids
    ):
        topics.setdefault(article_id, set()).add(topic)
    docs = {}
    for row in _in_chunks(
        conn,
        "SELECT id, title, summary, body, published_at, guid, url, content_hash"
        " FROM articles WHERE id IN ({})",
        ids,
    ):
        article_id, title, summary, body, published_at, guid, url, content_hash = row
        docs[article_id] = _Doc(
            article_id,
            title,
            summary,
            body,
            published_at,
            guid,
            url,
            content_hash,
            frozenset(topics.get(article_id, ())),
        )
    return docs


def _in_chunks(conn: sqlite3.Connection, sql: str, values: Sequence[object]) -> list[Any]:
    """Run ``sql`` (with one ``IN ({})``) over ``values`` in bounded chunks; all rows."""
    rows: list[Any] = []
    for start in range(0, len(values), _CHUNK):
        chunk = values[start : start + _CHUNK]
        marks = ",".join("?" * len(chunk))
        rows.extend(conn.execute(sql.format(marks), list(chunk)))
    return rows
