"""/latest (one row per story) with one big story, through the storage API.

    python bench/stories.py STORE [--count 200000] [--story 10000] [--queries 200]

STORE is an SQLite file; made with ``--count`` synthetic articles (bench/synthetic.py) if it
does not exist. Its newest ``--story`` articles are then filed under one story (the story id
of their oldest), as a big event's reports are, and ``latest_stories`` is timed: the first
page, later pages and a topic's first page.
"""

from __future__ import annotations

import argparse
import asyncio
import random
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from store import figures
from synthetic import SECTIONS, fill

from semantic import one_blas_thread
from storage import Store
from storage.db import Conn


def one_story(conn: Conn, size: int) -> int:
    ids = [
        r[0]
        for r in conn.execute(
            "SELECT id FROM articles ORDER BY published_at DESC, id DESC LIMIT ?", (size,)
        )
    ]
    story = min(ids)
    conn.executemany("UPDATE articles SET story_id = ? WHERE id = ?", [(story, i) for i in ids])
    return story


async def bench(path: Path, count: int, size: int, queries: int, *, fresh: bool) -> None:
    store = await Store.open(path)
    try:
        if fresh:
            started = time.perf_counter()
            await fill(store, count, seed=0)
            print(f"filled {count:,} articles in {time.perf_counter() - started:.0f} s")
        story = await store.db.write(lambda conn: one_story(conn, size))
        print(f"store: {path}, {await store.articles.count():,} articles; story {story}: {size:,}")
        rng = random.Random(1)

        async def timed(**kwargs: object) -> float:
            started = time.perf_counter()
            await store.articles.latest_stories(**kwargs)  # type: ignore[arg-type]
            return time.perf_counter() - started

        rows = await store.articles.latest_stories(limit=5)
        print("first page:", [(a.id, n) for a, n in rows])
        first = [await timed(limit=5) for _ in range(queries)]
        paged = [await timed(limit=5, offset=rng.randrange(0, 200)) for _ in range(queries)]
        topic = [await timed(topic=rng.choice(SECTIONS), limit=5) for _ in range(queries)]
    finally:
        await store.close()
    print(figures("latest_stories", first))
    print(figures("later pages", paged))
    print(figures("of a topic", topic))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("store", type=Path)
    parser.add_argument("--count", type=int, default=200_000)
    parser.add_argument("--story", type=int, default=10_000)
    parser.add_argument("--queries", type=int, default=200)
    args = parser.parse_args()
    one_blas_thread()  # as newsbot itself runs
    fresh = not args.store.exists()
    asyncio.run(bench(args.store, args.count, args.story, args.queries, fresh=fresh))


if __name__ == "__main__":
    main()
