"""Words and phrases a chat follows or mutes, and which of them an article holds.

Stored normalised (core.matching.phrase) with their first run of word characters as the index
key. An article is matched by tokenising it once into its set of words, looking those up in the
``first`` index, and checking only the candidates that are phrases (or hold punctuation) against
the text with the topic keywords' rule: never a loop over chats.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from core.matching import PhraseSet, Tokens, article_text, is_plain, key_of, phrase
from storage.db import POSTGRESQL, Conn, Database

FOLLOW, MUTE = "follow", "mute"
KINDS = (FOLLOW, MUTE)
MAX_WORDS = 50  # per chat, followed and muted together
MAX_LENGTH = 64  # characters of a word or phrase as normalised

__all__ = [
    "FOLLOW",
    "KINDS",
    "MAX_LENGTH",
    "MAX_WORDS",
    "MUTE",
    "ChatWord",
    "WordChange",
    "Words",
    "article_hits",
    "matching",
]


@dataclass(frozen=True, slots=True)
class ChatWord:
    id: int
    word: str
    kind: str
    thread_id: int | None = None  # the forum thread a followed word is delivered into


@dataclass(frozen=True, slots=True)
class WordChange:
    """What ``add`` did: words new to the chat (or moved from the other kind), words the chat
    already had as this kind, and words left out because the chat is at its limit."""

    added: tuple[str, ...]
    already: tuple[str, ...]
    refused: tuple[str, ...]
    moved: tuple[str, ...] = ()  # already followed, now delivered into another thread


class Words:
    def __init__(self, db: Database) -> None:
        self._db = db

    async def of_chat(self, chat_id: int) -> list[ChatWord]:
        """The chat's words, followed first, each kind alphabetical."""

        def work(conn: Conn) -> list[ChatWord]:
            rows = conn.execute(
                "SELECT id, word, kind, thread_id FROM chat_words WHERE chat_id = ?"
                " ORDER BY kind, word",
                (chat_id,),
            )
            return [ChatWord(*row) for row in rows]

        return await self._db.read(work)

    async def add(
        self,
        chat_id: int,
        kind: str,
        words: Sequence[str],
        now: int,
        *,
        thread: int | None = None,
    ) -> WordChange:
        """Follow or mute ``words`` (normalised here); a word of the other kind changes kind.
        A followed word is delivered into forum ``thread`` (None: the chat itself); a mute
        holds for the whole chat."""
        if kind not in KINDS:
            raise ValueError(f"unknown kind {kind!r}")
        wanted = list(dict.fromkeys(phrase(w) for w in words))
        for word in wanted:
            if not valid(word):
                raise ValueError(f"not a word to match: {word!r}")

        def work(conn: Conn) -> WordChange:
            where = thread if kind == FOLLOW else None
            have = {
                r[0]: (r[1], r[2])
                for r in conn.execute(
                    "SELECT word, kind, thread_id FROM chat_words WHERE chat_id = ?", (chat_id,)
                )
            }
            room = MAX_WORDS - len(have)
            added: list[str] = []
            already: list[str] = []
            refused: list[str] = []
            moved: list[str] = []
            for word in wanted:
                if have.get(word) == (kind, where):
                    already.append(word)
                elif word in have:
                    conn.execute(
                        "UPDATE chat_words SET kind = ?, thread_id = ?, created_at = ?"
                        " WHERE chat_id = ? AND word = ?",
                        (kind, where, now, chat_id, word),
                    )
                    (moved if have[word][0] == kind else added).append(word)
                elif room > 0:
                    conn.execute(
                        "INSERT INTO chat_words (chat_id, word, first, kind, created_at,"
                        " thread_id) VALUES (?, ?, ?, ?, ?, ?)",
                        (chat_id, word, key_of(word), kind, now, where),
                    )
                    room -= 1
                    added.append(word)
                else:
                    refused.append(word)
            return WordChange(tuple(added), tuple(already), tuple(refused), tuple(moved))

        return await self._db.write(work)

    async def remove(self, chat_id: int, kind: str, words: Sequence[str] | None) -> list[str]:
        """Stop following (or muting) ``words``, or every word of that kind; returns those gone."""
        wanted = None if words is None else [phrase(w) for w in words]

        def work(conn: Conn) -> list[str]:
            if wanted is None:
                rows = conn.execute(
                    "DELETE FROM chat_words WHERE chat_id = ? AND kind = ? RETURNING word",
                    (chat_id, kind),
                ).fetchall()
                return sorted(r[0] for r in rows)
            gone = []
            for word in dict.fromkeys(wanted):
                if conn.execute(
                    "DELETE FROM chat_words WHERE chat_id = ? AND kind = ? AND word = ?",
                    (chat_id, kind, word),
                ).rowcount:
                    gone.append(word)
            return gone

        return await self._db.write(work)

    async def remove_id(self, chat_id: int, word_id: int) -> ChatWord | None:
        """Remove one word by id, only if it is this chat's (a forged id removes nothing)."""

        def work(conn: Conn) -> ChatWord | None:
            row = conn.execute(
                "DELETE FROM chat_words WHERE id = ? AND chat_id = ?"
                " RETURNING id, word, kind, thread_id",
                (word_id, chat_id),
            ).fetchone()
            return None if row is None else ChatWord(*row)

        return await self._db.write(work)


def valid(word: str) -> bool:
    """A normalised word can be stored: not empty, within the length, with a word character."""
    return 0 < len(word) <= MAX_LENGTH and key_of(word) is not None


def matching(folded: str | Tokens, candidates: Iterable[str]) -> set[str]:
    """Which normalised ``candidates`` occur in folded text, by the topic keywords' rule.

    Plain words and phrases are found among the text's runs of word characters; only the
    others (holding punctuation, such as "c++") need the regex scan.
    """
    tokens = folded if isinstance(folded, Tokens) else Tokens(folded)
    found: set[str] = set()
    rest: list[str] = []
    for word in candidates:
        if is_plain(word):
            if tokens.has(word):
                found.add(word)
        else:
            rest.append(word)
    if rest:
        found |= PhraseSet(rest).found_in(tokens.text)
    return found


def article_hits(
    conn: Conn, articles: Iterable[tuple[int, str, str, str]]
) -> list[tuple[int, str]]:
    """(article id, word) for every word some chat follows or mutes that the article holds.

    ``articles`` are (id, title, summary, body). Each article is tokenised once; its words are
    looked up in the ``first`` index, one query per article whatever the number of chats.
    """
    hits: list[tuple[int, str]] = []
    if conn.dialect == POSTGRESQL:
        lookup = "SELECT DISTINCT word FROM chat_words WHERE first = ANY(?::text[])"
    else:
        lookup = (
            "SELECT DISTINCT word FROM chat_words WHERE first IN (SELECT value FROM json_each(?))"
        )
    for article_id, title, summary, body in articles:
        tokens = Tokens(article_text(title, summary or "", body or ""))
        words = sorted(tokens.words)
        key: object = words if conn.dialect == POSTGRESQL else json.dumps(words)
        candidates = [row[0] for row in conn.execute(lookup, (key,))]
        hits += [(article_id, word) for word in matching(tokens, candidates)]
    return hits


def any_words(conn: Conn) -> bool:
    """Whether any chat follows or mutes anything (if not, the fan-out reads no text)."""
    return conn.execute("SELECT 1 FROM chat_words LIMIT 1").fetchone() is not None
