"""Articles: dedup on store, topics, the publisher's related list, and the latest listing."""

from __future__ import annotations

import hashlib
import sqlite3
import time
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime

from storage.db import Database
from storage.models import Article, NewArticle, RelatedEntry, Topic, UpsertOutcome
from storage.timeutil import from_row, to_row, utc_from_seconds

ARTICLE_COLUMNS = (
    "id, title, url, guid, summary, body, published_at, utc_offset, publisher, attribution,"
    " category, language, image_url, created_at, updated_at"
)

INSERTED, UPDATED, DUPLICATE = "inserted", "updated", "duplicate"


def content_hash(article: NewArticle) -> str:
    digest = hashlib.blake2b(digest_size=16)
    for part in (article.title, article.summary, article.body):
        digest.update(part.encode("utf-8", "surrogatepass"))
        digest.update(b"\x00")
    return digest.hexdigest()


class Articles:
    def __init__(self, db: Database) -> None:
        self._db = db

    async def sync_topics(self, topics: Iterable[Topic]) -> None:
        """Make the topics table what the config says; articles keep tags of removed topics off."""
        wanted = list(topics)

        def work(conn: sqlite3.Connection) -> None:
            conn.executemany(
                "INSERT INTO topics (slug, name) VALUES (?, ?)"
                " ON CONFLICT (slug) DO UPDATE SET name = excluded.name",
                [(t.slug, t.name) for t in wanted],
            )
            keep = [t.slug for t in wanted]
            marks = ",".join("?" * len(keep))
            conn.execute(f"DELETE FROM topics WHERE slug NOT IN ({marks})", keep)

        await self._db.write(work)

    async def topics(self) -> list[Topic]:
        def work(conn: sqlite3.Connection) -> list[Topic]:
            rows = conn.execute("SELECT slug, name FROM topics ORDER BY slug").fetchall()
            return [Topic(slug, name) for slug, name in rows]

        return await self._db.read(work)

    async def upsert_many(
        self, articles: Sequence[NewArticle], *, now: datetime | None = None
    ) -> list[UpsertOutcome]:
        """Store a batch in one transaction: new ones inserted, changed ones updated in place."""
        stamp = int((now or datetime.now(UTC)).timestamp())
        return await self._db.write(lambda conn: [_upsert(conn, a, stamp) for a in articles])

    async def get(self, article_id: int) -> Article | None:
        found = await self.get_many([article_id], with_related=True)
        return found[0] if found else None

    async def get_many(self, ids: Sequence[int], *, with_related: bool = False) -> list[Article]:
        """The articles with these ids, in the order given; missing ids are skipped."""
        wanted = list(ids)
        return await self._db.read(lambda conn: load_articles(conn, wanted, with_related))

    async def latest(
        self, *, topic: str | None = None, limit: int = 5, offset: int = 0
    ) -> list[Article]:
        def work(conn: sqlite3.Connection) -> list[Article]:
            if topic is None:
                rows = conn.execute(
                    "SELECT id FROM articles ORDER BY published_at DESC, id DESC LIMIT ? OFFSET ?",
                    (limit, offset),
                ).fetchall()
            else:
                rows = conn.execute(
                    "SELECT article_id FROM article_topics WHERE topic = ?"
                    " ORDER BY published_at DESC, article_id DESC LIMIT ? OFFSET ?",
                    (topic, limit, offset),
                ).fetchall()
            return load_articles(conn, [r[0] for r in rows], with_related=False)

        return await self._db.read(work)

    async def topic_counts(self) -> dict[str, int]:
        def work(conn: sqlite3.Connection) -> dict[str, int]:
            rows = conn.execute("SELECT topic, count(*) FROM article_topics GROUP BY topic")
            return dict(rows)

        return await self._db.read(work)

    async def count(self) -> int:
        def work(conn: sqlite3.Connection) -> int:
            return int(conn.execute("SELECT count(*) FROM articles").fetchone()[0])

        return await self._db.read(work)


def _upsert(conn: sqlite3.Connection, article: NewArticle, stamp: int) -> UpsertOutcome:
    key_guid = article.guid
    key_url = article.url
    if not key_guid and not key_url:
        raise ValueError(f"article {article.title!r} has neither url nor guid")
    row = None
    if key_guid:
        row = conn.execute(
            "SELECT id, content_hash FROM articles WHERE guid = ?", (key_guid,)
        ).fetchone()
    if row is None and key_url:
        row = conn.execute(
            "SELECT id, content_hash FROM articles WHERE url = ?", (key_url,)
        ).fetchone()
    digest = content_hash(article)
    published = article.published_at or utc_from_seconds(stamp)
    published_s, offset = to_row(published)
    values = (
        article.title,
        article.summary,
        article.body,
        published_s,
        offset,
        article.publisher,
        article.attribution,
        article.category,
        article.language,
        article.image_url,
        digest,
    )
    if row is None:
        cursor = conn.execute(
            "INSERT INTO articles (title, summary, body, published_at, utc_offset, publisher,"
            " attribution, category, language, image_url, content_hash, guid, url, created_at)"
            " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (*values, key_guid, key_url, stamp),
        )
        article_id = int(cursor.lastrowid or 0)
        _insert_children(conn, article_id, article)
        return UpsertOutcome(article_id, INSERTED)
    article_id, old_digest = int(row[0]), row[1]
    if old_digest == digest:
        return UpsertOutcome(article_id, DUPLICATE)
    conn.execute(
        "UPDATE articles SET title = ?, summary = ?, body = ?, published_at = ?, utc_offset = ?,"
        " publisher = ?, attribution = ?, category = ?, language = ?, image_url = ?,"
        " content_hash = ?, updated_at = ? WHERE id = ?",
        (*values, stamp, article_id),
    )
    _replace_children(conn, article_id, article)
    return UpsertOutcome(article_id, UPDATED)


def _replace_children(conn: sqlite3.Connection, article_id: int, article: NewArticle) -> None:
    conn.execute("DELETE FROM related_entries WHERE article_id = ?", (article_id,))
    conn.execute("DELETE FROM article_topics WHERE article_id = ?", (article_id,))
    _insert_children(conn, article_id, article)


def _insert_children(conn: sqlite3.Connection, article_id: int, article: NewArticle) -> None:
    rows = []
    for position, entry in enumerate(article.related):
        when, offset = to_row(entry.published_at) if entry.published_at else (None, None)
        rows.append((article_id, position, entry.title, entry.category, when, offset))
    conn.executemany(
        "INSERT INTO related_entries (article_id, position, title, category, published_at,"
        " utc_offset) VALUES (?, ?, ?, ?, ?, ?)",
        rows,
    )
    conn.executemany(
        "INSERT OR IGNORE INTO article_topics (article_id, topic, published_at)"
        " SELECT a.id, t.slug, a.published_at FROM topics t, articles a"
        " WHERE t.slug = ? AND a.id = ?",
        [(topic, article_id) for topic in dict.fromkeys(article.topics)],
    )


def load_articles(
    conn: sqlite3.Connection, ids: Sequence[int], with_related: bool
) -> list[Article]:
    """Load whole articles (with topics, optionally the related box), keeping the order of ids."""
    if not ids:
        return []
    marks = ",".join("?" * len(ids))
    rows = conn.execute(
        f"SELECT {ARTICLE_COLUMNS} FROM articles WHERE id IN ({marks})",
        list(ids),
    ).fetchall()
    topics: dict[int, list[str]] = {}
    for article_id, slug in conn.execute(
        f"SELECT article_id, topic FROM article_topics WHERE article_id IN ({marks})"
        " ORDER BY topic",
        list(ids),
    ):
        topics.setdefault(article_id, []).append(slug)
    related: dict[int, list[RelatedEntry]] = {}
    if with_related:
        for article_id, title, category, when, offset in conn.execute(
            "SELECT article_id, title, category, published_at, utc_offset"
            f" FROM related_entries WHERE article_id IN ({marks}) ORDER BY article_id, position",
            list(ids),
        ):
            related.setdefault(article_id, []).append(
                RelatedEntry(title, category, from_row(when, offset) if when is not None else None)
            )
    by_id = {}
    for row in rows:
        article_id = row[0]
        by_id[article_id] = Article(
            id=article_id,
            title=row[1],
            url=row[2],
            guid=row[3],
            summary=row[4],
            body=row[5],
            published_at=from_row(row[6], row[7]),
            publisher=row[8],
            attribution=row[9],
            category=row[10],
            language=row[11],
            image_url=row[12],
            created_at=utc_from_seconds(row[13]),
            updated_at=utc_from_seconds(row[14]) if row[14] is not None else None,
            topics=tuple(topics.get(article_id, ())),
            related=tuple(related.get(article_id, ())),
        )
    return [by_id[i] for i in ids if i in by_id]


def now_seconds() -> int:
    return int(time.time())
