"""Literal words and phrases in text: the one matching rule for topic keywords and chat words.

Keywords are literal text, never patterns, matched as whole words or phrases, ignoring case
(Unicode case folding, so "STRASSE" finds "Straße"), with any run of whitespace between the
words of a phrase. Text is compared in NFC, so a decomposed "é" still matches "é".

For looking phrases up in an index, ``key_of`` gives a phrase's first run of word characters:
wherever the phrase matches, that run is one of ``Tokens(text).words``, because the
match is bounded by non-word characters on both sides.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Iterator

__all__ = [
    "FIELD_BREAK",
    "PhraseSet",
    "Tokens",
    "article_text",
    "fold",
    "implies",
    "is_plain",
    "key_of",
    "phrase",
]

# Between fields, so a phrase cannot run from the end of the title into the summary: NUL is
# neither a word character nor whitespace.
FIELD_BREAK = "\x00"
_WORD = re.compile(r"\w+")


def fold(text: str) -> str:
    if text.isascii():
        # NFC and casefold change nothing in ASCII but lower-casing; lower() is quicker.
        return text.lower()
    return unicodedata.normalize("NFC", text).casefold()


def phrase(keyword: str) -> str:
    """The keyword in the form the matcher reports it: folded, single spaces."""
    return " ".join(fold(keyword).split())


def key_of(normalised: str) -> str | None:
    """A phrase's first run of word characters (None when it has none and can never match)."""
    found = _WORD.search(normalised)
    return found[0] if found else None


def is_plain(normalised: str) -> bool:
    """Whether a phrase is only runs of word characters separated by single spaces."""
    return all(_WORD.fullmatch(word) for word in normalised.split(" "))


class Tokens:
    """Folded text as its runs of word characters in order, to find many plain words and
    phrases (see ``is_plain``) without a regex per phrase.

    The same rule as ``PhraseSet``: a plain phrase matches where its words are consecutive runs
    with only whitespace between them (a run is bounded by non-word characters already).
    """

    def __init__(self, folded: str) -> None:
        self.text = folded
        self.runs = [(m.start(), m.end(), m[0]) for m in _WORD.finditer(folded)]
        self.words = {run[2] for run in self.runs}
        self._positions: dict[str, list[int]] | None = None

    def has(self, plain: str) -> bool:
        """Whether the plain word or phrase occurs."""
        words = plain.split(" ")
        if len(words) == 1:
            return plain in self.words
        if not all(word in self.words for word in words):
            return False
        if self._positions is None:
            self._positions = {}
            for index, run in enumerate(self.runs):
                self._positions.setdefault(run[2], []).append(index)
        runs, text = self.runs, self.text
        for start in self._positions.get(words[0], ()):
            if start + len(words) > len(runs):
                break
            if all(
                runs[start + k][2] == words[k]
                and text[runs[start + k - 1][1] : runs[start + k][0]].isspace()
                for k in range(1, len(words))
            ):
                return True
        return False


def article_text(title: str, summary: str, body: str) -> str:
    """An article's title, summary and body, folded, as keywords and words are matched in."""
    parts = [title]
    # The summary is usually the body's first paragraph; scanning it twice finds nothing new.
    if summary and not body.startswith(summary):
        parts.append(summary)
    parts.append(body)
    return fold(FIELD_BREAK.join(parts))


def _is_word_char(char: str) -> bool:
    return re.match(r"\w", char) is not None


def implies(longer: str, shorter: str) -> bool:
    """Whether text matching ``longer`` always also matches ``shorter`` at the same place."""
    if not longer.startswith(shorter):
        return False
    return len(longer) == len(shorter) or not _is_word_char(longer[len(shorter)])


class PhraseSet:
    """Normalised phrases (see ``phrase``) to find in folded text with one regex scan."""

    def __init__(self, phrases: Iterable[str]) -> None:
        self.phrases = frozenset(p for p in phrases if p)
        # At one position the regex reports only the first alternative that matches, so longer
        # phrases go first and each phrase also stands for every shorter phrase that matches
        # wherever it does ("central bank" implies "central").
        self._implied = {p: frozenset(_prefixes(p, self.phrases)) for p in self.phrases}
        self._pattern = _compile(self.phrases) if self.phrases else None

    def scan(self, folded: str) -> Iterator[frozenset[str]]:
        """The phrases matching at each match position, in text order."""
        if self._pattern is None:
            return
        pos = 0
        while (match := self._pattern.search(folded, pos)) is not None:
            yield self._implied.get(" ".join(match[0].split()), frozenset())
            # Not match.end(): "bank rate" may start inside a "central bank" just matched.
            pos = match.start() + 1

    def found_in(self, folded: str) -> set[str]:
        """The phrases that occur in ``folded`` text."""
        found: set[str] = set()
        for hit in self.scan(folded):
            found |= hit
            if len(found) == len(self.phrases):
                break
        return found


def _prefixes(longer: str, phrases: frozenset[str]) -> list[str]:
    """The phrases ``longer`` implies: itself and those of its prefixes that end a word."""
    return [
        longer[:k]
        for k in range(1, len(longer) + 1)
        if longer[:k] in phrases and (k == len(longer) or not _is_word_char(longer[k]))
    ]


def _compile(phrases: Iterable[str]) -> re.Pattern[str]:
    """One alternation for every phrase, grouped by first character.

    Each group opens with a literal, which lets the regex engine skip ahead by character class
    and reject a group with one comparison: about four times faster on long bodies than a
    pattern opening with the word-boundary look-behind. The boundary is checked just after that
    first character instead.
    """
    groups: dict[str, list[str]] = {}
    for item in sorted(phrases, key=len, reverse=True):
        groups.setdefault(item[0], []).append(item)
    alternatives = []
    for first, members in groups.items():
        head = re.escape(first)
        rests = "|".join(_regex(item)[len(head) :] for item in members)
        alternatives.append(rf"{head}(?<!\w{head})(?:{rests})(?!\w)")
    return re.compile("|".join(alternatives))


def _regex(item: str) -> str:
    return r"\s+".join(re.escape(word) for word in item.split())
