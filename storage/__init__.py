"""newsbot's store of articles, chats, subscriptions and the delivery ledger: one SQLite file,
or a PostgreSQL database that several newsbot processes can share."""

from __future__ import annotations

from pathlib import Path

from storage.articles import Articles
from storage.chats import Chat, Chats, Subscriptions
from storage.db import Database, StoreBusy, StoreError, StoreUnreachable
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
    "StoreUnreachable",
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
    async def open(cls, target: str | Path, *, readonly: bool = False) -> Store:
        """Open the store ``target`` names (an SQLite file, or a ``postgresql://`` URL);
        ``readonly`` creates, migrates and writes nothing."""
        return cls(await Database.open(target, readonly=readonly))

    async def close(self) -> None:
        await self.search.close()
        await self.db.close()
