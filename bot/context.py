"""What handlers share: the services built in ``post_init``, reached through typed context."""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import httpx
from telegram.ext import CallbackContext, ExtBot

from bot.i18n import Languages, Translator
from core.clock import Clock, utc_now
from core.settings import Config
from ingest.pipeline import Importer
from ingest.topics import TopicTagger
from storage import Store
from storage.cluster import Leadership, SoleInstance

if TYPE_CHECKING:
    from bot.delivery.service import DeliveryService


RECENT_CHATS = 10_000


@dataclass
class Services:
    """Everything handlers and jobs use, built whole in ``post_init`` before any update runs."""

    config: Config
    store: Store
    tagger: TopicTagger
    http: httpx.AsyncClient
    delivery: DeliveryService
    importer: Importer  # stores what it finds and owes the new articles to subscribers
    languages: Languages  # every language the bot speaks, read once at start
    clock: Clock = field(default=utc_now)
    # Whether this instance leads (polls, sends bulk, runs the schedule): always, on SQLite.
    leadership: Leadership = field(default_factory=SoleInstance)
    # Chats seen lately, so that a command does not rewrite its chat row every time: what was
    # recorded of each, and the language chosen for it in /settings (None: follow the reader).
    recent_chats: OrderedDict[int, tuple[tuple[object, ...], str | None]] = field(
        default_factory=OrderedDict
    )

    def now(self) -> int:
        return int(self.clock().timestamp())

    def remember(self, chat_id: int, key: tuple[object, ...], language: str | None) -> None:
        self.recent_chats[chat_id] = (key, language)
        self.recent_chats.move_to_end(chat_id)
        while len(self.recent_chats) > RECENT_CHATS:
            self.recent_chats.popitem(last=False)

    def forget_chat(self, chat_id: int) -> None:
        """The chat changed in the store (settings, membership): read it afresh next time."""
        self.recent_chats.pop(chat_id, None)

    @property
    def topic_names(self) -> dict[str, str]:
        return {t.slug: t.name for t in self.config.topics}

    def is_admin(self, user_id: int | None) -> bool:
        return user_id is not None and user_id in self.config.telegram.admins


class BotData:
    """``bot_data`` of the Application: the services, attached once the store is open.

    PTB makes this object when it builds the Application, before the store can be opened, so
    the services arrive once, whole, in ``post_init``; PTB runs no handler or job before that.
    """

    def __init__(self) -> None:
        self._services: Services | None = None

    def attach(self, services: Services) -> None:
        if self._services is not None:
            raise RuntimeError("the services are attached once, in post_init")
        self._services = services

    @property
    def services(self) -> Services:
        if self._services is None:  # a programming error: an update handled without post_init
            raise RuntimeError("services are attached in post_init; the bot is not started")
        return self._services


class Context(CallbackContext[ExtBot[None], dict[Any, Any], dict[Any, Any], BotData]):
    """PTB's context with the language to answer this update in.

    PTB makes one context per update and hands it to every handler group in turn, so the
    group -1 handler (``record_chat``) resolves the language once and every handler after it
    reads ``context.tr``.
    """

    translator: Translator | None = None

    @property
    def tr(self) -> Translator:
        if self.translator is None:  # a programming error: a handler ran before group -1
            raise RuntimeError("the update's language is resolved in group -1 (record_chat)")
        return self.translator
