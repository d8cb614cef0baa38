"""The Bot API double in a process of its own, with a small control API for the benches.

    python bench/double_server.py --users 10000 [--rate-limits]

prints one JSON line: the base URL for the bot, the control URL, the token and the first user
id (users get consecutive ids, each with a private chat). Control endpoints:

- ``GET /count``: how many sendMessage calls succeeded (cheap: for waiting on a run).
- ``GET /delivered``: the chat id of every successful sendMessage, in order.
- ``GET /stats``: sendMessage figures measured where Telegram would receive them: how many
  succeeded, how many were refused with 429, the first and last arrival, and the most
  messages that arrived in any one-second window (sliding).
- ``POST /ask`` ``{"chat_id": N, "text": "/latest"}``: inject a message and wait for the bot's
  first reply in that chat; answers the milliseconds in between.
- ``GET /first_message?chat_id=N&after=T``: wait until a message arrives in the chat (after
  call number T) and answer when, as Unix seconds.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import gc
import json
import signal
import time
from collections import deque

from aiohttp import web

from botapi_double import BotApiDouble


def max_in_window(times: list[float], window: float = 1.0) -> int:
    best = 0
    recent: deque[float] = deque()
    for t in times:
        recent.append(t)
        while recent and recent[0] <= t - window:
            recent.popleft()
        best = max(best, len(recent))
    return best


def per_second(times: list[float]) -> list[int]:
    if not times:
        return []
    counts = [0] * (int(times[-1] - times[0]) + 1)
    for t in times:
        counts[int(t - times[0])] += 1
    return counts


async def serve(args: argparse.Namespace) -> None:
    async with BotApiDouble(privacy_mode=True) as tg:
        if args.rate_limits:
            tg.set_rate_limits()  # Telegram's own: 30/s, 1/s per private chat, 20/min per group
        first = None
        for i in range(args.users):
            user = tg.add_user(f"reader{i}", user_id=args.first_id + i)
            tg.add_private_chat(user)
            first = first if first is not None else user.id
        # The double keeps a record of every call until it ends, so the cycle collector finds
        # nothing to free, yet walks the whole growing record again and again: pauses of up to
        # a second at 100,000 messages, which Telegram does not have. The bench measures the
        # bot, so the double does without the collector (memory: ~1 GB at 100,000 messages).
        gc.freeze()
        gc.disable()

        async def stats(request: web.Request) -> web.Response:
            sends = tg.calls("sendMessage")
            ok = sorted(c.time.timestamp() for c in sends if c.status == 200)
            return web.json_response(
                {
                    "sent": len(ok),
                    "too_many_requests": tg.too_many_requests,
                    "first": ok[0] if ok else None,
                    "last": ok[-1] if ok else None,
                    "max_in_any_second": max_in_window(ok),
                    # Arrivals in each whole second from the first: where a rate sagged.
                    "per_second": per_second(ok),
                    "calls": len(tg.calls()),
                }
            )

        async def count(request: web.Request) -> web.Response:
            # Cheap enough to ask twice a second while 100,000 messages arrive: /stats sorts
            # every arrival, which would hold the double's loop (and so the rate) up.
            sends = tg.calls("sendMessage")
            return web.json_response({"sent": sum(1 for c in sends if c.status == 200)})

        async def delivered(request: web.Request) -> web.Response:
            # Which chat each successful sendMessage went to, in order (a test counts copies).
            sends = tg.calls("sendMessage")
            return web.json_response([c.params["chat_id"] for c in sends if c.status == 200])

        async def ask(request: web.Request) -> web.Response:
            body = await request.json()
            chat_id = int(body["chat_id"])
            before = len(tg.sent(chat_id))
            started = time.perf_counter()
            tg.send_text(chat_id, tg.chat(chat_id).user, body["text"])
            await tg.wait_for_messages(before + 1, chat_id=chat_id, timeout=30)
            return web.json_response({"ms": (time.perf_counter() - started) * 1000})

        async def first_message(request: web.Request) -> web.Response:
            chat_id = int(request.query["chat_id"])
            before = int(request.query.get("after", "0"))
            sent = await tg.wait_for_messages(before + 1, chat_id=chat_id, timeout=60)
            return web.json_response({"at": sent[before].date.timestamp(), "arrived": time.time()})

        control = web.Application()
        control.router.add_get("/stats", stats)
        control.router.add_get("/count", count)
        control.router.add_get("/delivered", delivered)
        control.router.add_post("/ask", ask)
        control.router.add_get("/first_message", first_message)
        runner = web.AppRunner(control, access_log=None)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        port = runner.addresses[0][1]
        print(
            json.dumps(
                {
                    "base_url": tg.base_url,
                    "control": f"http://127.0.0.1:{port}",
                    "token": tg.token,
                    "first_user": first,
                }
            ),
            flush=True,
        )
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(signum, stop.set)
        await stop.wait()
        await runner.cleanup()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--users", type=int, default=0)
    parser.add_argument("--first-id", type=int, default=10_000_000)
    parser.add_argument("--rate-limits", action="store_true")
    args = parser.parse_args()
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(serve(args))


if __name__ == "__main__":
    main()
