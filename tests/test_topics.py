"""Topic tagging: categories, whole-word keywords, hints and forced topics, in config order."""

from __future__ import annotations

import pytest

from core.settings import TopicConfig
from ingest.topics import TopicTagger, with_topics
from storage.models import NewArticle, RelatedEntry


def article(
    title: str = "Untitled",
    body: str = "",
    summary: str = "",
    category: str | None = None,
    topics: tuple[str, ...] = (),
    related: tuple[RelatedEntry, ...] = (),
) -> NewArticle:
    return NewArticle(
        title=title,
        guid="g",
        body=body,
        summary=summary,
        category=category,
        topics=topics,
        related=related,
    )


def one(*keywords: str) -> TopicTagger:
    return TopicTagger([TopicConfig("t", "T", keywords=keywords)])


TOPICS = [
    TopicConfig("economy", "Economy", categories=("Economy news", "Business"), keywords=("oil",)),
    TopicConfig("politics", "Politics", categories=("Politics",), keywords=("election",)),
    TopicConfig("central-asia", "Central Asia", keywords=("Tajik", "Kazakhstan", "Душанбе")),
    TopicConfig("finance", "Finance", keywords=("central bank", "U.S.", "C++")),
]


class TestKeywords:
    @pytest.mark.parametrize(
        ("keyword", "text", "expected"),
        [
            ("oil", "Oil, gas and coal", True),
            ("oil", "OIL PRICES", True),
            ("oil", "prices of oil.", True),
            ("oil", "(oil)", True),
            ("oil", "“oil”", True),
            ("oil", "water starts to boil", False),
            ("oil", "years of toil", False),
            ("oil", "oily water", False),
            ("oil", "oil_price", False),
            ("Tajik", "the Tajik-Afghan border", True),
            ("Tajik", "Tajik's president", True),
            ("Tajik", "in Tajikistan", False),
            ("Tajik", "Tajiks", False),
            ("central bank", "the Central  Bank said", True),
            ("central bank", "the central\nbank said", True),
            ("central bank", "the central bank's rate", True),
            ("central bank", "central banking", False),
            ("central bank", "a central bankruptcy", False),
            ("central  BANK", "central bank", True),
            ("Душанбе", "саммит в ДУШАНБЕ в сентябре", True),
            ("Душанбе", "душанбевский", False),
            ("café", "Un CAFÉ noir", True),
            ("café", "un cafe\u0301 noir", True),  # decomposed é
            ("café", "cafés", False),
            ("straße", "die STRASSE", True),
            ("C++", "written in C++, mostly", True),
            ("C++", "written in C", False),
            ("U.S.", "the U.S. economy", True),
            ("U.S.", "the US economy", False),
            ("a.b", "axb", False),  # literal text, not a regex
            ("(x)", "f(x) and (x)", True),
            ("[", "a [ b", True),
        ],
    )
    def test_whole_word_unicode_case_insensitive(
        self, keyword: str, text: str, expected: bool
    ) -> None:
        assert one(keyword).tag(article(body=text)) == (("t",) if expected else ())

    def test_title_and_summary_are_searched(self) -> None:
        tagger = one("oil")
        assert tagger.tag(article(title="Oil rises")) == ("t",)
        assert tagger.tag(article(summary="Oil rises", body="Something else")) == ("t",)

    def test_phrase_does_not_span_fields(self) -> None:
        tagger = one("central bank")
        assert tagger.tag(article(title="Central", summary="Bank holiday")) == ()
        assert tagger.tag(article(title="Central", body="bank holiday")) == ()

    def test_related_headlines_are_not_searched(self) -> None:
        a = article(body="Nothing here", related=(RelatedEntry("Oil price", "Economy news"),))
        assert one("oil").tag(a) == ()

    def test_overlapping_keywords_of_different_topics(self) -> None:
        tagger = TopicTagger(
            [
                TopicConfig("central", "C", keywords=("central",)),
                TopicConfig("cb", "CB", keywords=("central bank",)),
                TopicConfig("bank", "B", keywords=("bank",)),
                TopicConfig("rate", "R", keywords=("bank rate",)),
            ]
        )
        assert tagger.tag(article(body="The central bank rate rose.")) == (
            "central",
            "cb",
            "bank",
            "rate",
        )
        assert tagger.tag(article(body="The central banking rule.")) == ("central",)

    def test_same_keyword_in_two_topics(self) -> None:
        tagger = TopicTagger(
            [
                TopicConfig("a", "A", keywords=("gas",)),
                TopicConfig("b", "B", keywords=("GAS", "coal")),
            ]
        )
        assert tagger.tag(article(body="gas")) == ("a", "b")

    def test_many_occurrences_and_a_long_body(self) -> None:
        body = "boil toil oily " * 4000 + "and finally oil."
        assert one("oil", "gas").tag(article(body=body)) == ("t",)
        assert one("gas").tag(article(body=body)) == ()


class TestTagging:
    def test_category_mapping(self) -> None:
        tagger = TopicTagger(TOPICS)
        assert tagger.tag(article(category="Economy news")) == ("economy",)
        assert tagger.tag(article(category="  ECONOMY   News ")) == ("economy",)
        assert tagger.tag(article(category="business")) == ("economy",)
        assert tagger.tag(article(category="Economy")) == ()
        assert tagger.tag(article(category=None)) == ()

    def test_multiple_topics_in_config_order(self) -> None:
        tagger = TopicTagger(TOPICS)
        text = "The U.S. central bank and Kazakhstan's election; oil steady."
        assert tagger.tag(article(body=text, category="Politics")) == (
            "economy",
            "politics",
            "central-asia",
            "finance",
        )

    def test_extra_and_hints_only_when_configured(self) -> None:
        tagger = TopicTagger(TOPICS)
        hinted = article(body="nothing", topics=("finance", "unknown", "economy"))
        assert tagger.tag(hinted) == ("economy", "finance")
        assert tagger.tag(article(body="nothing"), ["politics", "nope"]) == ("politics",)
        assert tagger.tag(article(body="oil"), ["economy", "economy"]) == ("economy",)

    def test_no_topics_configured(self) -> None:
        assert TopicTagger([]).tag(article(body="oil", topics=("economy",))) == ()

    def test_topic_with_only_categories(self) -> None:
        tagger = TopicTagger([TopicConfig("p", "P", categories=("Politics",))])
        assert tagger.tag(article(body="Politics everywhere")) == ()

    def test_seed_like_article(self) -> None:
        tagger = TopicTagger(TOPICS)
        a = article(
            title="Putin underlines strategic partnership between Russia, Tajikistan",
            body="the situation around the Tajik-Afghan border, TASS reports.",
        )
        assert tagger.tag(a) == ("central-asia",)

    def test_with_topics(self) -> None:
        tagger = TopicTagger(TOPICS)
        before = article(body="Oil and elections", topics=("finance",))
        after = with_topics(before, tagger, ["politics"])
        assert after.topics == ("economy", "politics", "finance")
        assert after.body == before.body
        assert before.topics == ("finance",)
