"""The store on a real SQLite file: migrations, dedup, updates, topics, latest."""

from __future__ import annotations

import sqlite3
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest

from storage import NewArticle, RelatedEntry, Store, Topic

BAKU = timezone(timedelta(hours=4))


def article(n: int, **changes: object) -> NewArticle:
    fields: dict[str, object] = {
        "title": f"Headline {n}",
        "url": f"https://news.example/{n}",
        "guid": f"guid-{n}",
        "body": f"Body of article {n}.",
        "published_at": datetime(2018, 6, 9, 12, 0, tzinfo=BAKU) + timedelta(minutes=n),
    }
    fields.update(changes)
    return NewArticle(**fields)  # type: ignore[arg-type]


async def open_store(tmp_path: Path) -> Store:
    store = await Store.open(tmp_path / "news.db")
    await store.articles.sync_topics([Topic("economy", "Economy"), Topic("russia", "Russia")])
    return store


async def test_migrations_are_recorded_once(tmp_path: Path) -> None:
    store = await open_store(tmp_path)
    await store.close()
    store = await open_store(tmp_path)  # a second start applies nothing again
    await store.close()
    with sqlite3.connect(tmp_path / "news.db") as conn:
        names = [r[0] for r in conn.execute("SELECT name FROM schema_migrations")]
        mode = conn.execute("PRAGMA journal_mode").fetchone()[0]
    assert names == sorted(set(names))
    assert names[0] == "0001_initial.sql"
    assert mode == "wal"


async def test_published_time_keeps_the_publishers_offset(tmp_path: Path) -> None:
    store = await open_store(tmp_path)
    [outcome] = await store.articles.upsert_many([article(1)])
    stored = await store.articles.get(outcome.article_id)
    await store.close()
    assert stored is not None
    assert stored.published_at.isoformat() == "2018-06-09T12:01:00+04:00"
    with sqlite3.connect(tmp_path / "news.db") as conn:
        seconds = conn.execute("SELECT published_at FROM articles").fetchone()[0]
    assert datetime.fromtimestamp(seconds, UTC).isoformat() == "2018-06-09T08:01:00+00:00"


async def test_the_same_guid_or_url_is_never_stored_twice(tmp_path: Path) -> None:
    store = await open_store(tmp_path)
    first = await store.articles.upsert_many([article(1)])
    again = await store.articles.upsert_many(
        [article(1), article(1, guid=None), article(1, guid="other", url="https://news.example/1")]
    )
    count = await store.articles.count()
    await store.close()
    assert [o.status for o in first] == ["inserted"]
    assert [o.status for o in again] == ["duplicate"] * 3
    assert {o.article_id for o in again} == {first[0].article_id}
    assert count == 1


async def test_a_changed_article_is_updated_in_place(tmp_path: Path) -> None:
    store = await open_store(tmp_path)
    [first] = await store.articles.upsert_many([article(1, topics=("economy",))])
    [second] = await store.articles.upsert_many(
        [article(1, title="Headline 1 (updated)", topics=("russia",))]
    )
    stored = await store.articles.get(first.article_id)
    await store.close()
    assert second.status == "updated"
    assert second.article_id == first.article_id
    assert stored is not None
    assert stored.title == "Headline 1 (updated)"
    assert stored.was_updated
    assert stored.topics == ("russia",)


async def test_related_entries_and_topics_round_trip(tmp_path: Path) -> None:
    store = await open_store(tmp_path)
    related = (
        RelatedEntry("Putin expects dialogue", "Russia", datetime(2018, 6, 9, 9, 43, tzinfo=BAKU)),
        RelatedEntry("No time here", "Economy news", None),
    )
    [outcome] = await store.articles.upsert_many(
        [article(1, related=related, topics=("russia", "economy", "unknown"))]
    )
    stored = await store.articles.get(outcome.article_id)
    await store.close()
    assert stored is not None
    assert stored.related == related
    assert stored.topics == ("economy", "russia")  # unknown topics are not kept


async def test_latest_is_newest_first_and_filters_by_topic(tmp_path: Path) -> None:
    store = await open_store(tmp_path)
    await store.articles.upsert_many(
        [article(n, topics=("economy",) if n % 2 else ()) for n in range(1, 8)]
    )
    newest = await store.articles.latest(limit=3)
    economy = await store.articles.latest(topic="economy", limit=10)
    page_two = await store.articles.latest(limit=3, offset=3)
    await store.close()
    assert [a.title for a in newest] == ["Headline 7", "Headline 6", "Headline 5"]
    assert [a.title for a in economy] == ["Headline 7", "Headline 5", "Headline 3", "Headline 1"]
    assert [a.title for a in page_two] == ["Headline 4", "Headline 3", "Headline 2"]


async def test_a_failed_batch_stores_nothing(tmp_path: Path) -> None:
    store = await open_store(tmp_path)
    bad = NewArticle(title="no key")
    with pytest.raises(ValueError, match="neither url nor guid"):
        await store.articles.upsert_many([article(1), bad])
    count = await store.articles.count()
    await store.close()
    assert count == 0
