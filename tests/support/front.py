"""A round-robin load balancer in front of several webhook servers (the tests' reverse proxy).

Each request goes to the next backend in turn, its body and headers (the secret token) as they
came; the backend's answer goes back unchanged. A backend that refuses the connection is
skipped for that request (the next one in turn takes it), as a proxy's health checks would.
"""

from __future__ import annotations

import itertools
from collections import Counter
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager

import aiohttp
from aiohttp import web

FORWARDED_HEADERS = ("Content-Type", "X-Telegram-Bot-Api-Secret-Token")


@asynccontextmanager
async def round_robin(port: int, backends: Sequence[str]) -> AsyncIterator[Counter[str]]:
    """Serve on 127.0.0.1:``port``, forwarding each request to the next of ``backends`` (base
    URLs); yields how many requests each backend answered."""
    turns = itertools.cycle(backends)
    answered: Counter[str] = Counter()
    async with aiohttp.ClientSession() as session:

        async def forward(request: web.Request) -> web.Response:
            body = await request.read()
            headers = {k: request.headers[k] for k in FORWARDED_HEADERS if k in request.headers}
            for _ in backends:
                backend = next(turns)
                try:
                    async with session.post(
                        backend + request.path_qs, data=body, headers=headers
                    ) as answer:
                        text = await answer.read()
                        answered[backend] += 1
                        return web.Response(status=answer.status, body=text)
                except aiohttp.ClientConnectionError:
                    continue
            return web.Response(status=502)

        app = web.Application()
        app.router.add_route("POST", "/{tail:.*}", forward)
        runner = web.AppRunner(app)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", port)
        await site.start()
        try:
            yield answered
        finally:
            await runner.cleanup()
