"""News-agency plain-text articles: title, dateline, body, page furniture, "Related news" box.

The layout (as saved from agency sites such as Azernews)::

    date 2018-06-09 <title>
    9 June 2018 12:34 (UTC+04:00)
    <paragraphs, one per line, blank lines between>
    Follow Trend on Telegram. Only most interesting and important news
    Azernews Newspaper
    Related news
    <headline>
    <Category> <HH:MM | D Month HH:MM>
    ...

Digits are matched as ASCII ``[0-9]``, never with the regex digit class or ``str.isdigit()``:
those also accept superscripts ("²") and other scripts' digits, which ``int()`` then refuses.

Every regex here runs on one line at a time and has no nested quantifiers over overlapping
character classes, so a 50,000-character paragraph costs linear time.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta, timezone

from ingest.errors import ImportFailure
from storage.models import NewArticle, RelatedEntry

__all__ = ["looks_like_agency", "parse_agency"]

_MONTHS = {
    name: number
    for number, names in enumerate(
        (
            ("january", "jan"),
            ("february", "feb"),
            ("march", "mar"),
            ("april", "apr"),
            ("may",),
            ("june", "jun"),
            ("july", "jul"),
            ("august", "aug"),
            ("september", "sep", "sept"),
            ("october", "oct"),
            ("november", "nov"),
            ("december", "dec"),
        ),
        start=1,
    )
    for name in names
}

_DATE_PREFIX = re.compile(r"date\s+([0-9]{4}-[0-9]{2}-[0-9]{2})(?:\s+(.*))?", re.IGNORECASE)
_DATELINE = re.compile(
    r"(?P<day>[0-9]{1,2})\s+(?P<month>[A-Za-z]+)\.?,?\s+(?P<year>[0-9]{4}),?\s+"
    r"(?P<hour>[0-9]{1,2}):(?P<minute>[0-9]{2})"
    r"(?:\s*\((?P<zone>[^()]*)\)|\s+(?P<bare>(?:UTC|GMT)\S*))?",
    re.IGNORECASE,
)
_ZONE = re.compile(
    r"(?:UTC|GMT)(?:\s*(?P<sign>[+\-−])\s*(?P<hours>[0-9]{1,2})(?::?(?P<minutes>[0-9]{2}))?)?",
    re.IGNORECASE,
)
_RELATED_HEADER = re.compile(r"related\s+news:?", re.IGNORECASE)
_CLOCK = re.compile(r"([0-9]{1,2}):([0-9]{2})")
_YEAR = re.compile(r"[0-9]{4}")
_DAY = re.compile(r"[0-9]{1,2}")
# Furniture is only ever a short line; a long paragraph that happens to start "Follow ..." is text.
_FURNITURE_MAX = 200
_FOLLOW = re.compile(
    r"Follow\s+(?:\S+\s+){0,8}?on\s+"
    r"(?:Telegram|Twitter|X|Facebook|Instagram|YouTube|LinkedIn|WhatsApp|VK|Threads)\b",
    re.IGNORECASE,
)
_NEWSPAPER = re.compile(r"(?P<name>[A-Z][\w&'’.-]*(?:\s+[A-Z][\w&'’.-]*){0,3})\s+(?i:newspaper)")
# "<Agency> reports." / "<Agency> reported citing ...": up to three capitalised tokens (RIA
# Novosti, Kyodo News) right before the verb. The look-behind makes every attempt start at a
# token's first character, which keeps the scan linear. "according to X" is left out on purpose:
# in agency copy it names a speaker ("According to Putin, ...") far more often than a source.
_ATTRIBUTION = re.compile(
    r"(?<![\w&'’-])(?P<agency>(?:[A-Z][\w&’'-]*\s+){0,2}[A-Z][\w&’'-]*)\s+report(?:s|ed)"
    r"(?=\s*(?:[.,;:)]|$)|\s+(?:citing|quoting|that)\b)"
)
# Capitalised words that open a sentence ("Yesterday TASS reported") or are not agencies at all.
_NOT_AGENCY = frozenset(
    (  # noqa: SIM905 - a word list reads better as prose than as 36 quoted lines
        "a also an and as but earlier he her his i it its later local many media meanwhile most "
        "our previously she several some state that the their these they this those today we "
        "yesterday you"
    ).split()
)
# A related box item is never dated more than this after its article.
_YEAR_SLACK = timedelta(days=2)
_CATEGORY_WORDS = 4
_GUID_PREFIX = "agency:"
_QUOTE_MAX = 60


@dataclass(frozen=True, slots=True)
class _Lines:
    """The file as stripped lines, BOM and CR removed."""

    items: tuple[str, ...]

    @classmethod
    def of(cls, text: str) -> _Lines:
        text = text.removeprefix("\ufeff")
        # Not str.splitlines(): it also splits on form feeds and U+2028 inside paragraphs.
        return cls(tuple(line.strip() for line in text.replace("\r\n", "\n").split("\n")))

    def next_filled(self, start: int) -> int | None:
        for index in range(start, len(self.items)):
            if self.items[index]:
                return index
        return None


def looks_like_agency(text: str) -> bool:
    """Whether ``text`` opens like an agency article: a ``date`` line, or title then dateline."""
    head = [line for line in _Lines.of(text[:4096]).items if line][:2]
    if not head:
        return False
    if _DATE_PREFIX.fullmatch(head[0]):
        return True
    return len(head) == 2 and len(head[1]) <= _FURNITURE_MAX and bool(_DATELINE.fullmatch(head[1]))


def parse_agency(text: str, *, source: str) -> NewArticle:
    """Parse one agency article; malformed input raises ImportFailure with a one-line reason."""
    lines = _Lines.of(text)
    first = lines.next_filled(0)
    if first is None:
        raise ImportFailure(source, "empty file: expected a title line, a dateline and a body")
    title = _title(lines.items[first], source)

    dateline_at = lines.next_filled(first + 1)
    if dateline_at is None:
        raise ImportFailure(
            source, "no dateline after the title (e.g. '9 June 2018 12:34 (UTC+04:00)')"
        )
    published_at = _dateline(lines.items[dateline_at], source)

    end = next(
        (
            i
            for i in range(dateline_at + 1, len(lines.items))
            if _RELATED_HEADER.fullmatch(lines.items[i])
        ),
        len(lines.items),
    )
    paragraphs, publisher = _body(lines.items[dateline_at + 1 : end])
    if not paragraphs:
        raise ImportFailure(source, "no body text after the dateline")
    body = "\n\n".join(paragraphs)
    related = _related(lines.items[end + 1 :], published_at)

    return NewArticle(
        title=title,
        guid=agency_guid(publisher, title, published_at),
        summary=paragraphs[0],
        body=body,
        published_at=published_at,
        publisher=publisher,
        attribution=_attribution(paragraphs),
        category=None,
        language="en",
        related=related,
    )


def agency_guid(publisher: str | None, title: str, published_at: datetime) -> str:
    """Stable id for a file without a URL: the same story re-sent with a new body is an update."""
    key = f"{publisher or ''}|{title}|{published_at.isoformat()}"
    return _GUID_PREFIX + hashlib.sha1(key.encode("utf-8"), usedforsecurity=False).hexdigest()[:16]


def _quote(line: str) -> str:
    return repr(line if len(line) <= _QUOTE_MAX else line[:_QUOTE_MAX] + "…")


def _title(line: str, source: str) -> str:
    match = _DATE_PREFIX.fullmatch(line)
    title = (match.group(2) or "") if match else line
    title = " ".join(title.split())
    if not title:
        raise ImportFailure(source, f"no title line: the first line {_quote(line)} has no title")
    if len(title) <= _FURNITURE_MAX and _DATELINE.fullmatch(title):
        raise ImportFailure(
            source, f"no title line: the file starts with the dateline {_quote(title)}"
        )
    return title


def _dateline(line: str, source: str) -> datetime:
    match = _DATELINE.fullmatch(line) if len(line) <= _FURNITURE_MAX else None
    if not match:
        raise ImportFailure(
            source,
            f"no dateline after the title: expected e.g. '9 June 2018 12:34 (UTC+04:00)',"
            f" got {_quote(line)}",
        )
    zone_text = match.group("zone") or match.group("bare")
    if zone_text is None:
        raise ImportFailure(
            source, f"dateline {_quote(line)} has no UTC offset such as (UTC+04:00)"
        )
    zone = _zone(zone_text.strip())
    if zone is None:
        raise ImportFailure(source, f"dateline {_quote(line)}: cannot read the UTC offset")
    month = _MONTHS.get(match.group("month").lower())
    if month is None:
        raise ImportFailure(source, f"dateline {_quote(line)}: unknown month {match['month']!r}")
    try:
        return datetime(
            int(match["year"]),
            month,
            int(match["day"]),
            int(match["hour"]),
            int(match["minute"]),
            tzinfo=zone,
        )
    except ValueError as exc:
        raise ImportFailure(source, f"dateline {_quote(line)}: {exc}") from None


def _zone(text: str) -> timezone | None:
    match = _ZONE.fullmatch(text)
    if not match:
        return None
    if match["sign"] is None:
        return UTC
    hours, minutes = int(match["hours"]), int(match["minutes"] or 0)
    # Real offsets run from -12:00 to +14:00; anything past that is a typo, not a zone.
    if minutes >= 60 or hours * 60 + minutes > 14 * 60:
        return None
    offset = timedelta(hours=hours, minutes=minutes)
    return timezone(-offset if match["sign"] in "-−" else offset)


def _body(lines: tuple[str, ...]) -> tuple[list[str], str | None]:
    """Paragraphs (hard-wrapped lines joined by a space) without the page furniture."""
    paragraphs: list[str] = []
    current: list[str] = []
    publisher: str | None = None
    for line in lines:
        furniture = False
        if line and len(line) <= _FURNITURE_MAX:
            if _FOLLOW.match(line):
                furniture = True
            elif newspaper := _NEWSPAPER.fullmatch(line):
                furniture = True
                publisher = publisher or newspaper["name"]
        if line and not furniture:
            current.append(line)
        elif current:
            paragraphs.append(" ".join(current))
            current = []
    if current:
        paragraphs.append(" ".join(current))
    return paragraphs, publisher


def _attribution(paragraphs: list[str]) -> str | None:
    for paragraph in paragraphs:
        for match in _ATTRIBUTION.finditer(paragraph):
            words = match["agency"].split()
            while words and words[0].lower() in _NOT_AGENCY:
                words.pop(0)
            if words:
                return " ".join(words)
    return None


def _related(lines: tuple[str, ...], published_at: datetime) -> tuple[RelatedEntry, ...]:
    """Headline / "Category time" pairs.

    A malformed pair is skipped rather than failing the import: the box is page furniture, and
    losing one link beats losing the article. The headline slot is always filled first, so a
    headline that itself ends in something time-like is never read as a category line.
    """
    entries: list[RelatedEntry] = []
    headline: str | None = None
    for line in lines:
        if not line:
            continue
        if headline is None:
            headline = line
            continue
        meta = _related_meta(line, published_at)
        if meta is None:
            # The pending headline had no category line; this line may be the next headline.
            headline = line
            continue
        category, when = meta
        entries.append(RelatedEntry(" ".join(headline.split()), category, when))
        headline = None
    return tuple(entries)


def _related_meta(line: str, published_at: datetime) -> tuple[str, datetime] | None:
    """``Economy news 8 June 11:04`` -> ("Economy news", that time in the article's zone)."""
    words = line.split()
    clock = _CLOCK.fullmatch(words[-1]) if words else None
    if clock is None:
        return None
    words.pop()
    day: date | None = published_at.date()
    year: int | None = None
    if len(words) >= 3 and _YEAR.fullmatch(words[-1]):
        year = int(words.pop())
    if len(words) >= 3 and words[-1].lower() in _MONTHS and _DAY.fullmatch(words[-2]):
        month = _MONTHS[words.pop().lower()]
        day = _related_day(int(words.pop()), month, year, published_at)
    elif year is not None:
        return None
    # Categories are a few words ("Economy news", "Arab World"); a longer line ending in a time
    # is a headline ("Flights to Baku resume on 12 May 06:00"), which keeps the pairs in step.
    if not 1 <= len(words) <= _CATEGORY_WORDS or day is None:
        return None
    if any(_is_foreign_number(word) for word in words):
        return None  # "Economy news ² June": a date we cannot read, not part of the category
    hour, minute = int(clock[1]), int(clock[2])
    if hour > 23 or minute > 59:
        return None
    when = datetime(day.year, day.month, day.day, hour, minute, tzinfo=published_at.tzinfo)
    return " ".join(words), when


def _is_foreign_number(word: str) -> bool:
    """Whether ``word`` holds a number sign other than 0-9 (superscripts, other scripts)."""
    return any(char.isnumeric() and not char.isascii() for char in word)


def _related_day(day: int, month: int, year: int | None, published_at: datetime) -> date | None:
    """The box gives no year: take the latest one that is not well after the article.

    So "31 December" in a 2 January article is last year's, and "1 January" in a 31 December
    article (a box refreshed after midnight) is next year's.
    """
    if year is not None:
        years = [year]
    else:
        years = [published_at.year + 1, published_at.year, published_at.year - 1]
    # Near year 9999 the slack runs off the calendar: then nothing is "well after" the article.
    latest = published_at.date() + min(_YEAR_SLACK, date.max - published_at.date())
    for candidate_year in years:
        try:
            candidate = date(candidate_year, month, day)
        except ValueError:
            continue
        if year is not None or candidate <= latest:
            return candidate
    return None
