"""Store figures: JSON Lines import speed, and latest/search/related latency at scale.

    python bench/store.py import [--base STORE]       # import 20,000 into a store of 100,000
    python bench/store.py import --url URL            # the same on an empty PostgreSQL database
    python bench/store.py latency STORE [--queries N] # p50/p95 through the storage API
                                                      # (and story assignment: adds N articles)
    python bench/store.py build STORE [--count N]     # a fresh store made by `newsbot import`
    python bench/store.py ledger STORE                # claim/record 10,000 rows, round trips
    python bench/store.py bbc URL                     # BBC P@5 of related, SQLite and URL

STORE is an SQLite file or a ``postgresql://`` URL (``build`` and ``latency`` take either;
``import --url`` fills the database given with the 100,000 first, unless it holds them, and
imports into a copy of it made with ``CREATE DATABASE ... TEMPLATE``, dropped after: run it
again on the same URL and it imports into the same base).

``import`` runs the real ``newsbot import`` command on a JSON Lines file of 20,000 synthetic
articles (tagged against the configured topics) into a copy of ``--base`` or, without it, a
store it first fills with 100,000 and gives what an import would have left: vectors and
stories (by ``newsbot reindex``, whose speed it prints) and term statistics. It prints the
import's articles a second, the CPU time per article of the import's process, of its embedding
process and of the whole machine (PostgreSQL's server included), and the load average.
``latency`` expects a big store, e.g. one made by
``python bench/synthetic.py /tmp/1m.db 1000000``. ``build`` writes N synthetic articles
(default 200,000) to a JSON Lines file and imports it into a fresh store with the real
``newsbot import``, as an operator's first big import does (bench/bot_latency.py then times
the bot on it).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import resource
import shutil
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from synthetic import SECTIONS, fill, retold, write_jsonl

from bot.bootstrap import index_dir
from bot.cli import main as newsbot
from core.settings import Config
from semantic import one_blas_thread
from storage import Meaning, NewArticle, Store
from storage.timeutil import utc_from_seconds


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(len(ordered) * share))]


def figures(name: str, times: list[float]) -> str:
    ms = [t * 1000 for t in times]
    return (
        f"{name:<22} p50 {statistics.median(ms):6.2f} ms   p95 {percentile(ms, 0.95):6.2f} ms"
        f"   max {max(ms):6.2f} ms   (n={len(ms)})"
    )


async def build_base(path: Path | str, n: int) -> None:
    store = await Store.open(path)
    try:
        await fill(store, n, seed=0)
    finally:
        await store.close()


def import_config(folder: Path, db: Path | str) -> Path:
    config = folder / "config.toml"
    topics = "".join(
        f'[topics.{s}]\nname = "{s.title()}"\ncategories = ["{s}"]\n'
        f'keywords = ["{s} market", "minister of {s}"]\n\n'
        for s in SECTIONS
    )
    key = "url" if str(db).startswith("postgresql://") else "path"
    config.write_text(f'[storage]\n{key} = "{db}"\n\n{topics}', encoding="utf-8")
    return config


def build(db: Path | str, count: int) -> None:
    if isinstance(db, Path) and db.exists():
        raise SystemExit(f"{db} exists: build makes a fresh store")
    with tempfile.TemporaryDirectory() as folder:
        feed = Path(folder) / "articles.jsonl"
        started = time.perf_counter()
        write_jsonl(feed, count, seed=0)
        print(f"wrote {count:,} articles as JSON Lines in {time.perf_counter() - started:.0f} s")
        config = import_config(Path(folder), db)
        started = time.perf_counter()
        code = newsbot(["--config", str(config), "import", "--quiet", str(feed)])
        elapsed = time.perf_counter() - started
    assert code == 0, "import failed"
    print(f"newsbot import: {count:,} articles into a fresh {db} in {elapsed:.0f} s")


def bench_import(base: Path | None, count: int, url: str | None = None) -> None:
    with tempfile.TemporaryDirectory() as folder:
        db: Path | str
        if url is not None:
            db = pg_scratch_copy(url, Path(folder))
        else:
            db = Path(folder) / "news.db"
            if base is not None:
                shutil.copy(base, db)
                if Path(f"{base}.ann").exists():
                    shutil.copy(f"{base}.ann", f"{db}.ann")
            else:
                make_base(db, Path(folder))
        try:
            existing = asyncio.run(count_articles(db))
            feed = Path(folder) / "new.jsonl"
            write_jsonl(feed, count, seed=7)
            config = import_config(Path(folder), db)
            print(f"load average before: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
            with CpuUse(_database(db)) as cpu:
                code = newsbot(["--config", str(config), "import", "--quiet", str(feed)])
            print(f"load average after:  {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
            after = asyncio.run(count_articles(db))
        finally:
            if url is not None:
                drop_database(url, str(db))
    assert code == 0, "import failed"
    added = after - existing
    print(
        f"import: {added:,} articles from JSON Lines into a store of {existing:,}"
        f" in {cpu.wall:.2f} s = {added / cpu.wall:,.0f} articles/s"
        " (with embedding and story assignment)"
    )
    print(cpu.per_article(added))


def make_base(db: Path | str, folder: Path) -> None:
    """100,000 synthetic articles, then what `newsbot import` would have left with them:
    vectors and stories (the new articles' story candidates), and the term statistics (else
    the import under test would rebuild them: it does when a store has none or doubled)."""
    print("filling a store with 100,000 articles first ...", flush=True)
    started = time.perf_counter()
    asyncio.run(build_base(db, 100_000))
    print(f"filled in {time.perf_counter() - started:.1f} s", flush=True)
    config = import_config(folder, db)
    with CpuUse(_database(db)) as cpu:
        assert newsbot(["--config", str(config), "reindex", "--quiet"]) == 0, "reindex failed"
    print(f"reindex of the base: {cpu.wall:.1f} s = {100_000 / cpu.wall:,.0f} articles/s")
    print(cpu.per_article(100_000))
    started = time.perf_counter()
    terms = asyncio.run(refresh_term_stats(db))
    print(f"term statistics of the base: {terms:,} terms in {time.perf_counter() - started:.1f} s")


async def refresh_term_stats(db: Path | str) -> int:
    store = await Store.open(db)
    try:
        return await store.search.refresh_term_stats()
    finally:
        await store.close()


def pg_scratch_copy(url: str, folder: Path) -> str:
    """A copy of the base in database ``url`` (filled first if it is not one yet), to import
    into and drop after: the base stays as it is, so the bench can run again on it."""
    import psycopg
    from psycopg.conninfo import conninfo_to_dict, make_conninfo

    if asyncio.run(count_articles(url)) < 100_000:
        make_base(url, folder)
    else:
        print(f"{url} holds the base already", flush=True)
    name = str(conninfo_to_dict(url)["dbname"])
    scratch = f"{name}_run"
    with psycopg.connect(make_conninfo(url, dbname="postgres"), autocommit=True) as admin:
        admin.execute(f'DROP DATABASE IF EXISTS "{scratch}"')
        admin.execute(f'CREATE DATABASE "{scratch}" TEMPLATE "{name}"')
    return _with_db(url, scratch)


def _database(db: Path | str) -> str | None:
    """The PostgreSQL database ``db`` names, or None for an SQLite file."""
    if not str(db).startswith("postgresql://"):
        return None
    from psycopg.conninfo import conninfo_to_dict

    return str(conninfo_to_dict(str(db))["dbname"])


def _with_db(url: str, name: str) -> str:
    """``url`` naming database ``name`` instead."""
    head, _, tail = url.rpartition("/")
    query = tail.partition("?")[2]
    return f"{head}/{name}" + (f"?{query}" if query else "")


def drop_database(url: str, scratch_url: str) -> None:
    import psycopg
    from psycopg.conninfo import conninfo_to_dict, make_conninfo

    name = str(conninfo_to_dict(scratch_url)["dbname"])
    with psycopg.connect(make_conninfo(url, dbname="postgres"), autocommit=True) as admin:
        admin.execute(f'DROP DATABASE IF EXISTS "{name}"')


class CpuUse:
    """Wall time and CPU time of a block: this process's, its child processes' (the embedding
    process, once it has ended), PostgreSQL's server processes' (sampled every 0.2 s from
    /proc: a backend's last moments before it exits are missed), and the whole machine's
    (/proc/stat: anything else running, idle-priority jobs included, counts there too)."""

    def __init__(self, database: str | None = None) -> None:
        self.database = database  # the PostgreSQL database whose server processes count

    def __enter__(self) -> CpuUse:
        self._own = resource.getrusage(resource.RUSAGE_SELF)
        self._children = resource.getrusage(resource.RUSAGE_CHILDREN)
        self._machine = _machine_busy()
        self._server_first = _postgres_cpu(self.database)
        self._server_last = dict(self._server_first)
        self._stop = threading.Event()
        self._sampler = threading.Thread(target=self._sample, daemon=True)
        self._sampler.start()
        self._started = time.perf_counter()
        return self

    def _sample(self) -> None:
        while not self._stop.wait(0.2):
            self._server_last.update(_postgres_cpu(self.database))

    def __exit__(self, *exc: object) -> None:
        self.wall = time.perf_counter() - self._started
        self._stop.set()
        self._sampler.join()
        self._server_last.update(_postgres_cpu(self.database))
        own = resource.getrusage(resource.RUSAGE_SELF)
        children = resource.getrusage(resource.RUSAGE_CHILDREN)
        self.own = _cpu(own) - _cpu(self._own)
        self.children = _cpu(children) - _cpu(self._children)
        self.machine = _machine_busy() - self._machine
        self.server = sum(
            cpu - self._server_first.get(pid, 0.0) for pid, cpu in self._server_last.items()
        )

    def per_article(self, n: int) -> str:
        server = f" {self.server / n * 1000:.3f} ms PostgreSQL's server," if self.server else ""
        return (
            f"CPU per article: {self.own / n * 1000:.3f} ms this process,"
            f" {self.children / n * 1000:.3f} ms its embedding process,{server}"
            f" {self.machine / n * 1000:.3f} ms the whole machine"
            f" ({self.machine / self.wall:.2f} of its {os.cpu_count()} cores busy)"
        )


def _postgres_cpu(database: str | None) -> dict[int, float]:
    """CPU seconds of each running postgres process serving ``database`` (its backends and
    autovacuum workers name it in their process titles), by pid; other helpers' databases
    and the shared background writers are left out."""
    found: dict[int, float] = {}
    if database is None:
        return found
    tick = os.sysconf("SC_CLK_TCK")
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            text = stat.read_text()
            title = (stat.parent / "cmdline").read_bytes().decode(errors="replace")
        except OSError:  # gone meanwhile
            continue
        name, _, rest = text.partition(") ")
        if name.endswith("(postgres") and f" {database} " in f"{title} ".replace("\0", " "):
            fields = rest.split()
            found[int(stat.parent.name)] = (int(fields[11]) + int(fields[12])) / tick
    return found


def _cpu(usage: resource.struct_rusage) -> float:
    return usage.ru_utime + usage.ru_stime


def _machine_busy() -> float:
    """CPU seconds the machine has spent busy since boot (all cores)."""
    fields = [int(x) for x in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    idle = fields[3] + fields[4]  # idle, iowait
    return (sum(fields[:8]) - idle) / os.sysconf("SC_CLK_TCK")


async def count_articles(path: Path | str) -> int:
    store = await Store.open(path)
    try:
        return await store.articles.count()
    finally:
        await store.close()


async def bench_latency(path: Path | str, queries: int) -> None:
    # A PostgreSQL store's meaning index in the folder the bot keeps it in (bot.bootstrap).
    opening = time.perf_counter()
    store = await Store.open(path, index_dir=index_dir(Config()))
    rng = random.Random(1)
    try:
        total = await store.articles.count()
        topics = [t.slug for t in await store.articles.topics()]
        titles = await store.db.run(
            lambda conn: [
                r[0]
                for r in conn.execute(
                    "SELECT title FROM articles WHERE id IN"
                    f" ({','.join(str(rng.randrange(1, total)) for _ in range(queries))})"
                )
            ]
        )
        max_id = await store.db.run(
            lambda conn: conn.execute("SELECT max(id) FROM articles").fetchone()[0]
        )
        print(f"store: {path} with {total:,} articles")
        started = time.perf_counter()
        await store.open_index()
        print(
            f"meaning index: {store.index.size:,} vectors"
            f" {'rebuilt from the store' if store.index.rebuilt else 'loaded'}"
            f" in {time.perf_counter() - started:.1f} s ({store.index.path or 'in memory'})"
        )
        await store.search.related(max_id, limit=5)
        print(
            "from opening the store to the first related answer (as the bot starts):"
            f" {time.perf_counter() - opening:.1f} s"
        )
        started = time.perf_counter()
        await store.search.refresh_term_stats_if_stale()  # as the daily job leaves it
        took = time.perf_counter() - started
        print(f"term statistics checked (rebuilt if stale) in {took:.1f} s")

        async def timed(call) -> float:  # type: ignore[no-untyped-def]
            started = time.perf_counter()
            await call
            return time.perf_counter() - started

        for _ in range(20):  # warm the page cache as a running bot has it
            await store.articles.latest(limit=5)
        latest = [await timed(store.articles.latest(limit=5)) for _ in range(queries)]
        by_topic = [
            await timed(store.articles.latest(topic=rng.choice(topics), limit=5))
            for _ in range(queries)
        ]
        paged = [
            await timed(store.articles.latest(limit=5, offset=rng.randrange(0, 200)))
            for _ in range(queries)
        ]
        search = [
            await timed(store.search.search(" ".join(rng.sample(t.split(), 2)), limit=10))
            for t in titles
        ]
        related = [
            await timed(store.search.related(rng.randrange(1, max_id), limit=5))
            for _ in range(queries)
        ]
        stories = await story_times(store, queries)
    finally:
        started = time.perf_counter()
        await store.close()
        print(f"closing (the meaning index saved): {time.perf_counter() - started:.1f} s")
    print(figures("latest", latest))
    print(figures("latest by topic", by_topic))
    print(figures("latest, later pages", paged))
    print(figures("search (2 title words)", search))
    print(figures("related", related))
    print(figures("store + story, 1 article", stories))


async def story_times(store: Store, count: int) -> list[float]:
    """Store ``count`` new articles one at a time, as a feed poll does, with vectors: time of
    each ``upsert_many`` (insert, vector, story assignment; the embedding is done before).

    Each is another publisher's report of one of the newest stored articles (bench/synthetic's
    ``retold``: its sentences, some left out or moved, another title), published after the
    newest, so each one's stories window is full and most have a story to join. They stay in
    the store (new guids, so a second run adds its own)."""
    meaning = Meaning()
    rng = random.Random(5)
    newest = await store.db.read(
        lambda conn: conn.execute(
            "SELECT id, published_at FROM articles ORDER BY published_at DESC, id DESC LIMIT ?",
            (count,),
        ).fetchall()
    )
    originals = await store.articles.get_many([r[0] for r in newest])
    last = newest[0][1]
    stamp = int(time.time())
    fresh = [
        retold(
            NewArticle(title=a.title, summary=a.summary, body=a.body, category=a.category),
            rng,
            guid=f"story-bench:{stamp}:{n}",
            when=utc_from_seconds(last + 60 * (n + 1)),
        )
        for n, a in enumerate(originals)
    ]
    vectors = await meaning.embed_articles([(a.title, a.summary, a.body) for a in fresh])
    times = []
    joined = 0
    for n, article in enumerate(fresh):
        started = time.perf_counter()
        [outcome] = await store.articles.upsert_many(
            [article], vectors=vectors[n : n + 1], meaning=meaning
        )
        times.append(time.perf_counter() - started)
        got = await store.articles.get(outcome.article_id)
        joined += got is not None and got.story != outcome.article_id
    print(f"story assignment: {joined} of {len(fresh)} new articles joined an earlier story")
    return times


async def bench_ledger(target: Path | str) -> None:
    """500 subscribed chats, 20 articles owed to each, claimed 512 at a time and recorded 32 at
    a time as the dispatcher does; then one read and one write, 200 times each."""
    from datetime import UTC, datetime, timedelta

    from storage import NewArticle, Topic
    from storage.deliveries import Outcome

    store = await Store.open(target)
    try:
        await store.articles.sync_topics([Topic("economy", "Economy")])
        now = int(time.time())
        for chat in range(1000, 1500):
            await store.chats.seen(chat, "private", None, None, now)
            await store.subscriptions.subscribe(chat, ["economy"], now)
        fresh = [
            NewArticle(
                title=f"Ledger bench {n}",
                guid=f"ledger-{n}",
                body="Body.",
                topics=("economy",),
                published_at=datetime.now(UTC) - timedelta(minutes=60 - n),
            )
            for n in range(20)
        ]
        outcomes = await store.articles.upsert_many(fresh)
        owed = await store.deliveries.fan_out([o.article_id for o in outcomes], now)
        claiming = recording = 0.0
        while True:
            started = time.perf_counter()
            due = await store.deliveries.claim(now + 100, 512)
            claiming += time.perf_counter() - started
            if not due:
                break
            for at in range(0, len(due), 32):
                chunk = due[at : at + 32]
                started = time.perf_counter()
                await store.deliveries.record([], now, sending=[d.id for d in chunk])
                await store.deliveries.record(
                    [Outcome(d.id, "sent", message_id=1) for d in chunk], now
                )
                recording += time.perf_counter() - started
        started = time.perf_counter()
        for _ in range(200):
            await store.articles.count()
        read = (time.perf_counter() - started) / 200
        started = time.perf_counter()
        for _ in range(200):
            await store.chats.digest_sent(1000, 5)
        write = (time.perf_counter() - started) / 200
    finally:
        await store.close()
    print(f"ledger: {owed:,} rows owed; claims {claiming:.2f} s, records {recording:.2f} s")
    print(f"one read {read * 1000:.2f} ms, one write {write * 1000:.2f} ms")


async def bbc_backends(url: str) -> None:
    """BBC P@5 of related (bench/quality.py's measure) on SQLite and on the empty PostgreSQL
    database ``url``, the same 2,225 articles stored in both as an import stores them."""
    from quality import bbc, read_bbc, store_with_vectors

    from storage.related import RelatedTuning

    tunings = (
        ("words only", RelatedTuning(meaning_share=0.0)),
        ("words + meaning, word and meaning candidates (default)", RelatedTuning()),
    )
    articles = read_bbc()
    with tempfile.TemporaryDirectory() as folder:
        for target in (Path(folder) / "bbc.db", url):
            store = await Store.open(target)
            try:
                outcomes = await store_with_vectors(store, articles)
                ids = sorted({o.article_id for o in outcomes})
                categories = {
                    o.article_id: a.category or "" for o, a in zip(outcomes, articles, strict=True)
                }
                await store.open_index()
                for label, tuning in tunings:
                    p5, timings = await bbc(tuning, store, ids, categories)
                    backend = "PostgreSQL" if target == url else "SQLite"
                    print(
                        f"{backend:<10} {label:<56} P@5 {p5:.4f} over {len(ids):,},"
                        f" related p95 {percentile(timings, 0.95):.1f} ms"
                    )
            finally:
                await store.close()


def store_target(text: str) -> Path | str:
    return text if text.startswith("postgresql://") else Path(text)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="what", required=True)
    p = sub.add_parser("import")
    p.add_argument("--base", type=Path)
    p.add_argument("--url", help="an empty PostgreSQL database instead of an SQLite file")
    p.add_argument("--count", type=int, default=20_000)
    p = sub.add_parser("latency")
    p.add_argument("store", type=store_target)
    p.add_argument("--queries", type=int, default=300)
    p = sub.add_parser("ledger")
    p.add_argument("store", type=store_target)
    p = sub.add_parser("bbc")
    p.add_argument("url", help="an empty PostgreSQL database")
    p = sub.add_parser("build")
    p.add_argument("store", type=store_target)
    p.add_argument("--count", type=int, default=200_000)
    args = parser.parse_args()
    one_blas_thread()  # as newsbot itself runs
    if args.what == "bbc":
        asyncio.run(bbc_backends(args.url))
    elif args.what == "ledger":
        asyncio.run(bench_ledger(args.store))
    elif args.what == "build":
        build(args.store, args.count)
    elif args.what == "import":
        bench_import(args.base, args.count, args.url)
    else:
        asyncio.run(bench_latency(args.store, args.queries))


if __name__ == "__main__":
    main()
