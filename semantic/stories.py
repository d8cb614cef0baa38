"""Decide whether two reports tell the same news story.

Meaning alone (the cosine of the two embeddings) merges look-alikes: reports about the same
countries or people on the same day ("Azerbaijan, Italy sign gas deal" and "Azerbaijan, Italy
discuss tourism cooperation") score as high as two wordings of one event. What tells them apart,
measured on tests/data/story_pairs.jsonl (``bench/quality.py --only-semantic``), is the words
the two reports share: the score is the cosine plus a share of the overlap of their word stems.
A penalty for figures that disagree ("1.9%" against "2%") is there to try; measurement left it
at zero.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta

import numpy as np

from semantic.model import Embedder, Vectors, article_text

WINDOW = timedelta(hours=36)

# Too common in headlines to say which event a report is about.
_STOP_TEXT = """a an the of to in on for and or as at by with from after over under into amid about
    is are was were be been being has have had will would can could may might says said say
    its it this that these those their his her they he she we you our who which what when
    new more less than up down out not no but also next last year years month week day first
    one two three via per"""
STOP_WORDS = frozenset(_STOP_TEXT.split())
_WORD = re.compile(r"[^\W_]+(?:[.,]\d+)*%?")
_NUMBER = re.compile(r"\d+(?:[.,]\d+)*")
# The first letters stand in for a stemmer: "agreed" and "agrees" meet, "sign" and "signed"
# do not; good enough on the labelled pairs, and free.
STEM = 5


@dataclass(frozen=True, slots=True)
class StoryItem:
    """What ``same_story`` compares: a report's vector, time, word stems and figures."""

    vector: Vectors
    published_at: datetime
    stems: frozenset[str]
    numbers: frozenset[str]

    @classmethod
    def of(
        cls, vector: Vectors, published_at: datetime, title: str, summary: str = ""
    ) -> StoryItem:
        return cls(vector, published_at, *story_words(title, summary))


Words = tuple[frozenset[str], frozenset[str]]


def story_words(title: str, summary: str = "") -> Words:
    """A report's word stems and figures, as ``StoryItem`` holds them: text work that can be
    done apart from the vector (an import's embedding process does it beside embedding)."""
    text = f"{title} {summary}"
    words = (w for w in _WORD.findall(text.lower()) if len(w) > 2 and w not in STOP_WORDS)
    # Years date a report rather than tell its event apart.
    numbers = {n for n in _NUMBER.findall(text) if not (len(n) == 4 and n[:2] in ("19", "20"))}
    return frozenset(w[:STEM] for w in words), frozenset(numbers)


def words_text(words: Words) -> str:
    """``story_words``' result as the store keeps it (``words_from_text`` reads it back): the
    stems, then ``|``, then the figures, each list space-separated. Neither holds a space or a
    ``|``: they are runs of letters and digits, with ``.``, ``,`` or ``%`` inside."""
    stems, numbers = words
    return " ".join(sorted(stems)) + "|" + " ".join(sorted(numbers))


def words_from_text(text: str) -> Words:
    """The ``story_words`` that ``words_text`` wrote as ``text``."""
    stems, _, numbers = text.partition("|")
    return frozenset(stems.split()), frozenset(numbers.split())


@dataclass(frozen=True, slots=True)
class StoryRule:
    """The weights and threshold of the same-story score (chosen in bench/quality.py)."""

    threshold: float = 0.66
    word_weight: float = 0.3
    number_penalty: float = 0.0


RULE = StoryRule()


def story_score(a: StoryItem, b: StoryItem, rule: StoryRule = RULE) -> float:
    """Cosine of the vectors plus shared word stems, less disagreeing figures."""
    cosine = float(np.dot(a.vector, b.vector))
    total = len(a.stems) + len(b.stems)
    overlap = 2 * len(a.stems & b.stems) / total if total else 0.0
    disagree = bool(a.numbers and b.numbers and not a.numbers & b.numbers)
    return cosine + rule.word_weight * overlap - rule.number_penalty * disagree


def same_story(
    a: StoryItem, b: StoryItem, rule: StoryRule = RULE, *, window: timedelta = WINDOW
) -> bool:
    """Whether ``a`` and ``b`` report one event: published within ``window`` and alike enough."""
    if abs(a.published_at - b.published_at) > window:
        return False
    return story_score(a, b, rule) >= rule.threshold


def story_items(
    embedder: Embedder, reports: Iterable[tuple[str, str, datetime]]
) -> list[StoryItem]:
    """Embed (title, summary, published_at) reports in one batch, ready for ``same_story``."""
    reports = list(reports)
    vectors = embedder.embed([article_text(title, summary) for title, summary, _ in reports])
    return [
        StoryItem.of(vector, when, title, summary)
        for vector, (title, summary, when) in zip(vectors, reports, strict=True)
    ]
