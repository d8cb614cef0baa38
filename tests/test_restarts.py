"""A real ``newsbot run`` process, killed with SIGKILL or stopped with SIGTERM mid-fan-out,
then started again: everything owed arrives, and duplicates are at most the sends that were
in flight at the kill."""

from __future__ import annotations

import signal
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path

from botapi_double import BotApiDouble
from core.settings import StorageConfig
from storage import NewArticle, Store, Topic
from tests.support.newsbot import PythonProcess, start_newsbot
from tests.support.store import raw_store, storage_table

READERS = 200
ARTICLES = 5


def write_config(tmp_path: Path, tg: BotApiDouble, store: StorageConfig) -> Path:
    config = tmp_path / "config.toml"
    config.write_text(
        f"""
[telegram]
token = "{tg.token}"
api_base_url = "{tg.base_url}"

{storage_table(store)}

[topics.economy]
name = "Economy"
categories = ["Economy news"]

[delivery]
messages_per_second = 400
private_chat_per_second = 50

[logging]
level = "INFO"
""",
        encoding="utf-8",
    )
    return config


async def prepare(store: Store, tg: BotApiDouble) -> set[tuple[int, int]]:
    """READERS subscribed readers and ARTICLES fresh articles, all owed, as a feed poll leaves
    them; the store is closed for the bot to open."""
    await store.articles.sync_topics([Topic("economy", "Economy")])
    now = int(datetime.now(UTC).timestamp())
    chats = []
    for i in range(READERS):
        chat = tg.add_private_chat(tg.add_user(f"reader{i}"))
        await store.chats.seen(chat.id, "private", None, None, now)
        await store.subscriptions.subscribe(chat.id, ["economy"], now)
        chats.append(chat.id)
    outcomes = await store.articles.upsert_many(
        [
            NewArticle(
                title=f"Headline number {n}",
                guid=f"g{n}",
                body="Body.",
                category="Economy news",
                topics=("economy",),
                published_at=datetime.now(UTC) - timedelta(minutes=n),
            )
            for n in range(ARTICLES)
        ]
    )
    ids = [o.article_id for o in outcomes]
    assert await store.deliveries.fan_out(ids, now) == READERS * ARTICLES
    await store.close()
    return {(c, a) for c in chats for a in ids}


async def start_bot(config: Path, log: Path) -> PythonProcess:
    return await start_newsbot("--config", config, "run", log=log)


def ledger_counts(db: StorageConfig) -> Counter[str]:
    with raw_store(db) as conn:
        return Counter(dict(conn.execute("SELECT status, count(*) FROM deliveries GROUP BY 1")))


def delivered(tg: BotApiDouble, titles: dict[str, int]) -> Counter[tuple[int, int]]:
    found: Counter[tuple[int, int]] = Counter()
    for message in tg.sent():
        title = message.text.split("\n", 1)[0]
        if title in titles:
            found[(message.chat_id, titles[title])] += 1
    return found


def titles_by_id(db: StorageConfig) -> dict[str, int]:
    with raw_store(db) as conn:
        return dict(conn.execute("SELECT title, id FROM articles"))


async def test_kill_9_mid_fan_out_then_restart_delivers_everything(
    tmp_path: Path, store: Store, store_config: StorageConfig
) -> None:
    db = store_config
    async with BotApiDouble() as tg:
        owed = await prepare(store, tg)
        config = write_config(tmp_path, tg, db)
        log = tmp_path / "bot.log"
        async with await start_bot(config, log) as first:
            await tg.wait_for_messages(300, timeout=60)
            await first.stop(signal.SIGKILL)
        at_kill = ledger_counts(db)
        received_before = len(tg.sent())

        async with await start_bot(config, log) as second:
            titles = titles_by_id(db)
            await tg.wait_for(
                lambda: set(delivered(tg, titles)) >= owed, timeout=60, what="every owed message"
            )
            code = (await second.stop()).code
        arrived = delivered(tg, titles)
    duplicates = sum(arrived.values()) - len(arrived)
    assert first.returncode == -signal.SIGKILL
    assert code == 0
    assert received_before < len(owed)  # the kill really was in the middle
    assert set(arrived) == owed
    # Only a send that was on the wire and not yet recorded at the kill can repeat, and the
    # dispatcher has at most 32 of those.
    assert duplicates <= at_kill["sending"] <= 32
    assert ledger_counts(db) == Counter({"sent": len(owed)})
    assert tg.token not in log.read_text()


async def test_sigterm_finishes_and_records_the_sends_in_flight(
    tmp_path: Path, store: Store, store_config: StorageConfig
) -> None:
    db = store_config
    async with BotApiDouble() as tg:
        owed = await prepare(store, tg)
        config = write_config(tmp_path, tg, db)
        log = tmp_path / "bot.log"
        async with await start_bot(config, log) as first:
            await tg.wait_for_messages(300, timeout=60)
            code = (await first.stop()).code
        titles = titles_by_id(db)
        after_stop = ledger_counts(db)
        arrived_before = delivered(tg, titles)

        async with await start_bot(config, log) as second:
            await tg.wait_for(
                lambda: set(delivered(tg, titles)) >= owed, timeout=60, what="every owed message"
            )
            await second.stop()
        arrived = delivered(tg, titles)
    assert code == 0
    assert after_stop["sending"] == 0
    assert after_stop["sent"] == sum(arrived_before.values())  # every send was recorded
    assert set(arrived) == owed
    assert max(arrived.values()) == 1  # a graceful stop repeats nothing
