"""The bot under test: the real Application over real HTTP to the Bot API double, a real store.

Used as ``async with running_bot(tmp_path) as bot:``; ``bot.tg`` is the double, ``bot.store``
the store the bot opened, and ``bot.say(...)`` injects a message and waits for the answer.
"""

from __future__ import annotations

import socket
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, replace
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

from bot.app import build_application
from bot.delivery.service import DeliveryService
from bot.lifecycle import polling
from botapi_double import BotApiDouble
from botapi_double.state import CallbackAnswer, Chat, RecordedMessage, User
from core.clock import Clock, utc_now
from core.settings import Config, FetchConfig, StoriesConfig, TelegramConfig, TopicConfig
from ingest.pipeline import ImportSummary
from ingest.topics import TopicTagger
from storage import NewArticle, RelatedEntry, Store
from tests.support.store import harness_backend, storage_config

ADMIN_ID = 900_001
BAKU = timezone(timedelta(hours=4))
TOPICS = (
    TopicConfig("economy", "Economy", ("Economy news",), ("inflation", "central bank")),
    TopicConfig("russia", "Russia", ("Russia",), ("Kremlin",)),
    TopicConfig("politics", "Politics", ("Politics",), ()),
    TopicConfig("central-asia", "Central Asia", ("Tajikistan", "Uzbekistan"), ()),
)


@dataclass
class RunningBot:
    tg: BotApiDouble
    app: Any
    store: Store
    config: Config
    reader: User
    private: Chat
    admin: User

    async def say(
        self, text: str, *, chat: Chat | None = None, user: User | None = None, replies: int = 1
    ) -> list[RecordedMessage]:
        """Send ``text`` as a user and wait for the bot's next ``replies`` messages there."""
        chat = chat or self.private
        before = len(self.tg.sent(chat.id))
        self.tg.send_text(chat, user or self.reader, text)
        sent = await self.tg.wait_for_messages(before + replies, chat_id=chat.id)
        return sent[before:]

    async def press(
        self, message: RecordedMessage, data: str, user: User | None = None
    ) -> CallbackAnswer:
        """Press a button under a bot message and wait for the bot's answer to the press."""
        query_id = self.tg.press_button(message, data, user)
        await self.tg.wait_for(
            lambda: any(a.query_id == query_id for a in self.tg.callback_answers),
            what=f"an answer to callback query {query_id}",
        )
        return next(a for a in self.tg.callback_answers if a.query_id == query_id)

    @property
    def delivery(self) -> DeliveryService:
        delivery: DeliveryService = self.app.bot_data.services.delivery
        return delivery

    async def store_articles(self, articles: Sequence[NewArticle]) -> list[int]:
        """Store articles without delivering them (an archive)."""
        tagger = TopicTagger(self.config.topics)
        tagged = [replace(a, topics=tagger.tag(a)) for a in articles]
        outcomes = await self.store.articles.upsert_many(tagged)
        return [o.article_id for o in outcomes]

    async def publish(self, articles: Sequence[NewArticle]) -> ImportSummary:
        """Store articles the way a feed poll does: tagged, stored, owed to subscribers."""
        importer = self.app.bot_data.services.importer
        summary = ImportSummary()
        await importer.store_articles(list(articles), summary)
        return summary

    async def owe(self, article_ids: Sequence[int]) -> None:
        """Owe articles already stored, through the hook the bot's Importer calls after storing
        (for a test that changes the store between storing and owing)."""
        importer = self.app.bot_data.services.importer
        assert importer.on_new is not None
        await importer.on_new(list(article_ids))

    async def add_reader(self, name: str, topics: Sequence[str]) -> Chat:
        """A user with a private chat who has subscribed to ``topics`` (set up directly)."""
        user = self.tg.add_user(name)
        chat = self.tg.add_private_chat(user)
        now = self.app.bot_data.services.now()
        await self.store.chats.seen(chat.id, "private", None, user.username, now)
        await self.store.subscriptions.subscribe(chat.id, topics, now)
        return chat


def free_port() -> int:
    """A loopback port nothing listens on right now, for servers that must be told one."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def make_article(n: int, **changes: Any) -> NewArticle:
    fields: dict[str, Any] = {
        "title": f"Headline number {n}",
        "url": f"https://news.example/{n}",
        "guid": f"guid-{n}",
        "summary": f"Summary {n}.",
        "body": f"Body of article {n}. It has two sentences.",
        "published_at": datetime(2018, 6, 9, 8, 0, tzinfo=BAKU) + timedelta(minutes=n),
        "publisher": "Azernews",
        "category": "Economy news",
    }
    fields.update(changes)
    return NewArticle(**fields)


SEED_LIKE = NewArticle(
    title="Putin underlines strategic partnership between Russia, Tajikistan",
    guid="seed",
    body=(
        "Russian President Vladimir Putin and his Tajik counterpart Emomali Rahmon plan to discuss"
        " regional security issues and the situation around the Tajik-Afghan border, TASS reports."
        "\n\nPutin stressed that Russia and Tajikistan are developing their strategic partnership."
    ),
    published_at=datetime(2018, 6, 9, 12, 34, tzinfo=BAKU),
    publisher="Azernews",
    attribution="TASS",
    category="Russia",
    related=(
        RelatedEntry(
            "Putin expects dialogue with Trump to be constructive",
            "Russia",
            datetime(2018, 6, 9, 9, 43, tzinfo=BAKU),
        ),
        RelatedEntry(
            "Azerbaijan adhering to UN Charter with policy of isolating Armenia",
            "Politics",
            datetime(2018, 6, 8, 20, 45, tzinfo=BAKU),
        ),
    ),
)


class FakeClock:
    """Time that moves only when the test says so (the scheduler's and the ledger's clock)."""

    def __init__(self, start: datetime) -> None:
        self.now = start

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> None:
        self.now += timedelta(**delta)


def bot_config(tg: BotApiDouble, tmp_path: Path, **changes: Any) -> Config:
    config = Config(
        path=str(tmp_path / "config.toml"),
        telegram=TelegramConfig(tg.token, tg.base_url, (ADMIN_ID,)),
        storage=storage_config(harness_backend(), tmp_path),
        topics=TOPICS,
        fetch=FetchConfig(allow_private=True),  # the tests' feed servers are on loopback
        # make_article's "Headline number N" articles differ only in N: with the real window
        # they are one story. Tests of stories pass stories=StoriesConfig().
        stories=StoriesConfig(window=1 / 3600),
    )
    return replace(config, **changes)


@asynccontextmanager
async def running_bot(
    tmp_path: Path,
    *,
    clock: Clock | None = None,
    double: BotApiDouble | None = None,
    before_start: Any = None,
    **config_changes: Any,
) -> AsyncIterator[RunningBot]:
    async with _double(double) as tg:
        if before_start is not None:
            before_start(tg)
        config = bot_config(tg, tmp_path, **config_changes)
        app = build_application(config, clock=clock or utc_now)
        async with polling(app):  # as the demo runs it, in run_polling's order
            reader = tg.add_user("Reader", username="reader")
            admin = tg.state.users.get(ADMIN_ID)  # a restart on the same double keeps its people
            if admin is None:
                admin = tg.add_user("Admin", username="admin", user_id=ADMIN_ID)
                tg.add_private_chat(admin)
            private = tg.add_private_chat(reader)
            yield RunningBot(tg, app, app.bot_data.services.store, config, reader, private, admin)


@asynccontextmanager
async def _double(given: BotApiDouble | None) -> AsyncIterator[BotApiDouble]:
    if given is not None:
        yield given
        return
    async with BotApiDouble() as tg:
        yield tg
