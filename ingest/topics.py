"""Topic tagging: the configured topics an article belongs to, by category and keywords.

Keywords are matched by core.matching's rule (literal whole words or phrases, ignoring case,
Unicode-aware), the same rule that matches the words chats follow and mute.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace

from core.matching import PhraseSet, article_text
from core.matching import phrase as _phrase
from core.settings import TopicConfig
from storage.models import NewArticle

__all__ = ["TopicTagger", "with_topics"]


class TopicTagger:
    """Tags articles with configured topic slugs; build once, reuse for every article."""

    def __init__(self, topics: Sequence[TopicConfig]) -> None:
        self._slugs = tuple(dict.fromkeys(t.slug for t in topics))
        self._known = frozenset(self._slugs)
        self._by_category: dict[str, set[str]] = {}
        by_phrase: dict[str, set[str]] = {}
        for topic in topics:
            for category in topic.categories:
                self._by_category.setdefault(_phrase(category), set()).add(topic.slug)
            for keyword in topic.keywords:
                if phrase := _phrase(keyword):
                    by_phrase.setdefault(phrase, set()).add(topic.slug)
        self._keyword_slugs = frozenset(s for slugs in by_phrase.values() for s in slugs)
        # Each match stands for every phrase it implies ("central bank" implies "central").
        self._by_phrase = {phrase: frozenset(slugs) for phrase, slugs in by_phrase.items()}
        self._phrases = PhraseSet(by_phrase)

    def tag(self, article: NewArticle, extra: Sequence[str] = ()) -> tuple[str, ...]:
        """The article's topic slugs, in config order."""
        found: set[str] = set()
        if article.category:
            found.update(self._by_category.get(_phrase(article.category), ()))
        found.update(s for s in (*extra, *article.topics) if s in self._known)
        if self._phrases.phrases and not self._keyword_slugs <= found:
            found.update(self._keyword_matches(article, self._keyword_slugs - found))
        return tuple(s for s in self._slugs if s in found)

    def _keyword_matches(self, article: NewArticle, wanted: frozenset[str]) -> set[str]:
        text = article_text(article.title, article.summary, article.body)
        found: set[str] = set()
        for phrases in self._phrases.scan(text):
            for matched in phrases:
                found |= self._by_phrase[matched]
            if wanted <= found:
                break
        return found


def with_topics(article: NewArticle, tagger: TopicTagger, extra: Sequence[str] = ()) -> NewArticle:
    """The article with its ``topics`` replaced by what the tagger finds."""
    return replace(article, topics=tagger.tag(article, extra))
