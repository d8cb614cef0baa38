"""Periodic work on python-telegram-bot's JobQueue: feeds, channel slots, digests, pruning.

Jobs have fixed names and replace an older instance of themselves, so a restart or a config
reload never runs the same job twice. With several instances on one PostgreSQL store, every
instance keeps the schedule and only the leader does the work of a slot (the instance that
also sends every bulk delivery), so each slot runs once across instances; after a takeover the
new leader's next slot catches up (feeds that are due, digests not yet sent today).
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from telegram.ext import Application, JobQueue

from bot.context import Context, Services
from bot.delivery.service import ChannelState

log = logging.getLogger(__name__)

FEED_CHECK_SECONDS = 30
DIGEST_CHECK_SECONDS = 60
PRUNE_SECONDS = 6 * 3600
FEEDS_AT_ONCE = 4
SEARCH_STATS_SECONDS = 24 * 3600


def schedule_jobs(app: Application[Any, Any, Any, Any, Any, Any], services: Services) -> None:
    queue: JobQueue[Any] | None = app.job_queue
    if queue is None:
        raise RuntimeError("newsbot needs python-telegram-bot[job-queue]")
    _every(queue, poll_feeds, FEED_CHECK_SECONDS, "feeds", first=1)
    _every(queue, send_digests, DIGEST_CHECK_SECONDS, "digests", first=5)
    _every(queue, prune_ledger, PRUNE_SECONDS, "prune", first=60)
    _every(queue, refresh_search, SEARCH_STATS_SECONDS, "search-stats", first=300)
    for state in services.delivery.channels:
        if state.chat_id is None or state.config.every_seconds is None:
            continue
        state.job = _every(
            queue,
            channel_slot,
            state.config.every_seconds,
            f"channel:{state.chat_id}",
            first=state.config.every_seconds,
            data=state,
        )


def _every(
    queue: JobQueue[Any],
    callback: Any,
    seconds: float,
    name: str,
    *,
    first: float,
    data: object = None,
) -> Any:
    for old in queue.get_jobs_by_name(name):
        old.schedule_removal()

    async def if_leading(context: Context) -> None:
        if context.bot_data.services.leadership.leading:
            await callback(context)

    return queue.run_repeating(if_leading, interval=seconds, first=first, name=name, data=data)


async def poll_feeds(context: Context) -> None:
    """Poll every feed whose time has come (each at its own interval, failing ones backed off)."""
    services = context.bot_data.services
    due = await services.store.feeds.due(services.now())
    if not due:
        return
    importer = services.importer
    gate = asyncio.Semaphore(FEEDS_AT_ONCE)

    async def poll(feed: Any) -> None:
        async with gate:
            summary = await importer.poll_feed(feed, services.http, services.config.fetch)
            if summary.imported or summary.updated:
                log.info("feed %s: %d new, %d updated", feed.url, summary.imported, summary.updated)

    await asyncio.gather(*(poll(feed) for feed in due))


async def send_digests(context: Context) -> None:
    """Send the digests whose local time has come."""
    await context.bot_data.services.delivery.send_due_digests()


async def channel_slot(context: Context) -> None:
    """One slot of a scheduled channel."""
    job = context.job
    if job is None or not isinstance(job.data, ChannelState):
        return
    await context.bot_data.services.delivery.post_channel_slot(job.data)


async def prune_ledger(context: Context) -> None:
    """Forget finished deliveries older than ``[delivery].keep_days``."""
    services = context.bot_data.services
    before = services.now() - services.config.delivery.keep_days * 86400
    removed = await services.store.deliveries.prune(before)
    if removed:
        log.info("pruned %d old delivery records", removed)


__all__ = ["schedule_jobs"]


async def refresh_search(context: Context) -> None:
    """Rebuild the related engine's word statistics off the request path."""
    services = context.bot_data.services
    terms = await services.store.search.refresh_term_stats()
    log.info("search statistics refreshed: %d terms", terms)
