"""Builds the python-telegram-bot Application: transport, defaults, lifecycle, handlers."""

from __future__ import annotations

import asyncio
import logging
import os
from typing import TYPE_CHECKING

from telegram import Bot, BotCommand, LinkPreviewOptions
from telegram.constants import ParseMode
from telegram.ext import Application, ContextTypes, Defaults

from bot.bootstrap import open_store
from bot.commands import DESCRIPTION, SHORT_DESCRIPTION
from bot.context import BotData, Context, Services
from bot.delivery.dispatcher import Dispatcher
from bot.delivery.service import DeliveryService
from bot.handlers import COMMANDS, register_handlers
from bot.i18n import Languages
from bot.jobs import schedule_jobs
from bot.metrics import OpsServer, start_ops_server
from bot.ratelimit import Limits, TelegramRateLimiter
from bot.transport import AiohttpRequest, NewsbotBot
from bot.usecases import make_importer
from core.clock import Clock, utc_now
from core.settings import PAID_PER_SECOND, Config, ConfigError
from ingest.fetch import make_client
from ingest.topics import TopicTagger
from storage.cluster import Leadership, PostgresLeadership, SoleInstance

if TYPE_CHECKING:
    from bot.shared_limits import SharedLimits

log = logging.getLogger(__name__)

# getUpdates waits up to this long for news; the request's read timeout must outlast it.
POLL_TIMEOUT = 10
CONCURRENCY = 32  # sends on the wire at once (and at most what a crash may repeat)
PAID_CONCURRENCY = 96


async def introduce(bot: Bot, languages: Languages) -> None:
    """The command menu and the bot's descriptions, in every language it speaks.

    The default language's (English) go without a ``language_code``, so that Telegram shows
    them to everyone whose language has none of its own; each other language gets its own.
    """
    for tr in languages:
        code = None if tr is languages.default else tr.code
        commands = [BotCommand(name, tr.gettext(about)) for name, about in COMMANDS]
        await bot.set_my_commands(commands, language_code=code)
        await bot.set_my_description(tr.gettext(DESCRIPTION), language_code=code)
        await bot.set_my_short_description(tr.gettext(SHORT_DESCRIPTION), language_code=code)


def make_leadership(config: Config) -> Leadership:
    """Who leads among the instances sharing the store: on PostgreSQL an advisory lock per bot
    (the token's bot id), so two bots may share a database; on SQLite this one process."""
    url = config.storage.url
    if not url:
        return SoleInstance()
    bot_id = (config.telegram.token or "").partition(":")[0]
    return PostgresLeadership(url, f"bot {bot_id}")


def shared_limits(config: Config) -> SharedLimits | None:
    """The windows shared with the other instances in Redis, when ``[delivery] shared_limits``
    names a server (for webhook mode, where every instance sends its replies)."""
    url = config.delivery.shared_limits
    if url is None:
        if config.telegram.webhook is not None and config.storage.url:
            log.warning(
                "webhook mode on a shared store: if several instances serve the webhook, set"
                " [delivery] shared_limits (a Redis URL) so that Telegram's limits count the"
                " replies of all of them; without it each instance counts its own"
            )
        return None
    from bot.shared_limits import SharedLimits

    bot_id = (config.telegram.token or "").partition(":")[0]
    return SharedLimits(url, bot_id)


def build_application(config: Config, *, clock: Clock = utc_now) -> Application:  # type: ignore[type-arg]
    """The whole bot, ready for ``run_polling`` or ``run_webhook``; the store opens in post_init."""
    # PTB 22 reports retry_after as a timedelta only in this mode, and warns otherwise.
    os.environ.setdefault("PTB_TIMEDELTA", "true")
    token = config.telegram.token
    if not token:
        source = config.path or "the config"
        raise ConfigError(f"{source}: [telegram].token is required to run (or set NEWSBOT_TOKEN)")

    languages = Languages.load()  # now: a broken catalogue stops the start, not an answer
    # What post_init started, for the stop and shutdown steps (which PTB also runs after a
    # post_init that failed half way).
    running: list[Services] = []
    ops: list[OpsServer] = []

    async def post_init(app: Application) -> None:  # type: ignore[type-arg]
        if shared is not None:
            await shared.check()  # an unreachable Redis stops the start: one line, exit 2
        store = await open_store(config)
        if store.meaning is not None:  # now, not at the first feed poll (~1 s, once a process)
            await asyncio.to_thread(store.meaning.load)
        # The meaning index too, not at the first /related (a rebuild at 1M articles takes
        # minutes; loading the saved one, about a second).
        await store.open_index()
        http = make_client(config.fetch)
        topic_names = {t.slug: t.name for t in config.topics}
        leadership = make_leadership(config)
        dispatcher = Dispatcher(
            store,
            app.bot,
            topic_names,
            limiter=limiter,
            clock=clock,
            languages=languages,
            # At the paid 1,000/s a send's round trip under load (~30 ms) times the rate
            # needs more than 32 on the wire at once; the limiter still keeps every window.
            concurrency=PAID_CONCURRENCY if config.delivery.paid_broadcast else CONCURRENCY,
        )
        delivery = DeliveryService(config, store, app.bot, dispatcher, clock)
        tagger = TopicTagger(config.topics)
        importer = make_importer(
            store, config, clock=clock, tagger=tagger, owed=lambda added: dispatcher.notify()
        )
        services = Services(
            config,
            store,
            tagger,
            http,
            delivery,
            importer,
            languages,
            clock=clock,
            leadership=leadership,
        )
        running.append(services)
        app.bot_data.attach(services)
        await introduce(app.bot, languages)
        await delivery.resolve_channels()
        if config.metrics.enabled:
            ops.append(await start_ops_server(app, config.metrics))

        # Only the leader sends bulk deliveries (so Telegram's limits are counted in one
        # place); on SQLite this instance leads at once, before any update is handled.
        async def lead() -> None:
            if leadership.took_over:
                # The last leader may have filled Telegram's windows a moment ago. Not at a
                # plain start: counting every group's window as full for a minute would hold
                # a group's first reply that long after each restart.
                limiter.inherit()
            await dispatcher.start()

        leadership.watch(promoted=lead, demoted=dispatcher.resign)
        await leadership.start()
        schedule_jobs(app, services)

    async def post_stop(app: Application) -> None:  # type: ignore[type-arg]
        # Sends in flight finish and are recorded before the bot's connections close; then
        # the lead (if held) goes, so that a standby takes over at once.
        for services in running:
            await services.delivery.dispatcher.stop()
            await services.leadership.stop()

    async def post_shutdown(app: Application) -> None:  # type: ignore[type-arg]
        # A start that failed after post_init (a webhook port taken) never ran post_stop: its
        # dispatchers stop first, so sends in flight finish and are recorded while the bot's
        # connections are still open.
        for services in running:
            if services.delivery.dispatcher.running:
                await services.delivery.dispatcher.stop()
            await services.leadership.stop()
        # A start that failed in initialize (Telegram unreachable, token rejected) leaves the
        # bot's HTTP sessions open: Application.shutdown skips an app that never initialized.
        await app.bot.shutdown()
        for server in ops:
            await server.stop()
        for services in running:
            await services.http.aclose()
            await services.store.close()
        if shared is not None:
            await shared.close()

    defaults = Defaults(
        parse_mode=ParseMode.HTML,
        link_preview_options=LinkPreviewOptions(is_disabled=True),
    )
    shared = shared_limits(config)
    limiter = TelegramRateLimiter(
        Limits(
            per_second=config.delivery.messages_per_second,
            private_per_second=config.delivery.private_chat_per_second,
            group_per_minute=config.delivery.group_per_minute,
            paid_per_second=PAID_PER_SECOND if config.delivery.paid_broadcast else None,
        ),
        shared=shared,
    )
    bot = NewsbotBot(
        token,
        base_url=config.telegram.api_base_url,
        base_file_url=config.telegram.api_base_url.removesuffix("/bot") + "/file/bot",
        request=AiohttpRequest(
            connection_pool_size=PAID_CONCURRENCY + 32, read_timeout=config.delivery.send_timeout
        ),
        get_updates_request=AiohttpRequest(connection_pool_size=2, read_timeout=5.0),
        defaults=defaults,
        rate_limiter=limiter,
        paid_broadcast=config.delivery.paid_broadcast,
    )
    app = (
        Application.builder()
        .bot(bot)
        .context_types(ContextTypes(context=Context, bot_data=BotData))
        .concurrent_updates(16)
        .post_init(post_init)
        .post_stop(post_stop)
        .post_shutdown(post_shutdown)
        .build()
    )
    register_handlers(app)
    return app
