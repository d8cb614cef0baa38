"""newsbot's store: one SQLite file for articles, chats, subscriptions and the delivery ledger."""

from __future__ import annotations

from pathlib import Path

from storage.articles import Articles
from storage.chats import Chat, Chats, Subscriptions
from storage.db import Database, StoreBusy, StoreError
from storage.deliveries import Deliveries
from storage.feeds import Feed, Feeds
from storage.meaning import ArticleVectors, Meaning
from storage.models import Article, NewArticle, RelatedEntry, Topic, UpsertOutcome
from storage.search import SearchEngine
from storage.words import Words

__all__ = [
    "Article",
    "Articles",
    "Chat",
    "Chats",
    "Database",
    "Deliveries",
    "Feed",
    "Feeds",
    "Meaning",
    "NewArticle",
    "RelatedEntry",
    "SearchEngine",
    "Store",
    "StoreBusy",
    "StoreError",
    "Subscriptions",
    "Topic",
    "UpsertOutcome",
    "Words",
]


class Store:
    """The store's public face: one database, one repository per aggregate."""

    def __init__(self, db: Database) -> None:
        self.db = db
        self.articles = Articles(db)
        self.search = SearchEngine(db)
        self.feeds = Feeds(db)
        self.chats = Chats(db)
        self.subscriptions = Subscriptions(db)
        self.deliveries = Deliveries(db)
        self.words = Words(db)
        # Set by whoever opens the store for writing articles (bot.bootstrap.open_store): with
        # it, imports store each article's vector and story; without it, neither.
        self.meaning: Meaning | None = None
        self.vectors = ArticleVectors(db)

    @classmethod
    async def open(cls, path: str | Path, *, readonly: bool = False) -> Store:
        """Open the store at ``path``; ``readonly`` creates, migrates and writes nothing."""
        return cls(await Database.open(path, readonly=readonly))

    async def close(self) -> None:
        await self.search.close()
        await self.db.close()
