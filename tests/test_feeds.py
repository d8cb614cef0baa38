"""parse_feed: RSS/RDF/Atom fixtures to NewArticles, bad documents to one clear ImportFailure."""

from __future__ import annotations

import json
import random
from datetime import UTC, datetime, timedelta, timezone
from html import escape as html_escape
from pathlib import Path
from typing import Any, NoReturn

import feedparser
import pytest

import ingest.feeds
from ingest.errors import ImportFailure
from ingest.feeds import INTERNAL_ERROR, FeedResult, parse_feed
from ingest.jsonio import parse_json_documents
from storage.models import NewArticle

FEEDS = Path(__file__).resolve().parent / "data" / "feeds"
SOURCE = "https://news.example.com/feed.xml"
PLUS2 = timezone(timedelta(hours=2))
PLUS4 = timezone(timedelta(hours=4))


def parse(name: str, *, source: str = SOURCE, topics: tuple[str, ...] = ()) -> FeedResult:
    return parse_feed((FEEDS / name).read_bytes(), source=source, default_topics=topics)


def by_guid(result: FeedResult) -> dict[str | None, NewArticle]:
    return {article.guid: article for article in result.articles}


def rss_item(item_xml: str, *, channel_extra: str = "") -> bytes:
    return (
        '<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel><title>T</title>'
        f"{channel_extra}<item>{item_xml}</item></channel></rss>"
    ).encode()


class TestRss20:
    def test_reads_every_field(self) -> None:
        result = parse("rss20.xml", topics=("world", "business"))
        assert result.title == "Daily & Nightly News"
        assert result.failures == ()
        article = by_guid(result)["urn:news:1001"]
        assert article == NewArticle(
            title="Markets rally after rate decision",
            url="https://news.example.com/markets/rally",
            guid="urn:news:1001",
            summary="Stocks rose sharply on Friday.\n\nAnalysts’ views differ.",
            body="",
            published_at=datetime(2018, 6, 9, 12, 34, tzinfo=PLUS4),
            publisher="Daily & Nightly News",
            attribution="Example Agency",
            category="Economy",
            language="en",
            image_url="https://news.example.com/img/rally.jpg",
            topics=("world", "business"),
        )

    def test_keeps_the_publishers_offset(self) -> None:
        published = by_guid(parse("rss20.xml"))["urn:news:1001"].published_at
        assert published is not None
        assert published.utcoffset() == timedelta(hours=4)
        assert published.astimezone(UTC) == datetime(2018, 6, 9, 8, 34, tzinfo=UTC)

    def test_second_item_falls_back_to_link_feed_category_and_thumbnail(self) -> None:
        storm = parse("rss20.xml").articles[1]
        assert storm.title == "Storm warning issued"
        # A relative link resolves against the feed's own URL.
        assert storm.url == "https://news.example.com/weather/storm"
        assert storm.guid == storm.url
        assert storm.published_at == datetime(2018, 6, 8, 8, 0, tzinfo=UTC)
        assert storm.published_at.utcoffset() == timedelta(0)
        assert storm.category == "General"  # the channel's, as the item has none
        assert storm.summary == "Heavy rain expected.\n\nStay indoors."
        assert storm.body == "Heavy rain expected across the region.\n\nStay indoors."
        # media:content is a video, so the thumbnail is the picture.
        assert storm.image_url == "https://news.example.com/img/storm-thumb.jpg"
        assert storm.attribution is None

    def test_untitled_item_takes_its_title_from_the_summary(self) -> None:
        article = by_guid(parse("rss20.xml"))["urn:news:1003"]
        assert article.title == (
            "An item with no title and a summary that goes on and on for a good while…"
        )
        assert len(article.title) <= 81
        # feedparser turns a permalink guid into a link; "urn:" is no link to click.
        assert article.url is None

    def test_script_in_a_title_is_dropped(self) -> None:
        article = by_guid(parse("rss20.xml"))["urn:news:1004"]
        assert article.title == "Hostile headline"

    def test_without_a_url_source_relative_links_are_not_urls(self) -> None:
        storm = parse("rss20.xml", source="feeds/local.xml").articles[1]
        assert storm.url is None
        assert storm.guid == "/weather/storm"


def test_rss10_rdf() -> None:
    result = parse("rss10.rdf")
    assert result.title == "RDF Wire"
    (article,) = result.articles
    assert article.title == "Wahl in Hessen"
    assert article.url == article.guid == "https://rdf.example.net/a"
    assert article.summary == "Die Wahl ist entschieden."
    assert article.published_at == datetime(2018, 6, 9, 12, 34, tzinfo=PLUS2)
    assert article.published_at.utcoffset() == timedelta(hours=2)
    assert article.category == "Politik"
    assert article.language == "de"


def test_rss091_without_guid_uses_the_link() -> None:
    result = parse("rss091.xml")
    (article,) = result.articles
    assert article.guid == article.url == "http://old.example.com/1999"
    assert article.key == "http://old.example.com/1999"
    assert article.published_at is None
    assert article.language == "en"
    assert result.failures == ()


class TestAtom:
    def test_atom10_content_updated_and_offset(self) -> None:
        result = parse("atom10.xml")
        assert result.title == "Le Journal"
        assert len(result.articles) == 2
        greve = result.articles[0]
        assert greve.guid == "tag:journal.example.fr,2018:greve"
        assert greve.url == "https://journal.example.fr/greve"
        assert greve.summary == "Les trains sont à l'arrêt."
        assert greve.body == "Les trains sont à l'arrêt.\n\nLes bus aussi."
        assert greve.published_at == datetime(2018, 6, 9, 12, 34, tzinfo=PLUS2)
        assert greve.published_at.utcoffset() == timedelta(hours=2)
        assert greve.category == "Société"
        assert greve.language == "fr"

    def test_atom10_prefers_published_and_reads_source_and_xhtml(self) -> None:
        meteo = parse("atom10.xml").articles[1]
        assert meteo.title == "Météo clémente"
        assert meteo.body == "Soleil partout."
        assert meteo.published_at == datetime(2018, 6, 8, 6, 0, tzinfo=UTC)
        assert meteo.attribution == "Agence Météo"

    def test_atom03(self) -> None:
        (article,) = parse("atom03.xml").articles
        assert article.title == "Atom zero point three"
        assert article.guid == "tag:legacy.example.org,2004:03"
        minus5 = timezone(-timedelta(hours=5))
        assert article.published_at == datetime(2004, 1, 1, 9, 0, tzinfo=minus5)
        assert article.published_at.utcoffset() == -timedelta(hours=5)


def test_entry_without_guid_or_link_fails_alone() -> None:
    result = parse("rss20_missing_ids.xml")
    assert [a.title for a in result.articles] == ["First, fine", "Link only"]
    assert result.articles[1].guid == "https://partial.example.com/only-link"
    reasons = [f.reason for f in result.failures]
    assert reasons == [
        "entry #2 ('Neither guid nor link') has no guid and no link",
        "entry #4 has neither a title nor a summary",
    ]
    assert all(f.source == SOURCE for f in result.failures)


def test_empty_feed_is_not_a_failure() -> None:
    result = parse("empty.xml")
    assert result == FeedResult(title="Quiet Feed", articles=(), failures=())


@pytest.mark.parametrize(
    ("name", "title", "article_title"),
    [
        ("cp1251.xml", "Новости дня", "Выборы в Москве"),
        ("latin1.xml", "Café Crème", "Über Straßen und Flüsse - à la française"),
    ],
)
def test_declared_encodings_decode(name: str, title: str, article_title: str) -> None:
    result = parse(name)
    assert result.title == title
    assert [a.title for a in result.articles] == [article_title]


def test_cp1251_summary_and_language() -> None:
    (article,) = parse("cp1251.xml").articles
    assert article.summary == "Итоги голосования — «предварительные»."
    assert article.language == "ru"


class TestNotAFeed:
    def test_html_page(self) -> None:
        with pytest.raises(ImportFailure) as caught:
            parse("page.html")
        assert caught.value.source == SOURCE
        assert caught.value.reason == "not an RSS or Atom feed (found HTML)"

    def test_garbage_bytes(self) -> None:
        with pytest.raises(ImportFailure) as caught:
            parse("garbage.bin")
        assert caught.value.reason.startswith("malformed XML: not well-formed")
        assert " at line " in caught.value.reason

    def test_empty_document(self) -> None:
        with pytest.raises(ImportFailure, match="empty document"):
            parse_feed(b"  \n", source=SOURCE)

    def test_other_xml(self) -> None:
        with pytest.raises(ImportFailure) as caught:
            parse_feed(b"<?xml version='1.0'?><invoice><total>3</total></invoice>", source="x")
        assert caught.value.reason == "not an RSS or Atom feed (root element <invoice>)"

    def test_truncated_before_the_root_element(self) -> None:
        with pytest.raises(ImportFailure, match=r"malformed XML: unclosed token at line 2"):
            parse_feed(b"<?xml version='1.0'?>\n<fee", source="x")

    def test_declaration_that_crashes_feedparser(self) -> None:
        data = (FEEDS / "cp1251.xml").read_bytes().replace(b'"windows', b'"\xdeindows')
        with pytest.raises(ImportFailure) as caught:
            parse_feed(data, source="x")
        assert caught.value.reason.startswith("malformed feed: feedparser gave up (Unicode")

    def test_bytes_naming_a_file_are_data_not_a_path(self, tmp_path: Path) -> None:
        # feedparser.parse(bytes) opens the bytes as a file name if one exists.
        feed = tmp_path / "feed.xml"
        feed.write_bytes((FEEDS / "rss20.xml").read_bytes())
        with pytest.raises(ImportFailure):
            parse_feed(str(feed).encode(), source="x")


def test_truncated_after_the_root_element_is_an_empty_feed() -> None:
    # feedparser knows it for Atom by then; with no entries there is nothing to lose.
    result = parse_feed(b"<?xml version='1.0'?><feed><title>cut o", source="x")
    assert result.articles == ()
    assert result.failures == ()


def test_malformed_feed_with_entries_still_imports() -> None:
    data = (
        b'<rss version="2.0"><channel><title>A & B</title>'
        b"<item><title>kept</title><guid>g1</guid></item>"
        b"<item><title>also kept &</title><guid>g2</guid></item>"
    )
    result = parse_feed(data, source="x")
    assert [a.title for a in result.articles] == ["kept", "also kept &"]
    assert result.title == "A & B"


@pytest.mark.parametrize(
    ("pub_date", "expected", "offset"),
    [
        ("Sat, 09 Jun 2018 12:34:00 +0400", datetime(2018, 6, 9, 8, 34, tzinfo=UTC), 4 * 60),
        ("Sat, 09 Jun 2018 12:34:00 -0530", datetime(2018, 6, 9, 18, 4, tzinfo=UTC), -330),
        ("Sat, 09 Jun 2018 12:34:00 EST", datetime(2018, 6, 9, 17, 34, tzinfo=UTC), -300),
        # "-0000" means "zone unknown" (RFC 2822): feedparser's UTC reading is all there is.
        ("Sat, 09 Jun 2018 12:34:00 -0000", datetime(2018, 6, 9, 12, 34, tzinfo=UTC), 0),
        ("2018-06-09T12:34:00.250+02:00", datetime(2018, 6, 9, 10, 34, tzinfo=UTC), 120),
        ("2018-06-09T12:34:00Z", datetime(2018, 6, 9, 12, 34, tzinfo=UTC), 0),
        # A zone neither parser knows: feedparser reads the clock time as UTC.
        ("Sat, 09 Jun 2018 12:34:00 CEST", datetime(2018, 6, 9, 12, 34, tzinfo=UTC), 0),
    ],
)
def test_dates(pub_date: str, expected: datetime, offset: int) -> None:
    (article,) = parse_feed(
        rss_item(f"<title>t</title><guid>g</guid><pubDate>{pub_date}</pubDate>"), source="x"
    ).articles
    published = article.published_at
    assert published is not None
    assert abs(published - expected) < timedelta(seconds=1)
    assert published.utcoffset() == timedelta(minutes=offset)


@pytest.mark.parametrize("pub_date", ["", "not a date", "2018-06-09", "Sat, 99 Foo 2018"])
def test_unusable_dates_are_none_or_aware(pub_date: str) -> None:
    (article,) = parse_feed(
        rss_item(f"<title>t</title><guid>g</guid><pubDate>{pub_date}</pubDate>"), source="x"
    ).articles
    assert article.published_at is None or article.published_at.utcoffset() is not None


def test_language_short_form_entry_first() -> None:
    data = rss_item(
        "<title>t</title><guid>g</guid><dc:language>PT_br</dc:language>",
        channel_extra="<language>en-GB</language>",
    ).replace(b'version="2.0"', b'version="2.0" xmlns:dc="http://purl.org/dc/elements/1.1/"')
    (article,) = parse_feed(data, source="x").articles
    assert article.language == "pt"


@pytest.mark.parametrize(
    ("item", "expected"),
    [
        ('<media:content url="https://x.test/a.jpg" medium="image"/>', "https://x.test/a.jpg"),
        ('<media:content url="https://x.test/b.jpg"/>', "https://x.test/b.jpg"),
        ('<media:content url="https://x.test/c.mp3" type="audio/mpeg"/>', None),
        ('<enclosure url="https://x.test/d.mp3" type="audio/mpeg" length="1"/>', None),
        (
            '<enclosure url="https://x.test/e.png" type="image/png" length="1"/>',
            "https://x.test/e.png",
        ),
        ('<media:thumbnail url="javascript:alert(1)"/>', None),
    ],
)
def test_image_url(item: str, expected: str | None) -> None:
    data = rss_item(f"<title>t</title><guid>g</guid>{item}").replace(
        b'version="2.0"', b'version="2.0" xmlns:media="http://search.yahoo.com/mrss/"'
    )
    (article,) = parse_feed(data, source="x").articles
    assert article.image_url == expected


def test_longest_content_becomes_the_body() -> None:
    data = (
        b'<feed xmlns="http://www.w3.org/2005/Atom"><title>A</title><entry><title>t</title>'
        b"<id>i</id><content>short</content></entry></feed>"
    )
    (article,) = parse_feed(data, source="x").articles
    assert article.body == "short"
    data = rss_item(
        "<title>t</title><guid>g</guid><description>&lt;p&gt;sum&lt;/p&gt;</description>"
        "<content:encoded>&lt;p&gt;the long body&lt;/p&gt;&lt;p&gt;two&lt;/p&gt;</content:encoded>"
    ).replace(
        b'version="2.0"',
        b'version="2.0" xmlns:content="http://purl.org/rss/1.0/modules/content/"',
    )
    (article,) = parse_feed(data, source="x").articles
    assert (article.summary, article.body) == ("sum", "the long body\n\ntwo")


def explode(*args: object, **kwargs: object) -> NoReturn:
    raise RecursionError("deep")


def test_anything_feedparser_throws_becomes_an_import_failure(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(feedparser, "parse", explode)
    with pytest.raises(ImportFailure) as caught:
        parse("rss20.xml")
    assert caught.value.reason == "malformed feed: feedparser gave up (RecursionError: deep)"


def test_a_bug_here_is_still_an_import_failure(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(ingest.feeds, "html_to_text", explode)
    with pytest.raises(ImportFailure) as caught:
        parse("rss20.xml")
    assert caught.value.reason == f"cannot parse feed: {INTERNAL_ERROR} (RecursionError: deep)"


def test_a_bug_in_one_entry_costs_only_that_entry(monkeypatch: pytest.MonkeyPatch) -> None:
    real = ingest.feeds._published_at

    def flaky(entry: dict[str, Any]) -> datetime | None:
        if entry.get("id") == "urn:news:1003":
            raise KeyError("boom")
        return real(entry)

    monkeypatch.setattr(ingest.feeds, "_published_at", flaky)
    result = parse("rss20.xml")
    assert len(result.articles) == 3
    assert [f.reason for f in result.failures] == [f"entry #3: {INTERNAL_ERROR} (KeyError: 'boom')"]


def parse_or_failure(data: bytes) -> FeedResult | ImportFailure:
    try:
        return parse_feed(data, source="fuzz")
    except ImportFailure as failure:
        return failure


def test_truncated_and_corrupted_fixtures_never_raise_anything_else() -> None:
    rng = random.Random(20180609)
    outcomes = {"parsed": 0, "failed": 0}
    for path in sorted(FEEDS.iterdir()):
        data = path.read_bytes()
        variants = [data[:cut] for cut in range(0, len(data), max(1, len(data) // 40))]
        for _ in range(20):
            mangled = bytearray(data)
            for _ in range(5):
                mangled[rng.randrange(len(mangled))] = rng.randrange(256)
            variants.append(bytes(mangled))
        for variant in variants:
            result = parse_or_failure(variant)
            if isinstance(result, ImportFailure):
                assert INTERNAL_ERROR not in result.reason
                outcomes["failed"] += 1
                continue
            outcomes["parsed"] += 1
            for article in result.articles:
                assert article.title
                assert article.guid or article.url
                assert article.published_at is None or article.published_at.tzinfo is not None
            assert all(INTERNAL_ERROR not in f.reason for f in result.failures)
    assert outcomes["parsed"] > 0
    assert outcomes["failed"] > 0


class TestPictures:
    """The article's picture, from each place feeds put one (issue 11, section 3)."""

    @pytest.mark.parametrize(
        ("guid", "expected"),
        [
            # A typed media:content picture wins over the video beside it and the <img>.
            ("p-1", "https://cdn.example.com/img/1.jpg"),
            ("p-2", "https://cdn.example.com/img/2.webp"),
            ("p-3", "https://cdn.example.com/thumb/3.jpg"),
            ("p-4", "https://cdn.example.com/img/4.png"),  # the image enclosure, not the mp3
            # The data: placeholder is skipped; "../img/5.jpg" resolves against the item link.
            ("p-5", "https://pictures.example.com/world/2018/img/5.jpg?w=800&h=600"),
            ("p-6", "https://cdn.example.com/img/6.jpg"),
            ("p-7", None),  # audio, a PDF, a javascript: src and an <img> without one
            ("p-8", None),  # relative, and no web link to resolve it against
        ],
    )
    def test_rss_forms(self, guid: str, expected: str | None) -> None:
        articles = {a.guid: a for a in parse("pictures.xml", source="feeds/pictures.xml").articles}
        assert articles[guid].image_url == expected

    def test_atom_forms(self) -> None:
        result = parse("pictures.atom")
        assert [a.image_url for a in result.articles] == [
            "https://atom.example.com/2018/pics/story.jpg",
            "https://atom.example.com/pics/two.jpg",
            "https://atom.example.com/pics/three.png",
        ]

    def test_hostile_img_markup_stays_linear(self) -> None:
        for junk in ('<img "' * 50_000, "<img a" * 50_000, "<img src='" * 50_000):
            data = rss_item(
                f"<title>t</title><guid>g</guid><description>{html_escape(junk)}</description>"
            )
            (article,) = parse_feed(data, source="x").articles
            assert article.image_url is None

    def test_stored_by_newsbot_import(
        self, tmp_path: Path, capsys: pytest.CaptureFixture[str]
    ) -> None:
        from bot.cli import main

        config = tmp_path / "config.toml"
        config.write_text(f'[storage]\npath = "{tmp_path / "news.db"}"\n', encoding="utf-8")
        assert (
            main(["--config", str(config), "import", "--quiet", str(FEEDS / "pictures.xml")]) == 0
        )
        capsys.readouterr()
        assert main(["--config", str(config), "latest", "-n", "20", "--json"]) == 0
        shown = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
        pictures = {item["title"]: item["image_url"] for item in shown}
        assert pictures["A relative picture in the content"] == (
            "https://pictures.example.com/world/2018/img/5.jpg?w=800&h=600"
        )
        assert pictures["Only a thumbnail"] == "https://cdn.example.com/thumb/3.jpg"
        assert pictures["Nothing a reader could see"] is None

    def test_json_image_url_web_only(self) -> None:
        data = (
            b'{"title": "a", "guid": "1", "image_url": " https://cdn.example.com/a.jpg "}\n'
            b'{"title": "b", "guid": "2", "image_url": "javascript:alert(1)"}\n'
            b'{"title": "c", "guid": "3", "image_url": "data:image/gif;base64,R0lG"}\n'
            b'{"title": "d", "guid": "4"}\n'
        )
        records = list(parse_json_documents(data, source="pictures.jsonl"))
        assert [getattr(r, "image_url", r) for r in records] == [
            "https://cdn.example.com/a.jpg",
            None,
            None,
            None,
        ]
