"""Operations wired into the config and the ``newsbot`` command: [telegram.webhook] and
[metrics] parsed and checked, ``backup`` and ``check-config``, and ``newsbot run`` serving the
webhook and the metrics listener in a real process."""

from __future__ import annotations

import socket
import sqlite3
from pathlib import Path

import aiohttp
import pytest

from bot.config import load_config
from botapi_double import BotApiDouble
from core.settings import ConfigError, MetricsConfig, WebhookConfig
from storage import Store
from tests.harness import free_port, make_article
from tests.support.newsbot import newsbot, start_newsbot
from tests.support.store import sqlite_only

TOKEN = "123456789:AAF-secret_part-of-the-token"
SECRET = "hook_secret-42"


def load(tmp_path: Path, text: str, **environ: str) -> object:
    path = tmp_path / "config.toml"
    path.write_text(text, encoding="utf-8")
    return load_config(str(path), environ=environ)


# -- the config -------------------------------------------------------------------------------


def test_webhook_and_metrics_tables_are_read_with_their_defaults(tmp_path: Path) -> None:
    config = load(
        tmp_path,
        f'[telegram.webhook]\nurl = "https://bot.example/telegram"\nsecret_token = "{SECRET}"\n'
        "[metrics]\nenabled = true\n",
        NEWSBOT_TOKEN=TOKEN,
    )
    assert config.telegram.token == TOKEN  # type: ignore[attr-defined]
    assert config.telegram.webhook == WebhookConfig(  # type: ignore[attr-defined]
        "https://bot.example/telegram", SECRET, "127.0.0.1", 8443, "/telegram"
    )
    assert config.metrics == MetricsConfig(True, "127.0.0.1", 9464)  # type: ignore[attr-defined]
    assert load(tmp_path, "").telegram.webhook is None  # type: ignore[attr-defined]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (
            '[telegram.webhook]\nurl = "https://b.example/t"\n',
            "[telegram.webhook].secret_token is required",
        ),
        (
            '[telegram.webhook]\nsecret_token = "s"\n',
            "[telegram.webhook].url is required",
        ),
        (
            '[telegram.webhook]\nurl = "https://b.example/t"\nsecret_token = "no spaces"\n',
            "[telegram.webhook].secret_token must be 1-256 characters of A-Z, a-z, 0-9, _ and -",
        ),
        (
            '[telegram.webhook]\nurl = "http://b.example/t"\nsecret_token = "s"\n',
            "[telegram.webhook].url must be an https:// URL",
        ),
        (
            '[telegram.webhook]\nurl = "https://b.example:8080/t"\nsecret_token = "s"\n',
            "Telegram calls only ports 443, 80, 88 and 8443",
        ),
        (
            '[telegram.webhook]\nurl = "https://b.example/t"\nsecret_token = "s"\npath = "t"\n',
            "[telegram.webhook].path must start with /",
        ),
        (
            '[telegram.webhook]\nurl = "https://b.example/t"\nsecret_token = "s"\nport = 0\n',
            "[telegram.webhook].port must be a TCP port, 1-65535",
        ),
        (
            '[telegram.webhook]\nurl = "https://b.example/t"\nsecret_token = "s"\nhost = "x"\n',
            "unknown key [telegram.webhook].host",
        ),
        ("[metrics]\nenabled = 1\n", "[metrics].enabled must be true or false, not int"),
        ("[metrics]\nport = 70000\n", "[metrics].port must be a TCP port, 1-65535"),
    ],
)
def test_a_bad_webhook_or_metrics_key_is_one_line(tmp_path: Path, text: str, message: str) -> None:
    with pytest.raises(ConfigError) as caught:
        load(tmp_path, text)
    assert message in str(caught.value)
    assert str(caught.value).startswith(str(tmp_path / "config.toml"))
    assert "\n" not in str(caught.value)


def test_a_local_bot_api_may_call_a_plain_http_webhook(tmp_path: Path) -> None:
    config = load(
        tmp_path,
        '[telegram]\napi_base_url = "http://127.0.0.1:8081/bot"\n'
        '[telegram.webhook]\nurl = "http://127.0.0.1:9000/hook"\nsecret_token = "s"\n',
    )
    assert config.telegram.webhook.url == "http://127.0.0.1:9000/hook"  # type: ignore[attr-defined]


# -- the commands -----------------------------------------------------------------------------


def write_config(tmp_path: Path, base_url: str, extra: str = "", level: str = "INFO") -> Path:
    config = tmp_path / "config.toml"
    config.write_text(
        f'[telegram]\ntoken = "{TOKEN}"\napi_base_url = "{base_url}"\n\n{extra}\n'
        f'[storage]\npath = "{tmp_path / "news.db"}"\n\n[logging]\nlevel = "{level}"\n',
        encoding="utf-8",
    )
    return config


async def test_check_config_prints_the_config_with_secrets_masked(tmp_path: Path) -> None:
    hook = f'[telegram.webhook]\nurl = "https://bot.example/t"\nsecret_token = "{SECRET}"\n'
    config = write_config(tmp_path, "https://api.telegram.org/bot", hook)
    code, out, err = await newsbot("--config", str(config), "check-config")
    assert (code, err) == (0, "")
    assert 'token = "123456789:***"' in out
    assert 'secret_token = "***"' in out
    assert "[metrics]\nenabled = false" in out
    assert TOKEN not in out
    assert SECRET not in out


@sqlite_only("backup copies an SQLite file; PostgreSQL is backed up with pg_dump")
async def test_backup_from_the_command_line(tmp_path: Path, store: Store) -> None:
    await store.articles.upsert_many([make_article(n) for n in range(3)])
    await store.close()
    config = write_config(tmp_path, "https://api.telegram.org/bot")
    target = tmp_path / "copy.db"
    first = await newsbot("--config", str(config), "backup", str(target))
    again = await newsbot("--config", str(config), "backup", str(target))
    forced = await newsbot("--config", str(config), "backup", str(target), "--force")
    assert first[0] == 0
    assert "3 articles" in first[1]
    assert again[0] == 1
    assert again[2] == f"newsbot: {target} exists; pass --force to replace it\n"
    assert forced[0] == 0
    with sqlite3.connect(target) as conn:
        assert conn.execute("SELECT count(*) FROM articles").fetchone() == (3,)


@sqlite_only("backup copies an SQLite file; PostgreSQL is backed up with pg_dump")
async def test_backup_to_a_missing_folder_writes_no_file(tmp_path: Path, store: Store) -> None:
    await store.close()
    config = write_config(tmp_path, "https://api.telegram.org/bot")
    target = f"{tmp_path / 'backups'}/"
    code, _, err = await newsbot("--config", str(config), "backup", target)
    assert code == 1
    assert err == f"newsbot: {target}: no such folder\n"
    assert not (tmp_path / "backups").exists()


async def test_newsbot_run_serves_the_webhook_and_the_metrics(tmp_path: Path) -> None:
    hook_port, metrics_port = free_port(), free_port()
    async with BotApiDouble(token=TOKEN) as tg:
        # A local Bot API (the double) may call http; Telegram itself would need https.
        config = write_config(
            tmp_path,
            tg.base_url,
            f'[telegram.webhook]\nurl = "http://127.0.0.1:{hook_port}/telegram"\n'
            f'secret_token = "{SECRET}"\nport = {hook_port}\n\n'
            f"[metrics]\nenabled = true\nport = {metrics_port}\n",
            level="DEBUG",
        )
        user = tg.add_user("Reader")
        chat = tg.add_private_chat(user)
        async with await start_newsbot("--config", config, "run", merge_stderr=True) as process:
            call = await tg.wait_for_call("setWebhook", timeout=30)
            tg.send_text(chat, user, "/help")
            await tg.wait_for_messages(1, chat_id=chat.id, timeout=30)
            async with aiohttp.ClientSession() as http:
                base = f"http://127.0.0.1:{metrics_port}"
                async with http.get(base + "/healthz") as response:
                    health = (response.status, await response.text())
                async with http.get(base + "/metrics") as response:
                    metrics = await response.text()
            done = await process.stop()
    log = done.out
    assert done.code == 0, log
    assert call.params["secret_token"] == SECRET
    assert health == (200, "ok\n")
    assert "newsbot_update_seconds_count" in metrics
    assert tg.calls("getUpdates") == []
    assert TOKEN not in log
    assert SECRET not in log


@pytest.mark.parametrize("taken", ["webhook", "metrics"])
async def test_a_taken_port_stops_newsbot_run_with_one_line(tmp_path: Path, taken: str) -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = int(busy.getsockname()[1])
        other = free_port()
        hook_port, metrics_port = (port, other) if taken == "webhook" else (other, port)
        async with BotApiDouble(token=TOKEN) as tg:
            config = write_config(
                tmp_path,
                tg.base_url,
                f'[telegram.webhook]\nurl = "http://127.0.0.1:{hook_port}/telegram"\n'
                f'secret_token = "{SECRET}"\nport = {hook_port}\n\n'
                f"[metrics]\nenabled = true\nport = {metrics_port}\n",
            )
            code, out, err = await newsbot("--config", str(config), "run")
    assert code == 2
    table = "[telegram.webhook]" if taken == "webhook" else "[metrics]"
    assert f"newsbot: cannot listen on 127.0.0.1:{port} for {table}: " in err
    assert "Traceback" not in err
    assert "Task was destroyed" not in err  # the dispatcher was stopped, not abandoned
    assert TOKEN not in out + err
