"""The agency text importer: the shared seed field by field, a local sample, and bad input."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest

from ingest.agency import agency_guid, looks_like_agency, parse_agency
from ingest.errors import ImportFailure
from storage.models import RelatedEntry

DATA = Path(__file__).resolve().parent / "data" / "agency"
# The seed has no licence beside it, so it is read from ../shared rather than copied in here;
# tests/data/agency holds a sample written for these tests in the same layout.
SEED = Path(__file__).resolve().parents[1].parent / "shared" / "seed" / "000_43f6e4f759f2e89b.txt"
PLUS4 = timezone(timedelta(hours=4))

HEAD = "date 2018-06-09 A title\n\n9 June 2018 12:34 (UTC+04:00)\n\n"


def at4(month: int, day: int, hour: int, minute: int, year: int = 2018) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=PLUS4)


@pytest.fixture(scope="module")
def seed_text() -> str:
    if not SEED.exists():
        pytest.skip(f"the shared seed is not beside this clone ({SEED})")
    return SEED.read_text(encoding="utf-8")


class TestSeed:
    def test_title_and_dateline(self, seed_text: str) -> None:
        article = parse_agency(seed_text, source="seed")
        assert article.title == "Putin underlines strategic partnership between Russia, Tajikistan"
        assert article.published_at == datetime(2018, 6, 9, 12, 34, tzinfo=PLUS4)
        assert article.published_at is not None
        assert article.published_at.isoformat() == "2018-06-09T12:34:00+04:00"

    def test_body_without_furniture(self, seed_text: str) -> None:
        article = parse_agency(seed_text, source="seed")
        assert article.body.startswith(
            "Russian President Vladimir Putin and his Tajik counterpart Emomali Rahmon plan to"
        )
        assert article.body.endswith(
            "strategic partnership between the two countries with the Russian president."
        )
        assert article.body.count("\n\n") == 5  # six paragraphs
        assert "Follow Trend" not in article.body
        assert "Azernews Newspaper" not in article.body
        assert "Related news" not in article.body
        assert "Tajikistan’s president" in article.body  # curly apostrophe kept
        assert article.summary == article.body.split("\n\n")[0]
        assert article.summary.endswith("the Tajik-Afghan border, TASS reports.")

    def test_publisher_attribution_and_the_rest(self, seed_text: str) -> None:
        article = parse_agency(seed_text, source="seed")
        assert article.publisher == "Azernews"
        assert article.attribution == "TASS"  # not "Putin", from "According to Putin"
        assert article.category is None
        assert article.language == "en"
        assert article.url is None
        assert article.guid == agency_guid("Azernews", article.title, at4(6, 9, 12, 34))
        assert article.guid is not None
        assert article.guid.startswith("agency:")
        assert len(article.guid) == len("agency:") + 16

    def test_related_box(self, seed_text: str) -> None:
        related = parse_agency(seed_text, source="seed").related
        # The seed's box holds 18 headlines (36 lines after "Related news").
        assert len(related) == 18
        assert related[0] == RelatedEntry(
            "Rouhani urges Iran and Russia to step up dialogue after US pullout from nuclear deal",
            "Russia",
            at4(6, 9, 13, 29),
        )
        assert related[0].published_at is not None
        assert related[0].published_at.isoformat() == "2018-06-09T13:29:00+04:00"
        assert related[1].category == "Economy news"
        assert related[5] == RelatedEntry(
            "Putin and Xi Jinping make joint statement following talks", "Russia", at4(6, 9, 0, 0)
        )
        assert related[6] == RelatedEntry(
            "Azerbaijan adhering to UN Charter with policy of isolating Armenia: Farhad Mammadov",
            "Politics",
            at4(6, 8, 20, 45),
        )
        assert related[12] == RelatedEntry(
            "UAE to boost troop presence in Afghanistan for training",
            "Arab World",
            at4(6, 8, 15, 53),
        )
        assert related[-1] == RelatedEntry(
            "Economic co-op with Uzbekistan developing in all directions:"
            " Russian Economy Ministry (Exclusive)",
            "Economy news",
            at4(6, 8, 11, 4),
        )
        times = [r.published_at for r in related if r.published_at is not None]
        assert len(times) == len(related)
        assert times == sorted(times, reverse=True)  # the box runs newest first
        assert all(t.utcoffset() == timedelta(hours=4) for t in times)

    def test_sniffed(self, seed_text: str) -> None:
        assert looks_like_agency(seed_text)

    def test_same_file_same_guid_changed_body_same_guid(self, seed_text: str) -> None:
        first = parse_agency(seed_text, source="seed")
        edited = parse_agency(seed_text.replace("Putin stressed", "Putin noted"), source="seed")
        assert edited.body != first.body
        assert edited.guid == first.guid


class TestSample:
    """tests/data/agency/caspian_water.txt: the same layout, written for these tests."""

    @pytest.fixture
    def text(self) -> str:
        return (DATA / "caspian_water.txt").read_text(encoding="utf-8")

    def test_fields(self, text: str) -> None:
        article = parse_agency(text, source="caspian_water.txt")
        assert article.title == "Regional ministers agree on joint water management plan"
        assert article.published_at == datetime(2021, 3, 15, 9, 5, tzinfo=PLUS4)
        assert article.publisher == "Caspian Daily"
        assert article.attribution == "Caspian Wire"
        assert article.summary.startswith("Ministers from three neighbouring countries")
        assert article.body.endswith("before the summer irrigation season.")
        assert "“Water does not stop at borders" in article.body
        assert "Follow us" not in article.body
        assert "Newspaper" not in article.body

    def test_twenty_related_entries(self, text: str) -> None:
        related = parse_agency(text, source="caspian_water.txt").related
        assert len(related) == 20
        # A headline ending in a time is still a headline: pairs are read in step.
        assert related[4] == RelatedEntry(
            "Flights to the capital resume from 06:00",
            "Transport",
            at4(3, 14, 22, 30, year=2021),
        )
        assert related[10].category == "ICT & Telecom"
        assert related[12].category == "Oil & Gas"
        assert related[-1] == RelatedEntry(
            "Museum night planned for April", "Culture", at4(3, 13, 10, 5, year=2021)
        )

    def test_crlf_bom_and_trailing_whitespace(self, text: str) -> None:
        plain = parse_agency(text, source="a")
        messy = "\ufeff" + "".join(line.rstrip("\n") + " \t\r\n" for line in text.splitlines(True))
        assert parse_agency(messy, source="b") == plain
        assert looks_like_agency(messy)

    def test_hard_wrapped_paragraph_is_joined(self) -> None:
        article = parse_agency(HEAD + "One line\nwrapped here.\n\nSecond.", source="x")
        assert article.body == "One line wrapped here.\n\nSecond."
        assert article.summary == "One line wrapped here."


class TestDateline:
    @pytest.mark.parametrize(
        ("dateline", "expected"),
        [
            ("9 June 2018 12:34 (UTC+04:00)", "2018-06-09T12:34:00+04:00"),
            ("9 June 2018 12:34 (UTC-05:00)", "2018-06-09T12:34:00-05:00"),
            ("9 June 2018 12:34 (UTC−03:30)", "2018-06-09T12:34:00-03:30"),
            ("9 June 2018 12:34 (UTC+05:30)", "2018-06-09T12:34:00+05:30"),
            ("9 June 2018 12:34 (UTC+0545)", "2018-06-09T12:34:00+05:45"),
            ("9 June 2018 12:34 (UTC+4)", "2018-06-09T12:34:00+04:00"),
            ("9 June 2018 12:34 (UTC)", "2018-06-09T12:34:00+00:00"),
            ("9 June 2018 12:34 (GMT)", "2018-06-09T12:34:00+00:00"),
            ("9 June 2018 12:34 (GMT+01:00)", "2018-06-09T12:34:00+01:00"),
            ("9 June 2018 12:34 GMT+1", "2018-06-09T12:34:00+01:00"),
            ("09 Sept 2018 07:05 (UTC+04:00)", "2018-09-09T07:05:00+04:00"),
            ("9 jun. 2018, 12:34 (utc+04:00)", "2018-06-09T12:34:00+04:00"),
        ],
    )
    def test_offsets(self, dateline: str, expected: str) -> None:
        article = parse_agency(f"Title\n{dateline}\nBody.", source="x")
        assert article.published_at is not None
        assert article.published_at.isoformat() == expected

    def test_title_without_date_prefix(self) -> None:
        article = parse_agency("\n\n  Just a title  \n9 June 2018 12:34 (UTC)\n\nBody.", source="x")
        assert article.title == "Just a title"
        assert article.publisher is None  # no "<Name> Newspaper" footer: no guessing


class TestRelatedTimes:
    def box(self, header: str, dateline: str, *lines: str) -> tuple[RelatedEntry, ...]:
        text = f"date {header} T\n{dateline}\n\nBody.\n\nRelated news\n" + "\n".join(lines)
        return parse_agency(text, source="x").related

    def test_december_items_in_a_january_article_are_last_year(self) -> None:
        related = self.box(
            "2019-01-02",
            "2 January 2019 10:00 (UTC-05:00)",
            *("A", "World 08:00", "B", "World 1 January 23:15", "C", "World 31 December 22:00"),
        )
        minus5 = timezone(timedelta(hours=-5))
        assert [r.published_at for r in related] == [
            datetime(2019, 1, 2, 8, 0, tzinfo=minus5),
            datetime(2019, 1, 1, 23, 15, tzinfo=minus5),
            datetime(2018, 12, 31, 22, 0, tzinfo=minus5),
        ]

    def test_a_day_or_two_ahead_stays_in_the_year(self) -> None:
        related = self.box(
            "2018-12-31", "31 December 2018 23:00 (UTC)", "A", "World 1 January 01:00"
        )
        assert related[0].published_at == datetime(2019, 1, 1, 1, 0, tzinfo=UTC)
        related = self.box("2018-06-09", "9 June 2018 12:00 (UTC)", "A", "World 10 June 01:00")
        assert related[0].published_at == datetime(2018, 6, 10, 1, 0, tzinfo=UTC)

    def test_explicit_year(self) -> None:
        related = self.box("2018-06-09", "9 June 2018 12:00 (UTC)", "A", "Archive 3 May 2016 10:00")
        assert related == (RelatedEntry("A", "Archive", datetime(2016, 5, 3, 10, 0, tzinfo=UTC)),)

    def test_malformed_entries_are_skipped_the_rest_kept(self) -> None:
        related = self.box(
            "2018-06-09",
            "9 June 2018 12:00 (UTC)",
            "Headline without a category line",
            "Good one",
            "Russia 10:00",
            "Bad time",
            "Russia 25:61",
            "Bad date",
            "Russia 31 February 10:00",
            "No category",
            "10:00",
            "Last",
            "Economy news 8 June 09:00",
        )
        assert [(r.title, r.category) for r in related] == [
            ("Good one", "Russia"),
            ("Last", "Economy news"),
        ]

    def test_empty_box(self) -> None:
        assert self.box("2018-06-09", "9 June 2018 12:00 (UTC)") == ()

    @pytest.mark.parametrize(
        "line",
        ["Economy news 8 June ²²²² 11:04", "Economy news ² June 11:04", "World ٣ June 10:00"],
    )
    def test_digits_other_than_0_to_9_are_no_date(self, line: str) -> None:
        # They pass str.isdigit() but int() refuses superscripts: this raised ValueError.
        related = self.box(
            "2018-06-09", "9 June 2018 12:00 (UTC)", "Good one", "Russia 10:00", "Bad", line
        )
        assert related == (
            RelatedEntry("Good one", "Russia", datetime(2018, 6, 9, 10, tzinfo=UTC)),
        )

    def test_a_dateline_at_the_end_of_year_9999_still_parses(self) -> None:
        # Raised OverflowError resolving the box's days; the pipeline replaces the date itself.
        related = self.box(
            "2018-06-09", "31 December 9999 23:34 (UTC+04:00)", "A", "World 31 December 22:00"
        )
        assert related == (RelatedEntry("A", "World", datetime(9999, 12, 31, 22, tzinfo=PLUS4)),)


class TestAttribution:
    @pytest.mark.parametrize(
        ("sentence", "expected"),
        [
            ("Talks went well, TASS reports.", "TASS"),
            ("Talks went well, RIA Novosti reported citing a source.", "RIA Novosti"),
            ("Talks went well, Trend reports, citing the ministry.", "Trend"),
            ("Yesterday Interfax reported that talks went well.", "Interfax"),
            ("As AFP reported, talks went well.", "AFP"),
            ("According to Reuters, talks went well.", None),
            ("He reported that talks went well.", None),
            ("Media reports suggest talks went well.", None),
            ("The minister said in a statement that talks went well.", None),
            ("Talks went well, the agency reports.", None),
        ],
    )
    def test_patterns(self, sentence: str, expected: str | None) -> None:
        assert parse_agency(HEAD + sentence, source="x").attribution == expected

    def test_first_match_in_the_body_wins(self) -> None:
        text = HEAD + "No source here.\n\nFirst, APA reports.\n\nThen Reuters reported."
        assert parse_agency(text, source="x").attribution == "APA"


class TestMalformed:
    @pytest.mark.parametrize(
        ("text", "reason"),
        [
            ("", "empty file"),
            ("  \r\n\n\t\n", "empty file"),
            ("\ufeff", "empty file"),
            ("date 2018-06-09\n9 June 2018 12:34 (UTC)\nBody.", "no title line"),
            ("9 June 2018 12:34 (UTC+04:00)\n\nBody.", "no title line"),
            ("date 2018-06-09 Title only\n", "no dateline after the title"),
            ("date 2018-06-09 Title\n\nBody text straight away.", "no dateline after the title"),
            ("Title\n9 June 2018 12:34\nBody.", "has no UTC offset"),
            ("Title\n9 Juin 2018 12:34 (UTC)\nBody.", "unknown month 'Juin'"),
            ("Title\n31 June 2018 12:34 (UTC)\nBody.", "day is out of range"),
            ("Title\n9 June 2018 25:34 (UTC)\nBody.", "hour must be in 0..23"),
            ("Title\n9 June 2018 12:34 (UTC+15:00)\nBody.", "cannot read the UTC offset"),
            ("Title\n9 June 2018 12:34 (MSK)\nBody.", "cannot read the UTC offset"),
            ("Title\n9 June 2018 12:34 (UTC)\n\n", "no body text"),
            (
                "Title\n9 June 2018 12:34 (UTC)\n\nFollow us on Twitter\nDaily Newspaper\n",
                "no body text",
            ),
            ("Title\n9 June 2018 12:34 (UTC)\nRelated news\nA\nWorld 10:00", "no body text"),
        ],
    )
    def test_reason(self, text: str, reason: str) -> None:
        with pytest.raises(ImportFailure) as caught:
            parse_agency(text, source="bad.txt")
        assert caught.value.source == "bad.txt"
        assert reason in caught.value.reason
        assert "\n" not in str(caught.value)
        assert str(caught.value).startswith("bad.txt: ")

    def test_long_junk_line_is_quoted_short(self) -> None:
        with pytest.raises(ImportFailure) as caught:
            parse_agency("Title\n" + "x" * 5000 + "\nBody", source="bad.txt")
        assert len(str(caught.value)) < 200


class TestSniffing:
    @pytest.mark.parametrize(
        "text",
        [
            "date 2018-06-09 Title\n",
            "\ufeff\r\n Title\r\n9 June 2018 12:34 (UTC+04:00)\r\n",
        ],
    )
    def test_agency(self, text: str) -> None:
        assert looks_like_agency(text)

    @pytest.mark.parametrize(
        "text",
        ["", "\n\n", '{"title": "x"}', "<rss></rss>", "Title\nNot a dateline\n", "x" * 100_000],
    )
    def test_not_agency(self, text: str) -> None:
        assert not looks_like_agency(text)


class TestLargeInput:
    """The regexes are linear: each of these would take minutes if one backtracked."""

    @pytest.mark.parametrize(
        "paragraph",
        [
            "Lorem ipsum dolor sit amet, TASS reports. " * 1200,
            "A" * 50_000,
            "A " * 25_000,
            "Aa-" * 17_000 + " reported",
            "Follow us " * 5_000,
            "Aa " * 17_000 + "Newspaper",
        ],
    )
    def test_fifty_thousand_character_paragraph(self, paragraph: str) -> None:
        article = parse_agency(HEAD + paragraph, source="x")
        assert len(article.body) >= 49_000

    def test_long_dateline_candidate(self) -> None:
        with pytest.raises(ImportFailure, match="no dateline"):
            parse_agency("Title\n9 June 2018 12:34 (" + " x" * 25_000, source="x")

    def test_long_related_lines(self) -> None:
        box = "\nRelated news\n" + "x " * 25_000 + "\n" + "1 June " * 7_000 + "12:00\n"
        article = parse_agency(HEAD + "Body." + box, source="x")
        assert article.related == ()
