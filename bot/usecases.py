"""What the bot does, free of Telegram: the handlers, the CLI and the demo all call these.

A handler reads the update, calls one function here and renders the answer; nothing here
imports python-telegram-bot, so each rule lives once and is testable with a store alone.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Protocol

import httpx

from core.clock import Clock
from core.settings import Config, DeliveryConfig
from ingest.errors import ImportFailure
from ingest.fetch import fetch_feed
from ingest.pipeline import Importer
from ingest.topics import TopicTagger
from storage import Article, Store

NEW_FEED_EVERY = 600  # seconds between polls of a feed added by /addfeed


class Owing(Protocol):
    """Delivery as a subscription sees it: owe a chat the backlog of topics it just chose."""

    async def subscribed(
        self, chat_id: int, topics: Sequence[str], thread: int | None = None
    ) -> int: ...


async def owe_new_articles(
    store: Store, config: DeliveryConfig, article_ids: Sequence[int], now: int
) -> int:
    """Owe new articles to every chat subscribed to their topics, unless they are too old.

    The one place of the max-age rule: an article published before ``max_age_seconds`` ago is
    archive, not news, and nobody is sent it.
    """
    oldest = now - config.max_age_seconds
    return await store.deliveries.fan_out(article_ids, now, published_after=oldest)


def make_importer(
    store: Store,
    config: Config,
    *,
    clock: Clock,
    tagger: TopicTagger | None = None,
    owed: Callable[[int], None] | None = None,
    deliver: bool = True,
) -> Importer:
    """The Importer every entry point uses: what it stores new is owed to subscribers.

    ``owed`` is told how many deliveries a batch added, when it added some (the bot wakes its
    dispatcher); without it the rows wait in the ledger for a running bot to send (the CLI).
    ``deliver=False`` stores without owing anything: an archive loaded as old news (the demo).
    """

    async def owe(article_ids: list[int]) -> int:
        added = await owe_new_articles(
            store, config.delivery, article_ids, int(clock().timestamp())
        )
        if added and owed is not None:
            owed(added)
        return added

    return Importer(
        store, tagger or TopicTagger(config.topics), now=clock, on_new=owe if deliver else None
    )


async def subscribe(
    store: Store,
    delivery: Owing,
    chat_id: int,
    slugs: Sequence[str],
    now: int,
    *,
    thread: int | None = None,
) -> list[str]:
    """Follow topics; each newly followed one brings the configured backlog of recent articles.

    In a forum, ``thread`` is the topic thread they are delivered into (None: General).
    Returns the topics that were not followed before.
    """
    added = await store.subscriptions.subscribe(chat_id, slugs, now, thread=thread)
    if thread is not None:
        await store.chats.thread_back(chat_id, thread)
    if added:
        await delivery.subscribed(chat_id, added, thread)
    return added


@dataclass(frozen=True)
class LatestPage:
    articles: list[Article]  # one a story, shown by its newest report
    more: bool  # a next page has something on it
    sources: dict[int, int] = field(default_factory=dict)  # reports of each shown story


async def latest_page(store: Store, topic: str | None, offset: int, count: int) -> LatestPage:
    """One page of the newest stories, optionally of one topic, with their reports' count."""
    # One extra row tells whether a "More" button has anything behind it.
    found = await store.articles.latest_stories(topic=topic, limit=count + 1, offset=offset)
    shown = found[:count]
    sources = {article.id: n for article, n in shown}
    return LatestPage([article for article, _ in shown], len(found) > count, sources)


@dataclass(frozen=True)
class FeedAdded:
    """What adding a feed did: registered and read when ``error`` is None."""

    error: str | None = None  # why the feed was not added, or (when known) not read
    feed_id: int | None = None
    known: bool = False  # the feed was registered before
    imported: int = 0
    duplicate: int = 0
    # Entries of a feed that works which could not be stored, and replaced impossible dates:
    # one line each, told to the admin; they do not make the feed unusable.
    warnings: tuple[str, ...] = ()


async def add_feed(
    store: Store,
    importer: Importer,
    http: httpx.AsyncClient,
    config: Config,
    url: str,
    slugs: Sequence[str],
    now: int,
) -> FeedAdded:
    """Register a feed once a first fetch shows it works, and store what it has."""
    # Fetched before it is registered: an address that never answered with a feed (or that
    # the fetch policy refuses) must not stay in the store to be polled for ever.
    # Looked up before the fetch: a registered feed that fails to fetch now is known, not
    # "not added".
    registered = await store.feeds.find(url)
    known = registered is not None
    try:
        fetched = await fetch_feed(http, url, etag=None, last_modified=None, config=config.fetch)
    except ImportFailure as failure:
        return FeedAdded(failure.reason, registered.id if registered else None, known)
    feed = await store.feeds.add(url, slugs, NEW_FEED_EVERY, now)
    summary = await importer.poll_feed(feed, http, config.fetch, fetched)
    # The document decides, as the poller does: a feed whose poll recorded success works, even
    # when some of its entries could not be stored (their siblings were); only a document that
    # did not parse as a feed keeps it out.
    polled = await store.feeds.find(url)
    if polled is not None and polled.last_error is None:
        warnings = (*summary.failures, *summary.warnings)
        return FeedAdded(
            None, feed.id, known, summary.imported, summary.duplicate, warnings=warnings
        )
    if not known:
        await store.feeds.remove(feed.id)  # never worked: not registered
    return FeedAdded(summary.failures[-1], feed.id, known)  # the document's failure


__all__ = [
    "FeedAdded",
    "LatestPage",
    "Owing",
    "add_feed",
    "latest_page",
    "make_importer",
    "owe_new_articles",
    "subscribe",
]
