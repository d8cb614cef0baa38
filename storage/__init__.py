"""newsbot's store of articles, chats, subscriptions and the delivery ledger: one SQLite file,
or a PostgreSQL database that several newsbot processes can share."""

from __future__ import annotations

import asyncio
from functools import partial
from pathlib import Path

from storage.ann import VectorIndex, index_file_name
from storage.articles import Articles
from storage.chats import Chat, Chats, Subscriptions
from storage.db import POSTGRESQL, Database, StoreBusy, StoreError, StoreUnreachable
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
    "VectorIndex",
    "Words",
]


class Store:
    """The store's public face: one database, one repository per aggregate."""

    def __init__(self, db: Database, *, index_file: Path | None = None) -> None:
        self.db = db
        # Nearest articles by meaning, for related news and story candidates: a cache of
        # article_vectors kept in a file (storage/ann.py), loaded by open_index(): beside an
        # SQLite store, ``index_file`` for a PostgreSQL one (in memory only without it).
        self.index = VectorIndex(index_path(db) or index_file)
        self.articles = Articles(db, index=self.index)
        self.search = SearchEngine(db, index=self.index)
        self.feeds = Feeds(db)
        self.chats = Chats(db)
        self.subscriptions = Subscriptions(db)
        self.deliveries = Deliveries(db)
        self.words = Words(db)
        # Set by whoever opens the store for writing articles (bot.bootstrap.open_store): with
        # it, imports store each article's vector and story; without it, neither.
        self.meaning: Meaning | None = None
        self.vectors = ArticleVectors(db, index=self.index)

    @classmethod
    async def open(
        cls, target: str | Path, *, readonly: bool = False, index_dir: Path | None = None
    ) -> Store:
        """Open the store ``target`` names (an SQLite file, or a ``postgresql://`` URL);
        ``readonly`` creates, migrates and writes nothing. ``index_dir``: where a PostgreSQL
        store's meaning index is kept between starts, in a file named by the database's
        identity (an SQLite store keeps it beside its file)."""
        db = await Database.open(target, readonly=readonly)
        index_file = None
        if index_dir is not None and index_path(db) is None and db.dialect == POSTGRESQL:
            try:
                index_file = index_dir / await db.read(index_file_name)
            except BaseException:
                await db.close()
                raise
        return cls(db, index_file=index_file)

    async def open_index(self, *, in_memory: bool = False) -> None:
        """Load the meaning index (or rebuild it from the store) now, not at the first ask.

        ``in_memory``: for a process that will add many vectors (``VectorIndex.open``)."""
        await self.db.read(partial(self.index.open, in_memory=in_memory))

    async def keep_index_current(self) -> None:
        """Open the meaning index for a bulk job (an import, a reindex) where it is worth
        keeping (``VectorIndex.worth_keeping``), read into memory rather than mapped: what
        the job stores goes into it at close in one batched add, indexed once (a mapped
        file's additions are indexed again to be saved with it), and the next process maps
        the saved file as it is."""
        if await self.db.read(self.index.worth_keeping):
            await self.open_index(in_memory=True)

    async def close(self) -> None:
        await self.search.close()
        if self.index.opened and not self.db.readonly:
            # What was stored since it was loaded goes into the saved copy too.
            await self.db.read(self.index.catch_up)
            await asyncio.to_thread(self.index.save)
        await self.db.close()


def index_path(db: Database) -> Path | None:
    """Where a store's meaning index is kept: beside its file (none for a store in memory)."""
    if db.path == ":memory:" or "://" in db.path:
        return None
    return Path(f"{db.path}.ann")
