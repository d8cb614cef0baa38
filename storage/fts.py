"""Full-text query syntax, kept in one module so no other code ever builds a query expression.

PostgreSQL gets the same words both ways, written as literals its types read without a parser
of words: the index (``tsvector``: each word the FTS5 tokenizer would index, with its position
and a label for its column) and the query (``tsquery=True``: each word single-quoted, joined by
``&`` or ``|``). So both backends find the same articles for the same text, and no user text is
ever read as query syntax by either.

User text is never passed to MATCH as it is: FTS5 reads ``"``, ``*``, ``^``, ``:``, parentheses
and the words AND, OR, NOT and NEAR as syntax, so raw input either fails to parse or means
something the user did not ask for. Instead the text is cut into the words the ``unicode61``
tokenizer would index, and each word is sent as a double-quoted string, which FTS5 only ever reads
as a phrase to look up.
"""

from __future__ import annotations

import re
import struct
import unicodedata
from collections.abc import Iterable, Sequence

__all__ = [
    "MAX_QUERY_TERMS",
    "and_query",
    "fold",
    "or_query",
    "quote_term",
    "quote_terms",
    "tokens",
    "ts_weights",
    "tsvector",
    "tsvector_binary",
]


def _latin_base_letters() -> dict[int, str]:
    """Accented Latin letters mapped to their plain letter, e.g. e-acute to e."""
    table = {}
    for block in (range(0xC0, 0x250), range(0x1E00, 0x1F00)):
        for code in block:
            decomposed = unicodedata.normalize("NFD", chr(code))
            if len(decomposed) > 1 and decomposed[0].isascii() and decomposed[0].isalpha():
                table[code] = decomposed[0]
    return table


# unicode61 keeps letters and numbers together and treats everything else (punctuation, symbols,
# emoji, the underscore, most combining marks) as a separator; [^\W_] is Python's "letter or
# number". With remove_diacritics the Latin combining accents (U+0300-U+036F) are part of the
# word and then dropped: "e" + combining acute + "z" is one word "ez". Written as runs rather
# than an alternation per character, which took twice as long on long bodies.
_ACCENTS = "\u0300-\u036f"
_WORD = re.compile(rf"[^\W_]+(?:[{_ACCENTS}]+[^\W_]*)*")
_STRAY_ACCENTS = re.compile(f"[{_ACCENTS}]+")
# The same words in folded ASCII text (lower case, no accents): a plain class that the regex
# engine matches without looking up each character's Unicode category (a quarter faster).
_ASCII_WORD = re.compile("[a-z0-9]+")
# remove_diacritics folds accented Latin letters only: Greek or Cyrillic keep their marks.
_LATIN_BASE = _latin_base_letters()
# Every character fold() changes besides the case: those _LATIN_BASE maps and the accents.
_FOLDABLE = re.compile(
    "[" + "".join(re.escape(chr(code)) for code in sorted(_LATIN_BASE)) + _ACCENTS + "]"
)

# FTS5 refuses expressions nested deeper than 256 and slows down with every phrase it has to
# score, so no query carries more words than this; the rest of a very long text is ignored.
MAX_QUERY_TERMS = 32


def fold(text: str) -> str:
    """Lower-case ``text`` and fold accented Latin letters, as ``unicode61 remove_diacritics 2``."""
    lowered = unicodedata.normalize("NFC", text).lower()
    # Most non-ASCII news text has only quotes, dashes or currency signs in it: where there is
    # nothing to fold, translating it character by character cost ten times the rest.
    if lowered.isascii() or _FOLDABLE.search(lowered) is None:
        return lowered
    return _STRAY_ACCENTS.sub("", lowered.translate(_LATIN_BASE))


def tokens(text: str) -> list[str]:
    """The words of ``text`` as the index holds them: folded, in order, repeats kept."""
    # Folding the whole text and then cutting it runs in C; per-word Python cost more than both.
    folded = fold(text)
    return (_ASCII_WORD if folded.isascii() else _WORD).findall(folded)


# PostgreSQL refuses a tsvector over 1 MB; the words of a text past this many characters are
# left out of its index (a very long body's tail is not searched on PostgreSQL).
MAX_INDEXED_CHARS = 200_000
# tsvector's own limits: a word's length in bytes, the positions kept per word, the last one.
_MAX_LEXEME_BYTES = 2047
_MAX_POSITIONS = 256
_MAX_POSITION = 16383


def _lexeme(word: str) -> str:
    # Words are letters and digits only; the escapes keep the literal sound whatever comes.
    return "'" + word.replace("\\", "\\\\").replace("'", "''") + "'"


# A word of at most this many characters fits _MAX_LEXEME_BYTES in any encoding (UTF-8 takes
# at most 4 bytes a character): only longer ones are encoded to be measured.
_SURELY_SHORT = _MAX_LEXEME_BYTES // 4


# A position as tsvector stores it (WordEntryPos): the weight in the top two bits (A 3, B 2,
# C 1), the position in the other 14; the labels the text form writes for those weights.
_WEIGHT_BITS = 14
_LABELS = {3: "A", 2: "B", 1: "C"}
# What follows a word with n positions in the binary form (tsvectorrecv): the NUL ending the
# word, the count, then each position.
_POSITIONS = [struct.Struct(f">xH{n}H") for n in range(_MAX_POSITIONS + 1)]


def _spots(title: str, summary: str, body: str) -> dict[str, list[int]]:
    """Each word FTS5 would index (in order of first use) with its positions, weights packed
    in (see ``_LABELS``): at most ``_MAX_POSITIONS`` a word, the last position repeating
    only once (PostgreSQL keeps one of equal positions, the first and highest weight).

    Positions run on from one column to the next, as ``to_tsvector(...) || ...`` counts them.
    """
    spots: dict[str, list[int]] = {}
    at = 0
    for text, weight in ((title, 3), (summary, 2), (body, 1)):
        words = tokens(text[:MAX_INDEXED_CHARS])
        if at + len(words) < _MAX_POSITION:
            # Positions below 2**14 with the weight's bits added are the packed positions:
            # counted as they come, no arithmetic per word (the common case by far).
            for spot, word in enumerate(words, start=at + 1 + (weight << _WEIGHT_BITS)):
                found = spots.get(word)
                if found is None:
                    spots[word] = [spot]
                else:
                    found.append(spot)
        else:
            _spots_past_the_last_position(spots, words, at, weight)
        at += len(words)
    for found in spots.values():
        if len(found) > _MAX_POSITIONS:
            del found[_MAX_POSITIONS:]
    return {
        w: p
        for w, p in spots.items()
        if len(w) <= _SURELY_SHORT or len(w.encode("utf-8")) <= _MAX_LEXEME_BYTES
    }


def _spots_past_the_last_position(
    spots: dict[str, list[int]], words: list[str], at: int, weight: int
) -> None:
    """``_spots``' step for a column whose words run past the last position tsvector has:
    those past it all take that position, kept once per word (the first, of highest weight)."""
    bits = weight << _WEIGHT_BITS
    for n, word in enumerate(words, start=at + 1):
        found = spots.setdefault(word, [])
        if n < _MAX_POSITION:
            found.append(n | bits)
        elif not found or found[-1] & _MAX_POSITION != _MAX_POSITION:
            found.append(_MAX_POSITION | bits)


def tsvector(title: str, summary: str, body: str) -> str:
    """A PostgreSQL ``tsvector`` literal of an article's words: each word FTS5 would index,
    with its positions, labelled A (title), B (summary) or C (body) for ts_rank's weights.

    Writing the literal here, rather than ``to_tsvector`` on the server, keeps the words exactly
    FTS5's and costs a tenth of the server's text parser. A bulk write sends
    ``tsvector_binary`` instead: the same document, which the server does not parse.
    """
    # A word is letters, digits and accents (tokens): it never holds the quote or backslash
    # that _lexeme escapes, so it is quoted as it is.
    return " ".join(
        f"'{w}':" + ",".join(f"{s & _MAX_POSITION}{_LABELS[s >> _WEIGHT_BITS]}" for s in p)
        for w, p in _spots(title, summary, body).items()
    )


def tsvector_binary(title: str, summary: str, body: str) -> bytes:
    """``tsvector``'s document in the type's binary form (what ``tsvectorrecv`` reads): the
    number of words, then each word NUL-terminated with its count of positions and each
    position as two bytes, words in the server's order (bytewise, which is the order of
    Python's strings) so it has nothing to sort. Reading the text form cost the server
    ~30 µs an article of an import's ~400 (docs/benchmarks.md)."""
    spots = _spots(title, summary, body)
    parts = [len(spots).to_bytes(4, "big")]
    for word, found in sorted(spots.items()):
        parts.append(word.encode("utf-8"))
        parts.append(_POSITIONS[len(found)].pack(len(found), *found))
    return b"".join(parts)


def quote_term(term: str) -> str:
    """One FTS5 string: inside double quotes a ``"`` is written twice and nothing is syntax."""
    return '"' + term.replace('"', '""') + '"'


def _distinct(terms: Iterable[str], limit: int) -> list[str]:
    seen: dict[str, None] = {}
    for term in terms:
        if term and term not in seen:
            seen[term] = None
            if len(seen) >= limit:
                break
    return list(seen)


def quote_terms(
    text: str, *, any_term: bool = False, max_terms: int = MAX_QUERY_TERMS
) -> str | None:
    """A MATCH expression for the words of any user text, or None if it has no words.

    Every word must match (implicit AND) unless ``any_term``, which joins them with OR. Repeated
    words count once; words past ``max_terms`` are dropped.
    """
    return _join(_distinct(tokens(text), max_terms), any_term=any_term, tsquery=False)


def and_query(
    terms: Sequence[str], *, max_terms: int = MAX_QUERY_TERMS, tsquery: bool = False
) -> str | None:
    """Match documents holding every one of ``terms`` (words), or None if there are none.

    ``tsquery``: as a PostgreSQL ``tsquery`` literal instead of an FTS5 expression.
    """
    cleaned = _distinct((t for term in terms for t in tokens(term)), max_terms)
    return _join(cleaned, any_term=False, tsquery=tsquery)


def or_query(
    terms: Sequence[str], *, max_terms: int = MAX_QUERY_TERMS, tsquery: bool = False
) -> str | None:
    """Match documents holding any of ``terms`` (already tokenised words), or None if none.

    The related-news query: FTS5 has no per-term boost, and ``bm25()`` scores each phrase of the
    query on its own, so the weighting happens when the candidates are reranked, not here.
    """
    cleaned = _distinct((t for term in terms for t in tokens(term)), max_terms)
    return _join(cleaned, any_term=True, tsquery=tsquery)


def _join(terms: Sequence[str], *, any_term: bool, tsquery: bool) -> str | None:
    if not terms:
        return None
    if tsquery:
        # A word longer than tsvector keeps is in no article's index on PostgreSQL: left out.
        kept = [t for t in terms if len(t.encode("utf-8")) <= _MAX_LEXEME_BYTES]
        if not kept:
            return None
        return (" | " if any_term else " & ").join(_lexeme(t) for t in kept)
    return (" OR " if any_term else " ").join(quote_term(t) for t in terms)


def ts_weights(weights: tuple[float, float, float]) -> list[float]:
    """bm25's (title, summary, body) column weights as ts_rank's {D, C, B, A} label weights:
    the index labels title A, summary B, body C; ts_rank wants them in 0..1."""
    top = max(*weights, 1e-9)
    title, summary, body = (w / top for w in weights)
    return [0.0, body, summary, title]
