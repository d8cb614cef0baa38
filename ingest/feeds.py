"""RSS 0.9x/1.0/2.0 and Atom 0.3/1.0 bytes to NewArticles, via feedparser's lenient parser.

``parse_feed`` is pure: it never fetches (see ``ingest.fetch``) and raises nothing but
ImportFailure, so one bad feed costs the poller one logged line, never a crash.
"""

from __future__ import annotations

import calendar
import email.utils
import html
import io
import re
import time
import urllib.parse
import xml.sax
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import feedparser

from ingest.errors import ImportFailure
from ingest.html import html_to_text
from storage.models import NewArticle

__all__ = ["INTERNAL_ERROR", "FeedResult", "parse_feed"]

TITLE_FROM_SUMMARY_CHARS = 80
INTERNAL_ERROR = "internal error"
_SECOND = timedelta(seconds=1)

_URL_SOURCE = re.compile(r"(?:https?|file)://", re.IGNORECASE)
_HTTP_URL = re.compile(r"https?://", re.IGNORECASE)
_HTML_START = re.compile(rb"<!doctype\s+html|<html[\s>]", re.IGNORECASE)
_ROOT_ELEMENT = re.compile(rb"<([A-Za-z_][\w.:-]*)")
_LANGUAGE = re.compile(r"([A-Za-z]{2,3})(?:$|[-_])")
# An <img> tag and its attributes. Possessive quantifiers, and quoted values that may not hold a
# "<", bound every attempt by the next "<", so hostile HTML costs linear time (as in html.py).
_IMG_TAG = re.compile(r"""<img(?=[\s/>])(?:[^<>"']++|"[^<"]*+"|'[^<']*+')*+>""", re.IGNORECASE)
_ATTRIBUTE = re.compile(
    r"""([^\s"'<>/=]++)(?:\s*+=\s*+(?:"([^"]*+)"|'([^']*+)'|([^\s"'<>`=]++)))?"""
)


@dataclass(frozen=True)
class FeedResult:
    """What one feed document held: its title, the entries that imported, those that did not."""

    title: str | None
    articles: tuple[NewArticle, ...]
    failures: tuple[ImportFailure, ...]


def parse_feed(data: bytes, *, source: str, default_topics: Sequence[str] = ()) -> FeedResult:
    """Parse one RSS/Atom document; an entry that cannot be imported becomes a failure.

    Raises ImportFailure (and nothing else) when the bytes are not a feed at all.
    """
    try:
        return _parse_feed(data, source, tuple(default_topics))
    except ImportFailure:
        raise
    except Exception as exc:
        # feedparser and the stdlib date parsers see arbitrary bytes from the internet; whatever
        # they trip over must stay one feed's failure and never take the poller down.
        raise ImportFailure(source, f"cannot parse feed: {_internal(exc)}") from exc


def _parse_feed(data: bytes, source: str, topics: tuple[str, ...]) -> FeedResult:
    # application/xml lets the BOM and the XML declaration pick the encoding (RFC 3023); a
    # Content-Location makes feedparser resolve relative entry links against the feed's URL.
    headers = {"content-type": "application/xml"}
    if _URL_SOURCE.match(source):
        headers["content-location"] = source
    # A BytesIO, not the bytes: given bytes that happen to name a file, feedparser opens it.
    # No sanitising or URI rewriting inside HTML: html_to_text reduces all of it to text anyway.
    try:
        parsed = feedparser.parse(
            io.BytesIO(data),
            response_headers=headers,
            sanitize_html=False,
            resolve_relative_uris=False,
        )
    except Exception as exc:
        # feedparser has crashed on mangled input (a non-UTF-8 byte in the XML declaration's
        # encoding name raises UnicodeDecodeError): that is a bad document, not a bug here.
        reason = f"malformed feed: feedparser gave up ({type(exc).__name__}: {exc})"
        raise ImportFailure(source, reason) from exc
    entries = _dicts(_get(parsed, "entries"))
    if not entries and not _get(parsed, "version"):
        raise ImportFailure(source, _why_not_a_feed(data, _get(parsed, "bozo_exception")))

    feed = _get(parsed, "feed")
    context = _FeedContext(
        publisher=html_to_text(_text(_get(feed, "title"))) or None,
        category=_first_term(_get(feed, "tags")),
        language=_short_language(_get(feed, "language")),
        topics=topics,
    )
    articles: list[NewArticle] = []
    failures: list[ImportFailure] = []
    for number, entry in enumerate(entries, start=1):
        try:
            articles.append(_article(entry, number, context, source))
        except ImportFailure as failure:
            failures.append(failure)
        except Exception as exc:
            # One odd entry must not cost the feed its other entries.
            failures.append(ImportFailure(source, f"entry #{number}: {_internal(exc)}"))
    return FeedResult(context.publisher, tuple(articles), tuple(failures))


@dataclass(frozen=True)
class _FeedContext:
    publisher: str | None
    category: str | None
    language: str | None
    topics: tuple[str, ...]


def _article(entry: dict[str, Any], number: int, feed: _FeedContext, source: str) -> NewArticle:
    summary = html_to_text(_text(_get(entry, "summary")))
    title = html_to_text(_text(_get(entry, "title"))) or _shorten(summary, TITLE_FROM_SUMMARY_CHARS)
    if not title:
        raise ImportFailure(source, f"entry #{number} has neither a title nor a summary")
    link = _text(_get(entry, "link")).strip()
    guid = _text(_get(entry, "id")).strip() or link or None
    # Readers click the url: keep web links only. feedparser copies a permalink-less guid such
    # as "urn:x:1" into ``link``, which would otherwise turn up here.
    url = link if _HTTP_URL.match(link) else None
    if guid is None:
        raise ImportFailure(source, f"entry #{number} ({title[:60]!r}) has no guid and no link")
    attribution = html_to_text(_text(_get(_get(entry, "source"), "title"))) or None
    return NewArticle(
        title=title,
        url=url,
        guid=guid,
        summary=summary,
        body=_body(_get(entry, "content")),
        published_at=_published_at(entry),
        publisher=feed.publisher,
        attribution=attribution,
        category=_first_term(_get(entry, "tags")) or feed.category,
        # An entry's own language is the more specific claim.
        language=_short_language(_get(entry, "language")) or feed.language,
        image_url=_image_url(entry, url),
        topics=feed.topics,
    )


def _get(container: object, key: str) -> Any:
    """``container[key]`` of a feedparser dict, bypassing FeedParserDict's key aliases.

    Its aliases are surprising (asking for a missing ``updated`` answers ``published``, with a
    DeprecationWarning): plain dict lookups read exactly what the feed held.
    """
    return dict.get(container, key) if isinstance(container, dict) else None


def _dicts(value: object) -> list[dict[str, Any]]:
    if not isinstance(value, list):
        return []
    return [item for item in value if isinstance(item, dict)]


def _text(value: object) -> str:
    """feedparser's values are str almost always; anything else is treated as absent."""
    return value if isinstance(value, str) else ""


def _shorten(text: str, limit: int) -> str:
    flat = " ".join(text.split())
    if len(flat) <= limit:
        return flat
    cut = flat.rfind(" ", 0, limit)
    return flat[: cut if cut > 0 else limit].rstrip(" ,;:.-") + "…"


def _body(content: object) -> str:
    values = [_text(_get(part, "value")) for part in _dicts(content)]
    return html_to_text(max(values, key=len)) if values else ""


def _first_term(tags: object) -> str | None:
    for tag in _dicts(tags):
        term = html_to_text(_text(_get(tag, "term")))
        if term:
            return term
    return None


def _short_language(value: object) -> str | None:
    match = _LANGUAGE.match(_text(value).strip())
    return match.group(1).lower() if match else None


def _image_url(entry: dict[str, Any], link: str | None) -> str | None:
    def candidates() -> Iterable[str]:
        for media in _dicts(_get(entry, "media_content")):
            kind, medium = _text(_get(media, "type")), _text(_get(media, "medium"))
            # Untyped media:content is nearly always a picture; typed video/audio is not.
            if medium == "image" or kind.startswith("image/") or not (kind or medium):
                yield _text(_get(media, "url"))
        for thumbnail in _dicts(_get(entry, "media_thumbnail")):
            yield _text(_get(thumbnail, "url"))
        for enclosure in _dicts(_get(entry, "links")):
            if _get(enclosure, "rel") == "enclosure" and _text(_get(enclosure, "type")).startswith(
                "image/"
            ):
                yield _text(_get(enclosure, "href"))
        # Last, the first picture in the article's own HTML (content, then the summary) that
        # is on the web: a lazy-loading placeholder (a data: URI) comes before it often.
        for part in (*_dicts(_get(entry, "content")), _get(entry, "summary_detail")):
            for src in _img_sources(_text(_get(part, "value"))):
                # feedparser leaves relative URIs alone here (resolve_relative_uris=False):
                # they are relative to the article's page.
                yield _resolved(src, link)

    # Telegram fetches the picture itself, so only a web URL is any use.
    return next((url.strip() for url in candidates() if _HTTP_URL.match(url.strip())), None)


def _resolved(src: str, base: str | None) -> str:
    try:
        return urllib.parse.urljoin(base, src) if base else src
    except ValueError:  # an unparseable URL ("http://[x") is simply no picture
        return ""


def _img_sources(fragment: str) -> Iterable[str]:
    """The ``src`` of each ``<img>`` in an HTML fragment, in order, entities decoded."""
    if "<" not in fragment:
        return
    for tag in _IMG_TAG.finditer(fragment):
        for attribute in _ATTRIBUTE.finditer(tag.group(0), 4):
            if attribute.group(1).lower() == "src":
                value = next((v for v in attribute.groups()[1:] if v is not None), "")
                yield html.unescape(value).strip()
                break


def _published_at(entry: dict[str, Any]) -> datetime | None:
    for key in ("published", "updated"):
        parsed_utc = _from_struct_time(_get(entry, f"{key}_parsed"))
        raw = _parse_raw_date(_text(_get(entry, key)))
        # feedparser's *_parsed is UTC and drops the publisher's offset; the raw string keeps it.
        # Should the two disagree on the instant, feedparser's more forgiving parsers win
        # (within a second: feedparser drops fractions of a second).
        if raw is not None and (parsed_utc is None or abs(raw - parsed_utc) < _SECOND):
            return raw
        if parsed_utc is not None:
            return parsed_utc
    return None


def _from_struct_time(value: object) -> datetime | None:
    if not isinstance(value, time.struct_time):
        return None
    try:
        # timegm rather than datetime(*value[:6]): it copes with leap seconds (tm_sec == 60).
        return datetime.fromtimestamp(calendar.timegm(value), tz=UTC)
    except (OverflowError, OSError, ValueError):
        return None


def _parse_raw_date(text: str) -> datetime | None:
    text = text.strip()
    if not text:
        return None
    try:
        moment = email.utils.parsedate_to_datetime(text)  # RFC 822, as RSS uses
    except (TypeError, ValueError, IndexError, OverflowError):
        try:
            moment = datetime.fromisoformat(text)  # RFC 3339 / W3CDTF, as Atom and dc:date use
        except ValueError:
            return None
    # A naive result ("-0000", or a date without a time) says nothing of the zone.
    return moment if moment.utcoffset() is not None else None


def _internal(exc: Exception) -> str:
    # A fixed marker, so tests over large corpora can tell a bug here from a bad feed.
    return f"{INTERNAL_ERROR} ({type(exc).__name__}: {exc})"


def _why_not_a_feed(data: bytes, error: object) -> str:
    head = data[:4096]
    if not data.strip():
        return "empty document"
    if _HTML_START.search(head):
        return "not an RSS or Atom feed (found HTML)"
    if isinstance(error, xml.sax.SAXParseException):
        return f"malformed XML: {error.getMessage()} at line {error.getLineNumber()}"
    if error is not None:
        return f"not an RSS or Atom feed ({error})"
    root = _ROOT_ELEMENT.search(head)
    if root is not None:
        return f"not an RSS or Atom feed (root element <{root.group(1).decode('ascii')}>)"
    return "not an RSS or Atom feed"
