"""What a budget shared by several instances would cost, against one sender.

    python bench/cluster.py budget [--processes 3] [--seconds 5]
    python bench/cluster.py takeover [--rounds 5]
    python bench/cluster.py claims [--processes 3]

``claims``: 1, 2, then 3 processes (instances) drain one PostgreSQL ledger of 20,000 owed rows
side by side, each claiming 512 at a time and recording them as a dispatcher does (each row
marked on the wire, then sent, 32 a write): claims and outcomes take only their rows' locks, so
the claimers overlap instead of queueing for the store's write lock.

``takeover``: three polling instances (tests/support/poll_node.py: newsbot's Poller and
PostgreSQL leadership around an echo bot) against the Bot API double; the leader is killed with
SIGKILL between two messages of a reader, and the time from the kill to the answer from another
instance is measured; a new instance is started after each round, so three run each time.


Telegram's limits can be kept across instances two ways: every instance takes each message's
slot from a budget kept in PostgreSQL or Redis, or one instance (the leader) sends every bulk
message and counts them in memory. This measures the first way's price: three processes take
slots as fast as they can from one shared counter per second (PostgreSQL: an upsert on one
row; Redis: INCR on one key), and the in-process limiter's own cost for comparison. It prints
slots per second in total and the time one slot costs a sender.

``budget`` also measures newsbot's own shared windows (bot/shared_limits.py, used in webhook
mode with ``[delivery] shared_limits``): sliding windows in Redis, a Lua script to take a slot
and one to give it back, which is exact where the counter is not.

A counter per second is the cheapest shared form, and it is not even right: Telegram counts
sliding windows, so two fixed seconds can put twice the limit in one sliding second, and a
slot must be held until the answer came back (bot/ratelimit.py), which takes a second round
trip to give it back. Every figure here is therefore a lower bound on the shared cost.
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing
import os
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import psycopg

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from bot.ratelimit import BULK, Limits, Span, TelegramRateLimiter  # noqa: E402
from bot.shared_limits import SharedLimits  # noqa: E402
from botapi_double import BotApiDouble  # noqa: E402
from storage import NewArticle, Store, Topic  # noqa: E402
from storage.deliveries import SENT, Outcome  # noqa: E402
from tests.support.newsbot import PythonProcess, start_python  # noqa: E402
from tests.support.postgres import committed_past, server_url  # noqa: E402

REDIS = ("127.0.0.1", 6379)


def pg_worker(url: str, seconds: float, out: multiprocessing.Queue[int]) -> None:
    taken = 0
    with psycopg.connect(url, autocommit=True) as conn:
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            conn.execute(
                "INSERT INTO budget (second, taken) VALUES (%s, 1) ON CONFLICT (second)"
                " DO UPDATE SET taken = budget.taken + 1 RETURNING taken",
                (int(time.time()),),
            ).fetchone()
            taken += 1
    out.put(taken)


async def redis_slots(seconds: float) -> int:
    reader, writer = await asyncio.open_connection(*REDIS)
    taken = 0
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        key = f"newsbot-bench-budget:{int(time.time())}"
        writer.write(f"*2\r\n$4\r\nINCR\r\n${len(key)}\r\n{key}\r\n".encode())
        await writer.drain()
        await reader.readline()  # ":N\r\n", the slots taken this second
        taken += 1
    writer.close()
    await writer.wait_closed()
    return taken


def redis_worker(seconds: float, out: multiprocessing.Queue[int]) -> None:
    out.put(asyncio.run(redis_slots(seconds)))


async def shared_slots(seconds: float) -> int:
    """Slots taken and given back through newsbot's own shared windows (bot/shared_limits.py:
    the sliding windows in Redis, two scripts a message), a new private chat each time, as a
    fan-out takes them; limits high enough that none is refused, so this is the cost alone."""
    shared = SharedLimits(f"redis://{REDIS[0]}:{REDIS[1]}/0", f"bench{os.getpid()}")
    taken = 0
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        spans = [Span("all", 10**9, 1.0), Span(f"chat:{taken}", 1, 1.0)]
        slot = await shared.acquire(spans, 1, interactive=False)
        await shared.release(slot)
        taken += 1
    await shared.close()
    return taken


def shared_worker(seconds: float, out: multiprocessing.Queue[int]) -> None:
    out.put(asyncio.run(shared_slots(seconds)))


def run_workers(target: object, args: tuple[object, ...], processes: int) -> int:
    out: multiprocessing.Queue[int] = multiprocessing.Queue()
    workers = [
        multiprocessing.Process(target=target, args=(*args, out))  # type: ignore[arg-type]
        for _ in range(processes)
    ]
    for worker in workers:
        worker.start()
    total = sum(out.get() for _ in workers)
    for worker in workers:
        worker.join()
    return total


async def local_slots(count: int) -> float:
    """CPU time the leader's own limiter spends on one slot at the paid 1,000/s (a new chat
    each time, as in a fan-out): it waits out its windows in real time, so ``count`` slots
    take ``count`` milliseconds."""
    limiter = TelegramRateLimiter(Limits(paid_per_second=1000))
    started = time.process_time()
    for n in range(count):
        chat = str(n)
        await limiter.acquire(chat, BULK, paid=True)
        limiter.release(chat, paid=True)
    await limiter.shutdown()
    return (time.process_time() - started) / count


def bench_budget(processes: int, seconds: float) -> None:
    name = f"newsbot_bench_{os.getpid()}"
    with psycopg.connect(server_url("postgres"), autocommit=True) as admin:
        admin.execute(f"CREATE DATABASE {name}")
    try:
        url = server_url(name)
        with psycopg.connect(url, autocommit=True) as conn:
            conn.execute("CREATE TABLE budget (second BIGINT PRIMARY KEY, taken INT NOT NULL)")
        total = run_workers(pg_worker, (url, seconds), processes)
        print(
            f"PostgreSQL upsert, {processes} processes: {total / seconds:,.0f} slots/s in total,"
            f" {seconds * processes / total * 1000:.2f} ms per slot per sender"
        )
    finally:
        with psycopg.connect(server_url("postgres"), autocommit=True) as admin:
            admin.execute(f"DROP DATABASE {name} WITH (FORCE)")
    total = run_workers(redis_worker, (seconds,), processes)
    print(
        f"Redis INCR, {processes} processes: {total / seconds:,.0f} slots/s in total,"
        f" {seconds * processes / total * 1000:.2f} ms per slot per sender"
    )
    total = run_workers(shared_worker, (seconds,), processes)
    print(
        f"Redis sliding windows (newsbot's shared_limits: acquire + release scripts, a new chat"
        f" each), {processes} processes: {total / seconds:,.0f} slots/s in total,"
        f" {seconds * processes / total * 1000:.2f} ms per slot per sender"
    )
    per_slot = asyncio.run(local_slots(5_000))
    print(f"in-process limiter (one sender): {per_slot * 1e6:.1f} µs of CPU per slot")


async def bench_takeover(rounds: int) -> None:
    name = f"newsbot_bench_{os.getpid()}"
    with psycopg.connect(server_url("postgres"), autocommit=True) as admin:
        admin.execute(f"CREATE DATABASE {name}")
    times: list[float] = []
    try:
        async with BotApiDouble() as tg:
            user = tg.add_user("reader")
            chat = tg.add_private_chat(user)
            nodes: dict[str, PythonProcess] = {}

            async def start(node: str) -> None:
                nodes[node] = await start_python(
                    "-m", "tests.support.poll_node", tg.base_url, tg.token,
                    server_url(name), node, merge_stderr=True,
                )  # fmt: skip
                await nodes[node].wait_for_output(f"{node} started")

            try:
                for n in range(3):
                    await start(f"n{n}")
                for r in range(rounds):
                    before = len(tg.sent())
                    tg.send_text(chat, user, f"before {r}")
                    reply = (await tg.wait_for_messages(before + 1, timeout=30))[-1]
                    leader = reply.text.split(":")[0]
                    # Killed between updates (a kill while one is handled repeats that one).
                    await committed_past(server_url(name), tg)
                    await nodes.pop(leader).kill()
                    killed = time.time()
                    tg.send_text(chat, user, f"after {r}")
                    await tg.wait_for_messages(before + 2, timeout=30)
                    [answered] = [
                        c.time
                        for c in tg.calls("sendMessage")
                        if c.ok and c.params["text"].endswith(f": after {r}")
                    ]
                    times.append(answered.timestamp() - killed)
                    await start(f"n{r + 3}")  # three instances again
            finally:
                for node in nodes.values():
                    await node.stop()
    finally:
        with psycopg.connect(server_url("postgres"), autocommit=True) as admin:
            admin.execute(f"DROP DATABASE {name} WITH (FORCE)")
    print(
        f"takeover after SIGKILL of the leader ({rounds} rounds): kill -> next answer"
        f" {', '.join(f'{t:.2f}' for t in times)} s (max {max(times):.2f} s)"
    )


CLAIM_ROWS = 20_000


def claim_worker(url: str, out: multiprocessing.Queue[int]) -> None:
    """One instance's dispatcher work on the ledger, as fast as it goes: claim 512 due rows,
    mark them on the wire and record them sent (32 a write), until none is left."""

    async def drain() -> int:
        store = await Store.open(url)
        done = 0
        try:
            while True:
                now = int(time.time())
                claimed = await store.deliveries.claim(now, 512)
                if not claimed:
                    return done
                for start in range(0, len(claimed), 32):
                    ids = [d.id for d in claimed[start : start + 32]]
                    await store.deliveries.record([], now, sending=ids)
                    await store.deliveries.record(
                        [Outcome(i, SENT, message_id=1) for i in ids], now
                    )
                done += len(claimed)
        finally:
            await store.close()

    out.put(asyncio.run(drain()))


async def owe_rows(url: str, count: int) -> None:
    store = await Store.open(url)
    try:
        await store.articles.sync_topics([Topic("economy", "Economy")])
        now = int(time.time())

        def work(conn: Any) -> None:
            conn.executemany(
                "INSERT INTO chats (id, type, created_at, updated_at) VALUES (?, 'private', ?, ?)",
                [(10_000_000 + i, now, now) for i in range(count)],
            )
            conn.executemany(
                "INSERT INTO subscriptions (chat_id, topic, created_at) VALUES (?, 'economy', ?)",
                [(10_000_000 + i, now) for i in range(count)],
            )

        await store.db.write(work)
        [outcome] = await store.articles.upsert_many(
            [NewArticle(title="Claims", guid=f"claims-{time.time_ns()}", topics=("economy",),
                        published_at=datetime.now(UTC))]
        )  # fmt: skip
        await store.deliveries.fan_out([outcome.article_id], now)
    finally:
        await store.close()


def bench_claims(processes: int) -> None:
    """1..``processes`` instances draining one ledger of CLAIM_ROWS rows side by side."""
    for n in range(1, processes + 1):
        name = f"newsbot_bench_{os.getpid()}_{n}"
        with psycopg.connect(server_url("postgres"), autocommit=True) as admin:
            admin.execute(f"CREATE DATABASE {name}")
        try:
            url = server_url(name)
            asyncio.run(owe_rows(url, CLAIM_ROWS))
            started = time.perf_counter()
            total = run_workers(claim_worker, (url,), n)
            took = time.perf_counter() - started
            print(
                f"{n} claimer(s): {total:,} rows claimed, marked and recorded in {took:.2f} s"
                f" = {total / took:,.0f} rows/s"
            )
        finally:
            with psycopg.connect(server_url("postgres"), autocommit=True) as admin:
                admin.execute(f"DROP DATABASE {name} WITH (FORCE)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("what", choices=["budget", "takeover", "claims"])
    parser.add_argument("--processes", type=int, default=3)
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    print(f"cores: {os.cpu_count()}, python {sys.version.split()[0]}")
    if args.what == "budget":
        bench_budget(args.processes, args.seconds)
    elif args.what == "claims":
        bench_claims(args.processes)
    else:
        asyncio.run(bench_takeover(args.rounds))


if __name__ == "__main__":
    main()
