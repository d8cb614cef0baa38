"""Chats and subscriptions on a real SQLite file."""

from __future__ import annotations

import pytest

from core.settings import StorageConfig
from storage import Store, Topic
from tests.support.store import raw_store

NOW = 1_700_000_000


@pytest.fixture
async def store(store: Store) -> Store:
    """The suite's fresh store, with this file's topics."""
    await store.articles.sync_topics(
        [Topic("economy", "Economy"), Topic("russia", "Russia"), Topic("sport", "Sport")]
    )
    return store


async def test_seen_keeps_settings_and_updates_names(store: Store) -> None:
    await store.chats.seen(-100, "group", "Old name", None, NOW)
    await store.chats.update_settings(-100, NOW, mode="digest", digest_time="08:00")
    chat = await store.chats.seen(-100, "group", "New name", None, NOW + 1)
    assert chat.title == "New name"
    assert chat.mode == "digest"
    assert chat.digest_time == "08:00"
    assert chat.active


async def test_subscribe_is_idempotent_and_ignores_unknown_topics(store: Store) -> None:
    await store.chats.seen(7, "private", None, "reader", NOW)
    assert await store.subscriptions.subscribe(7, ["economy", "nope", "economy"], NOW) == [
        "economy"
    ]
    assert await store.subscriptions.subscribe(7, ["economy", "russia"], NOW) == ["russia"]
    assert await store.subscriptions.of_chat(7) == ["economy", "russia"]
    assert await store.subscriptions.unsubscribe(7, ["russia", "sport"]) == ["russia"]
    assert await store.subscriptions.unsubscribe(7, None) == ["economy"]
    assert await store.subscriptions.of_chat(7) == []


async def test_settings_reject_unknown_names_and_modes(store: Store) -> None:
    await store.chats.seen(7, "private", None, None, NOW)
    with pytest.raises(ValueError, match="unknown chat settings"):
        await store.chats.update_settings(7, NOW, colour="red")
    with pytest.raises(ValueError, match="mode must be"):
        await store.chats.update_settings(7, NOW, mode="loud")


async def test_migration_moves_subscriptions(store: Store) -> None:
    await store.chats.seen(-5, "group", "Readers", None, NOW)
    await store.subscriptions.subscribe(-5, ["economy"], NOW)
    await store.chats.migrate(-5, -1005, NOW)
    await store.chats.migrate(-5, -1005, NOW)  # announced in both chats: the second is a no-op
    assert await store.chats.get(-5) is None
    moved = await store.chats.get(-1005)
    assert moved is not None
    assert moved.type == "supergroup"
    assert await store.subscriptions.of_chat(-1005) == ["economy"]


async def test_migration_merges_when_the_supergroup_is_already_known(store: Store) -> None:
    await store.chats.seen(-5, "group", "Readers", None, NOW)
    await store.chats.update_settings(-5, NOW, timezone="Asia/Baku")
    await store.subscriptions.subscribe(-5, ["economy", "russia"], NOW)
    await store.chats.seen(-1005, "supergroup", "Readers", None, NOW)
    await store.subscriptions.subscribe(-1005, ["russia"], NOW)
    await store.chats.migrate(-5, -1005, NOW)
    merged = await store.chats.get(-1005)
    assert merged is not None
    assert merged.timezone == "Asia/Baku"
    assert await store.subscriptions.of_chat(-1005) == ["economy", "russia"]
    assert await store.chats.get(-5) is None


async def test_an_inactive_chat_has_its_owed_deliveries_cancelled(
    store: Store, store_config: StorageConfig
) -> None:
    from storage import NewArticle

    await store.chats.seen(7, "private", None, None, NOW)
    [outcome] = await store.articles.upsert_many([NewArticle(title="t", guid="g")])
    await store.db.write(
        lambda conn: conn.execute(
            "INSERT INTO deliveries (chat_id, article_id, next_attempt_at, created_at, updated_at)"
            " VALUES (7, ?, 0, 0, 0)",
            (outcome.article_id,),
        )
    )
    await store.chats.set_active(7, False, "Forbidden: bot was blocked by the user", NOW)
    chat = await store.chats.get(7)
    assert chat is not None
    assert not chat.active
    with raw_store(store_config) as conn:
        status, error = conn.execute("SELECT status, last_error FROM deliveries").fetchone()
    assert (status, error) == ("cancelled", "Forbidden: bot was blocked by the user")


async def test_a_chat_keeps_its_chosen_and_its_readers_language(store: Store) -> None:
    chat = await store.chats.seen(7, "private", None, None, NOW, "ru")
    assert (chat.language, chat.reader_language, chat.speaks) == (None, "ru", "ru")
    # An update without a language_code does not forget the one seen; a new one replaces it.
    assert (await store.chats.seen(7, "private", None, None, NOW + 1)).reader_language == "ru"
    assert (await store.chats.seen(7, "private", None, None, NOW + 2, "de")).reader_language == "de"
    chosen = await store.chats.update_settings(7, NOW + 3, language="en")
    assert (chosen.language, chosen.speaks) == ("en", "en")
    cleared = await store.chats.update_settings(7, NOW + 4, language=None)
    assert cleared.speaks == "de"


async def test_a_migrated_group_keeps_its_language(store: Store) -> None:
    await store.chats.seen(-6, "group", "Readers", None, NOW)
    await store.chats.update_settings(-6, NOW, language="ru")
    await store.chats.seen(-1006, "supergroup", "Readers", None, NOW)  # spoke first
    await store.chats.migrate(-6, -1006, NOW)
    moved = await store.chats.get(-1006)
    assert moved is not None
    assert moved.language == "ru"
