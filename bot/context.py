"""What handlers share: the services built in ``post_init``, reached through typed context."""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

import httpx
from telegram.ext import CallbackContext, ExtBot

from core.clock import Clock, utc_now
from core.settings import Config
from ingest.topics import TopicTagger
from storage import Chat, Store

if TYPE_CHECKING:
    from bot.delivery.service import DeliveryService


RECENT_CHATS = 10_000


class Stoppable(Protocol):
    """The /metrics listener as the services see it (bot.metrics imports this module)."""

    async def stop(self) -> None: ...


@dataclass
class Services:
    config: Config
    store: Store
    tagger: TopicTagger
    http: httpx.AsyncClient
    clock: Clock = field(default=utc_now)
    delivery: DeliveryService | None = None
    # Chats seen lately, so that a command does not rewrite its chat row every time.
    recent_chats: OrderedDict[int, tuple[tuple[object, ...], Chat]] = field(
        default_factory=OrderedDict
    )
    ops: Stoppable | None = None  # the /metrics and /healthz listener, when enabled

    def now(self) -> int:
        return int(self.clock().timestamp())

    def remember(self, chat_id: int, key: tuple[object, ...], chat: Chat) -> None:
        self.recent_chats[chat_id] = (key, chat)
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
    """``bot_data`` of the Application: the services, attached once the store is open."""

    def __init__(self) -> None:
        self._services: Services | None = None

    def attach(self, services: Services) -> None:
        self._services = services

    @property
    def services(self) -> Services:
        if self._services is None:
            raise RuntimeError("services are attached in post_init; the bot is not started")
        return self._services


Context = CallbackContext[ExtBot[None], dict[Any, Any], dict[Any, Any], BotData]
