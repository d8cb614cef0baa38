"""Owing one article to the chats that follow (and not to those that mute) its words, at scale.

100,000 chats each follow 5 words or phrases drawn from a 2,000-term vocabulary with Zipf-like
popularity (so a common word has thousands of followers), one chat in ten also mutes a word,
and half the chats subscribe to the article's topic. Each figure is the time of
``Deliveries.fan_out`` for one new article in a real store file: tokenise the article once,
look its words up in chat_words by index, check phrases, and insert the owed rows in one
statement that leaves muters out.

    .venv/bin/python bench/words.py              # 100,000 chats, 5 articles
    .venv/bin/python bench/words.py --chats 10000 --articles 3
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import random
import statistics
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from core.matching import key_of
from storage import NewArticle, Store, Topic

FIRST_ID = 10_000_000
VOCABULARY = 2_000
WORDS_PER_CHAT = 5


def term(n: int) -> str:
    return f"term{n}"


def pick_words(rng: random.Random, cumulative: list[float]) -> list[str]:
    chosen: set[str] = set()
    while len(chosen) < WORDS_PER_CHAT:
        [a] = rng.choices(range(VOCABULARY), cum_weights=cumulative)
        if rng.random() < 0.1:  # a two-word phrase
            chosen.add(f"{term(a)} {term(rng.randrange(VOCABULARY))}")
        else:
            chosen.add(term(a))
    return sorted(chosen)


async def prepare(path: Path, chats: int, rng: random.Random) -> tuple[Store, int]:
    store = await Store.open(path)
    await store.articles.sync_topics([Topic("economy", "Economy")])
    now = int(time.time())
    cumulative = list(itertools.accumulate(1 / (rank + 1) for rank in range(VOCABULARY)))
    rows: list[tuple[int, str, str | None, str, int]] = []
    for i in range(chats):
        chat = FIRST_ID + i
        rows += [(chat, w, key_of(w), "follow", now) for w in pick_words(rng, cumulative)]
        if i % 10 == 0:
            rows.append((chat, term(VOCABULARY + i % 50), term(VOCABULARY + i % 50), "mute", now))

    def work(conn: Any) -> None:
        conn.executemany(
            "INSERT INTO chats (id, type, created_at, updated_at) VALUES (?, 'private', ?, ?)",
            [(FIRST_ID + i, now, now) for i in range(chats)],
        )
        conn.executemany(
            "INSERT INTO subscriptions (chat_id, topic, created_at) VALUES (?, 'economy', ?)",
            [(FIRST_ID + i, now) for i in range(0, chats, 2)],
        )
        conn.executemany(
            "INSERT OR IGNORE INTO chat_words (chat_id, word, first, kind, created_at)"
            " VALUES (?, ?, ?, ?, ?)",
            rows,
        )

    await store.db.write(work)
    return store, len(rows)


def article_body(rng: random.Random, n: int) -> str:
    """About 600 words: filler, common and rare vocabulary, and a muted word now and then."""
    words = [rng.choice(("the", "said", "markets", "on", "and", "rates")) for _ in range(450)]
    words += [term(int(rng.paretovariate(1.0)) % VOCABULARY) for _ in range(100)]
    words += [term(rng.randrange(VOCABULARY)) for _ in range(50)]
    words.append(term(VOCABULARY + n % 50))
    rng.shuffle(words)
    return " ".join(words) + "."


async def run(chats: int, articles: int) -> None:
    rng = random.Random(11)
    with tempfile.TemporaryDirectory() as folder:
        started = time.perf_counter()
        store, word_rows = await prepare(Path(folder) / "news.db", chats, rng)
        took = time.perf_counter() - started
        print(f"store: {chats:,} chats, {word_rows:,} chat words ({took:.1f} s)")
        timings: list[float] = []
        owed: list[int] = []
        try:
            for n in range(articles):
                [outcome] = await store.articles.upsert_many(
                    [
                        NewArticle(
                            title=f"Bench article {n} {term(n)}",
                            guid=f"words-bench-{n}",
                            body=article_body(rng, n),
                            category="Economy news",
                            topics=("economy",) if n % 2 == 0 else (),
                            published_at=datetime.now(UTC),
                        )
                    ]
                )
                begin = time.perf_counter()
                added = await store.deliveries.fan_out([outcome.article_id], int(time.time()))
                timings.append(time.perf_counter() - begin)
                owed.append(added)
                topic = "topic + words" if n % 2 == 0 else "words only"
                print(
                    f"article {n} ({topic}): owed to {added:,} chats in {timings[-1] * 1000:.0f} ms"
                )
        finally:
            await store.close()
    print(
        f"fan_out of one article: median {statistics.median(timings) * 1000:.0f} ms,"
        f" max {max(timings) * 1000:.0f} ms; chats owed median {statistics.median(owed):,.0f}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--chats", type=int, default=100_000)
    parser.add_argument("--articles", type=int, default=5)
    args = parser.parse_args()
    asyncio.run(run(args.chats, args.articles))


if __name__ == "__main__":
    main()
