"""Several instances on one PostgreSQL database: one leads, another takes over when it goes.

Real PostgreSQL (a throwaway database per test), no mocks: sessions end the ways they end in
production (closed, terminated by the server).
"""

from __future__ import annotations

import asyncio
import json
import secrets
import socket
import time
import urllib.request
from collections import Counter
from collections.abc import AsyncIterator, Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import psycopg
import pytest

from botapi_double import BotApiDouble
from storage import Store, Topic
from storage.cluster import LostLead, PostgresLeadership, SoleInstance, describe_url
from storage.deliveries import LEASE
from storage.pg import WRITE_LOCK
from tests.harness import free_port, make_article, running_bot
from tests.support.front import round_robin
from tests.support.newsbot import ROOT, PythonProcess, newsbot, start_newsbot, start_python
from tests.support.postgres import committed_past, throwaway_database
from tests.support.redis_server import redis_url
from tests.support.store import fresh_schema_url


@pytest.fixture
def pg_url() -> Iterator[str]:
    with throwaway_database() as url:
        yield url


class Node:
    """One instance's leadership, with an event for each change the hooks saw."""

    def __init__(self, url: str, name: str) -> None:
        self.name = name
        self.leadership = PostgresLeadership(url, "bot 1", retry_every=0.1, check_every=0.1)
        self.promoted = asyncio.Event()
        self.demoted = asyncio.Event()
        self.leadership.watch(promoted=self._promoted, demoted=self._demoted)

    async def _promoted(self) -> None:
        self.demoted.clear()
        self.promoted.set()

    async def _demoted(self) -> None:
        self.promoted.clear()
        self.demoted.set()


async def a_new_leader(nodes: list[Node]) -> Node:
    """Wait until one of ``nodes`` comes to lead; that one."""
    waits = {asyncio.create_task(n.promoted.wait()): n for n in nodes}
    async with asyncio.timeout(5):
        done, pending = await asyncio.wait(waits, return_when=asyncio.FIRST_COMPLETED)
    for task in pending:
        task.cancel()
    return waits[done.pop()]


@pytest.fixture
async def nodes(pg_url: str) -> AsyncIterator[list[Node]]:
    made = [Node(pg_url, name) for name in ("a", "b", "c")]
    for node in made:
        await node.leadership.start()
    yield made
    for node in made:
        await node.leadership.stop()


async def test_exactly_one_of_three_leads(nodes: list[Node]) -> None:
    assert [n.leadership.leading for n in nodes] == [True, False, False]  # the first to ask
    await asyncio.sleep(0.5)  # five rounds of asking: the standbys still do not lead
    assert [n.leadership.leading for n in nodes] == [True, False, False]


async def test_a_standby_leads_once_the_leader_stops(nodes: list[Node]) -> None:
    first, *others = nodes
    await first.leadership.stop()
    assert first.demoted.is_set()
    await a_new_leader(others)
    assert sum(n.leadership.leading for n in nodes) == 1


async def test_a_leader_whose_session_is_killed_stands_down_and_the_offset_is_fenced(
    pg_url: str, nodes: list[Node]
) -> None:
    first = nodes[0]
    await first.leadership.commit_update_id(41)
    # The server ends the leader's session (as a restart or a network cut does).
    with psycopg.connect(pg_url, autocommit=True) as admin:
        admin.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
            " WHERE datname = current_database()"
            " AND application_name = 'newsbot leadership' AND pid IN"
            " (SELECT pid FROM pg_locks WHERE locktype = 'advisory')"
        )
    async with asyncio.timeout(5):
        await first.demoted.wait()
    with pytest.raises(LostLead):
        await first.leadership.commit_update_id(99)
    leader = await a_new_leader(nodes)
    assert sum(n.leadership.leading for n in nodes) == 1
    assert await leader.leadership.next_update_id() == 41  # where the old leader left off
    await leader.leadership.commit_update_id(42)
    assert await leader.leadership.next_update_id() == 42


async def test_another_bot_on_the_same_database_leads_its_own_instances(pg_url: str) -> None:
    one = PostgresLeadership(pg_url, "bot 1")
    two = PostgresLeadership(pg_url, "bot 2")
    try:
        await one.start()
        await two.start()
        assert one.leading
        assert two.leading
        await one.commit_update_id(10)
        assert await two.next_update_id() is None
    finally:
        await one.stop()
        await two.stop()


async def test_an_unreachable_server_means_standing_by_not_crashing() -> None:
    nobody = PostgresLeadership(
        "postgresql://postgres:secret@127.0.0.1:1/none", "bot 1", check_timeout=1
    )
    await nobody.start()
    try:
        assert not nobody.leading
        assert "secret" not in nobody.where
    finally:
        await nobody.stop()


async def test_a_sole_instance_leads_from_start_to_stop() -> None:
    sole = SoleInstance()
    await sole.start()
    assert sole.leading
    await sole.commit_update_id(5)
    assert await sole.next_update_id() == 5
    await sole.stop()
    with pytest.raises(LostLead):
        await sole.commit_update_id(6)


def test_logs_name_the_database_without_the_password() -> None:
    url = "postgresql://bot:hunter2@db.internal:6543/news"
    assert describe_url(url) == "db.internal:6543/news"


# -- real processes: three instances polling one bot, one killed ----------------------------


def replies(tg: BotApiDouble) -> list[tuple[str, str]]:
    """(who answered, the text answered) for every reply the echo bots sent."""
    return [tuple(m.text.split(": ", 1)) for m in tg.sent() if ": " in m.text]  # type: ignore[misc]


def fetched(tg: BotApiDouble, text: str) -> bool:
    """Whether getUpdates has handed out the message ``text`` (answered or not)."""
    for call in tg.calls("getUpdates"):
        for update in (call.response or {}).get("result") or []:
            if update.get("message", {}).get("text") == text:
                return True
    return False


async def start_node(tg: BotApiDouble, pg_url: str, name: str) -> PythonProcess:
    node = await start_python(
        "-m", "tests.support.poll_node", tg.base_url, tg.token, pg_url, name, merge_stderr=True
    )
    await node.wait_for_output(f"{name} started")
    return node


async def test_a_killed_poller_is_replaced_within_10_s_and_no_update_is_lost_or_doubled(
    pg_url: str,
) -> None:
    async with BotApiDouble() as tg:
        users = [tg.add_user(f"reader{i}") for i in range(3)]
        chats = [tg.add_private_chat(user) for user in users]

        def say(text: str, i: int = 0) -> None:
            tg.send_text(chats[i % 3], users[i % 3], text)

        nodes = {name: await start_node(tg, pg_url, name) for name in "abc"}
        try:
            await nodes["a"].wait_for_output("a leads")
            for i in range(10):
                say(f"one {i}", i)
            await tg.wait_for_messages(10, timeout=20)
            await committed_past(pg_url, tg)
            assert {who for who, _ in replies(tg)} == {"a"}
            # Standbys never call getUpdates: a second poller would get 409 Conflict.
            assert all(c.status != 409 for c in tg.calls("getUpdates"))

            # The leader dies between updates: everything it answered stays answered once.
            await nodes.pop("a").kill()
            killed_at = asyncio.get_running_loop().time()
            for i in range(10):
                say(f"two {i}", i)
            await tg.wait_for_messages(20, timeout=20)
            took = asyncio.get_running_loop().time() - killed_at
            [leader] = {who for who, text in replies(tg) if text.startswith("two")}
            assert took < 10

            # The new leader dies while it handles an update (and only that one: the others
            # are committed as handled): the last one answers it.
            await committed_past(pg_url, tg)
            say("slow one")
            await tg.wait_for(lambda: fetched(tg, "slow one"), timeout=10, what="slow fetched")
            await nodes.pop(leader).kill()
            [last] = nodes
            await tg.wait_for_messages(21, timeout=20)
        finally:
            for node in nodes.values():
                await node.stop()
        answered = replies(tg)
    assert ("a", "one 0") in answered
    assert (last, "slow one") in answered
    assert sorted(text for _, text in answered) == sorted(
        [f"one {i}" for i in range(10)] + [f"two {i}" for i in range(10)] + ["slow one"]
    )


# -- three real `newsbot run` processes on one PostgreSQL store ------------------------------

READERS = 300
FIRST_READER = 10_000_000


def control(url: str) -> Any:
    with urllib.request.urlopen(url, timeout=30) as answer:
        return json.loads(answer.read())


async def until(probe: Callable[[], Any], done: Callable[[Any], bool], seconds: float) -> Any:
    """Ask another process (``probe``, blocking HTTP) until ``done`` says so; its last answer."""
    async with asyncio.timeout(seconds):
        # Another process's progress has no event to wait on here: it is read over HTTP.
        while not done(answer := await asyncio.to_thread(probe)):  # noqa: ASYNC110
            await asyncio.sleep(0.2)
    return answer


async def first_to_say(text: str, processes: list[PythonProcess]) -> PythonProcess:
    waits = {asyncio.create_task(p.wait_for_output(text, 30)): p for p in processes}
    done, pending = await asyncio.wait(waits, return_when=asyncio.FIRST_COMPLETED)
    for task in pending:
        task.cancel()
    return waits[done.pop()]


async def test_three_instances_keep_telegrams_limits_and_survive_the_leaders_kill(
    tmp_path: Path,
) -> None:
    url = fresh_schema_url("cluster")
    double = await start_python(
        ROOT / "bench" / "double_server.py", "--users", str(READERS), "--rate-limits"
    )  # Telegram's own limits: 30/s overall, 1/s per private chat, strictly
    async with double:
        where = json.loads(await double.first_line())
        config = tmp_path / "config.toml"
        config.write_text(
            f'[telegram]\ntoken = "{where["token"]}"\napi_base_url = "{where["base_url"]}"\n'
            f'[storage]\nurl = "{url}"\n'
            '[topics.economy]\nname = "Economy"\ncategories = ["Economy news"]\n',
            encoding="utf-8",
        )
        store = await Store.open(url)
        try:
            await store.articles.sync_topics([Topic("economy", "Economy")])
            now = int(time.time())
            for chat_id in range(FIRST_READER, FIRST_READER + READERS):
                await store.chats.seen(chat_id, "private", None, None, now)
                await store.subscriptions.subscribe(chat_id, ["economy"], now)
            bots = [
                await start_newsbot("--config", config, "run", merge_stderr=True) for _ in range(3)
            ]
            try:
                leader = await first_to_say("leading", bots)
                [outcome] = await store.articles.upsert_many(
                    [make_article(1, published_at=datetime.now(UTC), topics=("economy",))]
                )
                await store.deliveries.fan_out([outcome.article_id], int(time.time()))
                # Killed mid fan-out: a third of the messages are out.
                await until(
                    lambda: control(f"{where['control']}/count"), lambda c: c["sent"] >= 100, 30
                )
                await leader.kill()
                # The new leader sends what was owed, and again what was on the wire at the
                # kill (its outcome never reached the ledger): until nothing is owed.
                async with asyncio.timeout(60):
                    while (await store.deliveries.stats(int(time.time()))).owed:  # noqa: ASYNC110
                        await asyncio.sleep(0.2)  # the other processes' progress, in the store
                delivered = control(f"{where['control']}/delivered")
                stats = control(f"{where['control']}/stats")
            finally:
                for bot in bots:
                    await bot.stop()
        finally:
            await store.close()
    copies = Counter(delivered)
    assert set(copies) == set(range(FIRST_READER, FIRST_READER + READERS))  # nothing lost
    assert sum(copies.values()) - READERS <= 32  # repeats: at most what was on the wire
    assert stats["too_many_requests"] == 0
    assert stats["max_in_any_second"] <= 30


async def test_rows_a_former_leader_left_claimed_are_sent_once_their_lease_expires(
    tmp_path: Path,
) -> None:
    async with running_bot(tmp_path) as bot:
        now = int(time.time())
        readers = [await bot.add_reader(f"r{i}", ["economy"]) for i in range(3)]
        for reader in readers:  # for now, rows the leader's loop leaves alone
            await bot.store.chats.update_settings(reader.id, now, mode="digest")
        [outcome] = await bot.store.articles.upsert_many(
            [make_article(1, published_at=datetime.now(UTC), topics=("economy",))]
        )
        await bot.store.deliveries.fan_out([outcome.article_id], now - LEASE)
        # Claimed by a former leader that had not noticed yet it lost the lead (after this
        # leader's start put every claimed row back), and never finished: a lease ago.
        for reader in readers:
            claimed = await bot.store.deliveries.claim_for_chat(reader.id, now - LEASE, 10)
            assert len(claimed) == 1
            await bot.store.chats.update_settings(reader.id, now, mode="instant")
        arrived = await bot.tg.wait_for_messages(3, timeout=10)
    assert sorted(m.chat_id for m in arrived) == sorted(r.id for r in readers)


# -- ledger claims on PostgreSQL: row locks only, side by side -------------------------------


async def test_two_claimers_take_disjoint_rows_at_once_without_the_write_lock(
    pg_url: str,
) -> None:
    one, two = await Store.open(pg_url), await Store.open(pg_url)
    try:
        await one.articles.sync_topics([Topic("economy", "Economy")])
        now = int(time.time())
        for chat_id in range(FIRST_READER, FIRST_READER + 150):
            await one.chats.seen(chat_id, "private", None, None, now)
            await one.subscriptions.subscribe(chat_id, ["economy"], now)
        [outcome] = await one.articles.upsert_many(
            [make_article(1, published_at=datetime.now(UTC), topics=("economy",))]
        )
        assert await one.deliveries.fan_out([outcome.article_id], now) == 150
        for store in (one, two):
            store.db.write_patience = 2  # a claim that waited for either lock would fail
        with psycopg.connect(pg_url) as importer, psycopg.connect(pg_url) as claimer:
            # A third instance's long write (an import) holds the store's write lock, and a
            # fourth is in the middle of a claim: it has locked 50 rows, not committed yet.
            importer.execute("SELECT pg_advisory_xact_lock(%s, %s)", WRITE_LOCK)
            held = {
                r[0]
                for r in claimer.execute(
                    "SELECT id FROM deliveries WHERE status = 'owed' ORDER BY id LIMIT 50"
                    " FOR UPDATE SKIP LOCKED"
                )
            }
            first, second = await asyncio.gather(
                one.deliveries.claim(now, 60), two.deliveries.claim(now, 60)
            )
            claimer.rollback()  # the fourth gives its rows back
            importer.rollback()
        rest = await one.deliveries.claim(now, 100)
    finally:
        await one.close()
        await two.close()
    a, b, c = ({d.id for d in batch} for batch in (first, second, rest))
    assert sorted([len(a), len(b)]) == [40, 60]  # both got rows while the others held theirs ...
    assert not a & b  # ... and none twice,
    assert not (a | b) & held  # nor one held by another claimer
    assert one.db.busy_waits == two.db.busy_waits == 0  # neither waited for a lock
    assert c == held  # the rows the fourth let go are owed again, and claimed now


# -- webhook mode: three instances behind a load balancer, Telegram's limits shared in Redis ---

BULK_READERS = 240
ASKERS = 90
GROUP_ASKS = 22


def most_in_any_window(times: list[float], period: float) -> int:
    """The most of ``times`` (seconds, sorted) that fall within any ``period`` sliding window."""
    most, first = 0, 0
    for last, at in enumerate(times):
        while at - times[first] >= period:
            first += 1
        most = max(most, last - first + 1)
    return most


def listening(port: int) -> bool:
    with socket.socket() as probe:
        return probe.connect_ex(("127.0.0.1", port)) == 0


async def test_three_webhook_instances_keep_telegrams_limits_together_and_replies_go_first(
    tmp_path: Path,
) -> None:
    redis = redis_url()
    url = fresh_schema_url("webhook")
    token = f"{secrets.randbelow(10**9) + 10**9}:shared-limits-test"  # fresh Redis keys
    front_port, ports = free_port(), [free_port() for _ in range(3)]
    async with BotApiDouble(token=token) as tg:
        tg.set_rate_limits()  # Telegram's: 30/s overall, 1/s per private chat, 20/min per group
        askers = [tg.add_user(f"asker{i}") for i in range(ASKERS)]
        asker_chats = [tg.add_private_chat(user) for user in askers]
        owner = tg.add_user("owner")
        group = tg.add_group("Readers", admins=[owner])
        subscribers = [tg.add_private_chat(tg.add_user(f"sub{i}")) for i in range(BULK_READERS)]
        store = await Store.open(url)
        try:
            await store.articles.sync_topics([Topic("economy", "Economy")])
            now = int(time.time())
            for chat in subscribers:
                await store.chats.seen(chat.id, "private", None, None, now)
                await store.subscriptions.subscribe(chat.id, ["economy"], now)
            bots = []
            for n, port in enumerate(ports):
                config = tmp_path / f"config{n}.toml"
                config.write_text(
                    f'[telegram]\ntoken = "{token}"\napi_base_url = "{tg.base_url}"\n'
                    f'[telegram.webhook]\nurl = "http://127.0.0.1:{front_port}/telegram"\n'
                    f'secret_token = "webhook-secret"\nport = {port}\n'
                    f'[storage]\nurl = "{url}"\n'
                    f'[delivery]\nshared_limits = "{redis}"\n'
                    '[topics.economy]\nname = "Economy"\ncategories = ["Economy news"]\n',
                    encoding="utf-8",
                )
                bots.append(await start_newsbot("--config", config, "run", merge_stderr=True))
            backends = [f"http://127.0.0.1:{port}" for port in ports]
            async with round_robin(front_port, backends) as answered:
                try:
                    await first_to_say("leading", bots)
                    for port in ports:  # every instance serves its webhook
                        await until(lambda p=port: listening(p), bool, 30)  # type: ignore[misc]
                    [outcome] = await store.articles.upsert_many(
                        [make_article(1, published_at=datetime.now(UTC), topics=("economy",))]
                    )
                    await store.deliveries.fan_out([outcome.article_id], int(time.time()))
                    await tg.wait_for_messages(30, timeout=30)  # the fan-out at full speed
                    burst = time.time()
                    for user, chat in zip(askers, asker_chats, strict=True):
                        tg.send_text(chat, user, "/help")
                    for _ in range(GROUP_ASKS):
                        tg.send_text(group, owner, "/help")
                    asker_ids = {c.id for c in asker_chats}
                    await tg.wait_for(
                        lambda: {m.chat_id for m in tg.sent()} >= asker_ids,
                        timeout=60,
                        what="a reply to every asker",
                    )
                    await tg.wait_for(
                        lambda: len(tg.sent(group)) >= 20, timeout=30, what="the group's 20"
                    )
                    await tg.wait_for(
                        lambda: {m.chat_id for m in tg.sent()} >= {c.id for c in subscribers},
                        timeout=60,
                        what="the whole fan-out",
                    )
                finally:
                    # Killed: a clean stop would wait the minute for the group's two replies.
                    for bot in bots:
                        await bot.kill()
        finally:
            await store.close()
        sends = [c for c in tg.calls("sendMessage") if c.status == 200]
        too_many = tg.too_many_requests
        group_replies = len(tg.sent(group))
    times = sorted(c.time.timestamp() for c in sends)
    per_chat: dict[int, list[float]] = {}
    for call in sends:
        per_chat.setdefault(int(call.params["chat_id"]), []).append(call.time.timestamp())
    assert len(answered) == 3  # the load balancer gave updates to every instance
    assert too_many == 0  # 280 with each instance counting its own (measured)
    assert most_in_any_window(times, 1.0) <= 30
    assert all(most_in_any_window(sorted(t), 1.0) <= 1 for c, t in per_chat.items() if c > 0)
    assert group_replies == 20  # 20 a minute in the group, whichever instance answered
    # Replies went ahead of the fan-out in every instance: while the askers waited for their
    # answers, the bulk sends took no more than about a second's worth of the 30/s.
    last_reply = max(t for c, ts in per_chat.items() if c in asker_ids for t in ts)
    subscriber_ids = {c.id for c in subscribers}
    bulk_meanwhile = [
        c for c in sends if int(c.params["chat_id"]) in subscriber_ids
        and burst <= c.time.timestamp() <= last_reply
    ]  # fmt: skip
    assert len(bulk_meanwhile) <= 30


async def test_an_unreachable_redis_for_shared_limits_is_one_line_at_start(tmp_path: Path) -> None:
    async with BotApiDouble() as tg:
        config = tmp_path / "config.toml"
        config.write_text(
            f'[telegram]\ntoken = "{tg.token}"\napi_base_url = "{tg.base_url}"\n'
            f'[storage]\npath = "{tmp_path / "news.db"}"\n'
            # Nothing listens on port 9 of 127.0.0.1 (discard): refused at once.
            '[delivery]\nshared_limits = "redis://:hunter2@127.0.0.1:9/0"\n',
            encoding="utf-8",
        )
        code, out, err = await newsbot("--config", str(config), "run")
    assert code == 2
    assert err.count("\n") == 1
    assert err.startswith(
        "newsbot: [delivery] shared_limits: cannot reach Redis at redis://:***@127.0.0.1:9/0"
    )
    assert "hunter2" not in out + err
