"""Claims of the delivery ledger are leased: a row held by an instance that died is owed again
once its lease expires, never before; on PostgreSQL two claimers never take the same row."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

import psycopg
import pytest

from core.settings import StorageConfig
from storage import Store, Topic
from storage.deliveries import LEASE, Outcome
from tests.harness import make_article
from tests.support.store import opened_store

NOW = int(datetime(2026, 12, 1, 12, 0, tzinfo=UTC).timestamp())
postgresql_only = pytest.mark.parametrize("store_backend", ["postgresql"])


async def owe(store: Store, readers: int) -> list[int]:
    """One article owed to ``readers`` subscribed private chats; their delivery ids."""
    await store.articles.sync_topics([Topic("economy", "Economy")])
    for chat_id in range(1, readers + 1):
        await store.chats.seen(chat_id, "private", None, None, NOW)
        await store.subscriptions.subscribe(chat_id, ["economy"], NOW)
    [outcome] = await store.articles.upsert_many([make_article(1, topics=("economy",))])
    assert await store.deliveries.fan_out([outcome.article_id], NOW) == readers
    claimed = await store.deliveries.claim(NOW, readers)
    await store.deliveries.record([Outcome(d.id, "owed", attempted=False) for d in claimed], NOW)
    return sorted(d.id for d in claimed)


async def test_a_claim_is_owed_again_only_once_its_lease_expires(store: Store) -> None:
    ids = await owe(store, 3)
    assert sorted(d.id for d in await store.deliveries.claim(NOW, 10)) == ids
    # The claimer died holding them: another claim takes none while the lease runs ...
    assert await store.deliveries.claim(NOW + LEASE - 1, 10) == []
    # ... and every one once it expired.
    again = await store.deliveries.claim(NOW + LEASE, 10)
    assert sorted(d.id for d in again) == ids


async def test_a_row_put_on_the_wire_is_held_for_a_new_lease(store: Store) -> None:
    ids = await owe(store, 2)
    await store.deliveries.claim(NOW, 10)
    later = NOW + LEASE - 10
    await store.deliveries.record([], later, sending=[ids[0]])  # a long wait for its turn
    # The row only claimed is owed again; the one its claimer was sending is still held.
    assert [d.id for d in await store.deliveries.claim(NOW + LEASE, 10)] == [ids[1]]
    assert [d.id for d in await store.deliveries.claim(later + LEASE, 10)] == [ids[0]]


async def test_a_channel_slot_claim_is_leased_too(store: Store) -> None:
    [row] = await owe(store, 1)
    assert [d.id for d in await store.deliveries.claim_for_chat(1, NOW, 1)] == [row]
    assert await store.deliveries.claim_for_chat(1, NOW + LEASE - 1, 1) == []
    assert [d.id for d in await store.deliveries.claim_for_chat(1, NOW + LEASE, 1)] == [row]


@postgresql_only
async def test_two_instances_claiming_at_once_take_disjoint_rows(
    store: Store, store_config: StorageConfig
) -> None:
    ids = await owe(store, 40)
    async with opened_store(store_config) as other:  # a second instance's own pool
        mine, theirs = await asyncio.gather(
            store.deliveries.claim(NOW, 25), other.deliveries.claim(NOW, 25)
        )
    taken = [d.id for d in mine] + [d.id for d in theirs]
    assert len(taken) == len(set(taken)) == 40
    assert sorted(taken) == ids


@postgresql_only
async def test_a_claim_skips_rows_another_claimer_has_locked(
    store: Store, store_config: StorageConfig
) -> None:
    ids = await owe(store, 4)
    assert store_config.url is not None
    store.db.write_patience = 2.0  # without SKIP LOCKED the claim would wait, then be busy
    with psycopg.connect(store_config.url) as other:  # another claimer, mid-transaction
        other.execute("SELECT id FROM deliveries WHERE id = ANY(%s) FOR UPDATE", (ids[:2],))
        claimed = await store.deliveries.claim(NOW, 10)
        other.rollback()
    assert sorted(d.id for d in claimed) == ids[2:]
