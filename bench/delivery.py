"""Delivery figures, measured where Telegram would receive the messages.

A real ``newsbot run`` process talks HTTP to the Bot API double running in a process of its
own (bench/double_server.py); this script prepares the store, starts both, and reads the
double's own record of what arrived and when.

    python bench/delivery.py                 # every figure (the 30/s run takes ~6 minutes)
    python bench/delivery.py --only queue pipeline latency memory limits paid

Figures: ``queue`` (owing one article to 100,000 subscribers), ``pipeline`` (messages/s with
the limits lifted), ``limits`` (a 10,000-message fan-out under Telegram's limits: rate against
the configured 30/s, and 429s), ``latency`` (article stored -> first message at the double,
idle queue), ``memory`` (resident memory of newsbot run with 100,000 chats subscribed),
``paid`` (``[delivery] paid_broadcast`` to 100,000 private chats, the double enforcing 1,000/s
overall for paid broadcasts: messages/s sustained, and 429s); ``limits3`` and ``paid3`` the
same two runs with three ``newsbot run`` processes sharing a PostgreSQL store (the machine's
own server, a throwaway database).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import sys
import tempfile
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import psycopg

from storage import NewArticle, Store, Topic

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # the tests' shared tools (tests/support/) serve the benches too
from tests.support.newsbot import PythonProcess, start_newsbot, start_python  # noqa: E402
from tests.support.postgres import server_url  # noqa: E402

FIRST_ID = 10_000_000


def http_json(url: str, body: dict[str, Any] | None = None, timeout: float = 600) -> Any:
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(url, data=data, headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=timeout) as response:
        return json.loads(response.read())


async def prepare_store(path: Path | str, chats: int) -> Store:
    """A store at ``path`` (an SQLite file or a PostgreSQL URL) with ``chats`` subscribers."""
    store = await Store.open(path)
    await store.articles.sync_topics([Topic("economy", "Economy")])
    now = int(time.time())

    def work(conn: Any) -> None:
        conn.executemany(
            "INSERT INTO chats (id, type, created_at, updated_at) VALUES (?, 'private', ?, ?)",
            [(FIRST_ID + i, now, now) for i in range(chats)],
        )
        conn.executemany(
            "INSERT INTO subscriptions (chat_id, topic, created_at) VALUES (?, 'economy', ?)",
            [(FIRST_ID + i, now) for i in range(chats)],
        )

    await store.db.write(work)
    return store


async def publish(store: Store, n: int) -> float:
    """Store one fresh article and owe it to every subscriber, as `newsbot import` does."""
    [outcome] = await store.articles.upsert_many(
        [
            NewArticle(
                title=f"Bench article {n}",
                guid=f"bench-{n}-{time.time_ns()}",
                body="Markets moved. " * 40,
                category="Economy news",
                topics=("economy",),
                published_at=datetime.now(UTC),
            )
        ]
    )
    stored = time.time()
    await store.deliveries.fan_out([outcome.article_id], int(stored))
    return stored


def write_config(
    folder: Path,
    base_url: str,
    token: str,
    *,
    lifted: bool,
    paid: bool = False,
    url: str | None = None,
) -> Path:
    limits = "messages_per_second = 100000\nprivate_chat_per_second = 1000\n" if lifted else ""
    if paid:
        limits += "paid_broadcast = true\n"
    storage = f'url = "{url}"' if url else f'path = "{folder / "news.db"}"'
    path = folder / "config.toml"
    path.write_text(
        f'[telegram]\ntoken = "{token}"\napi_base_url = "{base_url}"\n\n'
        f"[storage]\n{storage}\n\n"
        '[topics.economy]\nname = "Economy"\ncategories = ["Economy news"]\n\n'
        f'[delivery]\n{limits}\n[logging]\nlevel = "WARNING"\n',
        encoding="utf-8",
    )
    return path


class Processes:
    """The double and the bot, each a process of its own, stopped in reverse order."""

    def __init__(self) -> None:
        self.running: list[PythonProcess] = []

    async def double(self, users: int, *, rate_limits: bool) -> dict[str, Any]:
        args = [ROOT / "bench" / "double_server.py", "--users", str(users)]
        if rate_limits:
            args.append("--rate-limits")
        process = await start_python(*args)
        self.running.append(process)
        return json.loads(await process.first_line())  # where it listens

    async def bot(self, config: Path, log: Path) -> PythonProcess:
        process = await start_newsbot("--config", config, "run", log=log, cwd=ROOT)
        self.running.append(process)
        return process

    async def stop(self) -> None:
        for process in reversed(self.running):
            await process.stop(seconds=600)
        self.running.clear()


def rss_mb(pid: int) -> tuple[float, float]:
    fields = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        key, _, value = line.partition(":")
        fields[key] = value.strip()
    return int(fields["VmRSS"].split()[0]) / 1024, int(fields["VmHWM"].split()[0]) / 1024


async def wait_for_sent(control: str, count: int, limit_seconds: float) -> dict[str, Any]:
    deadline = time.monotonic() + limit_seconds
    while True:
        sent = (await asyncio.to_thread(http_json, f"{control}/count"))["sent"]
        if sent >= count or time.monotonic() > deadline:
            stats: dict[str, Any] = await asyncio.to_thread(http_json, f"{control}/stats")
            return stats
        await asyncio.sleep(0.5)  # polling another process's counter, not synchronising tests


async def bench_queue() -> None:
    with tempfile.TemporaryDirectory() as folder:
        store = await prepare_store(Path(folder) / "news.db", 100_000)
        times = []
        for n in range(3):
            [outcome] = await store.articles.upsert_many(
                [
                    NewArticle(
                        title=f"q{n}",
                        guid=f"q{n}",
                        topics=("economy",),
                        published_at=datetime.now(UTC),
                    )
                ]
            )
            started = time.perf_counter()
            added = await store.deliveries.fan_out([outcome.article_id], int(time.time()))
            times.append(time.perf_counter() - started)
            assert added == 100_000
        await store.close()
    print(
        f"queue: one article owed to 100,000 subscribers in "
        f"{', '.join(f'{t:.3f}' for t in times)} s (median {statistics.median(times):.3f} s)"
    )


async def fan_out_run(
    chats: int,
    *,
    lifted: bool,
    rate_limits: bool,
    limit_seconds: float,
    paid: bool = False,
    instances: int = 1,
) -> dict[str, Any]:
    """One fan-out to ``chats`` subscribers; with ``instances`` > 1, that many ``newsbot run``
    processes share a throwaway PostgreSQL database (one of them leads and sends)."""
    procs = Processes()
    with tempfile.TemporaryDirectory() as folder, throwaway_database(instances > 1) as url:
        try:
            double = await procs.double(chats, rate_limits=rate_limits)
            store = await prepare_store(url or Path(folder) / "news.db", chats)
            config = write_config(
                Path(folder), double["base_url"], double["token"], lifted=lifted, paid=paid, url=url
            )
            for n in range(instances):
                await procs.bot(config, Path(folder) / f"bot{n}.log")
            await asyncio.sleep(3)  # let the bots start (and elect a leader) before the fan-out
            await publish(store, 1)
            await store.close()
            stats = await wait_for_sent(double["control"], chats, limit_seconds)
            # CPU of each process over the whole run (start-up included): the load average
            # moves the rates, this says what the bot itself costs.
            stats["cpu"] = {
                ("double" if n == 0 else f"bot{n}"): cpu_seconds(p.pid)
                for n, p in enumerate(procs.running)
            }
        finally:
            await procs.stop()
    return stats


def cpu_seconds(pid: int) -> float:
    """User + system CPU seconds a process has used so far."""
    fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


@contextmanager
def throwaway_database(wanted: bool) -> Iterator[str | None]:
    """A new database on the machine's PostgreSQL for a run of several instances, dropped
    after it (None when ``wanted`` is false: the run keeps an SQLite file)."""
    if not wanted:
        yield None
        return
    name = f"newsbot_bench_{os.getpid()}"
    with psycopg.connect(server_url("postgres"), autocommit=True) as admin:
        admin.execute(f"CREATE DATABASE {name}")
    try:
        yield server_url(name)
    finally:
        with psycopg.connect(server_url("postgres"), autocommit=True) as admin:
            admin.execute(f"DROP DATABASE {name} WITH (FORCE)")


async def bench_pipeline() -> None:
    stats = await fan_out_run(10_000, lifted=True, rate_limits=False, limit_seconds=120)
    span = stats["last"] - stats["first"]
    print(
        f"pipeline (limits lifted): {stats['sent']} messages in {span:.2f} s ="
        f" {stats['sent'] / span:.0f} messages/s"
    )


def print_limited(name: str, stats: dict[str, Any], limit: float) -> None:
    """A run under enforced limits: its rate against ``limit`` per second, 429s, the peak."""
    span = stats["last"] - stats["first"]
    rate = (stats["sent"] - 1) / span
    print(
        f"{name}: {stats['sent']} messages in {span:.1f} s = {rate:.2f}/s"
        f" ({rate / limit * 100:.1f}% of {limit:g}/s), 429s: {stats['too_many_requests']},"
        f" most in any 1 s window: {stats['max_in_any_second']}"
    )
    if "cpu" in stats:
        spent = ", ".join(f"{name} {sec:.1f} s" for name, sec in stats["cpu"].items())
        busiest = max(sec for name, sec in stats["cpu"].items() if name != "double")
        print(
            f"  CPU over the run: {spent}; busiest bot"
            f" {busiest / stats['sent'] * 1e6:.0f} µs a message"
        )
    print(f"  messages in each second: {stats['per_second']}")


async def bench_limits() -> None:
    stats = await fan_out_run(10_000, lifted=False, rate_limits=True, limit_seconds=900)
    print_limited("limits (30/s enforced)", stats, 30)


async def bench_latency() -> None:
    procs = Processes()
    with tempfile.TemporaryDirectory() as folder:
        try:
            double = await procs.double(1, rate_limits=False)
            store = await prepare_store(Path(folder) / "news.db", 1)
            config = write_config(Path(folder), double["base_url"], double["token"], lifted=False)
            await procs.bot(config, Path(folder) / "bot.log")
            await asyncio.sleep(2)
            delays = []
            for n in range(30):
                stored = await publish(store, n)
                got = await asyncio.to_thread(
                    http_json, f"{double['control']}/first_message?chat_id={FIRST_ID}&after={n}"
                )
                delays.append(got["at"] - stored)
                await asyncio.sleep(1.1)  # the private chat's 1 msg/s window: an idle queue
            await store.close()
        finally:
            await procs.stop()
    delays.sort()
    p95 = delays[int(len(delays) * 0.95) - 1]
    print(
        f"latency (stored -> first message at the double, idle queue, {len(delays)} articles):"
        f" p50 {statistics.median(delays) * 1000:.0f} ms, p95 {p95 * 1000:.0f} ms,"
        f" max {max(delays) * 1000:.0f} ms"
    )


async def bench_memory() -> None:
    procs = Processes()
    with tempfile.TemporaryDirectory() as folder:
        try:
            double = await procs.double(100_000, rate_limits=False)
            store = await prepare_store(Path(folder) / "news.db", 100_000)
            config = write_config(Path(folder), double["base_url"], double["token"], lifted=True)
            bot = await procs.bot(config, Path(folder) / "bot.log")
            await asyncio.sleep(3)
            idle_rss, _ = rss_mb(bot.pid)
            await publish(store, 1)
            await store.close()
            stats = await wait_for_sent(double["control"], 100_000, 600)
            rss, peak = rss_mb(bot.pid)
        finally:
            await procs.stop()
    print(
        f"memory (newsbot run, 100,000 chats subscribed): {idle_rss:.0f} MB idle,"
        f" {rss:.0f} MB after delivering to all {stats['sent']}, peak {peak:.0f} MB"
    )


async def bench_paid() -> None:
    stats = await fan_out_run(100_000, lifted=False, rate_limits=True, limit_seconds=900, paid=True)
    print_limited("paid broadcast (1,000/s and 1/s per chat enforced)", stats, 1000)


async def bench_limits3() -> None:
    stats = await fan_out_run(
        10_000, lifted=False, rate_limits=True, limit_seconds=900, instances=3
    )
    print_limited("three instances on PostgreSQL, limits (30/s enforced)", stats, 30)


async def bench_paid3() -> None:
    stats = await fan_out_run(
        100_000, lifted=False, rate_limits=True, limit_seconds=900, paid=True, instances=3
    )
    print_limited("three instances on PostgreSQL, paid broadcast (1,000/s enforced)", stats, 1000)


BENCHES = {
    "queue": bench_queue,
    "pipeline": bench_pipeline,
    "latency": bench_latency,
    "memory": bench_memory,
    "limits": bench_limits,
    "paid": bench_paid,
    "limits3": bench_limits3,
    "paid3": bench_paid3,
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--only", nargs="+", choices=list(BENCHES), default=list(BENCHES))
    args = parser.parse_args()
    print(f"cores: {os.cpu_count()}, python {sys.version.split()[0]}")
    for name in args.only:
        asyncio.run(BENCHES[name]())


if __name__ == "__main__":
    main()
