"""/latest and /related answered by a real ``newsbot run`` over a big store, timed at the double.

    python bench/bot_latency.py STORE [--asks N]

STORE is a store such as ``python bench/synthetic.py /tmp/1m.db 1000000`` makes (the bot
opens it as its own store). The Bot API double runs in its own process; each ask injects a
message into a long poll the bot is waiting in and measures until the bot's reply arrives,
both at the double. Asks go 20 a second, spread over 200 readers, inside Telegram's limits.
"""

from __future__ import annotations

import argparse
import asyncio
import random
import sqlite3
import statistics
import tempfile
import time
from pathlib import Path

from delivery import FIRST_ID, Processes, http_json  # type: ignore[import-not-found]
from synthetic import SECTIONS  # type: ignore[import-not-found]

READERS = 200


def write_config(folder: Path, store: Path, base_url: str, token: str) -> Path:
    topics = "".join(
        f'[topics.{s}]\nname = "{s.title()}"\ncategories = ["{s}"]\n\n' for s in SECTIONS
    )
    path = folder / "config.toml"
    path.write_text(
        f'[telegram]\ntoken = "{token}"\napi_base_url = "{base_url}"\n\n'
        f'[storage]\npath = "{store}"\n\n{topics}[logging]\nlevel = "WARNING"\n',
        encoding="utf-8",
    )
    return path


async def run(store: Path, asks: int) -> None:
    with sqlite3.connect(store) as conn:
        max_id = conn.execute("SELECT max(id) FROM articles").fetchone()[0]
        total = conn.execute("SELECT count(*) FROM articles").fetchone()[0]
    rng = random.Random(3)
    procs = Processes()
    results: dict[str, list[float]] = {"/latest": [], "/latest <topic>": [], "/related ID": []}
    with tempfile.TemporaryDirectory() as folder:
        try:
            double = await procs.double(READERS, rate_limits=True)
            config = write_config(Path(folder), store, double["base_url"], double["token"])
            await procs.bot(config, Path(folder) / "bot.log")
            await asyncio.sleep(5)  # start-up: open the store, set commands, start polling
            for n in range(asks):
                kind = list(results)[n % 3]
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
        finally:
            await procs.stop()
    print(f"bot latency with {total:,} stored articles (update handed out -> reply received):")
    for kind, values in results.items():
        values.sort()
        p95 = values[int(len(values) * 0.95) - 1]
        print(
            f"  {kind:<16} p50 {statistics.median(values):6.1f} ms   p95 {p95:6.1f} ms"
            f"   max {max(values):6.1f} ms   (n={len(values)})"
        )
    print(f"  429s from the double: {stats['too_many_requests']}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("store", type=Path)
    parser.add_argument("--asks", type=int, default=600)
    args = parser.parse_args()
    started = time.perf_counter()
    asyncio.run(run(args.store, args.asks))
    print(f"  ({time.perf_counter() - started:.0f} s)")


if __name__ == "__main__":
    main()
