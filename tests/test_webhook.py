"""Webhook mode: the real bot behind PTB's webhook server on loopback, fed by the double.

Updates that carry the secret token are handled; requests without it, or with a wrong one, are
refused with 403 before they reach a handler. A real process started with ``run_webhook``
registers the webhook, answers, stops cleanly on SIGTERM and never logs its secrets.
"""

from __future__ import annotations

import socket
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp

from bot.app import build_application
from bot.webhook import start_webhook
from botapi_double import BotApiDouble
from botapi_double.state import Chat, User
from core.settings import WebhookConfig
from tests.harness import bot_config, free_port
from tests.support.newsbot import PythonProcess, newsbot_env, start_python

SECRET = "s3cret_Token-for-tests"


def hook_config(port: int) -> WebhookConfig:
    # Telegram wants https; the double accepts http on loopback, where no proxy is needed.
    return WebhookConfig(url=f"http://127.0.0.1:{port}/telegram", secret_token=SECRET, port=port)


@dataclass
class WebhookBot:
    tg: BotApiDouble
    app: Any
    hook: WebhookConfig
    user: User
    chat: Chat


@asynccontextmanager
async def webhook_bot(tmp_path: Path) -> AsyncIterator[WebhookBot]:
    """The bot in the order ``run_webhook`` drives it, minus the blocking and the signals."""
    async with BotApiDouble() as tg:
        app = build_application(bot_config(tg, tmp_path))
        hook = hook_config(free_port())
        await app.initialize()
        await app.post_init(app)
        await start_webhook(app, hook)
        await app.start()
        user = tg.add_user("Reader", username="reader")
        try:
            yield WebhookBot(tg, app, hook, user, tg.add_private_chat(user))
        finally:
            await app.updater.stop()
            await app.stop()
            await app.post_stop(app)
            await app.shutdown()
            await app.post_shutdown(app)


def help_update(update_id: int, chat: Chat, user: User) -> dict[str, Any]:
    """A /help message as Telegram would POST it."""
    return {
        "update_id": update_id,
        "message": {
            "message_id": 10_000 + update_id,
            "date": 1_700_000_000,
            "chat": {"id": chat.id, "type": "private", "first_name": user.first_name},
            "from": {"id": user.id, "is_bot": False, "first_name": user.first_name},
            "text": "/help",
            "entities": [{"type": "bot_command", "offset": 0, "length": 5}],
        },
    }


async def post(url: str, update: dict[str, Any], headers: dict[str, str]) -> int:
    async with (
        aiohttp.ClientSession() as http,
        http.post(url, json=update, headers=headers) as response,
    ):
        await response.read()
        return response.status


async def test_set_webhook_registers_the_url_and_the_secret(tmp_path: Path) -> None:
    async with webhook_bot(tmp_path) as bot:
        [call] = bot.tg.calls("setWebhook")
    assert call.params["url"] == bot.hook.url
    assert call.params["secret_token"] == SECRET
    assert "my_chat_member" in call.params["allowed_updates"]
    assert bot.tg.calls("getUpdates") == []


async def test_an_update_with_the_secret_token_is_handled(tmp_path: Path) -> None:
    async with webhook_bot(tmp_path) as bot:
        bot.tg.send_text(bot.chat, bot.user, "/help")  # the double POSTs it with the header
        [reply] = await bot.tg.wait_for_messages(1, chat_id=bot.chat.id)
        await bot.tg.wait_for_updates_consumed()
    assert "/latest" in reply.text


async def test_requests_without_or_with_a_wrong_secret_are_refused(tmp_path: Path) -> None:
    async with webhook_bot(tmp_path) as bot:
        url = bot.hook.url
        other = bot.tg.add_user("Intruder's target")
        target = bot.tg.add_private_chat(other)
        missing = await post(url, help_update(1, target, other), {})
        wrong = await post(
            url, help_update(2, target, other), {"X-Telegram-Bot-Api-Secret-Token": "guess"}
        )
        right = await post(
            url, help_update(3, bot.chat, bot.user), {"X-Telegram-Bot-Api-Secret-Token": SECRET}
        )
        # The accepted update is answered; the refused ones, posted first, never reached a
        # handler (PTB refuses before queueing), so nothing went to their chat.
        await bot.tg.wait_for_messages(1, chat_id=bot.chat.id)
        refused_replies = bot.tg.sent(target.id)
    assert (missing, wrong, right) == (403, 403, 200)
    assert refused_replies == []


SCRIPT = """
import sys

from bot.app import build_application
from core.settings import Config, StorageConfig, TelegramConfig
from bot.logs import setup_logging
from bot.webhook import WebhookError, run_webhook
from core.settings import WebhookConfig

token, base_url, store, port, secret = sys.argv[1:]
# As `newsbot run` sets logging up: every secret of the config redacted, at the chattiest level.
setup_logging("DEBUG", secrets=[token, secret])
config = Config(telegram=TelegramConfig(token, base_url), storage=StorageConfig(store))
hook = WebhookConfig(f"http://127.0.0.1:{port}/telegram", secret, port=int(port))
try:
    run_webhook(build_application(config), hook)
except WebhookError as exc:
    print(f"newsbot: {exc}", file=sys.stderr)
    sys.exit(2)
"""


async def start_process(tg: BotApiDouble, tmp_path: Path, port: int) -> PythonProcess:
    return await start_python(
        "-c",
        SCRIPT,
        tg.token,
        tg.base_url,
        str(tmp_path / "news.db"),
        str(port),
        SECRET,
        merge_stderr=True,
        env=newsbot_env(PTB_TIMEDELTA="true"),
    )


async def test_run_webhook_serves_until_sigterm_and_logs_no_secret(tmp_path: Path) -> None:
    async with BotApiDouble() as tg:
        user = tg.add_user("Reader")
        chat = tg.add_private_chat(user)
        async with await start_process(tg, tmp_path, free_port()) as process:
            await tg.wait_for_call("setWebhook", timeout=30)
            tg.send_text(chat, user, "/help")
            [reply] = await tg.wait_for_messages(1, chat_id=chat.id, timeout=30)
            done = await process.stop()
    log = done.out
    assert done.code == 0, log
    assert "/latest" in reply.text
    assert "setWebhook" in log  # DEBUG logs every Bot API call, secret_token among its params
    assert tg.token not in log
    assert SECRET not in log


async def test_a_taken_port_is_one_line_not_a_traceback(tmp_path: Path) -> None:
    async with BotApiDouble() as tg:
        with socket.socket() as taken:
            taken.bind(("127.0.0.1", 0))
            taken.listen()
            port = int(taken.getsockname()[1])
            done = await (await start_process(tg, tmp_path, port)).finish()
    log = done.out
    assert done.code == 2
    assert f"newsbot: cannot listen on 127.0.0.1:{port} for [telegram.webhook]: " in log
    assert "Traceback" not in log
    assert tg.token not in log
