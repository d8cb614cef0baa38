"""Feeds to poll: conditional-GET validators, next check time and back-off state."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from storage.db import Conn, Database
from storage.timeutil import utc_from_seconds

FEED_COLUMNS = (
    "id, url, topics, every_seconds, etag, last_modified, next_check_at, error_count,"
    " last_error, last_ok_at, from_config"
)

# A failing feed waits every * 2**errors, capped: a dead feed is tried about every 6 hours.
MAX_BACKOFF_SECONDS = 6 * 3600


@dataclass(frozen=True, slots=True)
class Feed:
    id: int
    url: str
    topics: tuple[str, ...]
    every_seconds: int
    etag: str | None
    last_modified: str | None
    next_check_at: datetime
    error_count: int
    last_error: str | None
    last_ok_at: datetime | None
    from_config: bool


def backoff_seconds(every_seconds: int, error_count: int) -> int:
    if error_count <= 0:
        return every_seconds
    grown: int = every_seconds << min(error_count, 16)
    return min(grown, max(MAX_BACKOFF_SECONDS, every_seconds))


def _feed(row: Any) -> Feed:
    return Feed(
        id=row[0],
        url=row[1],
        topics=tuple(json.loads(row[2])),
        every_seconds=row[3],
        etag=row[4],
        last_modified=row[5],
        next_check_at=utc_from_seconds(row[6]),
        error_count=row[7],
        last_error=row[8],
        last_ok_at=None if row[9] is None else utc_from_seconds(row[9]),
        from_config=bool(row[10]),
    )


class Feeds:
    def __init__(self, db: Database) -> None:
        self._db = db

    async def sync_config(self, feeds: Sequence[tuple[str, Sequence[str], int]], now: int) -> None:
        """Make the config's feeds present (url, topics, every); drop config feeds it no longer
        lists. Feeds added by an admin in Telegram are left alone."""
        wanted = [(url, json.dumps(list(topics)), every) for url, topics, every in feeds]

        def work(conn: Conn) -> None:
            conn.executemany(
                "INSERT INTO feeds (url, topics, every_seconds, from_config, created_at)"
                " VALUES (?, ?, ?, 1, ?) ON CONFLICT (url) DO UPDATE SET"
                " topics = excluded.topics, every_seconds = excluded.every_seconds,"
                " from_config = 1",
                [(*w, now) for w in wanted],
            )
            urls = [w[0] for w in wanted]
            marks = ",".join("?" * len(urls))
            # PostgreSQL has no empty IN (): no config feeds is every config feed gone.
            keep = f" AND url NOT IN ({marks})" if urls else ""
            conn.execute(f"DELETE FROM feeds WHERE from_config = 1{keep}", urls)

        await self._db.write(work)

    async def add(self, url: str, topics: Sequence[str], every_seconds: int, now: int) -> Feed:
        def work(conn: Conn) -> Feed:
            conn.execute(
                "INSERT INTO feeds (url, topics, every_seconds, created_at) VALUES (?, ?, ?, ?)"
                # The config owns its feeds' topics: an admin re-adding one leaves them be.
                " ON CONFLICT (url) DO UPDATE SET topics = excluded.topics"
                " WHERE feeds.from_config = 0",
                (url, json.dumps(list(topics)), every_seconds, now),
            )
            row = conn.execute(
                f"SELECT {FEED_COLUMNS} FROM feeds WHERE url = ?",
                (url,),
            ).fetchone()
            return _feed(row)

        return await self._db.write(work)

    async def find(self, url: str) -> Feed | None:
        """The feed registered at ``url``, if any."""

        def work(conn: Conn) -> Feed | None:
            row = conn.execute(f"SELECT {FEED_COLUMNS} FROM feeds WHERE url = ?", (url,)).fetchone()
            return None if row is None else _feed(row)

        return await self._db.run(work)

    async def remove(self, feed_id: int) -> bool:
        def work(conn: Conn) -> bool:
            return conn.execute("DELETE FROM feeds WHERE id = ?", (feed_id,)).rowcount > 0

        return await self._db.write(work)

    async def all(self) -> list[Feed]:
        def work(conn: Conn) -> list[Feed]:
            rows = conn.execute(f"SELECT {FEED_COLUMNS} FROM feeds ORDER BY id").fetchall()
            return [_feed(r) for r in rows]

        return await self._db.read(work)

    async def due(self, now: int) -> list[Feed]:
        def work(conn: Conn) -> list[Feed]:
            rows = conn.execute(
                f"SELECT {FEED_COLUMNS} FROM feeds WHERE next_check_at <= ? ORDER BY next_check_at",
                (now,),
            ).fetchall()
            return [_feed(r) for r in rows]

        return await self._db.read(work)

    async def record_success(
        self, feed: Feed, *, etag: str | None, last_modified: str | None, now: int
    ) -> None:
        await self._db.write(
            lambda conn: conn.execute(
                "UPDATE feeds SET etag = ?, last_modified = ?, error_count = 0, last_error = NULL,"
                " last_ok_at = ?, next_check_at = ? WHERE id = ?",
                (etag, last_modified, now, now + feed.every_seconds, feed.id),
            )
        )

    async def record_failure(self, feed: Feed, error: str, *, now: int) -> None:
        errors = feed.error_count + 1
        wait = backoff_seconds(feed.every_seconds, errors)
        await self._db.write(
            lambda conn: conn.execute(
                "UPDATE feeds SET error_count = ?, last_error = ?, next_check_at = ? WHERE id = ?",
                (errors, error[:1000], now + wait, feed.id),
            )
        )
