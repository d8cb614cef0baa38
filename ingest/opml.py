"""OPML subscription lists: read one into feeds with topics, import them, write one out.

The XML is read by expat with every entity declaration refused (internal ones make the
"billion laughs" bomb, external ones read local files or reach the network) and external entity
references never resolved, as defusedxml does, so a hostile file costs one problem line. Each
problem (not XML, no outlines, a relative or non-http ``xmlUrl``, a duplicate, too many
outlines, an unknown topic) is one line of the report; the good feeds are imported anyway.

Importing fetches each feed before registering it, as ``/addfeed`` does (the caller passes that
use case in as ``add``), a few at a time: an editor moving 200 feeds from another reader learns
at once which ones do not work here, instead of a store that polls dead or refused addresses
for ever.
"""

from __future__ import annotations

import asyncio
import re
import xml.parsers.expat
from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from email.utils import format_datetime
from xml.sax.saxutils import escape, quoteattr

from core.settings import TopicConfig

__all__ = [
    "MAX_BYTES",
    "MAX_OUTLINES",
    "FeedOutcome",
    "OpmlDocument",
    "OpmlFeed",
    "OpmlReport",
    "import_opml",
    "read_opml",
    "write_opml",
]

MAX_BYTES = 5 * 1024 * 1024
# Far above any reader's export (a heavy user has a few hundred feeds), far below a flood.
MAX_OUTLINES = 2_000
CONCURRENCY = 4  # first fetches at once: polite to servers, and a 2-core machine stays responsive

_WEB_URL = re.compile(r"https?://[^\s/?#]", re.IGNORECASE)
_CLIP = 80


@dataclass(frozen=True, slots=True)
class OpmlFeed:
    """One outline with an ``xmlUrl``: its names for a topic, from ``category`` or its folder."""

    url: str
    title: str
    topic_names: tuple[str, ...]
    line: int


@dataclass(frozen=True, slots=True)
class OpmlDocument:
    feeds: tuple[OpmlFeed, ...]
    problems: tuple[str, ...]


class _Refused(Exception):
    """Raised inside expat's callbacks to stop reading the document."""


class _Reader:
    def __init__(self) -> None:
        self.parser = xml.parsers.expat.ParserCreate()
        self.parser.SetParamEntityParsing(xml.parsers.expat.XML_PARAM_ENTITY_PARSING_NEVER)
        self.parser.EntityDeclHandler = self._entity
        self.parser.UnparsedEntityDeclHandler = self._entity
        self.parser.ExternalEntityRefHandler = self._external
        self.parser.StartElementHandler = self._start
        self.parser.EndElementHandler = self._end
        self.root: str | None = None
        self.in_body = False
        self.outlines = 0
        # Open outlines, innermost last: each one's title, or None for a feed outline.
        self.folders: list[str | None] = []
        self.feeds: list[OpmlFeed] = []
        self.seen: set[str] = set()
        self.problems: list[str] = []

    def _entity(self, *args: object) -> None:
        raise _Refused("refused: the file declares XML entities (an XML bomb or an XXE attempt)")

    def _external(self, *args: object) -> int:
        raise _Refused("refused: the file refers to an external entity")

    def _start(self, name: str, attributes: dict[str, str]) -> None:
        if self.root is None:
            self.root = name
            if name.lower() != "opml":
                raise _Refused(f"not OPML: the root element is <{_clip(name)}>, not <opml>")
            return
        if name == "body":
            self.in_body = True
        if name != "outline" or not self.in_body:
            return
        self.outlines += 1
        if self.outlines > MAX_OUTLINES:
            raise _Refused(
                f"more than {MAX_OUTLINES:,} outlines: the first {MAX_OUTLINES:,} were read,"
                " the rest skipped"
            )
        title = (attributes.get("title") or attributes.get("text") or "").strip()
        url = attributes.get("xmlUrl", attributes.get("xmlurl"))
        if url is None:
            self.folders.append(title)  # a folder (or a plain note): its title names a topic
            return
        self.folders.append(None)
        self._feed(url.strip(), title, attributes.get("category"))

    def _feed(self, url: str, title: str, category: str | None) -> None:
        line = self.parser.CurrentLineNumber
        where = f"line {line}" + (f" (“{_clip(title)}”)" if title else "")
        if not url:
            self.problems.append(f"{where}: empty xmlUrl: skipped")
        elif not _WEB_URL.match(url) or len(url) > 2000 or any(c.isspace() for c in url):
            self.problems.append(
                f"{where}: xmlUrl “{_clip(url)}” is not an absolute http(s) URL: skipped"
            )
        elif url in self.seen:
            self.problems.append(f"{where}: “{_clip(url)}” is listed again: added once")
        else:
            self.seen.add(url)
            self.feeds.append(OpmlFeed(url, title, self._topic_names(category), line))

    def _topic_names(self, category: str | None) -> tuple[str, ...]:
        # OPML 2.0: comma-separated, slash-delimited category strings ("/News/World,Tech").
        if category and category.strip(" ,/"):
            return tuple(
                name for name in (c.strip().strip("/").strip() for c in category.split(",")) if name
            )
        folder = next((title for title in reversed(self.folders) if title is not None), "")
        return (folder,) if folder else ()

    def _end(self, name: str) -> None:
        if name == "outline" and self.in_body and self.folders:
            self.folders.pop()
        elif name == "body":
            self.in_body = False


def read_opml(data: bytes) -> OpmlDocument:
    """The feeds an OPML document lists, and one line for each problem in it. Never raises."""
    reader = _Reader()
    if len(data) > MAX_BYTES:
        return OpmlDocument((), (f"the file is over {MAX_BYTES // (1024 * 1024)} MB: not read",))
    try:
        reader.parser.Parse(data, True)
    except _Refused as refusal:
        reader.problems.append(str(refusal))
    except xml.parsers.expat.ExpatError as exc:
        message = xml.parsers.expat.ErrorString(exc.code)
        kept = " (the feeds before it were read)" if reader.feeds else ""
        reader.problems.append(f"not well-formed XML: {message} at line {exc.lineno}{kept}")
    except (ValueError, RecursionError) as exc:  # an encoding expat does not know, and the like
        reader.problems.append(f"cannot read the file as XML: {exc}")
    else:
        if reader.outlines == 0:
            reader.problems.append("no outlines: the OPML body lists no feeds")
        elif not reader.feeds and not reader.problems:
            reader.problems.append("no feeds: no outline has an xmlUrl")
    return OpmlDocument(tuple(reader.feeds), tuple(reader.problems))


def _clip(text: str) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= _CLIP else flat[: _CLIP - 1] + "…"


def _find_topic(name: str, topics: Sequence[TopicConfig]) -> TopicConfig | None:
    wanted = name.strip().lstrip("#").casefold()
    for topic in topics:
        if wanted in (topic.slug.casefold(), topic.name.casefold()):
            return topic
    # "/News/World": a slash-delimited path names its topic by any one of its parts.
    parts = [part for part in wanted.split("/") if part.strip()]
    if len(parts) > 1:
        for part in reversed(parts):
            found = _find_topic(part, topics)
            if found is not None:
                return found
    return None


@dataclass(frozen=True, slots=True)
class FeedOutcome:
    """What the ``add`` use case did with one feed: ``error`` None means registered."""

    error: str | None
    imported: int = 0


AddFeed = Callable[[str, tuple[str, ...]], Awaitable[FeedOutcome]]


@dataclass
class OpmlReport:
    added: int = 0
    already: int = 0
    not_added: int = 0
    articles: int = 0
    problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems

    def summary(self) -> str:
        return (
            f"added {self.added} feeds ({self.articles} new articles),"
            f" already registered {self.already}, not added {self.not_added},"
            f" problems {len(self.problems)}"
        )


async def import_opml(
    data: bytes,
    topics: Sequence[TopicConfig],
    known_urls: Iterable[str],
    add: AddFeed,
    *,
    concurrency: int = CONCURRENCY,
) -> OpmlReport:
    """Add every new feed of an OPML document through ``add``, a few at a time.

    Feeds registered already are left as they are (importing the same file twice changes
    nothing); a feed ``add`` refuses is one problem line naming the URL and the reason.
    """
    document = read_opml(data)
    report = OpmlReport(problems=list(document.problems))
    known = set(known_urls)
    unknown: dict[str, int] = {}
    todo: list[tuple[OpmlFeed, tuple[str, ...]]] = []
    for feed in document.feeds:
        if feed.url in known:
            report.already += 1
            continue
        slugs: list[str] = []
        for name in feed.topic_names:
            topic = _find_topic(name, topics)
            if topic is None:
                unknown[name] = unknown.get(name, 0) + 1
            elif topic.slug not in slugs:
                slugs.append(topic.slug)
        todo.append((feed, tuple(slugs)))
    for name, count in unknown.items():
        feeds = "1 feed" if count == 1 else f"{count} feeds"
        report.problems.append(
            f"unknown topic “{_clip(name)}” ({feeds}): added without it;"
            " topics are named in the config's [topics]"
        )

    gate = asyncio.Semaphore(concurrency)

    async def one(feed: OpmlFeed, slugs: tuple[str, ...]) -> FeedOutcome:
        async with gate:
            return await add(feed.url, slugs)

    outcomes = await asyncio.gather(*(one(feed, slugs) for feed, slugs in todo))
    for (feed, _), outcome in zip(todo, outcomes, strict=True):
        if outcome.error is None:
            report.added += 1
            report.articles += outcome.imported
        else:
            report.not_added += 1
            report.problems.append(f"not added: {feed.url}: {_clip(outcome.error)}")
    return report


def write_opml(
    feeds: Iterable[tuple[str, Sequence[str]]],
    topics: Sequence[TopicConfig],
    *,
    title: str,
    now: datetime,
) -> str:
    """OPML 2.0 of ``(url, topic slugs)`` pairs, each topic written as a ``category``."""
    names = {t.slug: t.name for t in topics}
    lines = [
        '<?xml version="1.0" encoding="UTF-8"?>',
        '<opml version="2.0">',
        "  <head>",
        f"    <title>{escape(title)}</title>",
        f"    <dateCreated>{format_datetime(now)}</dateCreated>",
        "  </head>",
        "  <body>",
    ]
    for url, slugs in feeds:
        attributes = f'type="rss" text={quoteattr(url)} xmlUrl={quoteattr(url)}'
        # A topic's name reads better in another reader; a name holding the list's separators
        # would split, so that topic goes by its slug.
        category = ",".join(
            name if name and not set(name) & {",", "/"} else slug
            for slug in slugs
            for name in (names.get(slug, slug),)
        )
        if category:
            attributes += f" category={quoteattr(category)}"
        lines.append(f"    <outline {attributes}/>")
    lines += ["  </body>", "</opml>", ""]
    return "\n".join(lines)
