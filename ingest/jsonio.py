"""Articles as JSON: newsbot's ``--json`` output shape, and importing it back.

One record is an object with ``title`` (required), ``url`` and/or ``guid`` (at least one), and
optional ``published_at`` (ISO 8601 with an offset; ``Z`` and a bare ``YYYY-MM-DD``, read as
midnight UTC, are accepted; a time without an offset is refused), ``category``, ``summary``,
``body``, ``publisher``, ``attribution``, ``language``, ``image_url``, ``related`` (a list of
``{title, category, published_at}``) and ``topics`` (slugs, kept as hints for the tagger).
The reader is tolerant: keys it does not know, including the ``id`` and ``updated`` of
newsbot's own output, are ignored, so ``show --json`` output imports back unchanged.
``created_at`` and ``updated_at`` (from ``newsbot export``) are kept for an article new to the
store, so an export imported into a fresh store exports back byte for byte.

A key the record does not have leaves the stored article's field as it is (``latest --json``
has no ``body``: importing it back keeps the bodies); a key that is there, even empty or null,
sets the field.
"""

from __future__ import annotations

import io
import json
import re
from collections.abc import Iterator, Mapping
from datetime import datetime
from typing import Any

from ingest.errors import ImportFailure
from storage.models import Article, NewArticle, RelatedEntry

__all__ = ["article_from_dict", "article_to_dict", "parse_json_documents"]

# ASCII digits only: \d also matches other scripts' digits, which int() and fromisoformat refuse.
_WEB_URL = re.compile(r"https?://[^\s/]", re.IGNORECASE)
_DATE_ONLY = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")
# The keys of a record that are NewArticle fields of the same name.
_ARTICLE_KEYS = frozenset(
    (
        "title",
        "url",
        "guid",
        "summary",
        "body",
        "published_at",
        "publisher",
        "attribution",
        "category",
        "language",
        "image_url",
        "related",
        "topics",
    )
)
_BOM = b"\xef\xbb\xbf"
_NON_SPACE = re.compile(rb"\S")
_JSON_TYPES = {
    dict: "object",
    list: "array",
    str: "string",
    int: "number",
    float: "number",
    bool: "true/false",
    type(None): "null",
}


def article_to_dict(article: Article | NewArticle, *, full: bool) -> dict[str, Any]:
    """The ``--json`` shape; ``full`` adds ``body`` and ``related``."""
    out: dict[str, Any] = {}
    if isinstance(article, Article):
        out["id"] = article.id
        out["story"] = article.story
    out.update(
        title=article.title,
        url=article.url,
        guid=article.guid,
        published_at=_iso(article.published_at),
        category=article.category,
        topics=list(article.topics),
        publisher=article.publisher,
        attribution=article.attribution,
        language=article.language,
        image_url=article.image_url,
        summary=article.summary,
    )
    if full:
        out["body"] = article.body
        out["related"] = [
            {"title": r.title, "category": r.category, "published_at": _iso(r.published_at)}
            for r in article.related
        ]
    if isinstance(article, Article):
        out["created_at"] = _iso(article.created_at)
        out["updated_at"] = _iso(article.updated_at)
        out["updated"] = article.was_updated
    return out


def article_from_dict(obj: Any, *, source: str) -> NewArticle:
    """One record -> NewArticle; a bad field raises ImportFailure naming it."""
    if not isinstance(obj, Mapping):
        raise ImportFailure(source, f"expected a JSON object, got {_json_type(obj)}")
    fields = _Fields(obj, source)
    given = _ARTICLE_KEYS.intersection(obj)
    title = fields.title("title")
    url = fields.text("url") or None
    guid = fields.text("guid") or None
    if url is None and guid is None:
        raise ImportFailure(source, 'needs "url" or "guid" (a non-empty string) to tell it apart')
    return NewArticle(
        title=title,
        url=url,
        guid=guid,
        summary=fields.text("summary") or "",
        body=fields.text("body") or "",
        published_at=fields.when("published_at"),
        publisher=fields.text("publisher"),
        attribution=fields.text("attribution"),
        category=fields.text("category"),
        language=fields.text("language"),
        image_url=fields.web_url("image_url"),
        related=fields.related("related"),
        topics=fields.topics("topics"),
        created_at=fields.when("created_at"),
        updated_at=fields.when("updated_at"),
        # A record with every key is a whole article, the same as a feed entry.
        given=None if given == _ARTICLE_KEYS else frozenset(given),
    )


def parse_json_documents(data: bytes, *, source: str) -> Iterator[NewArticle | ImportFailure]:
    """Articles from a JSON array, one JSON object, or JSON Lines; a bad record is a failure.

    Failures are yielded, not raised, so one bad record costs only itself; the source of each
    says where it was (``feed.jsonl line 7``, ``dump.json item 3``). JSON Lines are read a line
    at a time.
    """
    # The BOM is only skipped, not cut off: slicing would copy a big file.
    start = _NON_SPACE.search(data, len(_BOM) if data.startswith(_BOM) else 0)
    if start is None:
        yield ImportFailure(source, "no JSON records: the file is empty")
        return
    if start.group() == b"[" or not _first_line_is_json(data):
        whole = _whole_document(data, source)
        if not isinstance(whole, ImportFailure):
            yield from whole
            return
        # A JSON Lines file whose first record is broken still has its other records to give.
        if not _later_line_is_object(data):
            yield whole
            return
    yield from _json_lines(data, source)


class _Fields:
    """Typed access to one record's keys, failing with the key's name."""

    def __init__(self, obj: Mapping[str, Any], source: str, prefix: str = "") -> None:
        self.obj = obj
        self.source = source
        self.prefix = prefix

    def fail(self, key: str, problem: str) -> ImportFailure:
        return ImportFailure(self.source, f'"{self.prefix}{key}" {problem}')

    def text(self, key: str) -> str | None:
        value = self.obj.get(key)
        if value is None:
            return None
        if not isinstance(value, str):
            raise self.fail(key, f"must be a string or null, not {_json_type(value)}")
        try:
            # JSON's \ud800 escapes decode to lone surrogates, which SQLite cannot store.
            value.encode("utf-8")
        except UnicodeEncodeError:
            raise self.fail(key, "holds a lone surrogate (not valid Unicode)") from None
        return value

    def web_url(self, key: str) -> str | None:
        """An http(s) URL; anything else (a data: or javascript: URI) is no use to a reader."""
        value = (self.text(key) or "").strip()
        return value if _WEB_URL.match(value) else None

    def title(self, key: str) -> str:
        value = self.obj.get(key)
        if not isinstance(value, str) or not value.strip():
            raise self.fail(key, "must be a non-empty string")
        return (self.text(key) or "").strip()

    def when(self, key: str) -> datetime | None:
        text = self.text(key)
        if text is None:
            return None
        text = text.strip()
        if _DATE_ONLY.fullmatch(text):
            text += "T00:00:00+00:00"
        try:
            value = datetime.fromisoformat(text)
        except ValueError:
            raise self.fail(key, f"is not an ISO 8601 time: {text[:40]!r}") from None
        if value.utcoffset() is None:
            raise self.fail(key, f"has no UTC offset (add Z or +HH:MM): {text[:40]!r}")
        return value

    def related(self, key: str) -> tuple[RelatedEntry, ...]:
        value = self.obj.get(key)
        if value is None:
            return ()
        if not isinstance(value, list):
            raise self.fail(key, f"must be a list of objects, not {_json_type(value)}")
        entries = []
        for index, item in enumerate(value):
            where = f"{self.prefix}{key}[{index}]"
            if not isinstance(item, Mapping):
                raise ImportFailure(self.source, f'"{where}" must be an object')
            inner = _Fields(item, self.source, where + ".")
            entries.append(
                RelatedEntry(
                    inner.title("title"), inner.text("category"), inner.when("published_at")
                )
            )
        return tuple(entries)

    def topics(self, key: str) -> tuple[str, ...]:
        value = self.obj.get(key)
        if value is None:
            return ()
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise self.fail(key, "must be a list of strings")
        # dict.fromkeys: de-duplicated, first-seen order kept.
        return tuple(dict.fromkeys(v.strip() for v in value if v.strip()))


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


def _json_type(value: Any) -> str:
    return _JSON_TYPES.get(type(value), type(value).__name__)


def _loads(text: str) -> Any:
    try:
        return json.loads(text)
    except RecursionError:
        raise ValueError("nested too deeply") from None


def _first_line_is_json(data: bytes) -> bool:
    for line in io.BytesIO(data):
        if line.strip():
            try:
                _loads(line.decode("utf-8-sig"))
            except ValueError:  # UnicodeDecodeError and JSONDecodeError included
                return False
            return True
    return False


def _later_line_is_object(data: bytes) -> bool:
    lines = io.BytesIO(data)
    next(lines, None)
    for line in lines:
        # Top-level JSON Lines records start at column 0; a pretty-printed document's do not.
        if line.startswith(b"{"):
            try:
                if isinstance(_loads(line.decode("utf-8-sig")), dict):
                    return True
            except ValueError:
                continue
    return False


def _whole_document(data: bytes, source: str) -> list[NewArticle | ImportFailure] | ImportFailure:
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        return ImportFailure(source, f"not valid UTF-8 (byte {_offset(data, exc)} of the file)")
    try:
        document = _loads(text)
    except json.JSONDecodeError as exc:
        return ImportFailure(
            source, f"not valid JSON: {exc.msg} at line {exc.lineno} column {exc.colno}"
        )
    except ValueError as exc:
        return ImportFailure(source, f"not valid JSON: {exc}")
    if isinstance(document, list):
        return [_record(item, f"{source} item {n}") for n, item in enumerate(document, 1)]
    return [_record(document, source)]


def _json_lines(data: bytes, source: str) -> Iterator[NewArticle | ImportFailure]:
    for number, line in enumerate(io.BytesIO(data), 1):
        if not line.strip():
            continue
        where = f"{source} line {number}"
        try:
            text = line.decode("utf-8-sig")
        except UnicodeDecodeError as exc:
            yield ImportFailure(where, f"not valid UTF-8 (byte {_offset(line, exc)} of the line)")
            continue
        try:
            obj = _loads(text)
        except json.JSONDecodeError as exc:
            yield ImportFailure(where, f"not valid JSON: {exc.msg} at column {exc.colno}")
            continue
        except ValueError as exc:
            yield ImportFailure(where, f"not valid JSON: {exc}")
            continue
        yield _record(obj, where)


def _offset(raw: bytes, exc: UnicodeDecodeError) -> int:
    # utf-8-sig counts from after the BOM; the user's hex editor counts from the file's start.
    return exc.start + (len(_BOM) if raw.startswith(_BOM) else 0)


def _record(obj: Any, source: str) -> NewArticle | ImportFailure:
    try:
        return article_from_dict(obj, source=source)
    except ImportFailure as failure:
        return failure
