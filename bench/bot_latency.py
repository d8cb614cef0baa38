"""/latest and /related answered by a real ``newsbot run`` over a big store, timed at the double.

    python bench/bot_latency.py STORE [--asks N]
    python bench/bot_latency.py STORE --related-newest 50 [--asks 60]
    python bench/bot_latency.py STORE --only-related [--asks N]
    python bench/bot_latency.py STORE --search [--asks N]     # also /search, two title words

STORE is a store such as ``python bench/synthetic.py /tmp/1m.db 1000000`` makes (the bot
opens it as its own store). The Bot API double runs in its own process; each ask injects a
message into a long poll the bot is waiting in and measures until the bot's reply arrives,
both at the double. Asks go 20 a second, spread over 200 readers, inside Telegram's limits.

``--related-newest K`` times only ``/related`` for the newest K articles (round robin), on a
copy of STORE: first the first start of a bot on it (as right after ``newsbot import``, e.g.
a store made by ``python bench/store.py build``), then a restart on the same copy. STORE
itself is left as it was, so the first start can be measured again.
"""

from __future__ import annotations

import argparse
import asyncio
import random
import shutil
import sqlite3
import statistics
import tempfile
import time
from pathlib import Path

from delivery import FIRST_ID, Processes, http_json, rss_mb  # type: ignore[import-not-found]
from synthetic import SECTIONS  # type: ignore[import-not-found]

READERS = 200


def write_config(
    folder: Path, store: Path | str, base_url: str, token: str, level: str = "WARNING"
) -> Path:
    topics = "".join(
        f'[topics.{s}]\nname = "{s.title()}"\ncategories = ["{s}"]\n\n' for s in SECTIONS
    )
    # A PostgreSQL store's meaning index in the user's cache folder, as a bot keeps it.
    where = f'url = "{store}"' if isinstance(store, str) else f'path = "{store}"'
    path = folder / "config.toml"
    path.write_text(
        f'[telegram]\ntoken = "{token}"\napi_base_url = "{base_url}"\n\n'
        f'[storage]\n{where}\n\n{topics}[logging]\nlevel = "{level}"\n',
        encoding="utf-8",
    )
    return path


def store_size(store: Path | str) -> tuple[int, int, list[str]]:
    """The store's largest article id, its number of articles and 200 of its titles."""
    size = "SELECT max(id), count(*) FROM articles"
    # Every 1,000th article's title: the same sample on either backend.
    titles = "SELECT title FROM articles WHERE id % 1000 = 0 ORDER BY id LIMIT 200"
    if isinstance(store, str):
        import psycopg

        with psycopg.connect(store) as pg:
            row = pg.execute(size).fetchone()
            sample = [r[0] for r in pg.execute(titles)]
            # The double numbers updates from 1 at each start, Telegram never does: a poll
            # offset a bot committed on this store within the hour would skip every ask.
            pg.execute("DELETE FROM cluster_poll_offsets")
    else:
        with sqlite3.connect(store) as conn:
            row = conn.execute(size).fetchone()
            sample = [r[0] for r in conn.execute(titles)]
    assert row is not None
    return int(row[0]), int(row[1]), sample


async def run(
    store: Path | str, asks: int, only_related: bool = False, search: bool = False
) -> None:
    max_id, total, titles = store_size(store)
    rng = random.Random(3)
    procs = Processes()
    results: dict[str, list[float]] = {"/latest": [], "/latest <topic>": [], "/related ID": []}
    if search:  # two words of a stored title, as bench/store.py latency searches
        results["/search WORDS"] = []
    if only_related:
        results = {"/related ID": []}
    with tempfile.TemporaryDirectory() as folder:
        try:
            double = await procs.double(READERS, rate_limits=True)
            config = write_config(Path(folder), store, double["base_url"], double["token"])
            started = time.perf_counter()
            bot = await procs.bot(config, Path(folder) / "bot.log")
            # Start-up (open the store, load the model and the meaning index, start polling):
            # the first answer says it is done. Waited for, and reported, not timed as an ask.
            # Asked by the last reader: the first ask goes to FIRST_ID, and a reply to the same
            # private chat within the second would wait for Telegram's 1/s per chat (the
            # "first /latest takes 1 s" of earlier runs).
            await asyncio.to_thread(
                http_json,
                f"{double['control']}/ask",
                {"chat_id": FIRST_ID + READERS - 1, "text": "/help"},
            )
            ready = time.perf_counter() - started
            for n in range(asks):
                kind = list(results)[n % len(results)]
                if kind == "/search WORDS":
                    words = rng.choice([t.split() for t in titles if len(t.split()) > 1])
                    text = "/search " + " ".join(rng.sample(words, 2))
                else:
                    text = {
                        "/latest": "/latest",
                        "/latest <topic>": f"/latest {rng.choice(SECTIONS)}",
                        "/related ID": f"/related {rng.randrange(1, max_id)}",
                    }[kind]
                chat = FIRST_ID + n % READERS
                answer = await asyncio.to_thread(
                    http_json, f"{double['control']}/ask", {"chat_id": chat, "text": text}
                )
                results[kind].append(answer["ms"])
                await asyncio.sleep(0.05)  # pacing the load: 20 asks/s, under Telegram's 30/s
            stats = await asyncio.to_thread(http_json, f"{double['control']}/stats")
            rss, peak = rss_mb(bot.pid)
            anon, mapped = rss_parts(bot.pid)
        finally:
            await procs.stop()
    print(f"bot latency with {total:,} stored articles (update handed out -> reply received):")
    print(f"  start-up until the first answer: {ready:.1f} s")
    for kind, values in results.items():
        values.sort()
        p95 = values[int(len(values) * 0.95) - 1]
        print(
            f"  {kind:<16} p50 {statistics.median(values):6.1f} ms   p95 {p95:6.1f} ms"
            f"   max {max(values):6.1f} ms   (n={len(values)})"
        )
    print(f"  429s from the double: {stats['too_many_requests']}")
    print(f"  resident memory of newsbot run after the asks: {rss:.0f} MB (peak {peak:.0f} MB)")
    # The meaning index is memory-mapped: the pages searches touched count in RSS, but they are
    # page cache the kernel can drop (file-backed), not the process's own (anonymous) memory.
    print(f"    of which anonymous {anon:.0f} MB, file-backed {mapped:.0f} MB")


def rss_parts(pid: int) -> tuple[float, float]:
    """Resident memory of a process: its own (anonymous) and its mapped files' pages, in MB."""
    fields = dict(
        line.split(":", 1) for line in Path(f"/proc/{pid}/status").read_text().splitlines()
    )
    return tuple(  # type: ignore[return-value]
        int(fields[key].split()[0]) / 1024 for key in ("RssAnon", "RssFile")
    )


async def ask_related(store: Path, folder: Path, newest: int, asks: int) -> list[float]:
    """One ``newsbot run`` on ``store``: /related for the newest articles, reply times in ms."""
    with sqlite3.connect(store) as conn:
        ids = [
            r[0]
            for r in conn.execute("SELECT id FROM articles ORDER BY id DESC LIMIT ?", (newest,))
        ]
    procs = Processes()
    times: list[float] = []
    try:
        double = await procs.double(READERS, rate_limits=True)
        config = write_config(folder, store, double["base_url"], double["token"], "INFO")
        started = time.perf_counter()
        await procs.bot(config, folder / "bot.log")
        await asyncio.sleep(5)  # start-up: open the store, set commands, start polling
        for n in range(asks):
            answer = await asyncio.to_thread(
                http_json,
                f"{double['control']}/ask",
                {"chat_id": FIRST_ID + n % READERS, "text": f"/related {ids[n % len(ids)]}"},
            )
            times.append(answer["ms"])
            await asyncio.sleep(0.05)
        print(f"    ({time.perf_counter() - started:.0f} s from start to the last reply)")
    finally:
        await procs.stop()
    return times


def related_figures(name: str, values: list[float]) -> str:
    ordered = sorted(values)
    p95 = ordered[min(len(ordered) - 1, int(len(ordered) * 0.95))]
    return (
        f"  {name:<14} p50 {statistics.median(ordered):7.1f} ms   p95 {p95:7.1f} ms"
        f"   max {ordered[-1]:7.1f} ms   first {values[0]:7.1f} ms   (n={len(values)})"
    )


async def run_related(store: Path, newest: int, asks: int) -> None:
    with tempfile.TemporaryDirectory() as folder:
        copy = Path(folder) / "news.db"
        shutil.copy(store, copy)
        with sqlite3.connect(copy) as conn:
            total = conn.execute("SELECT count(*) FROM articles").fetchone()[0]
            copied = conn.execute("SELECT count(*) FROM search_term_stats_info").fetchone()[0]
        print(
            f"/related for the newest {newest} of {total:,} articles"
            f" (term statistics {'present' if copied else 'absent'} at first start):"
        )
        first = await ask_related(copy, Path(folder), newest, asks)
        print(related_figures("first start", first))
        again = await ask_related(copy, Path(folder), newest, asks)
        print(related_figures("restart", again))
        log = (Path(folder) / "bot.log").read_text(encoding="utf-8", errors="replace")
        for line in log.splitlines():
            if "term statistics" in line or "search statistics" in line:
                print(f"  log: {line}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "store",
        type=lambda t: t if t.startswith("postgresql://") else Path(t),
        help="an SQLite file or a postgresql:// URL",
    )
    parser.add_argument("--asks", type=int, default=600)
    parser.add_argument("--related-newest", type=int, metavar="K")
    parser.add_argument("--search", action="store_true", help="also ask /search")
    parser.add_argument("--only-related", action="store_true", help="ask /related only")
    args = parser.parse_args()
    started = time.perf_counter()
    if args.related_newest:
        asyncio.run(run_related(args.store, args.related_newest, args.asks))
    else:
        asyncio.run(run(args.store, args.asks, args.only_related, args.search))
    print(f"  ({time.perf_counter() - started:.0f} s)")


if __name__ == "__main__":
    main()
