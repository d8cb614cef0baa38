"""Opening the store the way every entry point needs it: in line with the config."""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from datetime import timedelta
from pathlib import Path

from core.clock import utc_now
from core.settings import Config
from semantic.worker import EmbeddingProcess
from storage import Meaning, Store, Topic


def index_dir(config: Config, environ: Mapping[str, str] = os.environ) -> Path:
    """Where a PostgreSQL store's meaning index is kept: ``[storage] index_dir``, else the
    user's cache folder by the XDG rule (``$XDG_CACHE_HOME/newsbot``, ``~/.cache/newsbot``)."""
    configured = config.storage.index_dir
    if configured:
        return Path(configured)
    cache = environ.get("XDG_CACHE_HOME", "").strip()
    return (Path(cache) if Path(cache).is_absolute() else Path.home() / ".cache") / "newsbot"


async def open_store(
    config: Config,
    *,
    readonly: bool = False,
    on_wait: Callable[[float], None] | None = None,
    embedding: EmbeddingProcess | None = None,
) -> Store:
    """Open the store and bring its topics and config feeds in line with the config.

    ``readonly`` (the commands that only look) opens it as it is: a missing store is an error,
    not a new file, and a store in a read-only folder still opens. ``on_wait`` is told when a
    write waits for another process's lock (``Database.on_wait``). ``embedding``: the child
    process that embeds what this store's imports store (``Meaning.embedding``).
    """
    if readonly:
        return await Store.open(config.storage.target, readonly=True, index_dir=index_dir(config))
    store = await Store.open(config.storage.target, index_dir=index_dir(config))
    store.meaning = Meaning(window=timedelta(hours=config.stories.window), embedding=embedding)
    store.db.on_wait = on_wait
    try:
        await store.articles.sync_topics(Topic(t.slug, t.name) for t in config.topics)
        await store.feeds.sync_config(
            [(f.url, f.topics, f.every_seconds) for f in config.feeds],
            int(utc_now().timestamp()),
        )
    except BaseException:
        await store.close()
        raise
    return store
