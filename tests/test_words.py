"""The word matcher and the words store, without Telegram: phrases, Unicode, whole words, case,
and the indexed look-up the fan-out uses."""

from __future__ import annotations

import sqlite3
from datetime import UTC, datetime
from pathlib import Path

import pytest

from bot.commands import UsageError, parse_words, split_words
from core.matching import article_text, key_of, phrase
from storage import Store
from storage.db import SqliteConnection
from storage.words import MAX_WORDS, article_hits, matching
from tests.harness import make_article


def found(text: str, *words: str) -> set[str]:
    return matching(article_text(text, "", ""), [phrase(w) for w in words])


def test_whole_words_only_ignoring_case() -> None:
    assert found("The BANK raised rates", "bank") == {"bank"}
    assert found("Banking and banks", "bank") == set()
    assert found("embankment", "bank") == set()
    assert found("bank-run", "bank") == {"bank"}


def test_phrases_match_across_any_whitespace_but_not_across_fields() -> None:
    assert found("the Central\n\t Bank said", "central bank") == {"central bank"}
    assert found("central banking", "central bank") == set()
    assert found("bank central", "central bank") == set()
    title_then_body = article_text("News from the central", "", "Bank of nowhere")
    assert matching(title_then_body, ["central bank"]) == set()


def test_unicode_folding_and_normal_forms() -> None:
    assert found("Die Straße ist gesperrt", "STRASSE") == {"strasse"}
    assert found("Новости из МОСКВЫ и Москва", "москва") == {"москва"}
    assert found("Москвы", "москва") == set()
    decomposed = "Cafe\u0301 society"
    assert found(decomposed, "café") == {"café"}
    assert found("東京 news", "東京") == {"東京"}


def test_words_with_punctuation_and_overlapping_phrases() -> None:
    assert found("We use C++ daily", "c++") == {"c++"}
    assert found("The U.S. economy", "u.s.") == {"u.s."}
    text = "the central bank rate rose"
    assert found(text, "central bank", "bank rate", "central") == {
        "central bank",
        "bank rate",
        "central",
    }


def test_user_text_is_literal_never_a_pattern() -> None:
    # A pattern that would backtrack for ever as a regex is plain text here.
    hostile = "(a+)+$"
    assert found("a" * 5000 + "!", hostile) == set()
    assert found("look: (a+)+$ here", hostile) == {"(a+)+$"}
    assert key_of(phrase(hostile)) == "a"


def test_split_words_takes_quotes_of_every_kind() -> None:
    assert split_words('inflation "central bank"') == ["inflation", "central bank"]
    assert split_words("“transfer  window”, crypto") == ["transfer window", "crypto"]
    assert split_words("«Газпром нефть» oil") == ["Газпром нефть", "oil"]
    assert split_words('"unclosed phrase') == ["unclosed phrase"]
    assert split_words("bidi\u202eword") == ["bidiword"]


def test_parse_words_limits() -> None:
    assert parse_words("Inflation INFLATION", "follow") == ["inflation"]
    with pytest.raises(UsageError, match="for example: /follow"):
        parse_words("   ", "follow")
    with pytest.raises(UsageError, match="65 characters"):
        parse_words("x" * 65, "follow")
    assert parse_words("x" * 64, "mute") == ["x" * 64]
    with pytest.raises(UsageError, match="no letter or digit"):
        parse_words("---", "mute")


async def test_the_store_keeps_50_words_and_a_follow_replaces_a_mute(tmp_path: Path) -> None:
    store = await Store.open(tmp_path / "news.db")
    try:
        await store.chats.seen(1, "private", None, None, 0)
        first = await store.words.add(1, "mute", ["Oil", "gas"], 0)
        turned = await store.words.add(1, "follow", ["oil"], 0)
        many = await store.words.add(1, "follow", [f"w{n}" for n in range(60)], 0)
        words = await store.words.of_chat(1)
    finally:
        await store.close()
    assert first.added == ("oil", "gas")
    assert turned.added == ("oil",)
    assert len(many.added) == MAX_WORDS - 2
    assert many.refused == tuple(f"w{n}" for n in range(MAX_WORDS - 2, 60))
    assert len(words) == MAX_WORDS
    assert {w.kind for w in words if w.word in ("oil", "gas")} == {"follow", "mute"}


async def test_article_hits_look_words_up_by_index(tmp_path: Path) -> None:
    path = tmp_path / "news.db"
    store = await Store.open(path)
    try:
        when = datetime(2026, 1, 1, tzinfo=UTC)
        [outcome] = await store.articles.upsert_many(
            [make_article(1, body="The central bank of Kyrgyzstan held rates.", published_at=when)]
        )
        for chat in (1, 2, 3):
            await store.chats.seen(chat, "private", None, None, 0)
        await store.words.add(1, "follow", ["central bank"], 0)
        await store.words.add(2, "mute", ["Kyrgyzstan", "central asia"], 0)
        await store.words.add(3, "follow", ["bank rate"], 0)
    finally:
        await store.close()
    with sqlite3.connect(path, factory=SqliteConnection) as conn:
        rows = conn.execute(
            "SELECT id, title, summary, body FROM articles WHERE id = ?", (outcome.article_id,)
        ).fetchall()
        hits = sorted(article_hits(conn, rows))
        plan = " ".join(
            str(r[3])
            for r in conn.execute(
                "EXPLAIN QUERY PLAN SELECT DISTINCT word FROM chat_words"
                " WHERE first IN (SELECT value FROM json_each(?))",
                ('["bank"]',),
            )
        )
    assert hits == [(outcome.article_id, "central bank"), (outcome.article_id, "kyrgyzstan")]
    assert "USING COVERING INDEX chat_words_first" in plan
