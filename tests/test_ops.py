"""Operations: backups of a store that is being written, check-config, and the token kept out
of every log line, error and printout."""

from __future__ import annotations

import asyncio
import logging
import sqlite3
import tomllib
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from pathlib import Path

import pytest

from bot import ops
from bot.config import parse_config
from bot.logs import setup_logging
from bot.ops import BackupError, backup, check_config, format_duration, mask_token
from botapi_double import BotApiDouble
from core.settings import (
    ChannelConfig,
    Config,
    DeliveryConfig,
    FeedConfig,
    MetricsConfig,
    QuietHours,
    StorageConfig,
    TelegramConfig,
    TopicConfig,
    WebhookConfig,
)
from storage import Store
from tests.harness import make_article
from tests.support.newsbot import start_newsbot
from tests.support.store import sqlite_only

TOKEN = "123456789:AAF-secret_part-of-the-token"


async def fill(store: Store, articles: int) -> None:
    await store.articles.upsert_many([make_article(n) for n in range(articles)])


def names(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir())


def read_copy(path: Path) -> tuple[int, str, str]:
    """Article count, integrity and journal mode of a copy, read without changing it."""
    conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        count = conn.execute("SELECT count(*) FROM articles").fetchone()[0]
        integrity = conn.execute("PRAGMA integrity_check").fetchone()[0]
        mode = conn.execute("PRAGMA journal_mode").fetchone()[0]
    finally:
        conn.close()
    return count, integrity, mode


# -- backup -----------------------------------------------------------------------------------


@sqlite_only("backup copies an SQLite file; PostgreSQL is backed up with pg_dump")
async def test_a_backup_while_the_store_is_written_is_a_whole_checked_copy(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, store: Store, store_config: StorageConfig
) -> None:
    await fill(store, 300)
    # One page per step, so that the writes below land between steps and restart the copy.
    monkeypatch.setattr(ops, "STEP_PAGES", 1)
    monkeypatch.setattr(ops, "STEP_SLEEP", 0.01)
    stop = asyncio.Event()
    written = 0

    async def keep_writing() -> None:
        nonlocal written
        n = 1000
        while not stop.is_set():
            await store.articles.upsert_many([make_article(n)])
            n += 1
            written += 1
            if written == 3:
                writing.set()

    writing = asyncio.Event()
    writer = asyncio.create_task(keep_writing())
    try:
        await writing.wait()  # the backup starts while rows are being written
        result = await backup(store_config.path, str(tmp_path / "copy.db"))
    finally:
        stop.set()
        await writer
        total = await store.articles.count()
        await store.close()
    count, integrity, mode = read_copy(tmp_path / "copy.db")
    assert written > 0
    # The writes really went on during the copy, until it took one snapshot instead.
    assert result.restarts > ops.MAX_RESTARTS
    assert result.snapshot
    assert 300 < result.articles <= total
    assert (count, integrity, mode) == (result.articles, "ok", "delete")
    assert result.size_bytes == (tmp_path / "copy.db").stat().st_size
    assert names(tmp_path) == ["copy.db", "news.db"]  # nothing left over


@sqlite_only("backup copies an SQLite file; PostgreSQL is backed up with pg_dump")
async def test_a_backup_of_a_quiet_store_goes_step_by_step(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, store: Store, store_config: StorageConfig
) -> None:
    await fill(store, 50)
    monkeypatch.setattr(ops, "STEP_PAGES", 2)
    try:
        result = await backup(store_config.path, str(tmp_path / "copy.db"))
    finally:
        await store.close()
    assert (result.restarts, result.snapshot) == (0, False)
    assert read_copy(tmp_path / "copy.db")[:2] == (50, "ok")


@sqlite_only("backup copies an SQLite file; PostgreSQL is backed up with pg_dump")
async def test_a_backup_refuses_to_replace_a_file_unless_forced(
    tmp_path: Path, store: Store, store_config: StorageConfig
) -> None:
    await fill(store, 3)
    await store.close()
    target = tmp_path / "old-backup.db"
    target.write_bytes(b"an older backup")
    with pytest.raises(BackupError, match=r"old-backup\.db exists; pass --force to replace it"):
        await backup(store_config.path, str(target))
    kept = target.read_bytes()
    result = await backup(store_config.path, str(target), force=True)
    assert kept == b"an older backup"
    assert result.articles == 3
    assert read_copy(target)[:2] == (3, "ok")


@sqlite_only("backup copies an SQLite file; PostgreSQL is backed up with pg_dump")
async def test_a_backup_into_a_folder_gets_a_dated_name(
    tmp_path: Path, store: Store, store_config: StorageConfig
) -> None:
    await fill(store, 2)
    await store.close()
    folder = tmp_path / "backups"
    folder.mkdir()
    result = await backup(store_config.path, str(folder))
    [made] = names(folder)
    assert result.target == str(folder / made)
    assert made.startswith("news-")
    assert made.endswith("Z.db")
    assert "2 articles" in result.describe("news.db")


async def test_a_backup_of_a_missing_store_creates_nothing(tmp_path: Path) -> None:
    with pytest.raises(BackupError, match="no such store"):
        await backup(str(tmp_path / "absent.db"), str(tmp_path / "copy.db"))
    not_a_store = tmp_path / "notes.txt"
    not_a_store.write_text("not a database", encoding="utf-8")
    with pytest.raises(BackupError, match="not a newsbot store"):
        await backup(str(not_a_store), str(tmp_path / "copy.db"))
    assert names(tmp_path) == ["notes.txt"]


@sqlite_only("backup copies an SQLite file; PostgreSQL is backed up with pg_dump")
async def test_a_backup_onto_the_store_itself_is_refused(
    tmp_path: Path, store: Store, store_config: StorageConfig
) -> None:
    await fill(store, 1)
    await store.close()
    with pytest.raises(BackupError, match="is the store itself"):
        await backup(store_config.path, store_config.path, force=True)
    assert read_copy(Path(store_config.path))[0] == 1


# -- check-config -----------------------------------------------------------------------------


def full_config() -> Config:
    topics = (
        TopicConfig("economy", "Economy", ("Economy news",), ("central bank",)),
        TopicConfig("russia", "Russia", ("Russia",)),
    )
    return Config(
        path="config.toml",
        telegram=TelegramConfig(TOKEN, "https://api.telegram.org/bot", (42, 43)),
        storage=StorageConfig("/var/lib/newsbot/news.db"),
        topics=topics,
        feeds=(FeedConfig("https://news.example/rss", ("economy",), 5400),),
        channels=(
            ChannelConfig("@news_channel", ("economy",)),
            ChannelConfig(
                -1001234,
                ("russia",),
                "every",
                900,
                max_per_hour=4,
                quiet_hours=QuietHours("23:00", "07:00"),
            ),
        ),
        delivery=DeliveryConfig(messages_per_second=25, max_age_seconds=86400),
    )


def test_check_config_masks_the_token_and_loads_back_as_the_same_config() -> None:
    config = full_config()
    text = check_config(config)
    assert TOKEN not in text
    assert TOKEN.split(":")[1] not in text
    assert 'token = "123456789:***"' in text
    again = parse_config(tomllib.loads(text), source="config.toml")
    masked = replace(config.telegram, token="123456789:***")
    assert again == replace(config, telegram=masked)


def test_check_config_fills_in_every_default() -> None:
    text = check_config(Config())
    for line in (
        "# token: not set",
        'api_base_url = "https://api.telegram.org/bot"',
        'path = "newsbot.db"',
        "# no [[feeds]]",
        "messages_per_second = 30.0",
        "private_chat_per_second = 1.0",
        "group_per_minute = 20.0",
        'max_age = "3d"',
        "keep_days = 30",
        "timeout_seconds = 20.0",
        "max_bytes = 10485760",
        'level = "INFO"',
    ):
        assert line in text.splitlines()
    assert text.startswith("# newsbot configuration in effect (no config file: built-in defaults)")
    assert parse_config(tomllib.loads(text)) == replace(Config(), path="<config>")


def test_check_config_shows_webhook_and_metrics_sections_with_the_secret_masked() -> None:
    # The shape bot/config.py takes once [telegram.webhook] and [metrics] are parsed there.
    @dataclass(frozen=True, slots=True)
    class Telegram(TelegramConfig):
        webhook: WebhookConfig | None = None

    @dataclass(frozen=True, slots=True)
    class WithMetrics(Config):
        metrics: MetricsConfig = field(default_factory=MetricsConfig)

    hook = WebhookConfig("https://bot.example/telegram", "hook-secret_123")
    text = check_config(WithMetrics(telegram=Telegram(TOKEN, webhook=hook)))
    polling = check_config(WithMetrics(telegram=Telegram(TOKEN)))
    assert "hook-secret_123" not in text
    section = text.split("[telegram.webhook]\n", 1)[1].split("\n\n", 1)[0].splitlines()
    assert section == [
        'url = "https://bot.example/telegram"',
        'secret_token = "***"',
        'listen = "127.0.0.1"',
        "port = 8443",
        'path = "/telegram"',
    ]
    assert '[metrics]\nenabled = false\nlisten = "127.0.0.1"\nport = 9464\n' in text
    assert "# webhook: not set" in polling


@pytest.mark.parametrize(
    ("token", "masked"),
    [(TOKEN, "123456789:***"), ("no-colon-token", "***"), ("abc:def", "***"), (":x", "***")],
)
def test_mask_token(token: str, masked: str) -> None:
    assert mask_token(token) == masked


@pytest.mark.parametrize(
    ("seconds", "text"), [(600, "10m"), (5400, "1h30m"), (259200, "3d"), (90, "1m30s"), (45, "45s")]
)
def test_format_duration_is_what_the_config_reads(seconds: int, text: str) -> None:
    from bot.config import parse_duration

    assert format_duration(seconds) == text
    assert parse_duration(text) == seconds


# -- the token in logs and errors ---------------------------------------------------------------


@pytest.fixture
def root_logging() -> Iterator[None]:
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    yield
    for handler in list(root.handlers):
        root.removeHandler(handler)
    for handler in handlers:
        root.addHandler(handler)
    root.setLevel(level)


@pytest.mark.usefixtures("root_logging")
def test_logging_never_writes_the_token(capsys: pytest.CaptureFixture[str]) -> None:
    setup_logging("DEBUG", secrets=[TOKEN])
    log = logging.getLogger("newsbot.test")
    url = f"https://api.telegram.org/bot{TOKEN}/sendMessage"
    log.debug("calling %s", url)
    log.info(f"formatted before logging: {url}")
    try:
        try:
            raise ConnectionError(f"Cannot connect to host for url {url}")
        except ConnectionError as exc:
            raise RuntimeError(f"request to {url} failed") from exc
    except RuntimeError:
        log.exception("sending failed")
    log.warning("a stack", stack_info=True, extra={"url": url})
    err = capsys.readouterr().err
    assert "sending failed" in err
    assert "Traceback" in err
    assert err.count("https://api.telegram.org/bot***/sendMessage") >= 4
    assert TOKEN not in err
    assert TOKEN.split(":")[1] not in err


def write_config(tmp_path: Path, token: str, base_url: str) -> Path:
    config = tmp_path / "config.toml"
    config.write_text(
        f'[telegram]\ntoken = "{token}"\napi_base_url = "{base_url}"\n\n'
        f'[storage]\npath = "{tmp_path / "news.db"}"\n\n[logging]\nlevel = "DEBUG"\n',
        encoding="utf-8",
    )
    return config


async def test_an_unreachable_bot_api_is_one_line_without_the_token(tmp_path: Path) -> None:
    # A port nothing listens on: the connection error names the request URL, token and all.
    config = write_config(tmp_path, TOKEN, "http://127.0.0.1:9/bot")
    done = await (await start_newsbot("--config", config, "run")).finish()
    text = done.text
    assert done.code == 1
    assert "newsbot: cannot reach the Bot API at http://127.0.0.1:9/bot" in text
    assert TOKEN not in text
    assert TOKEN.split(":")[1] not in text


async def test_a_running_bot_at_debug_level_never_logs_the_token(tmp_path: Path) -> None:
    async with BotApiDouble(token=TOKEN) as tg:
        user = tg.add_user("Reader")
        chat = tg.add_private_chat(user)
        config = write_config(tmp_path, TOKEN, tg.base_url)
        async with await start_newsbot("--config", config, "run") as process:
            tg.send_text(chat, user, "/help")
            tg.send_text(chat, user, "/latest")
            await tg.wait_for_messages(2, chat_id=chat.id, timeout=30)
            # A reply that fails is logged with its traceback; the next one still goes out.
            tg.inject_5xx("sendMessage", html=True)
            tg.send_text(chat, user, "/help")
            await tg.wait_for_call("sendMessage", count=3, timeout=30)
            tg.send_text(chat, user, "/latest")
            await tg.wait_for_messages(3, chat_id=chat.id, timeout=30)
            done = await process.stop()
    text = done.text
    assert done.code == 0, text
    assert "DEBUG" in text
    assert "error while handling an update" in text
    assert "Traceback" in text
    assert TOKEN not in text
    assert TOKEN.split(":")[1] not in text


def test_check_config_masks_the_database_password_and_loads_back() -> None:
    url = "postgresql://newsbot:hunter2@db.internal:5432/news"
    config = replace(full_config(), storage=StorageConfig(url=url))
    text = check_config(config)
    assert "hunter2" not in text
    assert 'url = "postgresql://newsbot:***@db.internal:5432/news"' in text
    again = parse_config(tomllib.loads(text), source="config.toml")
    assert again.storage == StorageConfig(url="postgresql://newsbot:***@db.internal:5432/news")


async def test_backup_of_a_postgresql_store_points_to_pg_dump(tmp_path: Path) -> None:
    config = tmp_path / "config.toml"
    config.write_text('[storage]\nurl = "postgresql://u:pw@127.0.0.1:9/news"\n', encoding="utf-8")
    done = await (await start_newsbot("--config", config, "backup", tmp_path / "x.db")).finish()
    assert done.code == 2
    assert done.err == (
        "newsbot: backup copies an SQLite store; postgresql://u:***@127.0.0.1:9/news is"
        " PostgreSQL: use pg_dump -Fc (see docs/deployment.md)\n"
    )
