"""Related news: the publisher's box first, then articles like this one by content.

The article's salient terms (tf-idf over its text, a title word counted twice, stop words and
numbers dropped) are OR-ed into one FTS5 query ranked by bm25; the best 40 candidates are then
reranked in Python by the cosine of sqrt(tf)-idf vectors of the whole texts, times a recency
factor (closer publication times score higher) and a shared-topic boost. Where the store has
embeddings, the nearest by meaning are candidates too, the score blends the cosine of the
embeddings with the word score, and the best candidates' embeddings lend support to those
alike to them (``RelatedTuning.feedback``). The list never holds the article itself or a
duplicate (same guid or url, same content, or the same headline).

Plain functions over one ``Conn`` (either backend): ``SearchEngine`` runs each call in one hop.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from semantic import Vectors
from storage import fts
from storage.ann import VectorIndex
from storage.articles import load_articles
from storage.chunks import in_chunks
from storage.db import POSTGRESQL, Conn
from storage.meaning import decode
from storage.models import Article
from storage.term_stats import TermCounts

__all__ = ["STOP_WORDS", "RelatedTuning", "normalise_title", "related", "similarity"]

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
    "{0}, ' ', ''), {1}(9), ''), {1}(10), ''), {1}(13), ''), {1}(160), ''))"
)


def _title_key(conn: Conn, column: str) -> str:
    # The same expression on PostgreSQL, whose function is chr where SQLite's is char.
    return _TITLE_KEY.format(column, "chr" if conn.dialect == POSTGRESQL else "char")


_DAY = 86_400.0
_FEW = 50


@dataclass(frozen=True, slots=True)
class RelatedTuning:
    # Defaults tuned on the BBC News set (bench/quality.py --sweep); P@5 moved by at most
    # +-0.004 around them, so they are not fragile.
    terms: int = 30  # salient terms OR-ed into the candidate query
    title_weight: float = 2.0  # a title word counts as this many body words
    summary_weight: float = 1.0
    candidates: int = 40  # best bm25 matches that are reranked (each costs ~0.2 ms of Python)
    # Also reranked: this many nearest by meaning (storage/ann.py), where the store has
    # vectors. They find the paraphrase that shares no salient word; on BBC full text they
    # lift P@5 (measured in docs/benchmarks.md, issue 10). 0: word candidates only.
    meaning_candidates: int = 40
    # Of the union of both kinds of candidates, only this many go through the word rerank
    # (its Python costs ~0.2 ms each): those nearest the source by the cosine of the stored
    # vectors, one matrix product over the union. Candidates with no vector always stay.
    # 0: all of them. Measured in docs/benchmarks.md, issue 10 ("Speed and memory").
    reranked: int = 30
    fts_weights: tuple[float, float, float] = (2.0, 1.0, 1.0)
    # Terms in more than this share of the store say little and cost a long doclist.
    max_doc_share: float = 0.2
    # At most this many doclist entries across the query's terms: FTS5 scores every document
    # that matches any term, ~1 us each with 30 terms: this bounds the query at any store
    # size. At 1,000,000 the query was a third of related's time: 12,000 gave p95 40.7 ms,
    # 6,000 p95 27.6 ms (same load, docs/benchmarks.md, issue 10). On real vocabulary at
    # 1,000,000 the query was 44 % of the call again at 6,000; 3,000 left 96 % of the top 5 as
    # they were (as many of the same story) and BBC P@5 unchanged (0.943).
    posting_budget: int = 3_000
    # Recency: the content score is multiplied by floor + (1 - floor) * 0.5 ** (days / half_life)
    # where days is the gap between the two publication times.
    half_life_days: float = 7.0
    recency_floor: float = 0.75
    # Shared topics: multiplied by 1 + boost * (share of the source's topics the candidate has).
    topic_boost: float = 0.2
    # False keeps FTS5's bm25 order (the plain baseline), for benchmarks.
    rerank: bool = True
    # Meaning: where the source and a candidate both have vectors (storage.meaning), the score
    # is this share of the cosine of their embeddings plus the rest of the word score above.
    # The embedding sees "Baku and Rome agree on TAP gas" and "Italy to get more Azerbaijani
    # gas" as alike; the word score keeps names and recency in. 0: words only.
    meaning_share: float = 0.7
    # Feedback from the best candidates (pseudo-relevance feedback over the embeddings): each
    # candidate with a vector gains ``feedback`` x its cosine with the mean of the
    # ``feedback_depth`` best candidates' vectors (weighted by their blended score, itself left
    # out). A candidate alike to what ranks best is more likely on the source's subject than
    # one alike to the source alone in some stray words. One small matrix product over vectors
    # already read. BBC full text P@5 0.943 -> 0.952 (chosen on the even ids: 0.954, odd ids
    # 0.950); docs/benchmarks.md, issue 10. 0: off.
    feedback: float = 1.0
    feedback_depth: int = 20
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


def related(
    conn: Conn,
    article_id: int,
    limit: int,
    tuning: RelatedTuning,
    stats: TermCounts,
    index: VectorIndex | None = None,
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
        for doc, score in _content_ranked(conn, source, tuning, stats, index):
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


def _publisher_related(conn: Conn, source: _Doc) -> list[_Doc]:
    """The stored articles the publisher's box names, in its order (newest if a title repeats)."""
    rows = conn.execute(
        "SELECT r.position, r.title, a.id, a.title FROM related_entries r"
        f" JOIN articles a ON {_title_key(conn, 'a.title')} = {_title_key(conn, 'r.title')}"
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
    conn: Conn,
    source: _Doc,
    tuning: RelatedTuning,
    stats: TermCounts,
    index: VectorIndex | None,
) -> list[tuple[_Doc, float]]:
    profile = _profile(conn, source, tuning, stats)
    ids: list[int] = []
    expression = fts.or_query(profile.query, max_terms=max(tuning.terms, 1))
    if expression is not None and conn.dialect == POSTGRESQL:
        ids = _word_candidates_pg(conn, profile, tuning.candidates + 1)
    elif expression is not None:
        rows = conn.execute(
            "SELECT rowid FROM articles_fts WHERE articles_fts MATCH ?"
            " ORDER BY bm25(articles_fts, ?, ?, ?) LIMIT ?",
            (expression, *tuning.fts_weights, tuning.candidates + 1),
        ).fetchall()
        ids = [int(r[0]) for r in rows]
    if tuning.rerank and tuning.meaning_share and tuning.meaning_candidates and index is not None:
        ids += _nearest_by_meaning(conn, source.id, tuning.meaning_candidates, index)
    ids = [i for i in dict.fromkeys(ids) if i != source.id]
    embedded = _embedded(conn, source.id, ids) if tuning.rerank and tuning.meaning_share else None
    if embedded is not None and 0 < tuning.reranked < len(ids):
        cosines = embedded.cosines
        nearest = sorted(cosines, key=lambda i: (-cosines[i], -i))[: tuning.reranked]
        kept = set(nearest) | {i for i in ids if i not in cosines}
        ids = [i for i in ids if i in kept]
    docs = _load_docs(conn, ids)
    candidates = [docs[i] for i in ids if i in docs]
    if not tuning.rerank:
        return [(doc, float(len(candidates) - n)) for n, doc in enumerate(candidates)]
    scores = _with_meaning(
        candidates, _scores(conn, profile, candidates, tuning, stats), tuning, embedded
    )
    ranked = sorted(zip(candidates, scores, strict=True), key=lambda p: (-p[1], -p[0].id))
    return [(doc, score) for doc, score in ranked if score > 0]


def _word_candidates_pg(conn: Conn, profile: _Profile, count: int) -> list[int]:
    """PostgreSQL's best ``count`` articles sharing the query's terms, by the sum of the
    source's weights of the terms they share (the numerator of the cosine ``_scores`` ranks by,
    with each shared term counted once).

    Not ``ts_rank`` over the OR query: it reads every match's whole ``tsvector`` (kept out of
    line, ~4 kB each), 0.3-1.2 s a call at 120,000 articles. Here each term is one look-up in
    the full-text index and the article's id is all that is read of a match, from the narrow
    article_search table (0016), whose heap stays in memory (docs/benchmarks.md, "Reading a big
    PostgreSQL store"). Each term goes as a quoted tsquery literal, never as syntax."""
    terms = list(profile.query)
    queries = [fts.and_query([t], tsquery=True) or "''" for t in terms]
    # OFFSET 0 keeps the look-up per term: flattened into a join, with 30 terms the planner
    # chose to scan the whole table and test each article against each term (7 s at 90,000).
    rows = conn.execute(
        "SELECT m.id FROM unnest(?::text[], ?::float8[]) AS t(q, w),"
        " LATERAL (SELECT article_id AS id FROM article_search WHERE search @@ t.q::tsquery"
        " OFFSET 0) m GROUP BY m.id ORDER BY sum(t.w) DESC, m.id DESC LIMIT ?",
        (queries, [profile.vector.get(t, 0.0) for t in terms], count),
    ).fetchall()
    return [int(r[0]) for r in rows]


def _nearest_by_meaning(conn: Conn, article_id: int, count: int, index: VectorIndex) -> list[int]:
    """The ids of the ``count`` articles nearest ``article_id`` by meaning (none if no vector)."""
    row = conn.execute(
        "SELECT vector FROM article_vectors WHERE article_id = ?", (article_id,)
    ).fetchone()
    if row is None:
        return []
    index.catch_up(conn)
    return index.nearest(decode([row[0]]), count + 1)[0]


def similarity(
    conn: Conn,
    article_id: int,
    candidate_ids: list[int],
    tuning: RelatedTuning,
    stats: TermCounts,
) -> dict[int, float]:
    source = _load_docs(conn, [article_id]).get(article_id)
    if source is None:
        return {}
    profile = _profile(conn, source, tuning, stats)
    docs = _load_docs(conn, candidate_ids)
    candidates = [docs[i] for i in candidate_ids if i in docs]
    ids = [d.id for d in candidates]
    embedded = _embedded(conn, source.id, ids) if tuning.meaning_share else None
    scores = _with_meaning(
        candidates, _scores(conn, profile, candidates, tuning, stats), tuning, embedded
    )
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


def _profile(conn: Conn, source: _Doc, tuning: RelatedTuning, stats: TermCounts) -> _Profile:
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
    conn: Conn,
    profile: _Profile,
    docs: Sequence[_Doc],
    tuning: RelatedTuning,
    stats: TermCounts,
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


@dataclass(frozen=True, slots=True)
class _Embedded:
    """The stored embeddings of the candidates that have one, and their cosines with the
    source's."""

    rows: dict[int, int]  # candidate id -> its row in ``vectors``
    vectors: Vectors
    cosines: dict[int, float]


def _embedded(conn: Conn, source_id: int, ids: Sequence[int]) -> _Embedded | None:
    """The candidates' stored embeddings; None when the source has none."""
    if not ids:
        return None
    stored = dict(
        in_chunks(
            conn,
            "SELECT article_id, vector FROM article_vectors WHERE article_id IN ({})",
            [source_id, *ids],
        )
    )
    mine = stored.pop(source_id, None)
    if mine is None:
        return None
    known = list(stored)
    vectors = decode([stored[i] for i in known])
    products = vectors @ decode([mine])[0]
    return _Embedded(
        {i: row for row, i in enumerate(known)},
        vectors,
        {i: float(c) for i, c in zip(known, products, strict=True)},
    )


def _with_meaning(
    docs: Sequence[_Doc],
    scores: list[float],
    tuning: RelatedTuning,
    embedded: _Embedded | None,
) -> list[float]:
    """The word scores blended with the cosine of the embeddings, where both have one, plus
    the feedback of the best candidates (``RelatedTuning.feedback``)."""
    share = tuning.meaning_share
    if not share or embedded is None:
        return scores
    cosines = embedded.cosines
    blended = [
        share * cosines[d.id] + (1 - share) * score if d.id in cosines else score
        for d, score in zip(docs, scores, strict=True)
    ]
    return _with_feedback(docs, blended, tuning, embedded)


def _with_feedback(
    docs: Sequence[_Doc], scores: list[float], tuning: RelatedTuning, embedded: _Embedded
) -> list[float]:
    places = [k for k, d in enumerate(docs) if d.id in embedded.rows]
    if not tuning.feedback or tuning.feedback_depth <= 0 or len(places) < 2:
        return scores
    vectors = embedded.vectors[[embedded.rows[docs[k].id] for k in places]]
    base = np.array([scores[k] for k in places], dtype=np.float32)
    best = np.argsort(-base, kind="stable")[: tuning.feedback_depth]
    weights = np.maximum(base[best], 0.0)
    total = float(weights.sum())
    if total <= 0:
        return scores
    alike = vectors @ vectors[best].T  # each candidate's cosine with each of the best
    alike[best, np.arange(len(best))] = 0.0  # a candidate lends itself no support
    support = alike @ weights / total
    out = list(scores)
    for k, extra in zip(places, support.tolist(), strict=True):
        out[k] += tuning.feedback * extra
    return out


# --- loading ------------------------------------------------------------------------------


def _load_docs(conn: Conn, ids: Sequence[int]) -> dict[int, _Doc]:
    if not ids:
        return {}
    topics: dict[int, set[str]] = {}
    for article_id, topic in in_chunks(
        conn, "SELECT article_id, topic FROM article_topics WHERE article_id IN ({})", ids
    ):
        topics.setdefault(article_id, set()).add(topic)
    docs = {}
    for row in in_chunks(
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
