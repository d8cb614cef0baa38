"""Vectors and story ids for stored articles.

Every article gets its embedding (``semantic.Embedder``) when it is stored, and a new article
joins the story of an earlier stored report that ``semantic.same_story`` says tells the same
event: from any publisher, within the stories window, and only while the story with the new
article still spans at most one window (its first and last reports' published times), so
near-identical daily reports start a new story each window instead of one for months. A
publisher's own follow-up of an event (another URL, same event) is grouped too, as an editor
would; the same URL is never a second report (the store keeps one article per URL).

Candidates are the stored articles published within the window of the new one: their vectors are
read in one range scan per cluster of a batch (articles close in time share their candidates),
scored by one matrix product, and only the best few by cosine are compared word by word. Where
the window holds more than ``EXACT_WINDOW`` articles (and ``ANN_RATIO`` per new article of the
batch), reading them all would cost more than the target of 10 ms an article
(docs/benchmarks.md): the candidates are then the ``NEIGHBOURS`` nearest by meaning in the
store's index (storage/ann.py) published within the window, plus the batch's own earlier
articles.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import timedelta
from functools import partial
from typing import TYPE_CHECKING, Any

import numpy as np

from semantic import (
    DIM,
    RULE,
    WINDOW,
    Embedder,
    StoryItem,
    StoryRule,
    Vectors,
    Words,
    article_text,
    story_score,
    story_words,
    to_bytes,
    words_from_text,
)
from semantic.model import shared_embedder
from semantic.worker import Embedded, EmbeddingProcess
from storage.chunks import in_chunks
from storage.db import Conn, Database
from storage.timeutil import utc_from_seconds

if TYPE_CHECKING:
    from storage.ann import VectorIndex

# Compared word by word: the nearest candidates by cosine that could still reach the threshold.
SHORTLIST = 8
# A window holding more articles than this takes its candidates from the meaning index.
EXACT_WINDOW = 3_000
# Nearest by meaning asked of the index for each new article, before the window is applied.
NEIGHBOURS = 64
# ... and only where the window holds more than this many articles per new one in the batch.
ANN_RATIO = 50
# New articles (in time order) whose candidates are scored by one matrix product.
BLOCK = 64


@dataclass(slots=True)
class Meaning:
    """The embedding model (loaded on first use, shared by the process) and the story rule.

    ``embedding``: a child process that embeds instead of this one (a big import or reindex,
    bot/cli.py), so embedding one batch runs on another core while the last one is stored.
    """

    window: timedelta = WINDOW
    rule: StoryRule = RULE
    embedding: EmbeddingProcess | None = None
    _embedder: Embedder | None = None
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def load(self) -> Embedder:
        """The model, loaded now if it was not; raises ``semantic.ModelError`` naming the file."""
        with self._lock:
            if self._embedder is None:
                self._embedder = shared_embedder()
            return self._embedder

    def embed(self, texts: Sequence[str]) -> Vectors:
        embedder = self.load()
        with self._lock:  # the embedder's word cache is not thread-safe
            return embedder.embed(texts)

    async def embed_articles(self, texts: Sequence[tuple[str, str, str]]) -> Vectors:
        """Embed (title, summary, body) triples off the event loop: in the child process if
        there is one, else in a worker thread."""
        return (await self.prepare_articles(texts)).vectors

    async def prepare_articles(self, texts: Sequence[tuple[str, str, str]]) -> Embedded:
        """``embed_articles``, with the articles' full-text documents when the child process
        computes them (``EmbeddingProcess(document=...)``), else none; and there their story
        words too (``semantic.story_words``: text work the storing process then does not do)."""
        if self.embedding is not None:
            return await asyncio.to_thread(
                partial(self.embedding.prepare_articles, texts, words=True)
            )
        joined = [article_text(*t) for t in texts]
        return Embedded(await asyncio.to_thread(self.embed, joined), None)


def decode(blobs: Sequence[bytes]) -> Vectors:
    """Stored float16 vectors as one float32 matrix, a row each."""
    if not blobs:
        return np.zeros((0, DIM), dtype=np.float32)
    return np.frombuffer(b"".join(blobs), dtype="<f2").reshape(-1, DIM).astype(np.float32)


def store_vectors(
    conn: Conn, ids: Sequence[int], vectors: Vectors, *, replace: bool = True
) -> None:
    clash = "DO UPDATE SET vector = excluded.vector" if replace else "DO NOTHING"
    conn.executemany(
        f"INSERT INTO article_vectors (article_id, vector) VALUES (?, ?)"
        f" ON CONFLICT (article_id) {clash}",
        [(i, to_bytes(v)) for i, v in zip(ids, vectors, strict=True)],
    )


def assign_stories(
    conn: Conn,
    ids: Sequence[int],
    vectors: Vectors,
    *,
    window: timedelta = WINDOW,
    rule: StoryRule = RULE,
    index: VectorIndex | None = None,
) -> dict[int, int]:
    """Put each stored article of ``ids`` (vectors given) into the story of an earlier report,
    and write its ``story_id``: ``newsbot reindex``'s articles, stored before they had vectors.

    Earlier means a smaller id: stored before it, or before it in the same batch. Returns the
    articles that joined a story, with the story. Runs inside the caller's transaction.
    """
    if not len(ids):
        return {}
    marks = ",".join("?" * len(ids))
    rows = conn.execute(
        f"SELECT id, published_at, title, summary FROM articles WHERE id IN ({marks})", list(ids)
    ).fetchall()
    vector_of = dict(zip(ids, vectors, strict=True))
    found = {r[0]: Report(r[0], r[1], r[2], r[3]) for r in rows}
    reports = [found[i] for i in ids if i in found]  # in the order given: ties keep it
    placed = place_in_stories(
        conn,
        reports,
        np.stack([vector_of[r.id] for r in reports]) if reports else vectors[:0],
        stored=True,
        window=window,
        rule=rule,
        index=index,
    )
    joined = {article_id: story for article_id, story in placed if story != article_id}
    if joined:
        conn.executemany(
            "UPDATE articles SET story_id = ? WHERE id = ?", [(s, i) for i, s in joined.items()]
        )
    return joined


@dataclass(frozen=True, slots=True)
class Report:
    """What story assignment needs of a new article: its id, time (seconds), title, summary."""

    id: int
    published_at: int
    title: str
    summary: str
    words: Words | None = None  # story_words(title, summary), when worked out already


def place_in_stories(
    conn: Conn,
    reports: Sequence[Report],
    vectors: Vectors,
    *,
    stored: bool,
    window: timedelta = WINDOW,
    rule: StoryRule = RULE,
    index: VectorIndex | None = None,
) -> Iterator[tuple[int, int]]:
    """Each of ``reports`` (one vector each) with the story it joins, or its own id.

    ``stored``: whether their rows are in the store already (each its own story). If not (an
    import, which places its articles before it writes them, so that ``story_id`` is written
    once with the row and no row is read back or updated), the batch is a candidate to itself
    from memory, exactly as its rows would be from the store: the same candidates in the same
    order, so the same stories. Writes nothing.

    Everything is read from the store before this returns; the placements are then worked
    out as they are taken, with no further statement: an import streams each row to the
    store (a COPY) as it is placed, and the server inserts it while the rest are placed.
    First those with no candidate at all (their own story), then the others in time order.
    """
    if not reports:
        return iter(())
    ids = [r.id for r in reports]
    span = int(window.total_seconds())
    info: dict[int, tuple[Any, ...]] = {r.id: (r.published_at, r.title, r.summary) for r in reports}
    known_words = {r.id: r.words for r in reports if r.words is not None}
    order = sorted(ids, key=lambda i: info[i][0])
    vector_of = dict(zip(ids, vectors, strict=True))
    # The batch as the store would return it: stored float16 vectors, each its own story.
    mine_rows = {} if stored else _as_rows(reports, vectors)
    spans: dict[int, tuple[int, int]] = {}  # story -> its first and last report's published_at
    if not stored:
        # A batch article's own story holds only itself until it is placed (read from the
        # store's rows otherwise).
        spans.update((r.id, (r.published_at, r.published_at)) for r in reports)
    if index is not None and index.worth_keeping(conn, below=min(ids)):
        # What earlier batches committed goes in first; this batch's rows wait for the commit.
        index.catch_up(conn, below=min(ids))
    plans = []
    for cluster in _clusters(order, [info[i][0] for i in order], span):
        plan = _candidates(conn, cluster, info, vector_of, mine_rows, span, rule, index, min(ids))
        if plan is None:
            continue
        plans.append(plan)
        # The shortlisted candidates' texts in one read per 500, not one per candidate.
        unknown = sorted(
            {k for _, picks in plan.shortlists for k in plan.ids_of(picks)} - info.keys()
        )
        # With their story words as stored (0018; none for rows stored before it, whose words
        # are worked out from the text when compared).
        for article_id, when, title, summary, kept in in_chunks(
            conn,
            "SELECT id, published_at, title, summary, story_words FROM articles WHERE id IN ({})",
            unknown,
        ):
            info[article_id] = (when, title, summary)
            if kept is not None:
                known_words[article_id] = words_from_text(kept)
        # Where each shortlisted candidate's story starts and ends: one indexed read per 500.
        # (Only a batch article joins a story, in _decide, after these reads: each story's
        # span here is the store's, as when the clusters were read and placed in turn.)
        shortlisted = {k for _, picks in plan.shortlists for k in plan.ids_of(picks)}
        _read_spans(conn, spans, {plan.stories[k] for k in shortlisted})
    return _decide(order, plans, info, known_words, vector_of, spans, span, rule)


@dataclass(slots=True)
class _Cluster:
    """A cluster's candidates as read (``_CANDIDATES`` rows) and each article's shortlist:
    positions among the candidates, best first."""

    cand_ids: Any
    stories: dict[int, int]
    matrix: Vectors
    shortlists: list[tuple[int, Any]]

    def ids_of(self, picks: Any) -> list[int]:
        return [int(k) for k in self.cand_ids[picks]]


def _candidates(
    conn: Conn,
    cluster: list[int],
    info: dict[int, tuple[Any, ...]],
    vector_of: dict[int, Vectors],
    mine_rows: dict[int, tuple[Any, ...]],
    span: int,
    rule: StoryRule,
    index: VectorIndex | None,
    first_id: int,
) -> _Cluster | None:
    """Read a cluster's candidates and shortlist the nearest by cosine for each article."""
    lo = info[cluster[0]][0] - span
    hi = info[cluster[-1]][0] + span
    mine = np.stack([vector_of[i] for i in cluster])
    # The index pays off where the window is big for the batch: one search and NEIGHBOURS
    # rows an article, against reading the whole window once for the batch. (Clusters are
    # more than a window apart: of an unstored batch, only this cluster is in its window.)
    busy = max(EXACT_WINDOW, ANN_RATIO * len(cluster))
    unstored = len(cluster) if mine_rows else 0
    near: list[list[int]] | None = None
    if index is not None and _window_count(conn, lo, hi, busy) + unstored > busy:
        # Built here if it was not worth keeping above: the search needs it.
        index.catch_up(conn, below=first_id)
        near = index.nearest(mine, NEIGHBOURS)
        wanted = sorted({k for keys in near for k in keys} | set(cluster))
        found = in_chunks(conn, _CANDIDATES + " WHERE a.id IN ({})", wanted)
        # Read by id, the batch's (the newest ids) last.
        found += [mine_rows[i] for i in cluster if i in mine_rows]
    else:
        found = conn.execute(
            _CANDIDATES + " WHERE a.published_at BETWEEN ? AND ?", (lo, hi)
        ).fetchall()
        if mine_rows:
            # In the order of the index the store reads the window by (published_at,
            # story_id; migration 0015): a stable sort of rows in that order already.
            found = sorted(
                [*found, *(mine_rows[i] for i in cluster)],
                key=lambda r: (r[2], r[1] or r[0]),
            )
    if not found:
        return None
    cand_ids = np.fromiter((r[0] for r in found), dtype=np.int64, count=len(found))
    cand_when = np.fromiter((r[2] for r in found), dtype=np.int64, count=len(found))
    stories = {r[0]: r[1] or r[0] for r in found}
    matrix = decode([r[3] for r in found])
    if near is None:
        whens = np.fromiter((info[i][0] for i in cluster), dtype=np.int64, count=len(cluster))
    else:
        at = {int(k): n for n, k in enumerate(cand_ids)}
        batch = {at[i] for i in cluster if i in at}
    floor = rule.threshold - rule.word_weight  # the word share adds at most word_weight
    shortlists: list[tuple[int, Any]] = []
    for row, article_id in enumerate(cluster):
        if near is None:
            if row % BLOCK == 0:
                # The cluster is in time order and an article's candidates lie within the
                # window of its own time: BLOCK neighbours share a band of candidates, one
                # product each (a batch spread over weeks: ~1/7 of the batch by the whole
                # window's multiply-adds, and each row's checks over its band only).
                # Candidates keep their order: a row sees what it saw before, less what its
                # time check dropped.
                lo_b, hi_b = whens[row] - span, whens[min(row + BLOCK, len(cluster)) - 1] + span
                band = np.flatnonzero((cand_when >= lo_b) & (cand_when <= hi_b))
                band_cos = mine[row : row + BLOCK] @ matrix[band].T
            places, cos = band, band_cos[row % BLOCK]
        else:  # its own neighbours and the batch's articles: each a row of `found`
            places = np.fromiter(sorted({at[k] for k in near[row] if k in at} | batch), np.int64)
            cos = matrix[places] @ mine[row]
        when = info[article_id][0]
        ok = (cand_ids[places] < article_id) & (np.abs(cand_when[places] - when) <= span)
        ok &= cos >= floor
        picks = np.flatnonzero(ok)
        if not len(picks):
            continue
        shortlists.append((article_id, places[picks[np.argsort(-cos[picks])[:SHORTLIST]]]))
    return _Cluster(cand_ids, stories, matrix, shortlists)


def _decide(
    order: list[int],
    plans: list[_Cluster],
    info: dict[int, tuple[Any, ...]],
    known_words: dict[int, Words],
    vector_of: dict[int, Vectors],
    spans: dict[int, tuple[int, int]],
    span: int,
    rule: StoryRule,
) -> Iterator[tuple[int, int]]:
    """Compare each shortlisted pair word by word and place each article (no statement)."""
    listed = {article_id for plan in plans for article_id, _ in plan.shortlists}
    for article_id in order:
        if article_id not in listed:
            yield article_id, article_id  # no candidate: its own story
    joined: dict[int, int] = {}
    items: dict[int, StoryItem] = {}

    def item(article_id: int, vector: Vectors) -> StoryItem:
        if article_id not in items:
            when, title, summary = info[article_id]
            words = known_words.get(article_id) or story_words(title, summary)
            items[article_id] = StoryItem(vector, utc_from_seconds(when), *words)
        return items[article_id]

    for plan in plans:
        for article_id, picks in plan.shortlists:
            me = item(article_id, vector_of[article_id])
            when = info[article_id][0]
            scored = []
            for n, p in enumerate(picks):
                other = int(plan.cand_ids[p])
                if other not in info:
                    continue  # gone from the store since its window was read
                score = story_score(me, item(other, plan.matrix[p]), rule)
                if score >= rule.threshold:
                    scored.append((score, n, joined.get(other, plan.stories[other])))
            # The best match whose story, with this article, still fits in one window: a run of
            # near-identical daily reports (rates, weather) would otherwise chain into one story
            # spanning months. Equal scores: the later shortlisted, as before the bound.
            story = article_id
            for _, _, candidate in sorted(scored, reverse=True):
                first, last = spans.get(candidate, (when, when))
                if max(last, when) - min(first, when) <= span:
                    story = joined[article_id] = candidate
                    spans[candidate] = (min(first, when), max(last, when))
                    break
            yield article_id, story


def _as_rows(reports: Sequence[Report], vectors: Vectors) -> dict[int, tuple[Any, ...]]:
    """Unstored reports as ``_CANDIDATES`` rows: (id, story_id, published_at, vector as
    stored)."""
    packed = vectors.astype("<f2")
    return {
        r.id: (r.id, r.id, r.published_at, v.tobytes())
        for r, v in zip(reports, packed, strict=True)
    }


_CANDIDATES = (
    "SELECT a.id, a.story_id, a.published_at, v.vector FROM articles a"
    " JOIN article_vectors v ON v.article_id = a.id"
)


def _read_spans(conn: Conn, spans: dict[int, tuple[int, int]], stories: set[int]) -> None:
    """Add to ``spans`` the first and last published_at of each of ``stories`` not in it yet.

    Read on the (story_id, published_at) index; a story spans at most one window, so each
    story's range of the index is short. ``spans`` also holds what this call's joins changed.
    """
    wanted = sorted(stories - spans.keys())
    for story, first, last in in_chunks(
        conn,
        "SELECT story_id, min(published_at), max(published_at) FROM articles"
        " WHERE story_id IN ({}) GROUP BY story_id",
        wanted,
    ):
        spans[story] = (first, last)


def _window_count(conn: Conn, lo: int, hi: int, limit: int) -> int:
    # Counted on the published_at index; stops counting past the limit.
    row = conn.execute(
        "SELECT count(*) FROM"
        " (SELECT 1 FROM articles WHERE published_at BETWEEN ? AND ? LIMIT ?) AS nearby",
        (lo, hi, limit + 1),
    ).fetchone()
    return int(row[0])


def _clusters(order: Sequence[int], times: Sequence[int], span: int) -> list[list[int]]:
    """Split ids sorted by time where two neighbours are more than ``span`` apart."""
    out: list[list[int]] = []
    last = None
    for article_id, when in zip(order, times, strict=True):
        if last is None or when - last > span:
            out.append([])
        out[-1].append(article_id)
        last = when
    return out


class ArticleVectors:
    """The stored vectors: what ``newsbot reindex`` still has to compute, and computing it."""

    def __init__(self, db: Database, *, index: VectorIndex | None = None) -> None:
        self._db = db
        self._index = index

    async def missing(self) -> int:
        def work(conn: Conn) -> int:
            row = conn.execute(
                "SELECT (SELECT count(*) FROM articles) - (SELECT count(*) FROM article_vectors)"
            ).fetchone()
            return int(row[0])

        return await self._db.read(work)

    async def fill_missing(
        self,
        meaning: Meaning,
        *,
        batch_size: int = 1000,
        progress: Callable[[int], object] | None = None,
    ) -> int:
        """Embed every article that has no vector, oldest first, one transaction per batch.

        Each batch's articles also join their stories, as at import (candidates: the articles
        that already have vectors). Stopped at any point, the batches done stay done and the
        next run starts with the first article still without a vector.
        """

        def todo(conn: Conn, after: int) -> list[tuple[int, str, str, str]]:
            return conn.execute(
                "SELECT a.id, a.title, a.summary, a.body FROM articles a"
                " WHERE a.id > ? AND NOT EXISTS"
                " (SELECT 1 FROM article_vectors v WHERE v.article_id = a.id)"
                " ORDER BY a.id LIMIT ?",
                (after, batch_size),
            ).fetchall()

        def embed(rows: list[tuple[int, str, str, str]]) -> asyncio.Future[Vectors]:
            return asyncio.ensure_future(meaning.embed_articles([r[1:] for r in rows]))

        # The next batch is read and embedded while this one is written: with an embedding
        # process (Meaning.embedding) that runs on another core.
        done = 0
        rows = await self._db.read(partial(todo, after=0))
        embedding = embed(rows) if rows else None
        try:
            while embedding is not None:
                ids = [r[0] for r in rows]
                vectors = await embedding
                rows = await self._db.read(partial(todo, after=ids[-1]))
                embedding = embed(rows) if rows else None
                await self._db.write(
                    partial(_fill, ids=ids, vectors=vectors, meaning=meaning, index=self._index)
                )
                if self._index is not None and self._index.opened:
                    # Old articles' ids are below the index's newest: catch_up would not see
                    # them.
                    keys = np.asarray(ids, dtype=np.int64)
                    await asyncio.to_thread(self._index.add, keys, vectors)
                done += len(ids)
                if progress is not None:
                    progress(len(ids))
        finally:
            if embedding is not None and not embedding.done():
                embedding.cancel()
        return done


def _fill(
    conn: Conn,
    ids: list[int],
    vectors: Vectors,
    meaning: Meaning,
    index: VectorIndex | None,
) -> None:
    """Store vectors computed by reindex; articles never grouped join their stories."""
    store_vectors(conn, ids, vectors, replace=False)
    marks = ",".join("?" * len(ids))
    ungrouped = {
        r[0]
        for r in conn.execute(
            f"SELECT id FROM articles WHERE id IN ({marks}) AND story_id = id", ids
        )
    }
    keep = [k for k, i in enumerate(ids) if i in ungrouped]
    assign_stories(
        conn,
        [ids[k] for k in keep],
        vectors[keep],
        window=meaning.window,
        rule=meaning.rule,
        index=index,
    )
