"""/addfeed and feed polling with the default fetch policy (issue 8, section 5), through the Bot
API double: inside addresses are refused with one plain answer, before any connection, and a
feed is registered only once a first fetch worked."""

from __future__ import annotations

from pathlib import Path

from core.settings import FetchConfig
from ingest.fetch import make_client
from ingest.guard import REFUSED
from ingest.pipeline import Importer
from tests.harness import ADMIN_ID, RunningBot, free_port, running_bot
from tests.test_fetch_guard import Recording, server

PRODUCTION = FetchConfig(timeout_seconds=5.0)  # allow_private off


async def guard_network(bot: RunningBot, config: FetchConfig) -> Recording:
    """Swap the bot's feed client for one over a recording network: what it connects to."""
    services = bot.app.bot_data.services
    network = Recording()
    await services.http.aclose()
    services.http = make_client(config, network=network)
    return network


async def test_addfeed_refuses_inside_addresses_alike_and_registers_nothing(
    tmp_path: Path,
) -> None:
    async with running_bot(tmp_path, fetch=PRODUCTION) as bot, server() as (base, asked):
        network = await guard_network(bot, PRODUCTION)
        port = base.rsplit(":", 1)[1]
        admin_chat = bot.tg.chat(ADMIN_ID)
        answers = {}
        for url in (
            f"http://127.0.0.1:{port}/feed.xml",  # open port, a real feed behind it
            f"http://127.0.0.1:{free_port()}/",  # closed port
            f"http://0x7f000001:{port}/feed.xml",
            f"http://[::1]:{port}/feed.xml",
            "http://169.254.169.254/latest/meta-data/",
        ):
            [answer] = await bot.say(f"/addfeed {url}", chat=admin_chat, user=bot.admin)
            answers[url] = answer.text
        [listed] = await bot.say("/feeds", chat=admin_chat, user=bot.admin)
        stored = await bot.store.feeds.all()
    assert set(answers.values()) == {f"Not added: {REFUSED}"}
    assert network.asked == []  # refused before connecting: no port state to tell
    assert asked == []
    assert stored == []
    assert listed.text == "No feeds yet. Add one with /addfeed URL [topics]."


async def test_a_feed_that_never_fetched_is_not_registered(tmp_path: Path) -> None:
    async with running_bot(tmp_path) as bot, server() as (base, _):  # allow_private on
        admin_chat = bot.tg.chat(ADMIN_ID)
        [closed] = await bot.say(
            f"/addfeed http://127.0.0.1:{free_port()}/feed.xml", chat=admin_chat, user=bot.admin
        )
        [missing] = await bot.say(f"/addfeed {base}/nothing", chat=admin_chat, user=bot.admin)
        [redirected_to_nothing] = await bot.say(
            f"/addfeed {base}/to?url={base}/", chat=admin_chat, user=bot.admin
        )
        stored_before = await bot.store.feeds.all()
        [added] = await bot.say(f"/addfeed {base}/feed.xml", chat=admin_chat, user=bot.admin)
        stored_after = await bot.store.feeds.all()
    assert closed.text.startswith("Not added: cannot connect")
    assert missing.text == "Not added: HTTP 404 Not Found"
    assert redirected_to_nothing.text.startswith("Not added:")
    assert stored_before == []
    assert added.text.startswith("Added feed #")
    assert [f.url for f in stored_after] == [f"{base}/feed.xml"]


async def test_polling_a_stored_inside_address_is_refused_without_connecting(
    tmp_path: Path,
) -> None:
    # A feed stored before this rule existed (or by an older version) is polled like any other.
    async with running_bot(tmp_path, fetch=PRODUCTION) as bot:
        network = await guard_network(bot, PRODUCTION)
        services = bot.app.bot_data.services
        await bot.store.feeds.add("http://169.254.169.254/latest/meta-data/", [], 600, 0)
        [job] = bot.app.job_queue.get_jobs_by_name("feeds")
        await job.run(bot.app)
        [feed] = await bot.store.feeds.all()
        importer = Importer(bot.store, services.tagger, now=services.clock)
        summary = await importer.poll_feed(feed, services.http, PRODUCTION)
    assert feed.error_count == 1
    assert feed.last_error == REFUSED
    assert summary.failures == [f"http://169.254.169.254/latest/meta-data/: {REFUSED}"]
    assert network.asked == []
