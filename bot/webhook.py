"""Receiving updates by webhook instead of long polling.

Telegram POSTs each update to ``[telegram.webhook].url``; a reverse proxy terminates TLS there
and forwards to python-telegram-bot's own webhook server (tornado) on ``listen:port`` + ``path``.
Needs ``python-telegram-bot[webhooks]``.

Telegram sends the ``secret_token`` back in the ``X-Telegram-Bot-Api-Secret-Token`` header of
every request. PTB's handler (``telegram/ext/_utils/webhookhandler.py``,
``TelegramHandler._validate_post``) answers 403 to a request whose header is missing or wrong,
before the body is parsed or queued, so anyone who finds the URL still cannot inject updates.
That check is relied on here, not repeated (``tests/test_webhook.py`` proves it).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from core.settings import WebhookConfig

# PTB is imported where it is used, so importing this module stays cheap.
if TYPE_CHECKING:
    from telegram.ext import Application


class WebhookError(RuntimeError):
    """The webhook cannot be served; the message is one line naming what to fix."""


def webhook_arguments(config: WebhookConfig) -> dict[str, Any]:
    """Keyword arguments for both ``Application.run_webhook`` and ``Updater.start_webhook``."""
    from telegram import Update

    return {
        "listen": config.listen,
        "port": config.port,
        "url_path": config.path,
        "webhook_url": config.url,
        "secret_token": config.secret_token,
        "allowed_updates": Update.ALL_TYPES,
    }


async def start_webhook(
    app: Application[Any, Any, Any, Any, Any, Any], config: WebhookConfig
) -> None:
    """Call setWebhook and start serving; the caller drives the rest of the lifecycle (tests)."""
    if app.updater is None:
        raise RuntimeError("the application has no updater to serve the webhook")
    await app.updater.start_webhook(**webhook_arguments(config))


def run_webhook(app: Application[Any, Any, Any, Any, Any, Any], config: WebhookConfig) -> None:
    """Serve the webhook until SIGINT or SIGTERM: the webhook twin of ``run_polling``.

    PTB runs initialize, post_init, setWebhook + the server, start; then on the signal the
    updater, the application, post_stop, shutdown and post_shutdown, exactly as for polling.
    The webhook stays registered with Telegram after a stop, so updates that arrive while
    the bot is down wait at Telegram (up to a day) and are delivered when it is back.
    """
    from telegram.error import BadRequest

    try:
        app.run_webhook(**webhook_arguments(config))
    except OSError as exc:
        # tornado's bind: the port is taken or the address is not this host's.
        reason = exc.strerror or str(exc)
        raise WebhookError(
            f"cannot listen on {config.listen}:{config.port} for [telegram.webhook]: {reason}"
        ) from exc
    except BadRequest as exc:
        # Almost always setWebhook refusing the URL (not https, a port Telegram does not call,
        # a host it cannot resolve); the exception does not say which start-up call it was.
        raise WebhookError(
            f"Telegram refused a start-up request: {exc.message}"
            f" (check [telegram.webhook].url = {config.url!r})"
        ) from exc
