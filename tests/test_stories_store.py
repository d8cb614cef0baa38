"""Story ids in the store: every article has one, the JSON carries it, export round-trips it."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

from storage import NewArticle, Store
from tests.test_import_integrity import SEED, Newsbot


async def test_a_new_article_is_its_own_story_until_grouped(store: Store) -> None:
    when = datetime(2026, 11, 30, 9, 0, tzinfo=UTC)
    outcomes = await store.articles.upsert_many(
        [
            NewArticle(title="Gas deal signed", url="https://a.example/1", published_at=when),
            NewArticle(title="Rates kept", url="https://b.example/2", published_at=when),
        ]
    )
    ids = [o.article_id for o in outcomes]
    articles = await store.articles.get_many(ids)
    assert [a.story for a in articles] == ids
    assert [a.id for a in await store.articles.in_story(ids[1])] == [ids[1]]


def test_show_json_and_export_carry_the_story(tmp_path: Path) -> None:
    newsbot = Newsbot(tmp_path)
    assert newsbot("import", "--quiet", SEED).returncode == 0
    shown = newsbot.show(1)
    assert shown["story"] == 1
    exported = json.loads(newsbot("export").stdout.splitlines()[0])
    assert exported["story"] == 1
