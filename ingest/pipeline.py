"""Import a batch of sources (files, folders, URLs) into the store, and poll configured feeds.

One bad source or record is reported and skipped; the rest of the batch still imports.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Iterator, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from pathlib import Path

import httpx

from core.clock import Clock
from core.settings import FetchConfig
from ingest.agency import looks_like_agency, parse_agency
from ingest.errors import ImportFailure
from ingest.feeds import parse_feed
from ingest.fetch import FetchResult, fetch_feed, make_client
from ingest.jsonio import parse_json_documents
from ingest.topics import TopicTagger
from semantic.worker import Embedded
from storage import NewArticle, Store, StoreBusy, StoreError
from storage.articles import DUPLICATE, INSERTED, UPDATED
from storage.feeds import Feed
from storage.timeutil import storable

log = logging.getLogger(__name__)

# Articles a bulk write takes: reads that cover a batch's time window (its story candidates)
# and a write's fixed costs are shared by more articles. 2,000 imported ~5% faster than 1,000
# into PostgreSQL; 3,000 and 4,000 slower again (longer to fill and drain the pipeline).
BATCH_SIZE = 2000
# Parsed items between two turns of the event loop (see store_articles).
YIELD_EVERY = 50
# Articles written in bulk between two merges of the full-text index's pending entries
# (SearchEngine.merge_pending): merged 4,000 at a time, a document's words cost the server
# ~65 µs, 1,000 at a time ~107 (measured on this store's index at 100,000 articles). The
# list (~13 MB) stays under the limit the bulk writes set (storage.articles.BULK_PENDING_LIST).
MERGE_AFTER = 4000
# A dateline later than this after the import is a typo or a hostile feed, not news: it would
# sit on top of /latest for years. A day covers clock skew and a publisher's local time
# mislabelled as UTC (at most 14 hours off).
FUTURE_TOLERANCE = timedelta(days=1)
JSON_SUFFIXES = {".json", ".jsonl", ".ndjson"}
FEED_SUFFIXES = {".xml", ".rss", ".atom", ".rdf"}


@dataclass(slots=True)
class ImportSummary:
    imported: int = 0
    updated: int = 0
    duplicate: int = 0
    failed: int = 0
    failures: list[str] = field(default_factory=list)
    # One line per source that had something replaced on the way in (impossible dates).
    warnings: list[str] = field(default_factory=list)
    article_ids: list[int] = field(default_factory=list)
    new_ids: list[int] = field(default_factory=list)

    def add(self, other: ImportSummary) -> None:
        """Count another batch's outcomes into this one."""
        self.imported += other.imported
        self.updated += other.updated
        self.duplicate += other.duplicate
        self.failed += other.failed
        self.failures += other.failures
        self.warnings += other.warnings
        self.article_ids += other.article_ids
        self.new_ids += other.new_ids

    def fail(self, failure: ImportFailure) -> None:
        self.failed += 1
        self.failures.append(str(failure))

    @property
    def ok(self) -> bool:
        return self.failed == 0


Progress = Callable[[int], None]


def expand_paths(sources: Iterable[str]) -> Iterator[str]:
    """Folders become the files inside them (sorted, hidden files skipped); URLs pass through.

    Hidden means hidden below the folder given: ``../arts`` and ``.cache/feeds`` are folders
    the user named, and their files are imported.
    """
    for source in sources:
        if is_url(source):
            yield source
            continue
        path = Path(source)
        if path.is_dir():
            for child in sorted(path.rglob("*")):
                inside = child.relative_to(path).parts
                if child.is_file() and not any(p.startswith(".") for p in inside):
                    yield str(child)
        else:
            yield source


def is_url(source: str) -> bool:
    return source.startswith(("http://", "https://", "file://"))


def read_file(source: str, max_bytes: int) -> bytes:
    path = Path(source)
    # JSON Lines exports are legitimately big; the cap guards against feeds and stray files.
    if path.stat().st_size > max_bytes and path.suffix.lower() not in JSON_SUFFIXES:
        raise ImportFailure(source, f"file is larger than {max_bytes} bytes")
    return path.read_bytes()


def parse_bytes(
    data: bytes, *, source: str, default_topics: Sequence[str] = ()
) -> Iterator[NewArticle | ImportFailure]:
    """Pick the importer by file name, then by content, and yield articles or failures.

    Raises nothing: whatever an importer trips over in hostile input ends that source with one
    failure line, and the command goes on with the next source.
    """
    items = _parse_bytes(data, source=source, default_topics=default_topics)
    while True:
        try:
            item = next(items)
        except StopIteration:
            return
        except Exception as exc:
            log.debug("importer crashed on %s", source, exc_info=True)
            yield ImportFailure(source, f"cannot import: {type(exc).__name__}: {exc}")
            return
        yield item


def _parse_bytes(
    data: bytes, *, source: str, default_topics: Sequence[str] = ()
) -> Iterator[NewArticle | ImportFailure]:
    suffix = Path(source.split("?", 1)[0]).suffix.lower()
    head = data.lstrip(b"\xef\xbb\xbf \t\r\n")[:1]
    if suffix in JSON_SUFFIXES or (suffix not in FEED_SUFFIXES and head in (b"{", b"[")):
        yield from parse_json_documents(data, source=source)
        return
    if suffix in FEED_SUFFIXES or head == b"<":
        try:
            result = parse_feed(data, source=source, default_topics=default_topics)
        except ImportFailure as failure:
            yield failure
            return
        yield from result.failures
        yield from result.articles
        return
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        yield ImportFailure(source, f"not UTF-8 text ({exc.reason} at byte {exc.start})")
        return
    if not looks_like_agency(text):
        yield ImportFailure(
            source, "not a recognised format (agency text, JSON, JSON Lines, RSS or Atom)"
        )
        return
    try:
        yield parse_agency(text, source=source)
    except ImportFailure as failure:
        yield failure


class Importer:
    """Tags and stores articles in batches, counting what happened."""

    def __init__(
        self,
        store: Store,
        tagger: TopicTagger,
        *,
        now: Clock,
        on_new: Callable[[list[int]], Awaitable[object]] | None = None,
        on_polled: list[Callable[[Feed, str | None], None]] | None = None,
    ) -> None:
        self.store = store
        self.tagger = tagger
        self.now = now
        # Told the ids of newly stored articles after each batch: delivery owes them to readers.
        self.on_new = on_new
        # Told each feed poll once its result is recorded, with the error or None (metrics).
        self.on_polled = on_polled if on_polled is not None else []
        # The search index's merge after bulk batches (_merge_pending): one at a time.
        self._merging: asyncio.Task[None] | None = None
        self._unmerged = 0  # articles written in bulk since the last merge started
        self._bulk = False  # whether this import wrote a full batch (then all it writes counts)
        self._merge_refused = False

    async def store_articles(
        self,
        items: Iterable[NewArticle | ImportFailure],
        summary: ImportSummary,
        *,
        extra_topics: Sequence[str] = (),
        progress: Progress | None = None,
        source: str = "import",
    ) -> None:
        self._bulk = False
        batch: list[NewArticle] = []
        # Batches in flight, written one at a time and in order: each write starts as soon as
        # the one before it ends (it awaits it), its batch embedded meanwhile (in the store's
        # child process, or a thread), while the next is parsed and tagged here. At most two
        # writes wait at once, so at most three batches are held.
        writing: asyncio.Task[None] | None = None
        waiting: asyncio.Task[None] | None = None
        now = self.now()
        replaced = 0
        try:
            for n, item in enumerate(items, start=1):
                if n % YIELD_EVERY == 0:
                    # Parsing holds the event loop: let a finished write hand over to the next.
                    await asyncio.sleep(0)
                if isinstance(item, ImportFailure):
                    summary.fail(item)
                    log.warning("import failed: %s", item)
                    continue
                item, bad_dates = checked_dates(item, now)
                replaced += bad_dates
                topics = self.tagger.tag(item, extra_topics)
                batch.append(replace(item, topics=topics))
                if len(batch) >= BATCH_SIZE:
                    if waiting is not None:
                        await waiting
                    waiting, writing = (
                        writing,
                        asyncio.create_task(
                            self._flush(batch, self._embed(batch), summary, progress, after=writing)
                        ),
                    )
                    batch = []
            for task in (waiting, writing):
                if task is not None:
                    await task
            if batch:
                await self._flush(batch, self._embed(batch), summary, progress)
        except BaseException:
            for task in (waiting, writing, self._merging):
                if task is not None and not task.done():
                    task.cancel()
                elif task is not None and not task.cancelled():
                    task.exception()  # the error raised here already; retrieved, not logged
            raise
        if self._merging is not None:
            await self._merging
        if self._unmerged:
            self._merge_pending()  # the last batches' words: searched from the index proper
            if self._merging is not None:
                await self._merging
        if replaced:
            summary.warnings.append(
                f"{source}: {replaced} date(s) impossible or more than"
                f" {FUTURE_TOLERANCE.days} day(s) ahead: stored the import time"
                " (related headlines: no time) instead"
            )

    def _merge_pending(self) -> None:
        """Merge the search index's pending entries beside the next batch's write
        (``SearchEngine.merge_pending``); one merge at a time."""
        if self._merge_refused or (self._merging is not None and not self._merging.done()):
            return
        self._unmerged = 0
        self._merging = asyncio.create_task(self._merge())

    async def _merge(self) -> None:
        # Failing, the writes merge the list themselves, as PostgreSQL does without this:
        # slower, nothing lost.
        try:
            await self.store.search.merge_pending()
        except StoreBusy as exc:
            log.debug("import: the search index's merge waits for the next batch: %s", exc)
        except StoreError as exc:  # not the index's owner: not asked again
            self._merge_refused = True
            log.info("import: not merging the search index beside the writes: %s", exc)

    def _embed(self, batch: Sequence[NewArticle]) -> asyncio.Future[Embedded] | None:
        """Start embedding a batch now (None without a model): it runs while the batch
        before it is written."""
        meaning = self.store.meaning
        if meaning is None:
            return None
        return asyncio.ensure_future(
            meaning.prepare_articles([(a.title, a.summary, a.body) for a in batch])
        )

    async def _flush(
        self,
        batch: list[NewArticle],
        embedding: asyncio.Future[Embedded] | None,
        summary: ImportSummary,
        progress: Progress | None,
        *,
        after: Awaitable[None] | None = None,
    ) -> None:
        """Write a batch once its embedding is done and the write before it (``after``) has
        ended; a failed write before it fails this one, unwritten."""
        try:
            if after is not None:
                await after
            embedded = await embedding if embedding is not None else None
        except BaseException:
            if embedding is not None:
                embedding.cancel()
            raise
        meaning = self.store.meaning
        outcomes = await self.store.articles.upsert_many(
            batch,
            now=self.now(),
            vectors=None if embedded is None else embedded.vectors,
            meaning=meaning,
            documents=None if embedded is None else embedded.documents,
            words=None if embedded is None else embedded.words,
        )
        if len(batch) >= BATCH_SIZE or self._bulk:  # an import's short last batch counts too
            self._bulk = True
            self._unmerged += len(batch)
            if self._unmerged >= MERGE_AFTER:
                self._merge_pending()
        fresh = [o.article_id for o in outcomes if o.status == INSERTED]
        if fresh and self.on_new is not None:
            await self.on_new(fresh)
        for outcome in outcomes:
            summary.article_ids.append(outcome.article_id)
            if outcome.status == INSERTED:
                summary.imported += 1
                summary.new_ids.append(outcome.article_id)
            elif outcome.status == UPDATED:
                summary.updated += 1
            elif outcome.status == DUPLICATE:
                summary.duplicate += 1
        if progress is not None:
            progress(len(batch))

    async def import_sources(
        self,
        sources: Sequence[str],
        fetch_config: FetchConfig,
        *,
        progress: Progress | None = None,
        client: httpx.AsyncClient | None = None,
    ) -> ImportSummary:
        summary = ImportSummary()
        async with _client(client, fetch_config) as http:
            for source in expand_paths(sources):
                data = await self._read(source, http, fetch_config, summary)
                if data is not None:
                    await self.store_articles(
                        parse_bytes(data, source=source),
                        summary,
                        progress=progress,
                        source=source,
                    )
        return summary

    async def _read(
        self,
        source: str,
        http: httpx.AsyncClient,
        fetch_config: FetchConfig,
        summary: ImportSummary,
    ) -> bytes | None:
        try:
            if is_url(source):
                fetched = await fetch_feed(
                    http, source, etag=None, last_modified=None, config=fetch_config
                )
                return fetched.content or b""
            return await asyncio.to_thread(read_file, source, fetch_config.max_bytes)
        except ImportFailure as failure:
            summary.fail(failure)
        except FileNotFoundError:
            summary.fail(ImportFailure(source, "no such file"))
        except OSError as exc:
            summary.fail(ImportFailure(source, f"cannot read: {exc.strerror or exc}"))
        return None

    async def poll_feed(
        self,
        feed: Feed,
        http: httpx.AsyncClient,
        fetch_config: FetchConfig,
        fetched: FetchResult | None = None,
    ) -> ImportSummary:
        """Fetch one feed with its validators (unless ``fetched`` already holds the answer),
        store what is new, and record the outcome."""
        summary = ImportSummary()
        now = int(self.now().timestamp())
        try:
            fetched = fetched or await fetch_feed(
                http,
                feed.url,
                etag=feed.etag,
                last_modified=feed.last_modified,
                config=fetch_config,
            )
            if fetched.content is not None:
                result = parse_feed(fetched.content, source=feed.url, default_topics=feed.topics)
                await self.store_articles(
                    [*result.failures, *result.articles],
                    summary,
                    extra_topics=feed.topics,
                    source=feed.url,
                )
                for warning in summary.warnings:
                    log.warning("feed %s", warning)
        except ImportFailure as failure:
            summary.fail(failure)
            await self.store.feeds.record_failure(feed, failure.reason, now=now)
            log.warning("feed %s failed: %s", feed.url, failure.reason)
            self._polled(feed, failure.reason)
            return summary
        await self.store.feeds.record_success(
            feed, etag=fetched.etag, last_modified=fetched.last_modified, now=now
        )
        self._polled(feed, None)
        return summary

    def _polled(self, feed: Feed, error: str | None) -> None:
        for listener in self.on_polled:
            listener(feed, error)


def checked_dates(article: NewArticle, now: datetime) -> tuple[NewArticle, int]:
    """The article with impossible dates replaced, and how many there were.

    A date the store cannot hold (outside years 1..9999 in UTC or in its own zone) or later than
    FUTURE_TOLERANCE after ``now`` becomes ``now`` for the article's own dateline and "no time"
    for a related headline, so one hostile entry can never poison later reads.
    """
    latest = now + FUTURE_TOLERANCE

    def fits(value: datetime | None) -> bool:
        return value is None or (storable(value) and value <= latest)

    own = (article.published_at, article.created_at, article.updated_at)
    bad = sum(not fits(value) for value in own)
    bad += sum(not fits(entry.published_at) for entry in article.related)
    if not bad:
        return article, 0
    published_at, created_at, updated_at = (value if fits(value) else None for value in own)
    fixed = replace(
        article,
        published_at=published_at or (now if article.published_at else None),
        created_at=created_at,
        updated_at=updated_at,
        related=tuple(
            e if fits(e.published_at) else replace(e, published_at=None) for e in article.related
        ),
    )
    return fixed, bad


@asynccontextmanager
async def _client(
    given: httpx.AsyncClient | None, config: FetchConfig
) -> AsyncIterator[httpx.AsyncClient]:
    """Use the caller's HTTP client, or make one for this batch and close it after."""
    if given is not None:
        yield given
        return
    async with make_client(config) as made:
        yield made
