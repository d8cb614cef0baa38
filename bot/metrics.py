"""Prometheus metrics and a health check on one small HTTP listener, off unless ``[metrics]``
is enabled.

``GET /metrics`` is the Prometheus text format; ``GET /healthz`` answers ``200 ok``, or ``503``
with one line per problem when the store does not answer or the dispatcher has stopped or
stalled. Bind it to loopback (the default) or a private interface: neither page needs to be
public, and ``/healthz`` names internal failures.

Each running bot gets its own ``CollectorRegistry``, never prometheus-client's global one, so
several bots in one process (the tests) keep separate figures.

What is counted, and from where:

- messages sent, and send attempts that did not deliver by ``outcome`` (retry, failed,
  cancelled) and a short ``reason`` class; counted when the dispatcher counts an outcome, i.e.
  once it is in the ledger (digests too: the digest job counts through the dispatcher).
- deliveries owed and due, read from the store at each scrape.
- 429 answers, from the rate limiter's own counter.
- feed polls and failed polls, counted when the importer has recorded a poll's result.
- the time each update spends in the handlers (see ``watch_updates``).
- whether this instance leads (``newsbot_leader``, read at scrape): with several instances on
  one PostgreSQL store, only the leader polls, sends bulk and runs the schedule.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
)
from prometheus_client.core import CounterMetricFamily, Metric
from prometheus_client.process_collector import ProcessCollector
from prometheus_client.registry import Collector

from core.settings import MetricsConfig
from storage import Feed, Store
from storage.deliveries import CANCELLED, FAILED, OWED, SENT, Outcome

# PTB and aiohttp's server are imported where they are used, so importing this module stays
# cheap for the CLI.
if TYPE_CHECKING:
    from aiohttp import web
    from telegram.ext import Application

    from bot.context import Services
    from bot.delivery.dispatcher import Dispatcher
    from bot.ratelimit import TelegramRateLimiter
    from ingest.pipeline import Importer

log = logging.getLogger(__name__)

STALL_SECONDS = 60.0
STORE_TIMEOUT = 2.0
# Outside any group a real handler uses: every update passes through both, whatever else
# handles it. Within a group only the first matching handler runs, so they need groups of
# their own.
FIRST_GROUP, LAST_GROUP = -1_000_000, 1_000_000
_STARTED = "newsbot_update_started"

# Telegram's descriptions (PTB strips the "Bad Request: " prefix), lower-cased; first match
# wins. A label value is always one of these names, never text from Telegram or a user.
_REASONS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("blocked", ("bot was blocked",)),
    (
        "kicked",
        ("bot was kicked", "bot is not a member", "have no rights", "not enough rights"),
    ),
    ("chat_not_found", ("chat not found",)),
    ("deactivated", ("user is deactivated",)),
    ("too_long", ("too long",)),
    ("bad_format", ("can't parse entities",)),
    ("flood", ("too many requests",)),
    ("article_gone", ("article no longer stored",)),
)


class MetricsError(RuntimeError):
    """The metrics listener cannot start; the message is one line naming what to fix."""


def reason_class(outcome: Outcome) -> str:
    """A short, fixed name for why a send did not deliver."""
    text = (outcome.error or "").lower()
    for name, markers in _REASONS:
        if any(marker in text for marker in markers):
            return name
    # The dispatcher retries exactly the transient failures (network, timeouts, 5xx), and
    # gives up on one only after many of them.
    if outcome.status == OWED or text.startswith("gave up after"):
        return "network"
    return "other"


def update_kind(update: object) -> str:
    """``message``, ``callback_query``, ... : which field of the Update is set."""
    from telegram import Update

    if isinstance(update, Update):
        for kind in Update.ALL_TYPES:
            if getattr(update, kind, None) is not None:
                return kind
    return "other"


class Metrics:
    """The bot's instruments, in a registry of their own."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        r = self.registry
        self.sent = Counter(
            "newsbot_messages_sent", "Messages delivered, counted once in the ledger.", registry=r
        )
        self.failed = Counter(
            "newsbot_messages_failed",
            "Send attempts that did not deliver: outcome is retry, failed or cancelled.",
            ["outcome", "reason"],
            registry=r,
        )
        self.owed = Gauge(
            "newsbot_ledger_owed", "Deliveries not yet sent (read at scrape time).", registry=r
        )
        self.due = Gauge(
            "newsbot_ledger_due", "Owed deliveries whose time has come (at scrape).", registry=r
        )
        self.feed_polls = Counter("newsbot_feed_polls", "Feed polls, failed ones too.", registry=r)
        self.feed_failures = Counter(
            "newsbot_feed_poll_failures", "Feed polls that failed.", registry=r
        )
        self.update_seconds = Histogram(
            "newsbot_update_seconds",
            "Time one update spends in the handlers, by update kind.",
            ["kind"],
            registry=r,
        )
        self.leader = Gauge(
            "newsbot_leader",
            "1 while this instance leads (polls, sends bulk, runs the schedule), else 0.",
            registry=r,
        )
        self.limiter: TelegramRateLimiter | None = None
        r.register(_LimiterCollector(self))
        ProcessCollector(registry=r)

    # -- what the bot reports --------------------------------------------------------------

    def count_outcome(self, outcome: Outcome) -> None:
        if outcome.status == SENT:
            self.sent.inc()
        elif outcome.status == FAILED:
            self.failed.labels("failed", reason_class(outcome)).inc()
        elif outcome.status == CANCELLED:
            self.failed.labels("cancelled", reason_class(outcome)).inc()
        elif outcome.attempted:  # owed again after a try; not-attempted rows were only deferred
            self.failed.labels("retry", reason_class(outcome)).inc()

    def count_feed_poll(self, *, failed: bool) -> None:
        self.feed_polls.inc()
        if failed:
            self.feed_failures.inc()

    async def refresh(self, store: Store, now: int) -> None:
        """Read the ledger's figures for this scrape; on failure the last ones stay."""
        # stats() also counts the last day's sends and failures (index range scans): a few
        # milliseconds on the store's thread, fine at Prometheus' usual 15-60 s interval.
        try:
            stats = await asyncio.wait_for(store.deliveries.stats(now), STORE_TIMEOUT)
        except Exception as exc:  # /healthz reports the store; a scrape still answers
            log.debug("metrics: ledger figures unavailable: %s", exc)
            return
        self.owed.set(stats.owed)
        self.due.set(stats.due_now)

    # -- hooking into a running bot ----------------------------------------------------------

    def watch_dispatcher(self, dispatcher: Dispatcher) -> None:
        """Count every outcome the dispatcher counts (its sends, digests and channel slots').

        The dispatcher tells its listeners each outcome once it is in the ledger, so the
        figures keep in step with the ledger without a second path.
        """
        dispatcher.listeners.append(self.count_outcome)
        self.limiter = dispatcher.limiter

    def watch_feed_polls(self, importer: Importer) -> None:
        """Count polls as the importer records them: each poll ends in exactly one record."""
        importer.on_polled.append(self.feed_polled)

    def feed_polled(self, feed: Feed, error: str | None) -> None:
        self.count_feed_poll(failed=error is not None)

    def watch_updates(self, app: Application[Any, Any, Any, Any, Any, Any]) -> None:
        """Time each update from a handler that runs first to one that runs last.

        The context object is shared by every handler of one update, so the start time rides
        on it. Not timed: updates no handler of ours matches at all, handlers run with
        ``block=False``, and updates whose processing is stopped early with
        ``ApplicationHandlerStop`` (newsbot uses neither). The time includes the error handler
        when a handler fails, which is what a user waits through.
        """

        from telegram import Update
        from telegram.ext import TypeHandler

        async def started(update: object, context: Any) -> None:
            vars(context)[_STARTED] = time.perf_counter()

        async def finished(update: object, context: Any) -> None:
            began = vars(context).pop(_STARTED, None)
            if began is not None:
                elapsed = time.perf_counter() - began
                self.update_seconds.labels(update_kind(update)).observe(elapsed)

        app.add_handler(TypeHandler(Update, started), group=FIRST_GROUP)
        app.add_handler(TypeHandler(Update, finished), group=LAST_GROUP)


class _LimiterCollector(Collector):
    """The rate limiter keeps its own count of 429s; read it at scrape time."""

    def __init__(self, metrics: Metrics) -> None:
        self.metrics = metrics

    def collect(self) -> Iterator[Metric]:
        limiter = self.metrics.limiter
        yield CounterMetricFamily(
            "newsbot_telegram_429",
            "429 Too Many Requests answers from Telegram (each request was retried after).",
            value=limiter.retries_after_429 if limiter is not None else 0,
        )


@dataclass
class HealthCheck:
    """What ``/healthz`` looks at: the store answers, and the dispatcher loop goes round."""

    store: Store
    dispatcher: Dispatcher | None
    # A standby's dispatcher is stopped on purpose: only the leader's is checked.
    leading: Callable[[], bool] = field(default=lambda: True)
    stall_seconds: float = STALL_SECONDS
    store_timeout: float = STORE_TIMEOUT
    # The dispatcher's first round may still be ahead; count a stall from here until then.
    since: float = field(default_factory=lambda: asyncio.get_running_loop().time())

    async def problems(self) -> list[str]:
        found = []
        try:
            await asyncio.wait_for(self.store.db.run(_ping), self.store_timeout)
        except TimeoutError:
            found.append(f"store did not answer within {self.store_timeout:g} s")
        except Exception as exc:
            found.append(f"store unreachable: {type(exc).__name__}: {exc}")
        dispatcher = self.dispatcher
        if dispatcher is not None and self.leading():
            if not dispatcher.running:
                found.append("dispatcher is not running")
            else:
                now = asyncio.get_running_loop().time()
                idle = now - max(dispatcher.stats.last_progress, self.since)
                if idle > self.stall_seconds:
                    found.append(f"dispatcher loop has not progressed for {idle:.0f} s")
        return found


def _ping(conn: Any) -> None:
    conn.execute("SELECT 1").fetchone()


class OpsServer:
    """The aiohttp server behind ``/metrics`` and ``/healthz``."""

    def __init__(
        self,
        metrics: Metrics,
        health: HealthCheck,
        *,
        now: Callable[[], int],
        listen: str = "127.0.0.1",
        port: int = 9464,
    ) -> None:
        self.metrics = metrics
        self.health = health
        self.now = now
        self.listen = listen
        self.requested_port = port
        self.port: int | None = None
        self._runner: web.AppRunner | None = None

    @property
    def url(self) -> str:
        return f"http://{self.listen}:{self.port}"

    async def start(self) -> None:
        from aiohttp import web

        app = web.Application()
        app.router.add_get("/metrics", self._metrics)
        app.router.add_get("/healthz", self._healthz)
        runner = web.AppRunner(app, access_log=None, shutdown_timeout=1.0)
        await runner.setup()
        site = web.TCPSite(runner, self.listen, self.requested_port)
        try:
            await site.start()
        except OSError as exc:
            await runner.cleanup()
            raise MetricsError(
                f"cannot listen on {self.listen}:{self.requested_port} for [metrics]:"
                f" {exc.strerror or exc}"
            ) from exc
        self._runner = runner
        self.port = int(runner.addresses[0][1])
        log.info("metrics and health check on %s", self.url)

    async def stop(self) -> None:
        runner, self._runner = self._runner, None
        if runner is not None:
            await runner.cleanup()

    async def _metrics(self, request: web.Request) -> web.Response:
        from aiohttp import web

        await self.metrics.refresh(self.health.store, self.now())
        body = generate_latest(self.metrics.registry)
        return web.Response(body=body, headers={"Content-Type": CONTENT_TYPE_LATEST})

    async def _healthz(self, request: web.Request) -> web.Response:
        from aiohttp import web

        problems = await self.health.problems()
        if problems:
            return web.Response(status=503, text="\n".join(problems) + "\n")
        return web.Response(text="ok\n")


async def start_ops_server(
    app: Application[Any, Any, Any, Any, Any, Any], config: MetricsConfig
) -> OpsServer:
    """Instrument the bot built in post_init and serve its metrics; call ``stop()`` at shutdown.

    Call it once per application, after the services are attached: it hooks into the
    dispatcher, the feed importer and the handlers of this one instance.
    """
    services: Services = app.bot_data.services
    dispatcher = services.delivery.dispatcher
    metrics = Metrics()
    metrics.watch_dispatcher(dispatcher)
    metrics.watch_feed_polls(services.importer)
    metrics.watch_updates(app)
    leadership = services.leadership
    metrics.leader.set_function(lambda: 1.0 if leadership.leading else 0.0)
    server = OpsServer(
        metrics,
        HealthCheck(services.store, dispatcher, leading=lambda: leadership.leading),
        now=services.now,
        listen=config.listen,
        port=config.port,
    )
    await server.start()
    return server


__all__ = [
    "HealthCheck",
    "Metrics",
    "MetricsError",
    "OpsServer",
    "reason_class",
    "start_ops_server",
]
