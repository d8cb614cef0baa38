"""The store on a real SQLite file: migrations, dedup, updates, topics, latest."""

from __future__ import annotations

import sqlite3
from datetime import UTC, datetime, timedelta, timezone

import pytest

from core.settings import StorageConfig
from storage import NewArticle, RelatedEntry, Store, Topic
from storage.db import POSTGRESQL, SQLITE, migration_files
from tests.support.store import opened_store, raw_store, sqlite_only

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


TOPICS = [Topic("economy", "Economy"), Topic("russia", "Russia")]


@pytest.fixture
async def store(store: Store) -> Store:
    """The suite's fresh store, with this file's topics."""
    await store.articles.sync_topics(TOPICS)
    return store


async def test_migrations_are_recorded_once(store: Store, store_config: StorageConfig) -> None:
    await store.close()
    async with opened_store(store_config):  # a second start applies nothing again
        pass
    with raw_store(store_config) as conn:
        names = [r[0] for r in conn.execute("SELECT name FROM schema_migrations")]
    assert names == sorted(set(names))
    assert names[0] == "0001_initial.sql"
    assert names == [name for name, _ in migration_files(conn.dialect)]


@sqlite_only("the journal mode is SQLite's")
async def test_the_store_keeps_a_write_ahead_log(store: Store, store_config: StorageConfig) -> None:
    await store.close()
    with sqlite3.connect(store_config.path) as conn:
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"


def test_every_sqlite_migration_has_its_postgresql_counterpart() -> None:
    """Both backends run the same numbered steps: a migration added for one is owed the other."""
    sqlite = [name for name, _ in migration_files(SQLITE)]
    postgresql = [name for name, _ in migration_files(POSTGRESQL)]
    assert sqlite == postgresql


async def test_published_time_keeps_the_publishers_offset(
    store: Store, store_config: StorageConfig
) -> None:
    [outcome] = await store.articles.upsert_many([article(1)])
    stored = await store.articles.get(outcome.article_id)
    await store.close()
    assert stored is not None
    assert stored.published_at.isoformat() == "2018-06-09T12:01:00+04:00"
    with raw_store(store_config) as conn:
        seconds = conn.execute("SELECT published_at FROM articles").fetchone()[0]
    assert datetime.fromtimestamp(seconds, UTC).isoformat() == "2018-06-09T08:01:00+00:00"


async def test_the_same_guid_or_url_is_never_stored_twice(store: Store) -> None:
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


async def test_an_id_is_never_handed_out_twice_even_after_the_newest_is_deleted(
    store: Store,
) -> None:
    # A link to a deleted article must never open another one: ids are drawn in bulk for a
    # batch (storage/articles.py), past every id ever used, as AUTOINCREMENT and identities do.
    batch = await store.articles.upsert_many([article(n, topics=("economy",)) for n in (1, 2, 3)])
    ids = [o.article_id for o in batch]
    await store.db.write(lambda conn: conn.execute("DELETE FROM articles WHERE id = ?", (ids[-1],)))
    [later] = await store.articles.upsert_many([article(4, topics=("economy",))])
    found = await store.search.search("Headline 4")
    economy = await store.articles.latest(topic="economy", limit=10)
    stored = await store.articles.get(later.article_id)
    await store.close()
    assert ids == sorted(set(ids))  # one each, in the batch's order
    assert later.article_id > ids[-1]
    assert [a.id for a in found] == [later.article_id]
    assert [a.id for a in economy] == [later.article_id, ids[1], ids[0]]
    assert stored is not None
    assert stored.story == later.article_id  # its own story until grouped


async def test_a_changed_article_is_updated_in_place(store: Store) -> None:
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


async def test_related_entries_and_topics_round_trip(store: Store) -> None:
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


async def test_latest_is_newest_first_and_filters_by_topic(store: Store) -> None:
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


async def test_a_failed_batch_stores_nothing(store: Store) -> None:
    bad = NewArticle(title="no key")
    with pytest.raises(ValueError, match="neither url nor guid"):
        await store.articles.upsert_many([article(1), bad])
    count = await store.articles.count()
    await store.close()
    assert count == 0


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("title", "A new headline"),
        ("summary", "A new summary."),
        ("body", "A new body."),
        ("category", "Economy news"),
        ("topics", ("economy", "russia")),
        ("related", (RelatedEntry("Another headline", "Russia", None),)),
        ("image_url", "https://news.example/1.jpg"),
        ("attribution", "TASS"),
        ("publisher", "Azernews"),
        ("language", "ru"),
        ("published_at", datetime(2018, 6, 9, 13, 0, tzinfo=BAKU)),
    ],
)
async def test_a_change_to_any_stored_field_is_an_update(
    store: Store, field: str, value: object
) -> None:
    first = article(1, topics=("economy",))
    await store.articles.upsert_many([first])
    changed = NewArticle(**{**_fields(first), field: value})  # type: ignore[arg-type]
    [outcome] = await store.articles.upsert_many([changed])
    [again] = await store.articles.upsert_many([changed])
    stored = await store.articles.get(outcome.article_id)
    await store.close()
    assert (outcome.status, again.status) == ("updated", "duplicate")
    assert stored is not None
    assert getattr(stored, field) == value


async def test_fields_a_record_does_not_give_keep_their_stored_values(store: Store) -> None:
    full = article(
        1,
        summary="Summary.",
        category="Russia",
        topics=("russia",),
        related=(RelatedEntry("Other", "Russia", datetime(2018, 6, 9, 11, 0, tzinfo=BAKU)),),
        image_url="https://news.example/1.jpg",
    )
    [outcome] = await store.articles.upsert_many([full])
    listing = NewArticle(
        title=full.title,
        url=full.url,
        guid=full.guid,
        summary=full.summary,
        given=frozenset(("title", "url", "guid", "summary")),
    )
    [same] = await store.articles.upsert_many([listing])
    retitled = NewArticle(
        title="Retitled", guid=full.guid, body="", given=frozenset(("title", "guid", "body"))
    )
    [changed] = await store.articles.upsert_many([retitled])
    stored = await store.articles.get(outcome.article_id)
    await store.close()
    assert same.status == "duplicate"
    assert changed.status == "updated"
    assert stored is not None
    assert (stored.title, stored.body) == ("Retitled", "")  # given: changed, even to empty
    assert stored.summary == "Summary."
    assert stored.related == full.related
    assert stored.topics == ("russia",)
    assert stored.image_url == full.image_url
    assert stored.published_at == full.published_at


async def test_an_unreadable_row_is_left_out_of_every_read(
    store: Store, caplog: pytest.LogCaptureFixture
) -> None:
    # What versions without date checks stored for "Fri, 31 Dec 9999 23:59:59 -1400".
    outcomes = await store.articles.upsert_many(
        [article(n, topics=("economy",)) for n in range(1, 4)]
    )
    bad = outcomes[1].article_id
    poison = int(
        datetime(9999, 12, 31, 23, 59, 59, tzinfo=timezone(-timedelta(hours=14))).timestamp()
    )
    await store.db.write(
        lambda conn: conn.execute(
            "UPDATE articles SET published_at = ?, utc_offset = -840 WHERE id = ?", (poison, bad)
        )
    )
    latest = await store.articles.latest(limit=10)
    by_topic = await store.articles.latest(topic="economy", limit=10)
    got = await store.articles.get_many([o.article_id for o in outcomes])
    exported = [a async for page in store.articles.all_pages(page_size=1) for a in page]
    await store.articles.latest(limit=10)
    await store.close()
    good = [outcomes[2].article_id, outcomes[0].article_id]
    assert [a.id for a in latest] == good
    assert [a.id for a in by_topic] == good
    assert [a.id for a in got] == sorted(good)
    assert [a.id for a in exported] == sorted(good)
    reports = [r for r in caplog.records if f"article {bad}:" in r.getMessage()]
    assert len(reports) == 1  # said once, not on every read


async def test_migration_0004_repairs_stored_impossible_times(
    store: Store, store_config: StorageConfig
) -> None:
    related = (RelatedEntry("Other", "Russia", datetime(2018, 6, 9, 11, 0, tzinfo=BAKU)),)
    outcomes = await store.articles.upsert_many(
        [article(n, topics=("economy",), related=related) for n in range(1, 5)],
        now=datetime(2026, 12, 1, tzinfo=UTC),
    )
    await store.close()
    ids = [o.article_id for o in outcomes]
    year_10000 = 253402300800
    with raw_store(store_config) as conn:
        # As older versions stored Atom 9999-12-31T20:00:00-05:00, JSON
        # 0001-01-01T00:00:00+14:00, and a dateline a thousand years ahead.
        conn.execute(
            "UPDATE articles SET published_at = ?, utc_offset = -300 WHERE id = ?",
            (year_10000 + 3600, ids[0]),
        )
        conn.execute(
            "UPDATE articles SET published_at = ?, utc_offset = 840 WHERE id = ?",
            (-62135596800 - 14 * 3600, ids[1]),
        )
        conn.execute(
            "UPDATE articles SET published_at = ? WHERE id = ?", (year_10000 - 10**9, ids[2])
        )
        conn.execute(
            "UPDATE related_entries SET published_at = ? WHERE article_id = ?",
            (year_10000, ids[3]),
        )
        conn.execute("DELETE FROM schema_migrations WHERE name LIKE '0004%'")
    async with opened_store(store_config) as reopened:
        repaired = await reopened.articles.get_many(ids, with_related=True)
        by_topic = await reopened.articles.latest(topic="economy", limit=10)
    created = datetime(2026, 12, 1, tzinfo=UTC)
    assert [a.id for a in repaired] == ids
    assert [a.published_at for a in repaired[:3]] == [created] * 3
    assert repaired[3].published_at == article(4).published_at
    assert repaired[3].related == (RelatedEntry("Other", "Russia", None),)
    # The topic listing's copy of the time was repaired too: the three now sort as 2026.
    assert [a.id for a in by_topic] == [ids[2], ids[1], ids[0], ids[3]]


def _fields(value: NewArticle) -> dict[str, object]:
    return {name: getattr(value, name) for name in NewArticle.__dataclass_fields__}


async def test_a_batch_of_more_than_500_finds_every_stored_article_among_them(
    store: Store,
) -> None:
    # Which articles of a batch are stored is looked up for the whole batch at once (in
    # chunks of 500 on SQLite, one array on PostgreSQL): those past the first 500 count too.
    first = await store.articles.upsert_many([article(n) for n in range(600, 1200)])
    again = await store.articles.upsert_many(
        [article(n) for n in range(600)]
        + [article(n, title=f"Headline {n} (updated)") for n in range(600, 900)]
        + [article(n) for n in range(900, 1200)]
    )
    count = await store.articles.count()
    updated = await store.articles.get(first[0].article_id)
    await store.close()
    assert [o.status for o in again] == ["inserted"] * 600 + ["updated"] * 300 + ["duplicate"] * 300
    assert [o.article_id for o in again[600:]] == [o.article_id for o in first]
    assert count == 1200
    assert updated is not None
    assert updated.title == "Headline 600 (updated)"
