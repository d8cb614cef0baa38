"""Articles: dedup on store, topics, the publisher's related list, and the latest listing."""

from __future__ import annotations

import hashlib
import logging
from collections.abc import AsyncIterator, Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from core.clock import utc_now
from semantic import Vectors, Words, story_words, words_text
from storage import fts
from storage.chunks import in_chunks
from storage.db import POSTGRESQL, Conn, Database
from storage.meaning import Meaning, Report, assign_stories, place_in_stories, store_vectors
from storage.models import Article, NewArticle, RelatedEntry, Topic, UpsertOutcome
from storage.timeutil import DECODE_ERRORS, from_row, to_row, utc_from_seconds

if TYPE_CHECKING:
    from storage.ann import VectorIndex

log = logging.getLogger(__name__)

ARTICLE_COLUMNS = (
    "id, title, url, guid, summary, body, published_at, utc_offset, publisher, attribution,"
    " category, language, image_url, created_at, updated_at, story_id"
)

INSERTED, UPDATED, DUPLICATE = "inserted", "updated", "duplicate"


def content_hash(title: str, summary: str, body: str) -> str:
    digest = hashlib.blake2b(digest_size=16)
    for part in (title, summary, body):
        digest.update(part.encode("utf-8", "surrogatepass"))
        digest.update(b"\x00")
    return digest.hexdigest()


class Articles:
    def __init__(self, db: Database, *, index: VectorIndex | None = None) -> None:
        self._db = db
        self._index = index  # the store's meaning index: story candidates in a busy window

    async def sync_topics(self, topics: Iterable[Topic]) -> None:
        """Make the topics table what the config says; articles keep tags of removed topics off."""
        wanted = list(topics)

        def work(conn: Conn) -> None:
            conn.executemany(
                "INSERT INTO topics (slug, name) VALUES (?, ?)"
                " ON CONFLICT (slug) DO UPDATE SET name = excluded.name",
                [(t.slug, t.name) for t in wanted],
            )
            keep = [t.slug for t in wanted]
            marks = ",".join("?" * len(keep))
            # PostgreSQL has no empty IN (): no topics wanted is all of them gone.
            where = f" WHERE slug NOT IN ({marks})" if keep else ""
            conn.execute(f"DELETE FROM topics{where}", keep)

        await self._db.write(work)

    async def topics(self) -> list[Topic]:
        def work(conn: Conn) -> list[Topic]:
            rows = conn.execute("SELECT slug, name FROM topics ORDER BY slug").fetchall()
            return [Topic(slug, name) for slug, name in rows]

        return await self._db.read(work)

    async def upsert_many(
        self,
        articles: Sequence[NewArticle],
        *,
        now: datetime | None = None,
        vectors: Vectors | None = None,
        meaning: Meaning | None = None,
        documents: Sequence[bytes] | None = None,
        words: Sequence[Words] | None = None,
    ) -> list[UpsertOutcome]:
        """Store a batch in one transaction: new ones inserted, changed ones updated in place.

        With ``vectors`` (one per article, from ``meaning``), the same transaction stores each
        new or changed article's vector (an unchanged one's only if it had none) and puts each
        new article into its story: placed before its row is written, so ``story_id`` goes in
        with the row (no row read back or updated again). ``documents``: each article's
        PostgreSQL full-text document (``fts.tsvector`` of its title, summary and body),
        computed elsewhere (the import's embedding process); without them they are computed
        here. ``words``: each article's ``semantic.story_words``, worked out there too.
        """
        stamp = int((now or utc_now()).timestamp())
        rules = meaning or Meaning()

        def work(conn: Conn) -> list[UpsertOutcome]:
            if len(articles) >= FIRST_STATISTICS_BATCH:
                _first_statistics(conn)
                if conn.dialect == POSTGRESQL:
                    conn.execute(f"SET LOCAL gin_pending_list_limit = '{BULK_PENDING_LIST}'")
            known = frozenset(r[0] for r in conn.execute("SELECT slug FROM topics"))
            place: _Place | None = None
            placed: set[int] = set()
            if vectors is not None:

                def place(reports: Sequence[Report], batch: Vectors) -> Iterator[tuple[int, int]]:
                    placed.update(r.id for r in reports)
                    return place_in_stories(
                        conn,
                        reports,
                        batch,
                        stored=False,
                        window=rules.window,
                        rule=rules.rule,
                        index=self._index,
                    )

            prepared = _Prepared(documents, vectors, place, words)
            outcomes = _upsert_batch(conn, articles, stamp, known, prepared)
            if vectors is not None:
                _attach_meaning(conn, outcomes, vectors, rules, self._index, placed)
            return outcomes

        return await self._db.write(work)

    async def get(self, article_id: int) -> Article | None:
        found = await self.get_many([article_id], with_related=True)
        return found[0] if found else None

    async def get_many(self, ids: Sequence[int], *, with_related: bool = False) -> list[Article]:
        """The articles with these ids, in the order given; missing ids are skipped."""
        wanted = list(ids)
        return await self._db.read(lambda conn: load_articles(conn, wanted, with_related))

    async def in_story(self, story: int, *, limit: int = 50) -> list[Article]:
        """The reports of one story, oldest first (the story's id is its first report's)."""

        def work(conn: Conn) -> list[Article]:
            rows = conn.execute(
                "SELECT id FROM articles WHERE story_id = ? ORDER BY id LIMIT ?", (story, limit)
            ).fetchall()
            return load_articles(conn, [r[0] for r in rows], with_related=False)

        return await self._db.read(work)

    async def join_story(self, article_id: int, story: int) -> None:
        """File an article under ``story`` (the id of the story's first report).

        Story assignment at import does this for articles it finds to be one event; this is
        the same write for one article, as an operator or a test decides it.
        """

        def work(conn: Conn) -> None:
            conn.execute("UPDATE articles SET story_id = ? WHERE id = ?", (story, article_id))

        await self._db.write(work)

    async def latest_stories(
        self, *, topic: str | None = None, limit: int = 5, offset: int = 0
    ) -> list[tuple[Article, int]]:
        """The newest stories (of one topic), each once, shown by its newest report, with the
        number of reports the story has: one row per story for /latest."""

        def work(conn: Conn) -> list[tuple[Article, int]]:
            if topic is None:
                rows = conn.execute(
                    # One row per story already (migration 0015's triggers keep it): a big
                    # story costs one row here, not a walk over all its reports.
                    "SELECT article_id FROM story_heads"
                    " ORDER BY published_at DESC, article_id DESC LIMIT ? OFFSET ?",
                    (limit, offset),
                ).fetchall()
            else:
                rows = conn.execute(
                    "SELECT t.article_id FROM article_topics t"
                    " JOIN articles a ON a.id = t.article_id"
                    " WHERE t.topic = ? AND NOT EXISTS ("
                    "  SELECT 1 FROM articles b JOIN article_topics bt"
                    "  ON bt.article_id = b.id AND bt.topic = t.topic"
                    "  WHERE b.story_id = a.story_id"
                    "  AND (b.published_at, b.id) > (t.published_at, t.article_id))"
                    " ORDER BY t.published_at DESC, t.article_id DESC LIMIT ? OFFSET ?",
                    (topic, limit, offset),
                ).fetchall()
            found = load_articles(conn, [r[0] for r in rows], with_related=False)
            if not found:
                return []
            stories = sorted({a.story or a.id for a in found})
            marks = ",".join("?" * len(stories))
            counts = dict(
                conn.execute(
                    f"SELECT story_id, count(*) FROM articles WHERE story_id IN ({marks})"
                    " GROUP BY story_id",
                    stories,
                ).fetchall()
            )
            return [(a, int(counts.get(a.story or a.id, 1))) for a in found]

        return await self._db.read(work)

    async def latest(
        self, *, topic: str | None = None, limit: int = 5, offset: int = 0
    ) -> list[Article]:
        def work(conn: Conn) -> list[Article]:
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

    async def all_pages(
        self, page_size: int = 500, skipped: list[int] | None = None
    ) -> AsyncIterator[list[Article]]:
        """Every article with its related box, in id order, a page at a time (for export).

        The ids of rows left out as unreadable are appended to ``skipped``.
        """
        last = 0
        while True:

            def work(conn: Conn, after: int = last) -> tuple[int, list[int], list[Article]]:
                ids = [
                    r[0]
                    for r in conn.execute(
                        "SELECT id FROM articles WHERE id > ? ORDER BY id LIMIT ?",
                        (after, page_size),
                    )
                ]
                # The last id, not the last article: an unreadable row is skipped, not a stop.
                return (ids[-1] if ids else 0), ids, load_articles(conn, ids, with_related=True)

            last, ids, articles = await self._db.read(work)
            if not last:
                return
            if skipped is not None and len(articles) < len(ids):
                loaded = {a.id for a in articles}
                skipped.extend(i for i in ids if i not in loaded)
            yield articles

    async def topic_counts(self) -> dict[str, int]:
        def work(conn: Conn) -> dict[str, int]:
            rows = conn.execute("SELECT topic, count(*) FROM article_topics GROUP BY topic")
            return dict(rows)

        return await self._db.read(work)

    async def count(self) -> int:
        def work(conn: Conn) -> int:
            return int(conn.execute("SELECT count(*) FROM articles").fetchone()[0])

        return await self._db.read(work)


# A batch this big (an import's, not a feed poll's) checks that PostgreSQL has statistics,
# and leaves the full-text index's pending entries for the import to merge every few batches
# beside its writes (SearchEngine.merge_pending) up to this much: past it, the write that
# overflows the list merges it in its own transaction, as any write does past the server's
# default 4 MB. Searches read the pending list whole, so it is kept to a few batches.
FIRST_STATISTICS_BATCH = 1000
BULK_PENDING_LIST = "32MB"


def _first_statistics(conn: Conn) -> None:
    """Take PostgreSQL's first statistics of the articles, if it never took any.

    Without them the planner guesses: a store filled by bulk writes on a server whose
    autovacuum is off (or has not come yet) read each batch's story spans by scanning the
    whole table, in parallel workers, ~60 ms a read of 500 at 100,000 articles, where the
    (story_id, published_at) index answers in ~1 ms. Taken once (afterwards autovacuum or an
    operator renews them), from a small sample of the columns the import's reads filter on:
    ~40 ms at 100,000 articles, where a whole ANALYZE of the table took 1.4 s.
    """
    if conn.dialect != POSTGRESQL:
        return
    row = conn.execute(
        "SELECT c.reltuples < 0 AND EXISTS (SELECT 1 FROM articles)"
        " FROM pg_class c WHERE c.oid = 'articles'::regclass"
    ).fetchone()
    if row is not None and row[0]:
        conn.execute("SET LOCAL default_statistics_target = 10")
        conn.execute("ANALYZE articles (id, story_id, published_at), article_vectors (article_id)")


def _attach_meaning(
    conn: Conn,
    outcomes: Sequence[UpsertOutcome],
    vectors: Vectors,
    meaning: Meaning,
    index: VectorIndex | None,
    placed: set[int],
) -> None:
    """Store the batch's vectors and put its new articles in their stories, where
    ``_upsert_batch`` did not as it wrote them (``placed``: those it did)."""
    fresh = [
        i for i, o in enumerate(outcomes) if o.status == INSERTED and o.article_id not in placed
    ]
    # New articles have no vector yet: one bulk insert. A changed one's is replaced; an
    # unchanged one keeps its own (stored only if it had none).
    _insert_vectors(conn, [outcomes[i].article_id for i in fresh], vectors[fresh])
    for replace, status in ((False, DUPLICATE), (True, UPDATED)):
        rows = [i for i, o in enumerate(outcomes) if o.status == status]
        store_vectors(conn, [outcomes[i].article_id for i in rows], vectors[rows], replace=replace)
    assign_stories(
        conn,
        [outcomes[i].article_id for i in fresh],
        vectors[fresh],
        window=meaning.window,
        rule=meaning.rule,
        index=index,
    )


def _insert_vectors(conn: Conn, ids: Sequence[int], vectors: Vectors) -> None:
    """The vectors of new articles (which have none yet): one bulk insert."""
    packed = vectors.astype("<f2")
    conn.insert_rows(
        "article_vectors",
        ("article_id", "vector"),
        [(i, v.tobytes()) for i, v in zip(ids, packed, strict=True)],
        types=("bigint", "bytea"),  # PostgreSQL: sent as they are, not as hex text
    )


# The article columns an import may change, in the order of _Stored's first fields.
_TEXT_FIELDS = (
    "title",
    "summary",
    "body",
    "publisher",
    "attribution",
    "category",
    "language",
    "image_url",
)
_RelatedRow = tuple[str, str | None, int | None, int | None]
# Places new articles (not written yet, with their vectors) in stories: (article, story)
# pairs, worked out as they are taken (storage.meaning.place_in_stories).
_Place = Callable[[Sequence[Report], Vectors], Iterator[tuple[int, int]]]
_RELATED_COLUMNS = ("article_id", "position", "title", "category", "published_at", "utc_offset")


@dataclass(frozen=True)
class _Prepared:
    """What was worked out for a batch's articles before its transaction (each in the batch's
    order: full-text ``documents``, ``vectors``, story ``words``) and how its new ones are
    placed in stories; each may be missing."""

    documents: Sequence[bytes] | None = None
    vectors: Vectors | None = None
    place: _Place | None = None
    words: Sequence[Words] | None = None

    def of(self, rows: list[int]) -> _Prepared:
        """The same for the articles at ``rows`` of the batch, in that order."""
        return _Prepared(
            None if self.documents is None else [self.documents[i] for i in rows],
            None if self.vectors is None else self.vectors[rows],
            self.place,
            None if self.words is None else [self.words[i] for i in rows],
        )


_NOTHING_PREPARED = _Prepared()


def _upsert(
    conn: Conn, article: NewArticle, stamp: int, known_topics: frozenset[str]
) -> UpsertOutcome:
    """Insert a new article, or change the given fields of a stored one when any differs."""
    if not article.guid and not article.url:
        raise ValueError(f"article {article.title!r} has neither url nor guid")
    found = _find(conn, article)
    if found is None:
        return UpsertOutcome(_insert(conn, article, stamp, known_topics), INSERTED)
    article_id, *stored = found
    stored_texts = tuple(stored[:8])
    stored_when = (int(stored[8]), int(stored[9]))
    texts = tuple(
        getattr(article, name) if article.has(name) else old
        for name, old in zip(_TEXT_FIELDS, stored_texts, strict=True)
    )
    when = stored_when
    if article.published_at is not None and article.has("published_at"):
        when = to_row(article.published_at)
    stored_topics = {
        r[0]
        for r in conn.execute(
            "SELECT topic FROM article_topics WHERE article_id = ?", (article_id,)
        )
    }
    topics = stored_topics
    if article.has("topics"):
        topics = {t for t in article.topics if t in known_topics}
    stored_related = [
        tuple(r)
        for r in conn.execute(
            "SELECT title, category, published_at, utc_offset FROM related_entries"
            " WHERE article_id = ? ORDER BY position",
            (article_id,),
        )
    ]
    related = _related_rows(article) if article.has("related") else stored_related
    if (texts, when, topics, related) == (stored_texts, stored_when, stored_topics, stored_related):
        return UpsertOutcome(article_id, DUPLICATE)
    title, summary, body = texts[:3]
    conn.execute(
        "UPDATE articles SET title = ?, summary = ?, body = ?, publisher = ?, attribution = ?,"
        " category = ?, language = ?, image_url = ?, published_at = ?, utc_offset = ?,"
        " content_hash = ?, updated_at = ?, story_words = ? WHERE id = ?",
        (
            *texts,
            *when,
            content_hash(title, summary, body),
            stamp,
            words_text(story_words(title, summary)),
            article_id,
        ),
    )
    if conn.dialect == POSTGRESQL:
        # Its published_at follows the article's by trigger (0016); the words change here.
        conn.execute(
            f"UPDATE article_search SET search = {SEARCH_DOCUMENT} WHERE article_id = ?",
            (*search_words(conn, title, summary, body), article_id),
        )
    if related != stored_related:
        conn.execute("DELETE FROM related_entries WHERE article_id = ?", (article_id,))
        _insert_related(conn, article_id, related)
    # Rewritten even when the set is the same: each row carries the article's published_at.
    conn.execute("DELETE FROM article_topics WHERE article_id = ?", (article_id,))
    _insert_topics(conn, article_id, topics)
    return UpsertOutcome(article_id, UPDATED)


# PostgreSQL's full-text document (article_search.search, 0016; articles.search before): the
# words of title, summary and body with their positions, labelled A, B and C for ts_rank's
# weights (fts.tsvector). SQLite's FTS5 table is kept by triggers instead.
SEARCH_DOCUMENT = "?::tsvector"
# Its table's columns, as the import writes them, and their types: the import sends the
# documents in tsvector's binary form (fts.tsvector_binary), which the server need not parse.
SEARCH_COLUMNS = ("article_id", "published_at", "search")
SEARCH_TYPES = ("bigint", "bigint", "tsvector")


def search_words(conn: Conn, title: str, summary: str, body: str) -> tuple[str, ...]:
    """The parameters of ``SEARCH_DOCUMENT`` on PostgreSQL; none on SQLite."""
    if conn.dialect != POSTGRESQL:
        return ()
    return (fts.tsvector(title, summary, body),)


def _find(conn: Conn, article: NewArticle) -> tuple[Any, ...] | None:
    columns = f"id, {', '.join(_TEXT_FIELDS)}, published_at, utc_offset"
    row = None
    if article.guid:
        row = conn.execute(
            f"SELECT {columns} FROM articles WHERE guid = ?", (article.guid,)
        ).fetchone()
    if row is None and article.url:
        row = conn.execute(
            f"SELECT {columns} FROM articles WHERE url = ?", (article.url,)
        ).fetchone()
    return tuple(row) if row is not None else None


def _insert(conn: Conn, article: NewArticle, stamp: int, known_topics: frozenset[str]) -> int:
    return _insert_many(conn, [article], stamp, known_topics)[0]


# What a new article's row is written with, in this order.
_INSERT_COLUMNS = (
    "id",
    "story_id",
    *_TEXT_FIELDS,
    "published_at",
    "utc_offset",
    "content_hash",
    "guid",
    "url",
    "created_at",
    "updated_at",
    "story_words",
)


def _insert_many(
    conn: Conn,
    articles: Sequence[NewArticle],
    stamp: int,
    known_topics: frozenset[str],
    prepared: _Prepared = _NOTHING_PREPARED,
) -> list[int]:
    """Insert new articles with their related boxes and topics; their ids, in order.

    Each table's rows go in as one bulk insert (``Conn.insert_rows``), with the ids drawn
    first, and each article's ``story_id`` written with its row: the story ``place`` puts it
    in (given the articles' ``prepared`` vectors), else its own (SQLite's trigger would update every
    row again). The articles' rows are made as they are placed: PostgreSQL's server inserts
    the first while the rest are placed. A topic the config does not have is left out.
    """
    if not articles:
        return []
    ids = _new_ids(conn, len(articles))
    pg = conn.dialect == POSTGRESQL
    documents, vectors, place, words = (
        prepared.documents,
        prepared.vectors,
        prepared.place,
        prepared.words,
    )
    times = [to_row(a.published_at or utc_from_seconds(stamp)) for a in articles]
    placements: Iterator[tuple[int, int]] = ((i, i) for i in ids)  # each its own story
    if place is not None and vectors is not None:
        reports = [
            Report(i, when, a.title, a.summary, None if words is None else words[n])
            for n, (i, (when, _), a) in enumerate(zip(ids, times, articles, strict=True))
        ]
        placements = place(reports, vectors)  # reads what it needs now, before the rows go
    at = {article_id: n for n, article_id in enumerate(ids)}

    def rows() -> Iterator[tuple[Any, ...]]:
        for article_id, story in placements:
            n = at[article_id]
            yield article_row(
                article_id, story, articles[n], times[n], None if words is None else words[n]
            )

    def article_row(
        article_id: int,
        story: int,
        article: NewArticle,
        when: tuple[int, int],
        known: Words | None,
    ) -> tuple[Any, ...]:
        created = int(article.created_at.timestamp()) if article.created_at else stamp
        updated = int(article.updated_at.timestamp()) if article.updated_at else None
        return (
            article_id,
            story,
            *(getattr(article, name) for name in _TEXT_FIELDS),
            *when,
            content_hash(article.title, article.summary, article.body),
            article.guid,
            article.url,
            created,
            updated,
            words_text(known or story_words(article.title, article.summary)),
        )

    conn.insert_rows("articles", _INSERT_COLUMNS, rows())
    if pg:
        conn.insert_rows(
            "article_search",
            SEARCH_COLUMNS,
            [
                (
                    article_id,
                    published_s,
                    documents[n]
                    if documents is not None
                    else fts.tsvector_binary(article.title, article.summary, article.body),
                )
                for n, (article_id, article, (published_s, _)) in enumerate(
                    zip(ids, articles, times, strict=True)
                )
            ],
            types=SEARCH_TYPES,
        )
    topics = []
    related = []
    for article_id, article, (published_s, _) in zip(ids, articles, times, strict=True):
        topics += [
            (article_id, t, published_s) for t in dict.fromkeys(article.topics) if t in known_topics
        ]
        related += [
            (article_id, position, *entry) for position, entry in enumerate(_related_rows(article))
        ]
    conn.insert_rows("related_entries", _RELATED_COLUMNS, related)
    conn.insert_rows("article_topics", ("article_id", "topic", "published_at"), topics)
    if place is not None and vectors is not None:
        # With the rows: a later part of the batch (after a repeated article) finds these as
        # stored candidates, vectors and all.
        _insert_vectors(conn, ids, vectors)
    return ids


def _new_ids(conn: Conn, count: int) -> list[int]:
    """``count`` article ids never handed out before, ascending, for rows about to be written
    in this transaction (which holds the store's write lock on either backend)."""
    if conn.dialect == POSTGRESQL:
        rows = conn.execute(
            "SELECT nextval(pg_get_serial_sequence('articles', 'id')) FROM generate_series(1, ?)",
            (count,),
        ).fetchall()
        return sorted(int(r[0]) for r in rows)
    # AUTOINCREMENT's record of the largest id ever used (ids are never reused); writing
    # larger ids explicitly moves it on as an implicit id would.
    row = conn.execute(
        "SELECT max(coalesce((SELECT seq FROM sqlite_sequence WHERE name = 'articles'), 0),"
        " coalesce((SELECT max(id) FROM articles), 0))"
    ).fetchone()
    first = int(row[0]) + 1
    return list(range(first, first + count))


def _upsert_batch(
    conn: Conn,
    articles: Sequence[NewArticle],
    stamp: int,
    known_topics: frozenset[str],
    prepared: _Prepared = _NOTHING_PREPARED,
) -> list[UpsertOutcome]:
    """``_upsert`` for each article in order, with the new ones inserted together (placed in
    their stories as ``prepared`` says, if it does, as they are written).

    Which articles are new is read for the whole batch first (two look-ups per 500, not two
    per article), and new ones are inserted in one go (one round trip on PostgreSQL, where
    each statement is one). An article that repeats the key of a new one earlier in the batch
    is handled after that one is stored, as if one by one.
    """
    for article in articles:
        if not article.guid and not article.url:
            raise ValueError(f"article {article.title!r} has neither url nor guid")
    guids = [a.guid for a in articles if a.guid]
    urls = [a.url for a in articles if a.url]
    stored_guids = {
        r[0] for r in in_chunks(conn, "SELECT guid FROM articles WHERE guid IN ({})", guids)
    }
    stored_urls = {
        r[0] for r in in_chunks(conn, "SELECT url FROM articles WHERE url IN ({})", urls)
    }
    outcomes: list[UpsertOutcome | None] = [None] * len(articles)
    pending: list[int] = []
    pending_keys: set[tuple[str, str]] = set()

    def flush() -> None:
        ids = _insert_many(
            conn, [articles[i] for i in pending], stamp, known_topics, prepared.of(pending)
        )
        for i, article_id in zip(pending, ids, strict=True):
            outcomes[i] = UpsertOutcome(article_id, INSERTED)
        pending.clear()
        pending_keys.clear()

    for i, article in enumerate(articles):
        keys = {(k, v) for k, v in (("guid", article.guid), ("url", article.url)) if v}
        stored = article.guid in stored_guids or article.url in stored_urls
        if keys & pending_keys:
            flush()  # it repeats an article of this batch: that one is stored first
            stored = True
        if stored:
            outcomes[i] = _upsert(conn, article, stamp, known_topics)
        else:
            pending.append(i)
            pending_keys.update(keys)
    flush()
    return [o for o in outcomes if o is not None]


def _related_rows(article: NewArticle) -> list[_RelatedRow]:
    rows: list[_RelatedRow] = []
    for entry in article.related:
        when, offset = to_row(entry.published_at) if entry.published_at else (None, None)
        rows.append((entry.title, entry.category, when, offset))
    return rows


def _insert_related(conn: Conn, article_id: int, rows: Sequence[_RelatedRow]) -> None:
    conn.insert_rows(
        "related_entries",
        _RELATED_COLUMNS,
        [(article_id, position, *row) for position, row in enumerate(rows)],
    )


def _insert_topics(conn: Conn, article_id: int, topics: Iterable[str]) -> None:
    _insert_topic_rows(conn, [(topic, article_id) for topic in dict.fromkeys(topics)])


def _insert_topic_rows(conn: Conn, rows: Sequence[tuple[str, int]]) -> None:
    """(topic, article id) rows; a topic the config does not have is left out."""
    conn.executemany(
        "INSERT INTO article_topics (article_id, topic, published_at)"
        " SELECT a.id, t.slug, a.published_at FROM topics t, articles a"
        " WHERE t.slug = ? AND a.id = ? ON CONFLICT DO NOTHING",
        rows,
    )


def load_articles(conn: Conn, ids: Sequence[int], with_related: bool) -> list[Article]:
    """Load whole articles (with topics, optionally the related box), keeping the order of ids.

    A row whose times cannot be read (written by an older version without checks) is reported
    once and left out: one bad row must not stop a listing or the dispatcher.
    """
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
                RelatedEntry(title, category, _related_time(conn, article_id, when, offset))
            )
    by_id = {}
    for row in rows:
        article_id = row[0]
        try:
            published_at = from_row(row[6], row[7])
            created_at = utc_from_seconds(row[13])
            updated_at = utc_from_seconds(row[14]) if row[14] is not None else None
        except DECODE_ERRORS as exc:
            _report_unreadable(conn, article_id, exc)
            continue
        by_id[article_id] = Article(
            id=article_id,
            title=row[1],
            url=row[2],
            guid=row[3],
            summary=row[4],
            body=row[5],
            published_at=published_at,
            publisher=row[8],
            attribution=row[9],
            category=row[10],
            language=row[11],
            image_url=row[12],
            created_at=created_at,
            updated_at=updated_at,
            topics=tuple(topics.get(article_id, ())),
            related=tuple(related.get(article_id, ())),
            story=row[15] or article_id,
        )
    return [by_id[i] for i in ids if i in by_id]


def _related_time(
    conn: Conn, article_id: int, when: int | None, offset: int | None
) -> datetime | None:
    if when is None:
        return None
    try:
        return from_row(when, offset)
    except DECODE_ERRORS as exc:
        _report_unreadable(conn, article_id, exc, what="a related headline's time")
        return None


_reported: set[tuple[str, int]] = set()


def _report_unreadable(
    conn: Conn, article_id: int, exc: Exception, what: str = "its times"
) -> None:
    """Log an unreadable article once per store and process, not on every listing."""
    if conn.dialect == POSTGRESQL:
        store = str(
            conn.execute("SELECT current_database() || '.' || current_schema()").fetchone()[0]
        )
    else:
        store = str(conn.execute("PRAGMA database_list").fetchone()[2])
    if (store, article_id) in _reported:
        return
    _reported.add((store, article_id))
    log.error(
        "article %d: cannot read %s (%s); left out. Run newsbot once to apply the repair"
        " migration, or re-import the article",
        article_id,
        what,
        exc,
    )
