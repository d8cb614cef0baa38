"""Search and related news, on a real SQLite file: ranking, dedup, weighting, hostile input."""

from __future__ import annotations

import asyncio
import json
import sqlite3
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from bot.cli import main as newsbot
from core.settings import StorageConfig
from ingest import pipeline
from ingest.jsonio import article_to_dict
from ingest.pipeline import Importer, ImportSummary
from ingest.topics import TopicTagger
from storage import NewArticle, RelatedEntry, Store, Topic, fts, term_stats
from storage.db import Conn
from storage.search import SearchEngine, SearchTuning, normalise_title
from tests.support.newsbot import run_newsbot
from tests.support.store import opened_store, raw_store, storage_table

T0 = datetime(2025, 6, 1, 12, 0, tzinfo=UTC)

HOSTILE = [
    '"',
    '""',
    "*",
    "mars*",
    "NEAR(",
    "NEAR(mars rover, 3)",
    "AND OR NOT",
    "mars AND",
    "OR",
    "col:foo",
    "title:mars",
    "^",
    "^mars",
    "((mars",
    "mars))",
    "(",
    ")",
    "🛰️🚀",
    "mars 🚀 rover",
    "x" * 10_000,
    " ".join(["mars"] * 2_000),
    " ".join(f"w{i}" for i in range(2_000)),
    "",
    "   ",
    "!?.,;:-—()[]{}",
    "'); DROP TABLE articles;--",
    "\x00mars\x00",
    "mars\nrover\t",
    "_",
    "a_b",
    "+mars -rover",
    "{title summary}: mars",
]

VOLCANO = (
    "Volcano erupts in Iceland, grounding flights",
    "A volcano in southern Iceland erupted overnight, sending an ash plume over the airports.",
    "The eruption near Grindavik threw lava and ash into the air. Airlines cancelled flights "
    "across Iceland as the ash cloud drifted east. Volcanologists said the magma chamber "
    "under the peninsula had been filling for weeks and more eruptions were likely.",
)
VOLCANO_2 = (
    "Ash cloud from Iceland volcano halts European flights",
    "Airports in Norway and Scotland closed as volcanic ash from the Iceland eruption spread.",
    "Volcanologists tracking the magma and the ash plume expect the eruption to continue. "
    "Flights remain grounded while the ash cloud covers the North Atlantic routes.",
)
FOOTBALL = (
    "Late goal wins the cup final",
    "A striker scored in stoppage time to win the cup final at Wembley.",
    "The match was goalless until the striker volleyed in from the edge of the box. The "
    "manager praised his team's defence and the fans celebrated the trophy.",
)
BUDGET = (
    "Finance minister presents the budget",
    "The budget raises spending on schools and cuts fuel duty.",
    "Economists said the budget deficit would widen. The minister defended the tax plans "
    "in parliament and promised lower inflation next year.",
)


def article(
    key: str,
    text: tuple[str, str, str],
    *,
    when: datetime = T0,
    topics: tuple[str, ...] = (),
    related: tuple[RelatedEntry, ...] = (),
    title: str | None = None,
) -> NewArticle:
    return NewArticle(
        title=title if title is not None else text[0],
        summary=text[1],
        body=text[2],
        guid=f"guid:{key}",
        url=f"https://news.example/{key}",
        published_at=when,
        topics=topics,
        related=related,
    )


@pytest.fixture
async def store(store: Store) -> Store:
    """The suite's fresh store, with this file's topics."""
    await store.articles.sync_topics(
        [Topic("science", "Science"), Topic("sport", "Sport"), Topic("world", "World")]
    )
    return store


async def add(store: Store, *articles: NewArticle) -> list[int]:
    outcomes = await store.articles.upsert_many(list(articles))
    return [o.article_id for o in outcomes]


# --- fts.py -------------------------------------------------------------------------------


@pytest.mark.parametrize("text", HOSTILE)
def test_quote_terms_turns_any_text_into_quoted_words_or_none(text: str) -> None:
    expression = fts.quote_terms(text)
    if expression is None:
        assert not fts.tokens(text)
        return
    for part in expression.split(" "):
        assert part.startswith('"')
        assert part.endswith('"')
    assert len(expression.split(" ")) <= fts.MAX_QUERY_TERMS


def test_quote_terms_joins_with_and_or_or() -> None:
    assert fts.quote_terms("Mars, rover!") == '"mars" "rover"'
    assert fts.quote_terms("Mars, rover!", any_term=True) == '"mars" OR "rover"'
    assert fts.quote_terms("NEAR(a b) OR c") == '"near" "a" "b" "or" "c"'
    assert fts.quote_terms("mars mars MARS") == '"mars"'
    assert fts.quote_terms("?!") is None
    assert fts.quote_terms("") is None


def test_quote_term_doubles_quotes() -> None:
    assert fts.quote_term('say "hi"') == '"say ""hi"""'


def test_tokens_follow_unicode61_with_diacritics_removed() -> None:
    assert fts.tokens("Café naïve DON'T x_y 3.14") == [
        "cafe",
        "naive",
        "don",
        "t",
        "x",
        "y",
        "3",
        "14",
    ]
    assert fts.tokens("cafe\u0301") == ["cafe"]
    assert fts.tokens("Ελληνικά Москва") == ["ελληνικά", "москва"]
    # Non-ASCII with nothing to fold (quotes, dashes, currency) and with both kinds together.
    assert fts.tokens("\u201cRates\u201d rise \u2014 \u00a35bn") == ["rates", "rise", "5bn"]
    assert fts.tokens("\u201cCaf\u00e9\u201d \u2014 Z\u00fcrich") == ["cafe", "zurich"]


def test_or_query_requotes_terms_and_caps_them() -> None:
    assert fts.or_query(["mars", 'a"b', ""]) == '"mars" OR "a" OR "b"'
    assert fts.or_query([]) is None
    many = fts.or_query([f"t{i}" for i in range(100)], max_terms=5)
    assert many is not None
    assert many.count(" OR ") == 4


# --- search -------------------------------------------------------------------------------


async def test_hostile_input_gives_results_or_empty_list(store: Store) -> None:
    await add(
        store,
        article("mars", ("Mars rover lands", "The rover landed on Mars.", "Mars rover news.")),
        article("near", ("Near miss", "An asteroid came near.", "NEAR and OR and NOT col foo")),
    )
    engine = SearchEngine(store.db)
    for text in HOSTILE:
        found = await engine.search(text)
        assert isinstance(found, list), text
    assert await store.articles.count() == 2  # the "DROP TABLE" did nothing
    assert [a.guid for a in await engine.search("NEAR(")] == ["guid:near"]
    assert [a.guid for a in await engine.search("mars AND")] == ["guid:mars"]


async def test_search_puts_good_matches_newest_first_then_weaker_ones(store: Store) -> None:
    old, new, passing = await add(
        store,
        article(
            "old",
            ("Mars rover lands safely", "The rover touched down on Mars.", "Mars rover."),
            when=T0 - timedelta(days=30),
        ),
        article(
            "new",
            ("Mars rover finds ice", "The Mars rover found ice near the pole.", "Rover ice."),
            when=T0 - timedelta(days=1),
        ),
        article(
            "passing",
            (*BUDGET[:2], BUDGET[2] + " Someone mentioned a mars rover toy in passing. " * 1),
            when=T0,
        ),
    )
    engine = SearchEngine(store.db)
    found = await engine.search("mars rover")
    # Both headline matches are good: the newer first. The budget story only mentions the
    # words once in its body: newest of all, but a weak match, so it comes last.
    assert [a.id for a in found] == [new, old, passing]
    assert [a.id for a in await engine.search("mars rover", limit=1, offset=1)] == [old]
    assert await engine.search("mars rover", limit=0) == []
    assert await engine.search("mars rover", offset=10) == []
    assert await engine.search("mars rover", offset=10**9, limit=10**9) == []


async def test_search_requires_every_word_but_falls_back_to_any(store: Store) -> None:
    volcano, football = await add(store, article("v", VOLCANO), article("f", FOOTBALL))
    engine = SearchEngine(store.db)
    assert [a.id for a in await engine.search("iceland flights")] == [volcano]
    assert [a.id for a in await engine.search("iceland striker")] != []
    assert {a.id for a in await engine.search("iceland striker")} == {volcano, football}
    assert await engine.search("zzzz qqqq") == []


async def test_search_finds_the_newest_matches_however_far_back_they_are(store: Store) -> None:
    # PostgreSQL looks among the newest articles first and widens the window until it holds
    # enough matches; a small pool makes this store of 40 need every step.
    ids = await add(
        store,
        *(
            article(f"n{n}", VOLCANO if n in (0, 1, 38) else FOOTBALL, when=T0 + timedelta(hours=n))
            for n in range(40)
        ),
    )
    engine = SearchEngine(store.db, search_tuning=SearchTuning(pool=3))
    assert [a.id for a in await engine.search("iceland volcano", limit=3)] == [
        ids[38],
        ids[1],
        ids[0],
    ]
    assert [a.id for a in await engine.search("the", limit=2)] == [ids[39], ids[38]]


async def test_an_edited_article_is_found_by_its_new_words_at_its_new_time(store: Store) -> None:
    # An edit rewrites the article's full-text document (PostgreSQL keeps it, with the time
    # search orders by, in a table of its own: both must follow the edit).
    first, second = await add(
        store,
        article("a", VOLCANO, when=T0 - timedelta(days=2)),
        article("b", VOLCANO_2, when=T0 - timedelta(days=1)),
    )
    engine = SearchEngine(store.db)
    assert [a.id for a in await engine.search("iceland volcano")] == [second, first]
    await add(store, article("a", VOLCANO, when=T0))  # the first report's time corrected
    assert [a.id for a in await engine.search("iceland volcano")] == [first, second]
    assert [a.id for a in await engine.search("grindavik")] == [first]
    await add(store, article("a", FOOTBALL, when=T0))  # ... and then its text
    assert [a.id for a in await engine.search("grindavik")] == []
    assert [a.id for a in await engine.search("striker wembley")] == [first]
    assert [a.id for a in await engine.search("iceland volcano")] == [second]


async def test_search_of_only_stop_words_lists_newest_matches(store: Store) -> None:
    first, second = await add(
        store,
        article("a", VOLCANO, when=T0 - timedelta(days=2)),
        article("b", FOOTBALL, when=T0),
    )
    engine = SearchEngine(store.db)
    assert [a.id for a in await engine.search("the")] == [second, first]


async def test_search_returns_whole_articles(store: Store) -> None:
    (volcano,) = await add(store, article("v", VOLCANO, topics=("science",)))
    engine = SearchEngine(store.db)
    (found,) = await engine.search("Grindavík")  # diacritics folded on both sides
    assert found.id == volcano
    assert found.title == VOLCANO[0]
    assert found.topics == ("science",)
    assert found.published_at == T0


# --- related ------------------------------------------------------------------------------


async def test_related_lists_the_publishers_box_first_then_by_content(store: Store) -> None:
    football, budget, volcano_2, decoy = await add(
        store,
        article("f", FOOTBALL),
        article("b", BUDGET),
        article("v2", VOLCANO_2),
        article("decoy", FOOTBALL, title="Another late goal"),
    )
    (source,) = await add(
        store,
        article(
            "v",
            VOLCANO,
            related=(
                # Case and whitespace differ from the stored headline: still resolves.
                RelatedEntry("  FINANCE minister\tpresents   the BUDGET "),
                RelatedEntry("A headline we never stored"),
                RelatedEntry(FOOTBALL[0]),
                RelatedEntry(VOLCANO[0]),  # the article itself: never listed
            ),
        ),
    )
    engine = SearchEngine(store.db)
    found = [a.id for a in await engine.related(source, limit=5)]
    assert found[:2] == [budget, football]
    assert found[2] == volcano_2  # the only on-topic article, first by content
    assert source not in found
    assert len(found) == len(set(found))
    assert decoy not in found[:3]


async def test_related_by_content_finds_the_on_topic_article(store: Store) -> None:
    volcano, football, budget, volcano_2 = await add(
        store,
        article("v", VOLCANO),
        article("f", FOOTBALL),
        article("b", BUDGET),
        article("v2", VOLCANO_2),
    )
    engine = SearchEngine(store.db)
    found = await engine.related(volcano, limit=3)
    assert found[0].id == volcano_2
    assert volcano not in [a.id for a in found]
    scores = await engine.similarity_scores(volcano, [volcano_2, football, budget])
    assert scores[volcano_2] > 0.2
    assert scores[volcano_2] > 3 * max(scores[football], scores[budget])


async def test_related_never_lists_itself_or_duplicates(store: Store) -> None:
    source, _original, *_ = await add(
        store,
        article("v", VOLCANO),
        article("v2", VOLCANO_2),
        # The same story again under other keys: same headline (case and spacing aside).
        article(
            "v2-copy", VOLCANO_2, title="  ash CLOUD from Iceland volcano halts European flights"
        ),
        # Same headline as the source itself.
        article("v-copy", VOLCANO_2[1:2] + VOLCANO[1:], title=VOLCANO[0].upper()),
        article("f", FOOTBALL),
    )
    engine = SearchEngine(store.db)
    found = await engine.related(source, limit=10)
    titles = [normalise_title(a.title) for a in found]
    assert source not in [a.id for a in found]
    assert normalise_title(VOLCANO[0]) not in titles
    assert len(titles) == len(set(titles))
    assert titles.count(normalise_title(VOLCANO_2[0])) == 1


async def test_related_weights_shared_topics(store: Store) -> None:
    (source,) = await add(store, article("v", VOLCANO, topics=("science",)))
    # Same words in another order: equally similar by content, different content hash.
    body = " ".join(reversed(VOLCANO_2[2].split(". ")))
    # The tagged one is stored first: on equal scores the newer id would win, not the topic.
    tagged, plain = await add(
        store,
        article(
            "tagged", (*VOLCANO_2[:2], body + " "), title="Volcano story two", topics=("science",)
        ),
        article("plain", (*VOLCANO_2[:2], body), title="Volcano story one"),
    )
    engine = SearchEngine(store.db)
    found = [a.id for a in await engine.related(source, limit=2)]
    assert found == [tagged, plain]
    scores = await engine.similarity_scores(source, [plain, tagged])
    assert scores[tagged] > scores[plain]


async def test_related_prefers_articles_close_in_time(store: Store) -> None:
    (source,) = await add(store, article("v", VOLCANO, when=T0))
    # The near one is stored first, so the tie-break on id cannot be what orders them.
    near, far = await add(
        store,
        article(
            "near",
            (*VOLCANO_2[:2], VOLCANO_2[2] + " "),
            title="Volcano story two",
            when=T0 - timedelta(days=1),
        ),
        article("far", VOLCANO_2, title="Volcano story one", when=T0 - timedelta(days=300)),
    )
    engine = SearchEngine(store.db)
    assert [a.id for a in await engine.related(source, limit=2)] == [near, far]


async def test_related_of_unknown_or_empty_articles(store: Store) -> None:
    (lonely,) = await add(store, article("empty", ("", "", "")))
    engine = SearchEngine(store.db)
    assert await engine.related(999) == []
    assert await engine.related(lonely) == []
    assert await engine.related(lonely, limit=0) == []
    assert await engine.similarity_scores(999, [lonely]) == {}


async def test_term_stats_copy_gives_the_same_related_list(store: Store) -> None:
    volcano, *_ = await add(
        store,
        article("v", VOLCANO),
        article("v2", VOLCANO_2),
        article("f", FOOTBALL),
        article("b", BUDGET),
    )
    engine = SearchEngine(store.db)
    live = [a.id for a in await engine.related(volcano)]
    assert await engine.refresh_term_stats(min_doc=1) > 0
    assert [a.id for a in await engine.related(volcano)] == live
    # With the default threshold most terms are left out and estimated: still on topic.
    await engine.refresh_term_stats()
    assert next(a.id for a in await engine.related(volcano)) == live[0]


async def test_a_big_store_without_term_stats_gets_them(
    store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(term_stats.TermCounts, "AUTO_COPY_AT", 3)
    volcano, volcano_2, *_ = await add(
        store, article("v", VOLCANO), article("v2", VOLCANO_2), article("f", FOOTBALL)
    )

    def copied(conn: sqlite3.Connection) -> int:
        return int(conn.execute("SELECT count(*) FROM search_term_stats_info").fetchone()[0])

    assert await store.db.run(copied) == 0
    engine = SearchEngine(store.db)
    assert [a.id for a in await engine.related(volcano, limit=1)] == [volcano_2]
    await engine.refreshed()  # the rebuild runs in the background, off the reader's path
    assert await store.db.run(copied) == 1


# A PostgreSQL store as migrations up to 0015 left it: each article's full-text document in
# its own row (articles.search), where 0016 moves it into article_search.
_BEFORE_0016 = (
    "ALTER TABLE articles ADD COLUMN search TSVECTOR NOT NULL DEFAULT ''::tsvector",
    "UPDATE articles a SET search = s.search FROM article_search s WHERE s.article_id = a.id",
    "CREATE INDEX articles_search ON articles USING gin (search)",
    "DROP TABLE article_search",
    "DROP TRIGGER article_search_time ON articles",
    "DROP FUNCTION article_search_time",
    "DELETE FROM schema_migrations WHERE name LIKE '0016%'",
)


@pytest.mark.parametrize("store_backend", ["postgresql"])
async def test_a_store_made_before_0016_searches_and_relates_the_same_after_it(
    store: Store, store_config: StorageConfig
) -> None:
    ids = await add(
        store,
        *(
            article(f"n{n}", text, when=T0 + timedelta(hours=n))
            for n, text in enumerate([VOLCANO, FOOTBALL, VOLCANO_2, BUDGET, VOLCANO, FOOTBALL])
        ),
    )
    asked = ["iceland volcano", "striker cup", "budget", "ash flights"]

    async def answers(engine: SearchEngine) -> list[list[int]]:
        found = [[a.id for a in await engine.search(q)] for q in asked]
        return found + [[a.id for a in await engine.related(i)] for i in ids]

    before = await answers(store.search)
    await store.close()
    with raw_store(store_config) as conn:
        for step in _BEFORE_0016:
            conn.execute(step)
    async with opened_store(store_config) as migrated:
        after = await answers(migrated.search)
        added = await add(migrated, article("new", VOLCANO_2, when=T0 + timedelta(days=1)))
        newest = [a.id for a in await migrated.search.search("ash flights", limit=1)]
    with raw_store(store_config) as conn:
        documents = conn.execute("SELECT count(*) FROM article_search").fetchone()[0]
        columns = {
            r[0]
            for r in conn.execute(
                "SELECT column_name FROM information_schema.columns"
                " WHERE table_schema = current_schema() AND table_name = 'articles'"
            )
        }
    assert before[0] == [ids[4], ids[2], ids[0]]  # the answers compared are not empty
    assert after == before
    assert newest == added
    assert documents == len(ids) + 1
    assert "search" not in columns


def test_newsbot_import_leaves_current_term_stats_so_related_has_no_rebuild_to_wait_for(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    # Issue 8 §2.4: after a big `newsbot import` into a fresh store the copy was missing, so the
    # bot's first /related asks looked every word up live while a rebuild ran beside them.
    monkeypatch.setattr(term_stats.TermCounts, "AUTO_COPY_AT", 3)  # "big", at test scale
    feed = tmp_path / "articles.jsonl"
    texts = {"v": VOLCANO, "v2": VOLCANO_2, "f": FOOTBALL, "b": BUDGET}
    feed.write_text(
        "".join(
            json.dumps(article_to_dict(article(key, text, when=T0 + timedelta(hours=n)), full=True))
            + "\n"
            for n, (key, text) in enumerate(texts.items())
        ),
        encoding="utf-8",
    )
    db = tmp_path / "news.db"
    config = tmp_path / "config.toml"
    config.write_text(f'[storage]\npath = "{db}"\n', encoding="utf-8")

    assert newsbot(["--config", str(config), "import", "--quiet", str(feed)]) == 0

    def copy(conn: sqlite3.Connection) -> tuple[int, int] | None:
        row = conn.execute("SELECT documents, built_at FROM search_term_stats_info").fetchone()
        return None if row is None else (int(row[0]), int(row[1]))

    with sqlite3.connect(db) as conn:
        built = copy(conn)
    assert built is not None
    assert built[0] == 4  # counted over every imported article

    async def ask_related() -> list[str]:
        async with opened_store(StorageConfig(str(db))) as store:
            found = await store.search.related(2, limit=1)  # the second volcano story
            await store.search.refreshed()
            assert await store.db.run(copy) == built  # nothing for the bot to rebuild
            return [a.title for a in found]

    caplog.clear()
    assert asyncio.run(ask_related()) == [VOLCANO[0]]
    assert "term statistics rebuilt" not in caplog.text


async def test_newsbot_import_stores_words_search_finds_and_shared_stories_on_either_store(
    store_config: StorageConfig, tmp_path: Path
) -> None:
    # `newsbot import` writes new articles in bulk, their vectors and (on PostgreSQL) their
    # full-text documents computed in its embedding process: what it stores must be what
    # search and stories read, the same as articles stored one by one.
    reports = [
        ("Central bank keeps its key rate at 4.5%", "The bank held its rate for a third month."),
        ("Central bank holds key rate at 4.5%", "The bank kept its rate unchanged, as expected."),
        ("Café owners in Zürich protest 'rent' rises", "Dozens of cafés closed for a day."),
    ]
    records = [
        {
            "title": title,
            "summary": summary,
            "body": f"{summary} More in the full report number {n}.",
            "url": f"https://news.example/{n}",
            "published_at": (T0 + timedelta(hours=n)).isoformat(),
            "publisher": f"Publisher {n}",
        }
        for n, (title, summary) in enumerate(reports)
    ]
    feed = tmp_path / "articles.jsonl"
    feed.write_text("".join(json.dumps(r) + "\n" for r in records), encoding="utf-8")
    config = tmp_path / "config.toml"
    config.write_text(storage_table(store_config), encoding="utf-8")
    done = await asyncio.to_thread(run_newsbot, "--config", config, "import", "--quiet", feed)
    assert done.returncode == 0, done.stderr
    async with opened_store(store_config) as store:
        rate = [a.title for a in await store.search.search("key rate", limit=5)]
        cafe = [a.title for a in await store.search.search("cafe zurich rent", limit=5)]
        full_report = await store.search.search("report number 2", limit=5)
        first, second, third = await store.articles.get_many([1, 2, 3])

        def documents(conn: Conn) -> list[tuple[str, str]]:
            if conn.dialect != "postgresql":
                return []
            rows = conn.execute(
                "SELECT article_id, search::text FROM article_search ORDER BY article_id"
            ).fetchall()
            written = conn.execute(
                "SELECT w::tsvector::text FROM unnest(?::text[]) AS w",
                ([fts.tsvector(r["title"], r["summary"], r["body"]) for r in records],),
            ).fetchall()
            return [(row[1], again[0]) for row, again in zip(rows, written, strict=True)]

        stored_and_computed = await store.db.read(documents)
    assert sorted(rate) == sorted(t for t, _ in reports[:2])
    assert cafe == [reports[2][0]]
    assert [a.title for a in full_report] == [reports[2][0]]
    assert second.story == first.story == first.id  # one story: the later report joined it
    assert third.story == third.id
    for stored, computed in stored_and_computed:  # PostgreSQL: the documents of this process
        assert stored == computed


# Documents at tsvector's edges: what an import sends in the type's binary form must be what
# the text form (fts.tsvector) gives, or search and ranking differ with the way it was written.
_EDGE_DOCUMENTS = {
    "ordinary": VOLCANO,
    "accented and non-Latin": (
        "Café owners in Zürich call the naïve plan a façade",
        "Москва и Київ спорят, Αθήνα και ΕΛΛΆΔΑ σιωπούν",
        "Straße, ÉCOLE, Ñandú: caf cafe cafes café cafés 4.5% 2024",
    ),
    "a word repeated past 256 positions": ("Again and again", "", "again " * 300 + "done"),
    "a body past the last position": (
        "Word count",
        "word",
        "word " * 20_000 + "tail end tail end",  # the last position, once a word
    ),
    "distinct words past the last position": (
        "Many words",
        "",
        " ".join(f"w{n}" for n in range(17_000)),
    ),
    "words at and past 2047 bytes": (
        "Long words",
        "x" * 2047 + " " + "ж" * 1023 + "z",
        "y" * 2048 + " " + "ж" * 1024 + " short",
    ),
    "a title alone": ("Only a headline", "", ""),
    "nothing at all": ("", "", ""),
}


@pytest.mark.parametrize("store_backend", ["postgresql"])
async def test_documents_written_in_binary_are_the_text_forms_documents(store: Store) -> None:
    cases = list(_EDGE_DOCUMENTS)
    ids = await add(
        store, *(article(f"edge{n}", _EDGE_DOCUMENTS[case]) for n, case in enumerate(cases))
    )

    def documents(conn: Conn) -> dict[str, tuple[str, str]]:
        found = {}
        for case, article_id in zip(cases, ids, strict=True):
            stored = conn.execute(
                "SELECT search::text FROM article_search WHERE article_id = ?", (article_id,)
            ).fetchone()[0]
            parsed = conn.execute(
                "SELECT ?::tsvector::text", (fts.tsvector(*_EDGE_DOCUMENTS[case]),)
            ).fetchone()[0]
            found[case] = (stored, parsed)
        return found

    found = await store.db.read(documents)
    zurich = [a.id for a in await store.search.search("Zürich cafe")]
    athens = [a.id for a in await store.search.search("Αθήνα")]
    headline = [a.id for a in await store.search.search("headline")]
    tail = [a.id for a in await store.search.search("tail end")]
    for case, (stored, parsed) in found.items():
        assert stored == parsed, case
    long_words = found["words at and past 2047 bytes"][0]
    assert f"'{'x' * 2047}':" in long_words  # the longest word tsvector takes is kept
    assert f"'{'ж' * 1023}z':" in long_words
    assert "y" * 2048 not in long_words  # longer ones are left out, not an error
    assert "ж" * 1024 not in long_words
    assert "'short':" in long_words
    assert found["nothing at all"] == ("", "")
    assert zurich == [ids[1]]
    assert athens == [ids[1]]
    assert headline == [ids[6]]
    assert tail == [ids[3]]


def _articles_to_import(first: int, count: int) -> list[NewArticle]:
    texts = [VOLCANO, VOLCANO_2, FOOTBALL, BUDGET]
    return [
        article(
            f"import{n}",
            texts[n % len(texts)],
            when=T0 + timedelta(minutes=n),
            title=f"{texts[n % len(texts)][0]} (bulletin marker{n})",
        )
        for n in range(first, first + count)
    ]


@pytest.mark.parametrize("store_backend", ["postgresql"])
async def test_an_import_leaves_no_search_entries_pending(
    store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A GIN index keeps new documents in a pending list until it is merged (by the writer
    # that overflows it, or a vacuum), and every search reads that list whole. An import
    # merges it every few thousand articles on a connection of its own (its writes do not
    # pay for the merge), and once more at its end: what it wrote, its short last batch
    # included, is in the index proper when it returns. Each file of `newsbot import a b c`
    # is one store_articles call.
    monkeypatch.setattr(pipeline, "BATCH_SIZE", 5)
    monkeypatch.setattr(pipeline, "MERGE_AFTER", 10)
    importer = Importer(store, TopicTagger([]), now=lambda: T0 + timedelta(days=1))

    def pending_pages(conn: Conn) -> int:
        # Merging what is left says how many pages of the pending list it emptied.
        row = conn.execute("SELECT gin_clean_pending_list('article_search_words'::regclass)")
        return int(row.fetchone()[0])

    summary = ImportSummary()
    left = []
    for first, count in ((0, 5), (5, 5), (10, 12)):  # the last: two full batches, then two
        await importer.store_articles(_articles_to_import(first, count), summary)
        left.append(await store.db.run(pending_pages))
    found = [[a.id for a in await store.search.search(f"marker{n}")] for n in range(22)]
    assert summary.imported == 22
    assert left == [0, 0, 0]
    assert found == [[i] for i in summary.article_ids]
