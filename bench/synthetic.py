"""Fill a store with many realistic-ish synthetic articles, fast, for benchmarks.

The text is made of pseudo-words, but shaped like news where it matters to an index: English
stop words and a Zipf-distributed general vocabulary (so some doclists are huge and most are
tiny), a vocabulary per section and names per story (so related articles exist and share rare
words), titles of 6-10 words, a summary sentence and a 120-450 word body, publication times
spread over two years in import order, topic tags, and a publisher's "related" box pointing at
earlier articles of the same story.

Usage::

    python bench/synthetic.py /tmp/200k.db 200000 [--seed 0]

From code: ``await fill(store, n, seed=0)``. Re-running with the same seed on the same store
changes nothing (articles are keyed by guid ``synthetic:<seed>:<i>``); another seed adds more.
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import random
import sys
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from storage import NewArticle, RelatedEntry, Store, Topic

_STOP_WORDS = (
    "the of and to a in is that for it was on with as he said by at from his be an have are"
    " has but not this were they which had been their will its who or one would after also new"
    " more than we there she her up about two over into year first out last all can people so"
    " other when some them time could no i government may just only such him what most between"
    " three years if against before because under our while where these any since"
)
STOP_WORDS = _STOP_WORDS.split()

SECTIONS = (
    "politics",
    "business",
    "sport",
    "technology",
    "science",
    "health",
    "culture",
    "world",
    "climate",
    "education",
)

_ONSETS = (*"bcdfghjklmnprstvwz", "br", "ch", "cl", "dr", "fl", "gr", "kr", "pl", "pr", "sh", "st")
_ONSETS += ("th", "tr")
_VOWELS = ("a", "e", "i", "o", "u", "ai", "ea", "ie", "oo", "ou")
_CODAS = ["", "", "", "n", "r", "s", "l", "m", "t", "nd", "st", "rk"]

BATCH = 5_000
GENERAL_WORDS = 40_000
SECTION_WORDS = 400
STORIES_PER_SECTION = 800
STORY_WORDS = 12
SPAN = timedelta(days=730)


class Vocabulary:
    """All the words of one seed, with the draws that make articles out of them."""

    def __init__(self, rng: random.Random) -> None:
        words = _pseudo_words(rng, GENERAL_WORDS + len(SECTIONS) * SECTION_WORDS + 60_000)
        general = STOP_WORDS + words[:GENERAL_WORDS]
        # Zipf with s ~= 1: the stop words come first, so they are the commonest as in English.
        weights = [1.0 / (rank + 8) for rank in range(len(general))]
        self.general = general
        self.general_cum = list(itertools.accumulate(weights))
        rest = words[GENERAL_WORDS:]
        self.section_words = [
            rest[i * SECTION_WORDS : (i + 1) * SECTION_WORDS] for i in range(len(SECTIONS))
        ]
        section_weights = [1.0 / (rank + 3) for rank in range(SECTION_WORDS)]
        self.section_cum = list(itertools.accumulate(section_weights))
        self.names = rest[len(SECTIONS) * SECTION_WORDS :]

    def story_words(self, section: int, story: int) -> list[str]:
        # Deterministic per story, so every article of a story shares its names.
        index = (section * STORIES_PER_SECTION + story) * 7
        return [self.names[(index + k * 7919) % len(self.names)] for k in range(STORY_WORDS)]

    def draw(self, rng: random.Random, section: int, story: list[str], n: int) -> list[str]:
        out = rng.choices(self.general, cum_weights=self.general_cum, k=n)
        # Every fourth word from the section, every tenth a story name: enough signal to find
        # relatives, with general words still dominating the text as in real articles. Word
        # order means nothing to a bag-of-words index, so fixed strides do instead of shuffling.
        out[1::4] = rng.choices(
            self.section_words[section], cum_weights=self.section_cum, k=len(range(1, n, 4))
        )
        out[2::10] = rng.choices(story, k=len(range(2, n, 10)))
        return out


def _pseudo_words(rng: random.Random, count: int) -> list[str]:
    seen: set[str] = set(STOP_WORDS)
    words: list[str] = []
    while len(words) < count:
        syllables = rng.choice((1, 2, 2, 2, 3, 3, 4))
        word = "".join(
            rng.choice(_ONSETS) + rng.choice(_VOWELS) for _ in range(syllables)
        ) + rng.choice(_CODAS)
        if word not in seen:
            seen.add(word)
            words.append(word)
    return words


def articles(n: int, *, seed: int = 0) -> Iterator[NewArticle]:
    """The first ``n`` articles of seed ``seed``, oldest first."""
    vocab = Vocabulary(random.Random(f"vocab:{seed}"))
    end = datetime(2026, 1, 1, tzinfo=UTC)
    begin = end - SPAN
    step = SPAN / max(n, 1)
    # The last headline of each story, for the publisher's related box of the next one.
    recent: dict[tuple[int, int], list[str]] = {}
    for i in range(n):
        rng = random.Random(f"{seed}:{i}")
        section = rng.randrange(len(SECTIONS))
        story_no = min(int(rng.expovariate(1 / 60)), STORIES_PER_SECTION - 1)
        story = vocab.story_words(section, story_no)
        title = " ".join(vocab.draw(rng, section, story, rng.randint(6, 10))).capitalize()
        summary = " ".join(vocab.draw(rng, section, story, rng.randint(15, 35)))
        body_words = vocab.draw(rng, section, story, rng.randint(120, 450))
        paragraphs = [" ".join(body_words[j : j + 60]) for j in range(0, len(body_words), 60)]
        key = (section, story_no)
        earlier = recent.setdefault(key, [])
        related = tuple(RelatedEntry(t, SECTIONS[section]) for t in reversed(earlier[-3:]))
        earlier.append(title)
        if len(earlier) > 3:
            del earlier[0]
        topics = (SECTIONS[section],) if rng.random() < 0.8 else ()
        yield NewArticle(
            title=title,
            guid=f"synthetic:{seed}:{i}",
            url=f"https://news.example/{SECTIONS[section]}/{seed}-{i}",
            summary=summary.capitalize() + ".",
            body=".\n\n".join(p.capitalize() for p in paragraphs) + ".",
            published_at=begin + step * i,
            publisher="Synthetic News",
            category=SECTIONS[section],
            language="en",
            related=related,
            topics=topics,
        )


async def fill(store: Store, n: int, *, seed: int = 0, progress: bool = False) -> int:
    """Write ``n`` synthetic articles in batches of 5,000; return how many were inserted."""
    existing = {t.slug: t for t in await store.articles.topics()}
    for slug in SECTIONS:
        existing.setdefault(slug, Topic(slug, slug.capitalize()))
    await store.articles.sync_topics(existing.values())
    inserted = 0
    started = time.perf_counter()
    stream = articles(n, seed=seed)
    # Generating is ~0.1 ms an article and storing ~0.3 ms. Overlapping the two in threads
    # was slower: the writer thread waits for the GIL after every statement (convoy effect).
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
    parser.add_argument("path", type=Path, help="SQLite file to fill (created if missing)")
    parser.add_argument("n", type=int, help="how many articles")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    asyncio.run(_main(args.path, args.n, args.seed))


if __name__ == "__main__":
    main()
