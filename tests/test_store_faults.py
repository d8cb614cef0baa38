"""Store faults and command-line edges, through the ``newsbot`` command as a user runs it.

Each fault is one line on stderr naming the store and the problem, with a non-zero exit and no
traceback; a file that is not a newsbot store is left byte for byte as it was.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
import os
import sqlite3
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from bot.exitcodes import EXIT_BROKEN_PIPE, EXIT_FAILED, EXIT_OK, EXIT_USAGE
from botapi_double import BotApiDouble
from core.settings import StorageConfig
from storage import Store
from storage.db import APPLICATION_ID
from tests.harness import free_port, make_article
from tests.support.newsbot import NEWSBOT, ROOT, newsbot, newsbot_env
from tests.support.store import opened_store
from tests.test_locked_store import hold_write_lock

SAMPLES = ROOT / "samples"
READERS = (
    ["stats"],
    ["latest"],
    ["show", "1"],
    ["search", "putin"],
    ["related", "1"],
    ["topics"],
    ["export"],
)


def config_for(tmp_path: Path, store: Path, extra: str = "") -> str:
    config = tmp_path / "config.toml"
    config.write_text(f'{extra}\n[storage]\npath = "{store}"\n', encoding="utf-8")
    return str(config)


def one_line(err: str) -> str:
    """The whole of stderr, which must be one ``newsbot:`` line and nothing else."""
    assert "Traceback" not in err
    [line] = err.splitlines()
    assert line.startswith("newsbot: ")
    return line


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


async def make_store(path: Path, articles: int = 1) -> None:
    async with opened_store(StorageConfig(str(path))) as store:
        await store.articles.upsert_many([make_article(n) for n in range(1, articles + 1)])


async def test_read_only_commands_on_a_missing_store_say_so_and_create_nothing(
    tmp_path: Path,
) -> None:
    store = tmp_path / "no-folder" / "news.db"
    config = config_for(tmp_path, store)
    for command in READERS:
        code, out, err = await newsbot("--config", config, *command)
        assert (code, out) == (EXIT_FAILED, ""), command
        assert one_line(err) == (
            f"newsbot: {store}: no store here (see [storage].path);"
            " `newsbot import` or `newsbot run` creates it"
        )
    assert os.listdir(tmp_path) == ["config.toml"]


async def test_another_applications_database_is_refused_untouched(tmp_path: Path) -> None:
    other = tmp_path / "notes.sqlite"
    with contextlib.closing(sqlite3.connect(other)) as conn:
        conn.execute("CREATE TABLE notes (id INTEGER PRIMARY KEY, text TEXT)")
        conn.execute("INSERT INTO notes (text) VALUES ('keep me')")
        conn.commit()
    before = digest(other)
    config = config_for(tmp_path, other)
    for command in (["import", "--quiet", str(SAMPLES)], ["latest"], ["stats"]):
        code, _, err = await newsbot("--config", config, *command)
        assert code == EXIT_FAILED, command
        assert one_line(err) == (
            f"newsbot: {other}: another application's database, not a newsbot store;"
            " left untouched (see [storage].path)"
        )
    code, _, err = await newsbot("--config", config, "backup", str(tmp_path / "copy.db"))
    assert code == EXIT_FAILED
    assert "another application's database" in one_line(err)
    assert digest(other) == before
    assert sorted(os.listdir(tmp_path)) == ["config.toml", "notes.sqlite"]


async def test_a_rails_database_with_newsbots_table_names_is_refused_untouched(
    tmp_path: Path,
) -> None:
    # A Rails blog has tables named schema_migrations and articles and no application_id,
    # as a store from before the stamp has; it used to be switched to WAL and then half-migrated.
    rails = tmp_path / "development.sqlite3"
    with contextlib.closing(sqlite3.connect(rails)) as conn:
        conn.execute("CREATE TABLE schema_migrations (version varchar PRIMARY KEY)")
        conn.execute("CREATE TABLE ar_internal_metadata (key varchar PRIMARY KEY, value varchar)")
        conn.execute("CREATE TABLE articles (id integer PRIMARY KEY, title varchar, body text)")
        conn.execute("INSERT INTO schema_migrations VALUES ('20240101000000')")
        conn.commit()
    before = digest(rails)
    config = config_for(tmp_path, rails)
    for command in (["import", "/dev/null"], ["import", "--quiet", str(SAMPLES)], ["stats"]):
        code, _, err = await newsbot("--config", config, *command)
        assert code == EXIT_FAILED, command
        assert one_line(err) == (
            f"newsbot: {rails}: another application's database, not a newsbot store;"
            " left untouched (see [storage].path)"
        )
    assert digest(rails) == before
    assert sorted(os.listdir(tmp_path)) == ["config.toml", "development.sqlite3"]


async def test_export_says_which_articles_it_left_out_and_fails(tmp_path: Path) -> None:
    store = tmp_path / "news.db"
    await make_store(store, articles=3)
    # What versions without date checks stored for "Fri, 31 Dec 9999 23:59:59 -1400".
    with contextlib.closing(sqlite3.connect(store)) as conn:
        conn.execute(
            "UPDATE articles SET published_at = 253402351199, utc_offset = -840 WHERE id = 2"
        )
        conn.commit()
    config = config_for(tmp_path, store)
    code, out, err = await newsbot("--config", config, "export")
    assert code == EXIT_FAILED
    assert [json.loads(line)["id"] for line in out.splitlines()] == [1, 3]
    assert "Traceback" not in err
    assert err.splitlines()[-1] == (
        "newsbot: export left out 1 unreadable article(s) (ids 2); the export is incomplete"
    )


async def test_not_a_database_and_a_folder_are_one_line_each(tmp_path: Path) -> None:
    text = tmp_path / "notes.txt"
    text.write_text("just some notes\n" * 100, encoding="utf-8")
    folder = tmp_path / "folder.db"
    folder.mkdir()
    for store, problem in (
        (text, "not an SQLite database, so not a newsbot store (see [storage].path)"),
        (folder, "a folder, not a store file (see [storage].path)"),
    ):
        config = config_for(tmp_path, store)
        for command in (["import", "--quiet", str(SAMPLES)], ["stats"], ["latest"]):
            code, _, err = await newsbot("--config", config, *command)
            assert code == EXIT_FAILED, (store, command)
            assert one_line(err) == f"newsbot: {store}: {problem}"
        code, _, err = await newsbot("--config", config, "backup", str(tmp_path / "copy.db"))
        assert code == EXIT_FAILED
        assert one_line(err) == f"newsbot: {store}: {problem}"
    assert text.read_text(encoding="utf-8") == "just some notes\n" * 100
    assert list(folder.iterdir()) == []


async def test_a_store_made_before_the_application_id_is_recognised_and_stamped(
    tmp_path: Path,
) -> None:
    store = tmp_path / "news.db"
    await make_store(store)
    with contextlib.closing(sqlite3.connect(store)) as conn:
        conn.execute("PRAGMA application_id = 0")  # as every store was before
    config = config_for(tmp_path, store)
    code, out, _ = await newsbot("--config", config, "latest", "--json")
    assert code == EXIT_OK
    assert json.loads(out)["title"] == "Headline number 1"
    code, _, _ = await newsbot("--config", config, "import", "--quiet", str(SAMPLES))
    assert code == EXIT_OK
    with contextlib.closing(sqlite3.connect(store)) as conn:
        assert conn.execute("PRAGMA application_id").fetchone() == (APPLICATION_ID,)


@contextlib.contextmanager
def read_only_folder(folder: Path) -> Iterator[None]:
    """Make ``folder`` read-only for this process: a read-only bind mount as root (who
    ignores permission bits), the permission bits otherwise."""
    if os.geteuid() != 0:
        folder.chmod(0o555)
        try:
            yield
        finally:
            folder.chmod(0o755)
        return
    try:
        subprocess.run(["mount", "--bind", str(folder), str(folder)], check=True)
    except (OSError, subprocess.CalledProcessError):
        pytest.skip("root, but cannot bind-mount here")
    try:
        subprocess.run(["mount", "-o", "remount,ro,bind", str(folder)], check=True)
        yield
    finally:
        subprocess.run(["umount", str(folder)], check=True)


async def test_a_store_in_a_read_only_folder_still_answers_what_only_looks(
    tmp_path: Path,
) -> None:
    folder = tmp_path / "ro"
    folder.mkdir()
    store = folder / "news.db"
    await make_store(store, articles=3)
    before = digest(store)
    config = config_for(tmp_path, store)
    with read_only_folder(folder):
        results = {
            command[0]: await newsbot("--config", config, *command)
            for command in [*READERS, ["backup", str(tmp_path / "copy.db")]]
        }
        code, _, err = await newsbot("--config", config, "import", "--quiet", str(SAMPLES))
    assert {name: (c, e) for name, (c, _, e) in results.items()} == dict.fromkeys(
        results, (EXIT_OK, "")
    )
    assert "Headline number 3" in results["latest"][1]
    assert "3 articles" in results["backup"][1]
    assert code == EXIT_FAILED
    assert one_line(err) == (
        f"newsbot: {store}: the store or its folder is read-only; only the commands that look"
        " (latest, show, search, related, topics, stats, backup) can run"
    )
    assert digest(store) == before
    assert sorted(p.name for p in folder.iterdir()) == ["news.db"]


@contextlib.contextmanager
def small_disk(folder: Path) -> Iterator[None]:
    """A 512 kB filesystem mounted on ``folder`` for the block."""
    try:
        subprocess.run(
            ["mount", "-t", "tmpfs", "-o", "size=512k", "tmpfs", str(folder)], check=True
        )
    except (OSError, subprocess.CalledProcessError):
        pytest.skip("root, but cannot mount a tmpfs here")
    try:
        yield
    finally:
        subprocess.run(["umount", str(folder)], check=True)


@pytest.mark.skipif(os.geteuid() != 0, reason="a small filesystem needs a root mount")
async def test_a_full_disk_is_one_line_and_the_store_stays_intact(tmp_path: Path) -> None:
    disk = tmp_path / "disk"
    disk.mkdir()
    with small_disk(disk):
        store = disk / "news.db"
        await make_store(store)
        big = tmp_path / "big.jsonl"
        with big.open("w", encoding="utf-8") as out:
            for n in range(400):  # ~2 MB of text for a 512 kB disk
                article = {"title": f"Big {n}", "guid": f"big-{n}", "body": f"word{n} " * 800}
                out.write(json.dumps({**article, "published_at": "2018-06-09T08:00:00Z"}) + "\n")
        config = config_for(tmp_path, store)
        code, _, err = await newsbot("--config", config, "import", "--quiet", str(big))
        with contextlib.closing(sqlite3.connect(store)) as conn:
            integrity = conn.execute("PRAGMA integrity_check").fetchall()
            first = conn.execute("SELECT title FROM articles WHERE id = 1").fetchone()
    assert code == EXIT_FAILED
    assert one_line(err) == (
        f"newsbot: {store}: the disk is full; the write that failed was undone, the store is intact"
    )
    assert integrity == [("ok",)]
    assert first == ("Headline number 1",)


@pytest.mark.skipif(os.geteuid() != 0, reason="a small filesystem needs a root mount")
async def test_a_write_the_full_disk_refused_does_not_block_later_writes(tmp_path: Path) -> None:
    # The bot keeps one Database for its life: once the disk has room again, it writes again.
    disk = tmp_path / "disk"
    disk.mkdir()
    with small_disk(disk):
        store = await Store.open(disk / "news.db")
        try:
            await store.articles.upsert_many([make_article(1)])
            filler = disk / "filler"
            with filler.open("wb", buffering=0) as out, contextlib.suppress(OSError):
                while True:  # the disk full, whatever the store took so far
                    out.write(b"x" * 4096)
            big = [make_article(n, body=f"word{n} " * 800) for n in range(2, 202)]
            with pytest.raises(sqlite3.Error) as refused:
                await store.articles.upsert_many(big)
            filler.unlink()  # room again
            await store.articles.upsert_many([make_article(202)])
            latest = await store.articles.latest(limit=10)
        finally:
            await store.close()
    assert refused.value.sqlite_errorcode & 0xFF == sqlite3.SQLITE_FULL
    assert [a.title for a in latest] == ["Headline number 202", "Headline number 1"]


async def test_a_commit_that_fails_is_undone_and_the_next_write_works(tmp_path: Path) -> None:
    # SQLite undoes a COMMIT refused for a full disk itself, but not every refused COMMIT (here
    # a deferred foreign key); one left open made every later write on the Database fail.
    store = await Store.open(tmp_path / "news.db")
    try:

        def orphan(conn: sqlite3.Connection) -> None:
            conn.execute("PRAGMA defer_foreign_keys = ON")
            conn.execute("DELETE FROM articles WHERE id = 1")
            conn.execute("INSERT INTO article_topics (article_id, topic) VALUES (1, 'economy')")

        await store.articles.upsert_many([make_article(1)])
        with pytest.raises(sqlite3.IntegrityError):
            await store.db.write(orphan)
        await store.articles.upsert_many([make_article(2)])
        latest = await store.articles.latest(limit=10)
    finally:
        await store.close()
    assert [a.title for a in latest] == ["Headline number 2", "Headline number 1"]


async def test_a_locked_store_is_one_line_after_waiting_and_reads_still_answer(
    tmp_path: Path,
) -> None:
    store = tmp_path / "news.db"
    await make_store(store)
    config = config_for(tmp_path, store)
    async with hold_write_lock(StorageConfig(str(store))):
        latest = await newsbot("--config", config, "latest", "--json")
        code, out, err = await newsbot("--config", config, "import", "--quiet", str(SAMPLES))
    assert latest[0] == EXIT_OK
    assert json.loads(latest[1])["title"] == "Headline number 1"
    assert code == EXIT_FAILED
    assert out == ""
    # The wait is said once while it happens, the failure once at the end.
    assert "Traceback" not in err
    waiting, failure = err.splitlines()
    assert waiting == f"newsbot: {store}: locked by another process; waiting up to 10 s"
    assert one_line(failure) == (
        f"newsbot: {store}: the store is locked by another process (waited 10 s);"
        " try again when it is done"
    )


async def test_a_huge_article_id_is_a_usage_error(tmp_path: Path) -> None:
    store = tmp_path / "news.db"
    await make_store(store)
    code, _, err = await newsbot(
        "--config", config_for(tmp_path, store), "show", "99999999999999999999999"
    )
    assert code == EXIT_USAGE
    assert "Traceback" not in err
    assert err.splitlines()[-1] == (
        "newsbot show: error: argument ID: '99999999999999999999999' is not an article id"
        " (1 to 9223372036854775807)"
    )


async def test_output_to_a_closed_pipe_stops_quietly(tmp_path: Path) -> None:
    store = tmp_path / "news.db"
    await make_store(store, articles=3)
    read_end, write_end = os.pipe()
    os.close(read_end)  # `| head -1` that has already gone: every write fails with EPIPE
    config = config_for(tmp_path, store)
    try:
        process = await asyncio.create_subprocess_exec(
            *(sys.executable, *NEWSBOT, "--config", config, "latest", "--json"),
            stdout=write_end,
            stderr=asyncio.subprocess.PIPE,
            env=newsbot_env(),
        )
    finally:
        os.close(write_end)
    _, err = await asyncio.wait_for(process.communicate(), 60)
    assert (process.returncode, err) == (EXIT_BROKEN_PIPE, b"")


async def test_version_help_and_config_after_the_command(tmp_path: Path) -> None:
    store = tmp_path / "news.db"
    await make_store(store)
    config = config_for(tmp_path, store)
    version = await newsbot("--version")
    bare = await newsbot()
    after = await newsbot("latest", "--json", "--config", config)
    latest_help = await newsbot("latest", "--help")
    assert version[0] == EXIT_OK
    assert version[1].startswith("newsbot ")
    assert bare[0] == EXIT_USAGE
    assert bare[1].startswith("usage: newsbot")
    assert "exits with status 2" in bare[1]
    assert after[0] == EXIT_OK
    assert json.loads(after[1])["title"] == "Headline number 1"
    text = " ".join(latest_help[1].split())
    assert "how many articles (1-200, default 10)" in text
    assert "only this topic's articles (default: all)" in text


async def test_a_failed_import_is_said_once(tmp_path: Path) -> None:
    broken = tmp_path / "broken.json"
    broken.write_text("{oops", encoding="utf-8")
    config = config_for(tmp_path, tmp_path / "news.db")
    code, _, err = await newsbot("--config", config, "import", "--quiet", str(broken))
    assert code == EXIT_FAILED
    mentions = [line for line in err.splitlines() if "broken.json" in line]
    assert len(mentions) == 1
    assert mentions[0].startswith("failed: ")


async def run_bot(tmp_path: Path, token: str, api_base_url: str) -> tuple[int, str]:
    """``newsbot run`` with this token and Bot API; its exit status and stderr."""
    telegram = f'[telegram]\ntoken = "{token}"\napi_base_url = "{api_base_url}"\n'
    config = config_for(tmp_path, tmp_path / "news.db", telegram)
    code, _, err = await newsbot("--config", config, "run")
    return code, err


async def test_run_with_a_rejected_token_is_one_line(tmp_path: Path) -> None:
    async with BotApiDouble(token="111111:the-right-one") as tg:
        code, err = await run_bot(tmp_path, "222222:a-wrong-one", tg.base_url)
    assert code == EXIT_USAGE
    assert one_line(err) == (
        "newsbot: Telegram rejected the token; check [telegram].token or NEWSBOT_TOKEN"
    )
    assert "a-wrong-one" not in err


async def test_run_with_nothing_listening_is_one_line(tmp_path: Path) -> None:
    port = free_port()  # nothing listens there
    code, err = await run_bot(tmp_path, "222222:a-token", f"http://127.0.0.1:{port}/bot")
    assert code == EXIT_FAILED
    assert one_line(err).startswith(
        f"newsbot: cannot reach the Bot API at http://127.0.0.1:{port}/bot: "
    )
    assert "a-token" not in err


async def test_run_on_a_store_it_cannot_use_is_one_line(tmp_path: Path) -> None:
    folder = tmp_path / "news.db"  # run_bot's store path, made a folder
    folder.mkdir()
    async with BotApiDouble(token="111111:the-token") as tg:
        code, err = await run_bot(tmp_path, "111111:the-token", tg.base_url)
    assert code == EXIT_FAILED
    assert one_line(err) == f"newsbot: {folder}: a folder, not a store file (see [storage].path)"
