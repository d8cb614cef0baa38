"""Story ids in the store: every article has one, the JSON carries it, export round-trips it."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from core.settings import StorageConfig
from semantic import WINDOW, story_words, words_from_text, words_text
from storage import Meaning, NewArticle, Store
from storage.db import Conn
from tests.support.store import opened_store
from tests.test_import_integrity import SEED, Newsbot
from tests.test_related_meaning import labelled_reports


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


# Story bounds (issue 10 at 1,000,000): near-identical daily reports must not chain into one
# story spanning months; a story spans at most one window (36 h).
MEANING = Meaning()
DAY0 = datetime(2026, 6, 1, 9, 0, tzinfo=UTC)


def rate_report(day: float) -> NewArticle:
    when = DAY0 + timedelta(days=day)
    return NewArticle(
        title=f"Azerbaijani manat rate for {when:%B} {when.day}",
        summary="The central bank set the official rate of the manat to the US dollar.",
        url=f"https://rates.example/manat/{day}",
        published_at=when,
    )


async def import_reports(store: Store, articles: Sequence[NewArticle]) -> list[int]:
    """Store articles as an import does (vectors, then stories); their ids in order."""
    vectors = await MEANING.embed_articles([(a.title, a.summary, a.body) for a in articles])
    outcomes = await store.articles.upsert_many(articles, vectors=vectors, meaning=MEANING)
    return [o.article_id for o in outcomes]


async def spans(store: Store, ids: Sequence[int]) -> dict[int, list[datetime]]:
    """Each story of these articles: its reports' published times, oldest first."""
    found: dict[int, list[datetime]] = {}
    for article in await store.articles.get_many(ids):
        found.setdefault(article.story or article.id, []).append(article.published_at)
    return {story: sorted(times) for story, times in found.items()}


@pytest.mark.parametrize("one_batch", [False, True], ids=["daily", "one-batch"])
async def test_daily_look_alike_reports_form_a_story_a_window_not_one(
    store: Store, one_batch: bool
) -> None:
    reports = [rate_report(day) for day in range(40)]
    if one_batch:
        ids = await import_reports(store, reports)
    else:
        ids = [i for r in reports for i in await import_reports(store, [r])]
    stories = await spans(store, ids)
    # Day 0 and day 1 are 24 h apart (one story); day 2 is 48 h after day 0: a new story.
    assert len(stories) == 20
    assert all(len(times) == 2 for times in stories.values())
    assert all(times[-1] - times[0] <= WINDOW for times in stories.values())


async def test_an_older_report_arriving_late_joins_only_a_story_it_fits(store: Store) -> None:
    first, second = await import_reports(store, [rate_report(0), rate_report(1)])
    # 12 h before the story's first report: the story would span 36 h, still one window.
    (fits,) = await import_reports(store, [rate_report(-0.5)])
    # Two days before: the story would span 72 h; it starts its own story instead.
    (too_old,) = await import_reports(store, [rate_report(-2)])
    found = {a.id: a.story for a in await store.articles.get_many([first, second, fits, too_old])}
    assert found[second] == found[fits] == found[first]
    assert found[too_old] == too_old


async def test_latest_lists_each_bounded_story_once_with_its_report_count(store: Store) -> None:
    ids = await import_reports(store, [rate_report(day) for day in range(6)])
    rows = await store.articles.latest_stories(limit=10)
    # Three stories of two reports each, newest first, each shown by its newest report.
    assert [(a.id, n) for a, n in rows] == [(ids[5], 2), (ids[3], 2), (ids[1], 2)]
    assert len({a.story for a, _ in rows}) == 3


async def test_latest_follows_a_storys_newest_report_as_reports_move(store: Store) -> None:
    def report(n: int, hour: float) -> NewArticle:
        return NewArticle(
            title=f"Report {n}",
            guid=f"head-{n}",
            summary="A line.",
            published_at=DAY0 + timedelta(hours=hour),
        )

    a, b, c = [
        o.article_id for o in await store.articles.upsert_many([report(n, n) for n in range(3)])
    ]

    async def latest() -> list[tuple[int, int]]:
        return [(x.id, n) for x, n in await store.articles.latest_stories(limit=10)]

    assert await latest() == [(c, 1), (b, 1), (a, 1)]
    await store.articles.join_story(c, a)  # c becomes the newest report of a's story
    assert await latest() == [(c, 2), (b, 1)]
    await store.articles.join_story(c, b)  # and moves on: a heads its own story again
    assert await latest() == [(c, 2), (a, 1)]
    # A correction that dates a report later makes it its story's newest, at the top.
    [moved] = await store.articles.upsert_many([report(1, 5)])
    assert moved.article_id == b
    assert await latest() == [(b, 2), (a, 1)]
    # An older report arriving late joins below the head and changes nothing shown.
    [late] = await store.articles.upsert_many([report(3, -1)])
    await store.articles.join_story(late.article_id, a)
    assert await latest() == [(b, 2), (a, 2)]


# An import places each new article in its story before it writes the row (the batch's own
# articles are candidates from memory): the stories must be those of articles stored first
# and placed after, as `newsbot reindex` places them.
def gas_report(n: int, title: str, hours: float) -> NewArticle:
    return NewArticle(
        title=title,
        summary="Azerbaijan and Italy agreed on extra gas volumes through the TAP pipeline.",
        guid=f"gas-{n}",
        published_at=DAY0 + timedelta(hours=hours),
    )


async def test_an_article_joins_the_story_of_an_earlier_article_of_its_own_batch(
    store: Store,
) -> None:
    first, other, second = await import_reports(
        store,
        [
            gas_report(1, "Baku and Rome agree on extra TAP gas volumes", 0),
            rate_report(0.1),
            gas_report(2, "Azerbaijan, Italy agree on more gas via TAP", 3),
        ],
    )
    found = {a.id: a.story for a in await store.articles.get_many([first, other, second])}
    assert found == {first: first, other: other, second: first}
    assert [a.id for a in await store.articles.in_story(first)] == [first, second]
    # /latest shows the story once, by its newest report, with both reports counted.
    assert [(a.id, n) for a, n in await store.articles.latest_stories(limit=5)] == [
        (second, 2),
        (other, 1),
    ]


async def test_a_batch_repeating_an_article_still_places_each_new_one_in_its_story(
    store: Store,
) -> None:
    reports = [
        gas_report(1, "Baku and Rome agree on extra TAP gas volumes", 0),
        # The same article again, corrected: it updates the first, which is written first.
        gas_report(1, "Baku and Rome agree on extra TAP gas volumes, officials say", 0),
        gas_report(2, "Azerbaijan, Italy agree on more gas via TAP", 3),
    ]
    first, again, second = await import_reports(store, reports)
    assert again == first
    found = {a.id: a.story for a in await store.articles.get_many([first, second])}
    assert found == {first: first, second: first}


async def test_stories_placed_at_import_are_those_placed_after_storing(
    store_config: StorageConfig,
) -> None:
    reports = labelled_reports()
    async with opened_store(store_config) as store:
        await import_reports(store, reports)  # one batch: each placed before it is written
        at_import = await story_groups(store, reports)
        await store.db.write(lambda conn: conn.execute("DELETE FROM articles"))
        await store.articles.upsert_many(reports)  # stored without vectors: own stories
        assert await store.vectors.fill_missing(MEANING, batch_size=len(reports)) == len(reports)
        after_storing = await story_groups(store, reports)
    assert any(len(group) > 1 for group in at_import)
    assert at_import == after_storing


async def story_groups(store: Store, reports: Sequence[NewArticle]) -> list[set[str]]:
    """The reports' guids, grouped by story."""
    by_story: dict[int, set[str]] = {}
    for article in await store.articles.latest(limit=len(reports)):
        by_story.setdefault(article.story or article.id, set()).add(article.guid or "")
    return sorted(by_story.values(), key=min)


async def test_latest_shows_each_storys_newest_report_after_batches_in_any_order(
    store: Store,
) -> None:
    # PostgreSQL keeps the heads /latest reads once an INSERT statement (0017), not once a
    # row: a batch holding several reports of one story, newest not last, and a later batch
    # of older reports of stories that already have a newer head must both leave each story
    # shown by its newest report.
    reports = labelled_reports()
    newest_first = sorted(reports, key=lambda a: a.published_at or DAY0, reverse=True)
    half = len(newest_first) // 2
    ids = await import_reports(store, newest_first[:half])
    ids += await import_reports(store, newest_first[half:])
    stored = await store.articles.get_many(ids)
    newest: dict[int, tuple[datetime, int]] = {}
    for a in stored:
        newest[a.story] = max(newest.get(a.story, (a.published_at, a.id)), (a.published_at, a.id))
    expected = [i for _, i in sorted(newest.values(), reverse=True)]
    shown = [a.id for a, _ in await store.articles.latest_stories(limit=len(ids))]
    assert len(expected) < len(ids)  # some reports share a story
    assert shown == expected


# Each article keeps its story words (0018): placement reads them for its stored candidates
# rather than working them out again from their text.
@pytest.mark.parametrize(
    ("title", "summary"),
    [
        ("Azerbaijan, Italy sign gas deal worth $1.9bn", "Rates kept at 7.25%, the bank said."),
        ("Zürich café owners protest rent rises", "Dozens of cafés closed for a day."),
        ("The", ""),
        ("", ""),
    ],
)
def test_story_words_read_back_as_they_were_written(title: str, summary: str) -> None:
    words = story_words(title, summary)
    assert words_from_text(words_text(words)) == words


async def test_an_article_keeps_its_story_words_and_an_edit_renews_them(store: Store) -> None:
    first = gas_report(1, "Baku and Rome agree on extra TAP gas volumes", 0)
    [stored] = await import_reports(store, [first])
    edited = replace(first, title="Baku and Rome sign an oil pact worth $2bn")
    await store.articles.upsert_many([edited])  # no vectors: a feed's correction, say

    def kept(conn: Conn) -> str:
        row = conn.execute("SELECT story_words FROM articles WHERE id = ?", (stored,))
        return str(row.fetchone()[0])

    assert words_from_text(await store.db.read(kept)) == story_words(edited.title, edited.summary)


async def test_a_report_stored_without_story_words_is_compared_by_its_text(store: Store) -> None:
    # Rows stored before migration 0018 have none: placement works them out from the text.
    [first] = await import_reports(
        store, [gas_report(1, "Baku and Rome agree on extra TAP gas volumes", 0)]
    )
    await store.db.write(
        lambda conn: conn.execute("UPDATE articles SET story_words = NULL WHERE id = ?", (first,))
    )
    [second] = await import_reports(
        store, [gas_report(2, "Azerbaijan, Italy agree on more gas via TAP", 3)]
    )
    found = {a.id: a.story for a in await store.articles.get_many([first, second])}
    assert found == {first: first, second: first}
