"""What only PostgreSQL has to get right: a server that is down at start, connections cut off
mid-run (as a restart does), two instances migrating at once, another instance's write lock, and
``newsbot copy-store`` to PostgreSQL and back.

Every other store behaviour is tested on both backends by the parametrised ``store`` fixture.
"""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import psycopg
import pytest

from botapi_double import BotApiDouble
from core.settings import DeliveryConfig, StorageConfig
from storage import NewArticle, Store, StoreBusy, StoreUnreachable, Topic
from storage.db import POSTGRESQL, Conn, migration_files
from storage.pg import WRITE_LOCK, translate
from tests.harness import make_article, running_bot
from tests.support.newsbot import newsbot
from tests.support.store import (
    cut_connections,
    fresh_schema_url,
    raw_store,
    storage_table,
)

TOKEN = "123456789:AAF-secret_part-of-the-token"


@pytest.fixture
def pg() -> StorageConfig:
    """A fresh PostgreSQL store's config (skipped outside CI when no server answers)."""
    return StorageConfig(url=fresh_schema_url())


def write_config(tmp_path: Path, store: StorageConfig, api: str = "http://127.0.0.1:9/bot") -> Path:
    config = tmp_path / "config.toml"
    config.write_text(
        f'[telegram]\ntoken = "{TOKEN}"\napi_base_url = "{api}"\n\n{storage_table(store)}\n'
        '[topics.economy]\nname = "Economy"\ncategories = ["Economy news"]\n',
        encoding="utf-8",
    )
    return config


# -- start ------------------------------------------------------------------------------------


async def test_an_unreachable_server_at_start_is_one_line_with_the_password_masked(
    tmp_path: Path,
) -> None:
    # Nothing listens on port 9 of 127.0.0.1 (discard): the connection is refused at once.
    down = StorageConfig(url="postgresql://newsbot:hunter2@127.0.0.1:9/news")
    async with BotApiDouble(token=TOKEN) as tg:
        config = write_config(tmp_path, down, tg.base_url)
        code, out, err = await newsbot("--config", str(config), "run")
    assert code == 2
    assert err.count("\n") == 1
    assert err.startswith("newsbot: postgresql://newsbot:***@127.0.0.1:9/news: cannot reach")
    assert "hunter2" not in out + err


async def test_two_instances_starting_at_once_migrate_once(pg: StorageConfig) -> None:
    assert pg.url is not None
    first, second = await asyncio.gather(Store.open(pg.url), Store.open(pg.url))
    await first.close()
    await second.close()
    with raw_store(pg) as conn:
        names = [r[0] for r in conn.execute("SELECT name FROM schema_migrations ORDER BY name")]
    assert names == [name for name, _ in migration_files(POSTGRESQL)]


async def test_another_applications_database_is_refused_untouched(pg: StorageConfig) -> None:
    assert pg.url is not None
    with raw_store(pg) as conn:
        conn.execute("CREATE TABLE articles (id SERIAL PRIMARY KEY, title TEXT)")
    with pytest.raises(Exception, match="another application's database") as raised:
        await Store.open(pg.url)
    assert not isinstance(raised.value, StoreUnreachable)
    with raw_store(pg) as conn:
        tables = conn.execute(
            "SELECT count(*) FROM information_schema.tables WHERE table_schema = current_schema()"
        ).fetchone()[0]
    assert tables == 1


# -- faults mid-run ---------------------------------------------------------------------------


async def test_connections_cut_off_mid_run_are_replaced(pg: StorageConfig) -> None:
    assert pg.url is not None
    store = await Store.open(pg.url)
    try:
        await store.articles.sync_topics([Topic("economy", "Economy")])
        await store.articles.upsert_many([make_article(1)])
        assert cut_connections(pg) >= 1  # as a restart of the server would
        # The pool replaces the broken connections: the next read and write just work.
        assert await store.articles.count() == 1
        await store.articles.upsert_many([make_article(2)])
        assert await store.articles.count() == 2
    finally:
        await store.close()


async def test_a_big_import_gives_a_store_without_statistics_its_first_ones(
    pg: StorageConfig,
) -> None:
    """Without statistics (autovacuum off or not come yet) PostgreSQL guessed, and read an
    import's story spans by scanning every article; the import takes the first ones."""
    assert pg.url is not None
    store = await Store.open(pg.url)

    def never_analyzed(conn: Conn) -> bool:
        row = conn.execute("SELECT reltuples < 0 FROM pg_class WHERE oid = 'articles'::regclass")
        return bool(row.fetchone()[0])

    def spans_plan(conn: Conn) -> str:
        rows = conn.execute(
            "EXPLAIN SELECT story_id, min(published_at), max(published_at) FROM articles"
            " WHERE story_id IN (3, 5, 8) GROUP BY story_id"
        ).fetchall()
        return "\n".join(r[0] for r in rows)

    try:
        # Into an empty store: nothing to sample yet.
        await store.articles.upsert_many([make_article(n) for n in range(1000)])
        assert await store.db.read(never_analyzed)
        await store.articles.upsert_many([make_article(n) for n in range(1000, 2000)])
        assert not await store.db.read(never_analyzed)
        plan = await store.db.read(spans_plan)
        assert "Seq Scan" not in plan, plan
    finally:
        await store.close()


async def test_a_read_cut_off_in_flight_is_read_again_and_a_write_is_busy(
    pg: StorageConfig,
) -> None:
    assert pg.url is not None
    store = await Store.open(pg.url)
    calls = []

    def slow_read(conn: Conn) -> int:
        calls.append(1)
        return int(conn.execute("SELECT count(*) FROM articles, pg_sleep(0.5)").fetchone()[0])

    def slow_write(conn: Conn) -> None:
        conn.execute("INSERT INTO topics (slug, name) VALUES ('x', 'X')")
        conn.execute("SELECT pg_sleep(0.5)")

    try:
        reading = asyncio.ensure_future(store.db.read(slow_read))
        writing = asyncio.ensure_future(store.db.write(slow_write))
        await asyncio.sleep(0.2)  # both are in their pg_sleep on the server
        cut_connections(pg)
        assert await reading == 0  # read once more on a new connection
        with pytest.raises(StoreBusy):
            await writing  # not repeated: its caller decides, as after a lock
        assert len(calls) == 2
        assert await store.articles.topics() == []  # the cut-off write left nothing
    finally:
        await store.close()


def fresh(n: int) -> NewArticle:
    """An article published minutes ago (older ones are not delivered), one story each."""
    return make_article(n, published_at=datetime.now(UTC) - timedelta(minutes=60 - n))


async def test_a_fan_out_survives_its_connections_being_cut(tmp_path: Path) -> None:
    """The server restarting mid fan-out: every reader gets every article; a repeat is only
    possible for a send that was on the wire when its connection was cut.

    The server is shared with the rest of the run, so it is not restarted: the bot's sessions
    are ended with ``pg_terminate_backend`` (found by the store's application_name), which is
    what a restart does to each of them. The pool reconnects; nothing owed is lost."""
    store = StorageConfig(url=fresh_schema_url("bot"))
    fast = DeliveryConfig(messages_per_second=300, private_chat_per_second=10)
    async with running_bot(tmp_path, storage=store, delivery=fast) as bot:
        readers = [await bot.add_reader(f"r{i}", ["economy"]) for i in range(20)]
        await bot.publish([fresh(n) for n in range(1, 6)])
        await bot.tg.wait_for_messages(10)
        cut_connections(store)  # mid fan-out: 10 of 100 sent
        await bot.tg.wait_for(
            lambda: all(len(bot.tg.sent(c.id)) >= 5 for c in readers),
            timeout=30,
            what="five articles in every reader's chat",
        )
        await bot.delivery.dispatcher.stop()
        with raw_store(store) as conn:
            ledger = dict(conn.execute("SELECT status, count(*) FROM deliveries GROUP BY 1"))
        counts = [len(bot.tg.sent(chat.id)) for chat in readers]
    assert ledger == {"sent": 100}
    assert sum(counts) - 100 <= 32  # at most the sends in flight (the dispatcher's window)


async def test_a_write_waits_for_another_instances_lock_then_is_busy(pg: StorageConfig) -> None:
    assert pg.url is not None
    store = await Store.open(pg.url)
    store.db.write_patience = 0.3
    try:
        with psycopg.connect(pg.url) as other:  # another instance, mid-write
            other.execute("SELECT pg_advisory_xact_lock(%s, %s)", WRITE_LOCK)
            started = time.monotonic()
            with pytest.raises(StoreBusy, match="locked by another process"):
                await store.articles.sync_topics([Topic("economy", "Economy")])
            waited = time.monotonic() - started
            assert await store.articles.topics() == []  # reads never wait
        await store.articles.sync_topics([Topic("economy", "Economy")])  # lock gone: written
        assert store.db.busy_waits == 1
        assert 0.2 < waited < 5
        assert [t.slug for t in await store.articles.topics()] == ["economy"]
    finally:
        await store.close()


# -- copy-store -------------------------------------------------------------------------------


async def test_copy_store_to_postgresql_and_back_keeps_every_row(
    tmp_path: Path, pg: StorageConfig
) -> None:
    assert pg.url is not None
    source = StorageConfig(str(tmp_path / "source.db"))
    async with running_bot(tmp_path, storage=source) as bot:
        reader = await bot.add_reader("r", ["economy"])
        await bot.publish([fresh(n) for n in range(1, 4)])
        await bot.tg.wait_for_messages(3, chat_id=reader.id)
    config = write_config(tmp_path, source)
    there = await newsbot("--config", str(config), "copy-store", pg.url, seconds=120)
    again = await newsbot("--config", str(config), "copy-store", pg.url, seconds=120)
    back_path = tmp_path / "back.db"
    (tmp_path / "pg").mkdir()
    back_config = write_config(tmp_path / "pg", pg)
    back = await newsbot("--config", str(back_config), "copy-store", str(back_path), seconds=120)
    assert there[0] == 0, there
    assert "articles: 3" in there[1]
    assert "deliveries: 3" in there[1]
    assert "every count agrees" in there[1]
    assert again[0] == 1
    assert "not empty" in again[2]
    assert back[0] == 0, back
    copied = StorageConfig(str(back_path))
    for store in (pg, copied):
        with raw_store(store) as conn:
            sent = conn.execute("SELECT count(*) FROM deliveries WHERE status = 'sent'")
            assert sent.fetchone()[0] == 3
    # The copies answer as the original: search (each backend's own index) and the ledger.
    for store in (pg, copied):
        opened = await Store.open(store.target)
        try:
            found = await opened.search.search("number 2")
            assert [a.title for a in found][:1] == ["Headline number 2"]
            new = await opened.articles.upsert_many([make_article(99)])
            assert new[0].article_id == 4  # ids go on after the copied ones
        finally:
            await opened.close()


@pytest.mark.parametrize(
    ("sqlite", "expected"),
    [
        (
            "SELECT a FROM t WHERE b = ? AND c IN (?,?)",
            "SELECT a FROM t WHERE b = %s AND c IN (%s,%s)",
        ),
        (
            "SELECT coalesce(last_error, '?') FROM d WHERE id = ?",
            "SELECT coalesce(last_error, '?') FROM d WHERE id = %s",
        ),
        ("SELECT 'it''s ?', \"odd?name\", ? ", "SELECT 'it''s ?', \"odd?name\", %s "),
        ("SELECT '50%' LIKE ?", "SELECT '50%%' LIKE %s"),
    ],
)
def test_placeholders_are_translated_outside_quotes_only(sqlite: str, expected: str) -> None:
    assert translate(sqlite) == expected


async def test_a_groups_first_reply_after_a_start_on_postgresql_is_not_held(
    tmp_path: Path, pg: StorageConfig
) -> None:
    # The exact input that showed it: /subscribe in a group right after a lone instance
    # started on PostgreSQL got no answer for a minute, because every start counted each
    # group's 20-a-minute window as full (meant only for taking over from another leader).
    async with running_bot(tmp_path, storage=pg) as bot:
        owner = bot.tg.add_user("Owner")
        group = bot.tg.add_group("Readers", admins=[owner])
        [reply] = await bot.say("/subscribe@newsbot_test_bot economy", chat=group, user=owner)
    assert "Economy" in reply.text
