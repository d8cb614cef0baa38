"""JSON and JSON Lines: the --json shape, importing it back, and bad records."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest

from ingest.agency import parse_agency
from ingest.errors import ImportFailure
from ingest.jsonio import article_from_dict, article_to_dict, parse_json_documents
from storage.models import Article, NewArticle, RelatedEntry

PLUS4 = timezone(timedelta(hours=4))
MINUS530 = timezone(-timedelta(hours=5, minutes=30))
SAMPLE = Path(__file__).resolve().parent / "data" / "agency" / "caspian_water.txt"

FULL = NewArticle(
    title="Putin underlines strategic partnership",
    url="https://example.org/a/1",
    guid="agency:0123456789abcdef",
    summary="First paragraph.",
    body="First paragraph.\n\nSecond “quoted” paragraph.",
    published_at=datetime(2018, 6, 9, 12, 34, tzinfo=PLUS4),
    publisher="Azernews",
    attribution="TASS",
    category="Politics",
    language="en",
    image_url="https://example.org/a/1.jpg",
    related=(
        RelatedEntry("Rouhani urges", "Russia", datetime(2018, 6, 9, 13, 29, tzinfo=PLUS4)),
        RelatedEntry("Undated", None, None),
        RelatedEntry("Elsewhere", "US", datetime(2018, 6, 8, 20, 45, tzinfo=MINUS530)),
    ),
    topics=("politics", "russia"),
)


def offsets(article: NewArticle) -> list[timedelta | None]:
    times = [article.published_at, *(r.published_at for r in article.related)]
    return [t.utcoffset() if t is not None else None for t in times]


def records(data: bytes, source: str = "in.json") -> list[NewArticle | ImportFailure]:
    return list(parse_json_documents(data, source=source))


def line(**fields: Any) -> bytes:
    return json.dumps({"guid": "g", "title": "T", **fields}).encode() + b"\n"


class TestToDict:
    def test_shape_and_offsets(self) -> None:
        out = article_to_dict(FULL, full=False)
        assert out["published_at"] == "2018-06-09T12:34:00+04:00"
        assert out["topics"] == ["politics", "russia"]
        assert "id" not in out
        assert "body" not in out
        assert "related" not in out
        assert {"title", "url", "guid", "category", "publisher", "attribution"} <= out.keys()
        assert {"language", "image_url", "summary"} <= out.keys()
        json.dumps(out)  # plain JSON types only

    def test_full(self) -> None:
        out = article_to_dict(FULL, full=True)
        assert out["body"] == FULL.body
        assert out["related"][0] == {
            "title": "Rouhani urges",
            "category": "Russia",
            "published_at": "2018-06-09T13:29:00+04:00",
        }
        assert out["related"][1]["published_at"] is None
        assert out["related"][2]["published_at"] == "2018-06-08T20:45:00-05:30"

    def test_stored_article_has_id_and_store_times(self) -> None:
        stored = Article(
            id=7,
            title="T",
            url=None,
            guid="g",
            summary="",
            body="B",
            published_at=datetime(2018, 6, 9, 8, 34, tzinfo=UTC),
            publisher=None,
            attribution=None,
            category=None,
            language=None,
            image_url=None,
            topics=(),
            created_at=datetime(2024, 1, 1, tzinfo=UTC),
            updated_at=None,
        )
        out = article_to_dict(stored, full=True)
        assert out["id"] == 7
        assert out["created_at"] == "2024-01-01T00:00:00+00:00"
        assert out["updated_at"] is None
        assert out["updated"] is False
        # ... and newsbot's own output imports back: id and "updated" ignored, the store
        # times kept for a store that does not have the article yet.
        back = article_from_dict(json.loads(json.dumps(out)), source="show.json")
        assert back == NewArticle(
            title="T",
            guid="g",
            body="B",
            published_at=datetime(2018, 6, 9, 8, 34, tzinfo=UTC),
            created_at=datetime(2024, 1, 1, tzinfo=UTC),
        )


class TestRoundTrip:
    def test_every_field_and_every_offset(self) -> None:
        text = json.dumps(article_to_dict(FULL, full=True), ensure_ascii=False)
        back = article_from_dict(json.loads(text), source="x")
        assert back == FULL
        # Equal datetimes may differ in offset; the offset is part of what must survive.
        assert offsets(back) == offsets(FULL)

    def test_agency_sample(self) -> None:
        article = parse_agency(SAMPLE.read_text(encoding="utf-8"), source="sample")
        data = json.dumps(article_to_dict(article, full=True)).encode()
        [back] = records(data)
        assert back == article
        assert isinstance(back, NewArticle)
        assert offsets(back) == offsets(article)

    def test_minimal(self) -> None:
        minimal = NewArticle(title="T", url="https://example.org/")
        assert article_from_dict(article_to_dict(minimal, full=True), source="x") == minimal


class TestDocuments:
    def test_array(self) -> None:
        data = json.dumps([{"title": "A", "guid": "a"}, {"title": "B", "url": "u"}]).encode()
        assert [a.title for a in records(data) if isinstance(a, NewArticle)] == ["A", "B"]

    def test_pretty_array_with_bad_item(self) -> None:
        data = json.dumps([{"title": "A", "guid": "a"}, {"guid": "b"}], indent=2).encode()
        good, bad = records(data, "dump.json")
        assert isinstance(good, NewArticle)
        assert isinstance(bad, ImportFailure)
        assert str(bad) == 'dump.json item 2: "title" must be a non-empty string'

    def test_single_object_pretty(self) -> None:
        data = json.dumps(article_to_dict(FULL, full=True), indent=2).encode()
        [article] = records(data, "one.json")
        assert article == FULL

    def test_single_object_one_line(self) -> None:
        [article] = records(b'{"title": "A", "guid": "a"}')
        assert isinstance(article, NewArticle)

    def test_json_lines_bad_line_in_the_middle(self) -> None:
        data = (
            line(guid="1", title="One")
            + b"\n   \n"
            + b'{"guid": "2", "title": \n'
            + line(guid="3", title="")
            + line(guid="4", title="Four")
        )
        out = records(data, "feed.jsonl")
        assert [a.title for a in out if isinstance(a, NewArticle)] == ["One", "Four"]
        failures = [str(f) for f in out if isinstance(f, ImportFailure)]
        assert failures[0].startswith("feed.jsonl line 4: not valid JSON")
        assert failures[1] == 'feed.jsonl line 5: "title" must be a non-empty string'

    def test_json_lines_broken_first_line(self) -> None:
        data = b'{"guid": "1", "title"\n' + line(guid="2") + line(guid="3")
        out = records(data, "feed.jsonl")
        assert isinstance(out[0], ImportFailure)
        assert str(out[0]).startswith("feed.jsonl line 1: not valid JSON")
        assert [a.guid for a in out[1:] if isinstance(a, NewArticle)] == ["2", "3"]

    def test_json_lines_crlf_and_bom(self) -> None:
        data = b"\xef\xbb\xbf" + line(guid="1").replace(b"\n", b"\r\n") + line(guid="2")
        assert [a.guid for a in records(data) if isinstance(a, NewArticle)] == ["1", "2"]

    def test_json_lines_bad_utf8_line(self) -> None:
        data = line(guid="1") + b'{"guid": "2", "title": "\xff"}\n' + line(guid="3")
        out = records(data, "feed.jsonl")
        assert [a.guid for a in out if isinstance(a, NewArticle)] == ["1", "3"]
        assert str(out[1]).startswith("feed.jsonl line 2: not valid UTF-8")

    def test_json_lines_of_non_objects(self) -> None:
        out = records(line(guid="1") + b"42\n" + b'"text"\n', "feed.jsonl")
        assert str(out[1]) == "feed.jsonl line 2: expected a JSON object, got number"
        assert str(out[2]) == "feed.jsonl line 3: expected a JSON object, got string"

    def test_bad_utf8_whole_file_is_one_failure(self) -> None:
        data = b'[{"guid": "1", "title": "caf\xe9"}]'
        [failure] = records(data, "dump.json")
        assert isinstance(failure, ImportFailure)
        assert "not valid UTF-8" in failure.reason

    def test_broken_array_is_one_failure(self) -> None:
        [failure] = records(b'[{"guid": "1", "title": "A"},\n{"guid": ', "dump.json")
        assert isinstance(failure, ImportFailure)
        assert failure.reason.startswith("not valid JSON:")
        assert "line 2" in failure.reason

    def test_broken_pretty_object_is_one_failure(self) -> None:
        data = b'{\n  "guid": "1",\n  "title": "A",\n}\n'
        [failure] = records(data, "one.json")
        assert isinstance(failure, ImportFailure)
        assert failure.reason.startswith("not valid JSON:")

    @pytest.mark.parametrize("data", [b"", b"  \n\r\n", b"\xef\xbb\xbf\n"])
    def test_empty(self, data: bytes) -> None:
        [failure] = records(data, "empty.json")
        assert isinstance(failure, ImportFailure)
        assert "empty" in failure.reason

    def test_deeply_nested(self) -> None:
        [failure] = records(b"[" * 100_000 + b"]" * 100_000, "deep.json")
        assert isinstance(failure, ImportFailure)

    def test_streams_lazily(self) -> None:
        data = b"".join(line(guid=str(n)) for n in range(10_000))
        documents = parse_json_documents(data, source="big.jsonl")
        first = next(documents)
        assert isinstance(first, NewArticle)
        assert first.guid == "0"
        assert sum(1 for _ in documents) == 9_999


class TestFields:
    def fail(self, obj: Any) -> str:
        with pytest.raises(ImportFailure) as caught:
            article_from_dict(obj, source="feed.jsonl line 7")
        return str(caught.value)

    @pytest.mark.parametrize(
        ("obj", "message"),
        [
            ({"guid": "g"}, '"title" must be a non-empty string'),
            ({"guid": "g", "title": "  "}, '"title" must be a non-empty string'),
            ({"guid": "g", "title": 5}, '"title" must be a non-empty string'),
            ({"title": "T"}, 'needs "url" or "guid"'),
            ({"title": "T", "url": "", "guid": None}, 'needs "url" or "guid"'),
            ({"title": "T", "guid": 5}, '"guid" must be a string or null, not number'),
            ({"title": "T", "guid": "g", "body": ["x"]}, '"body" must be a string or null'),
            ({"title": "T", "guid": "g", "category": True}, "not true/false"),
            ({"title": "T", "guid": "g", "topics": "news"}, '"topics" must be a list of strings'),
            ({"title": "T", "guid": "g", "topics": [1]}, '"topics" must be a list of strings'),
            ({"title": "T", "guid": "g", "related": {}}, '"related" must be a list'),
            ({"title": "T", "guid": "g", "related": ["x"]}, '"related[0]" must be an object'),
            (
                {"title": "T", "guid": "g", "related": [{"title": "A"}, {"category": "C"}]},
                '"related[1].title" must be a non-empty string',
            ),
            (
                {"title": "T", "guid": "g", "related": [{"title": "A", "published_at": "x"}]},
                '"related[0].published_at" is not an ISO 8601 time',
            ),
            (
                {"title": "T", "guid": "g", "published_at": "2018-06-09T12:34:00"},
                '"published_at" has no UTC offset',
            ),
            (
                {"title": "T", "guid": "g", "published_at": "9 June 2018"},
                '"published_at" is not an ISO 8601 time',
            ),
            (
                {"title": "T", "guid": "g", "published_at": 1528533240},
                '"published_at" must be a string or null, not number',
            ),
            ({"title": "T\ud800", "guid": "g"}, '"title" holds a lone surrogate'),
            (["title", "T"], "expected a JSON object, got array"),
        ],
    )
    def test_errors_name_the_field(self, obj: Any, message: str) -> None:
        error = self.fail(obj)
        assert error.startswith("feed.jsonl line 7: ")
        assert message in error

    @pytest.mark.parametrize(
        ("text", "expected"),
        [
            ("2018-06-09T12:34:00Z", datetime(2018, 6, 9, 12, 34, tzinfo=UTC)),
            ("2018-06-09", datetime(2018, 6, 9, tzinfo=UTC)),
            ("2018-06-09T12:34:00-05:30", datetime(2018, 6, 9, 12, 34, tzinfo=MINUS530)),
            (" 2018-06-09T12:34:00.5+04:00 ", datetime(2018, 6, 9, 12, 34, 0, 500000, PLUS4)),
        ],
    )
    def test_times(self, text: str, expected: datetime) -> None:
        article = article_from_dict({"title": "T", "guid": "g", "published_at": text}, source="x")
        assert article.published_at == expected
        assert article.published_at is not None
        assert article.published_at.utcoffset() == expected.utcoffset()

    def test_unknown_keys_ignored_nulls_are_defaults(self) -> None:
        article = article_from_dict(
            {
                "title": " T ",
                "url": "u",
                "summary": None,
                "body": None,
                "related": None,
                "topics": [" economy ", "economy", "", "oil"],
                "id": 3,
                "updated": True,
                "something_new": {"nested": 1},
            },
            source="x",
        )
        # A null is a given field, set to its default; a missing key is not given at all.
        assert article == NewArticle(
            title="T",
            url="u",
            topics=("economy", "oil"),
            given=frozenset(("title", "url", "summary", "body", "related", "topics")),
        )


def test_utf8_error_offset_counts_the_bom() -> None:
    [failure] = records(b'\xef\xbb\xbf["\xff"]', "dump.json")
    assert isinstance(failure, ImportFailure)
    assert failure.reason == "not valid UTF-8 (byte 5 of the file)"
