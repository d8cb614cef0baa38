"""A local web server for feeds: real HTTP on loopback, on a port the system picks.

    async with feed_server({"/rss": FEED, "/gone.xml": status(404), "/old": redirect("/rss")}) as s:
        await fetch(s.url("/rss"))
        assert s.paths == ["/rss"]

A route is bytes (served as an RSS feed), or an aiohttp handler for anything else: statuses,
redirects, slow or endless bodies. Every request is recorded, unknown paths included (they get
404). Handlers that must hang until the test ends wait for ``server.release``, which is set
before the server stops, so no handler outlives its test.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from contextlib import asynccontextmanager

from aiohttp import web

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
RSS = "application/rss+xml"


def body(content: bytes, content_type: str = RSS, status: int = 200, **headers: str) -> Handler:
    """Serve ``content`` (``headers`` with ``_`` for ``-``, e.g. ``Content_Encoding="gzip"``)."""
    fields = {"Content-Type": content_type, **{k.replace("_", "-"): v for k, v in headers.items()}}

    async def serve(request: web.Request) -> web.Response:
        return web.Response(status=status, body=content, headers=fields)

    return serve


def status(code: int, text: str = "") -> Handler:
    """Answer ``code`` with a short text body."""

    async def serve(request: web.Request) -> web.Response:
        return web.Response(status=code, text=text)

    return serve


def redirect(location: str | None, code: int = 302) -> Handler:
    """Redirect to ``location`` (``None``: a redirect without a Location header)."""

    async def serve(request: web.Request) -> web.Response:
        headers = {} if location is None else {"Location": location}
        return web.Response(status=code, headers=headers)

    return serve


class FeedServer:
    """The running server: where it is and what it was asked."""

    def __init__(
        self, routes: Mapping[str, bytes | Handler], host: str, fallback: Handler | None = None
    ) -> None:
        self.routes = {path: body(r) if isinstance(r, bytes) else r for path, r in routes.items()}
        self.fallback = fallback  # for paths without a route of their own
        self.host = host
        self.port = 0
        self.requests: list[tuple[str, dict[str, str]]] = []  # (path, lower-cased headers)
        self.paths: list[str] = []  # the paths alone, in the order asked
        self.release = asyncio.Event()  # set when the server stops: hanging handlers return

    @property
    def base(self) -> str:
        shown = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{shown}:{self.port}"

    def url(self, path: str) -> str:
        return self.base + path

    async def handle(self, request: web.Request) -> web.StreamResponse:
        self.requests.append((request.path, {k.lower(): v for k, v in request.headers.items()}))
        self.paths.append(request.path)
        route = self.routes.get(request.path, self.fallback)
        if route is None:
            return web.Response(status=404, text="<h1>Not Found</h1>", content_type="text/html")
        return await route(request)


@asynccontextmanager
async def feed_server(
    routes: Mapping[str, bytes | Handler],
    host: str = "127.0.0.1",
    *,
    fallback: Handler | None = None,
) -> AsyncIterator[FeedServer]:
    """Serve ``routes`` on ``host`` (loopback) until the block ends; ``fallback`` answers the
    paths no route names (404 without one)."""
    server = FeedServer(routes, host, fallback)
    app = web.Application()
    app.router.add_route("*", "/{path:.*}", server.handle)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, host, 0)
    await site.start()
    server.port = int(runner.addresses[0][1])
    try:
        yield server
    finally:
        server.release.set()
        await runner.cleanup()
