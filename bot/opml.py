"""OPML import and export as ``newsbot opml`` and the bot's admins use them.

Import adds each feed through ``/addfeed``'s use case (fetch under the fetch policy, register
only what fetched, store its articles); ``ingest.opml`` reads the file and reports.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

import httpx

from bot import usecases
from core.settings import Config
from ingest.opml import FeedOutcome, OpmlReport, import_opml, write_opml
from ingest.pipeline import Importer
from storage import Store

__all__ = ["export_opml", "import_opml_feeds", "report_lines"]

EXPORT_TITLE = "newsbot feeds"


async def import_opml_feeds(
    store: Store,
    importer: Importer,
    http: httpx.AsyncClient,
    config: Config,
    data: bytes,
    now: Callable[[], int],
) -> OpmlReport:
    """Add the feeds of an OPML file that are not registered yet; report what happened."""

    async def add(url: str, slugs: tuple[str, ...]) -> FeedOutcome:
        added = await usecases.add_feed(store, importer, http, config, url, slugs, now())
        return FeedOutcome(added.error, added.imported)

    known = [feed.url for feed in await store.feeds.all()]
    return await import_opml(data, config.topics, known, add)


async def export_opml(store: Store, config: Config, now: datetime) -> str:
    """OPML 2.0 of every feed, from the config and added, with its topics as ``category``."""
    feeds = await store.feeds.all()
    return write_opml(
        ((feed.url, feed.topics) for feed in feeds), config.topics, title=EXPORT_TITLE, now=now
    )


def report_lines(report: OpmlReport) -> list[str]:
    """One line per problem, then the counts."""
    return [*report.problems, report.summary()]
