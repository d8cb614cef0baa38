"""The delivery ledger: what each chat is owed and what it received, one row per chat and
article, whatever number of topics matched.

A chat gets one message per story: when a row is claimed and the chat already has a ``sent``
message for another report of the same story, the row is claimed as an edit of that message
(``edit_of`` names the delivery whose message it edits); while another row of the story is on
its way to the chat, the row waits for it. Since the sent row stays, a row claimed again after
a restart is again an edit: an edit never turns into a new message.

A row is ``owed`` until the dispatcher claims it into memory (``queued``), ``sending`` while its
request is on the wire, then ``sent`` with Telegram's message id, ``failed`` with the reason, or
``cancelled`` when its chat went away. A start-up puts ``queued`` and ``sending`` rows back to
``owed``; only the ``sending`` ones can have reached Telegram, so they bound what a crash can
repeat.

A claimed row is leased: it is held until ``lease_until`` (``LEASE`` seconds after it was
claimed or put on the wire), and a claim first owes again every row whose lease lapsed, so a
row held by an instance that died (or that lost the lead without noticing) is sent by another
once its lease expires. On PostgreSQL a claim locks the rows it takes (``FOR UPDATE SKIP
LOCKED``): two claimers never take the same row, and neither waits for the other's rows. So
claims and outcomes need no lock but their rows': they run as ``write_rows``, beside other
writes (storage/pg.py).
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from core.matching import PhraseSet, article_text
from storage.db import POSTGRESQL, Conn, Database
from storage.words import any_words, article_hits

log = logging.getLogger(__name__)

OWED, QUEUED, SENDING = "owed", "queued", "sending"
SENT, FAILED, CANCELLED = "sent", "failed", "cancelled"
PHOTO, TEXT = "photo", "text"  # how a delivery's message was sent (deliveries.sent_as)
# A backlog looks for its articles among this many newest candidates (enough for any backlog
# after muted ones are left out, few enough to read in milliseconds).
BACKLOG_SCAN = 1000
# The fan-out leaves out chats muting a word of the article: one key look-up per owed row.
_NOT_MUTED = (
    " AND NOT EXISTS (SELECT 1 FROM fan_out_muted m"
    "  WHERE m.article_id = {0}.article_id AND m.chat_id = {1}.chat_id)"
)


@dataclass(frozen=True, slots=True)
class Due:
    """A claimed delivery with what the dispatcher needs to know about its chat."""

    id: int
    chat_id: int
    article_id: int
    attempts: int
    chat_type: str
    timezone: str | None
    quiet_start: str | None
    quiet_end: str | None
    # Sends of this row whose answer was lost (it may have arrived); kept in the ledger so
    # that "sent again at most once" holds across restarts.
    lost_answers: int = 0
    story: int = 0
    # The chat's language code: chosen in /settings, else its reader's (None: not known).
    language: str | None = None
    # Set when this row edits the chat's message of the story instead of sending one: that
    # message's id and the delivery (and article) it was sent as.
    edit_message_id: int | None = None
    edit_of: int | None = None
    edit_article_id: int | None = None
    # How that message was sent (PHOTO: its text is a caption, edited as one).
    edit_sent_as: str | None = None
    # The forum thread to send into (None: the chat itself, a forum's General topic).
    thread_id: int | None = None


@dataclass(frozen=True, slots=True)
class Outcome:
    """What happened to one send. ``status`` is SENT, FAILED, CANCELLED or OWED (retry)."""

    delivery_id: int
    status: str
    message_id: int | None = None
    error: str | None = None
    retry_at: int | None = None
    attempted: bool = True
    lost_answer: bool = False  # the send went out and its answer was lost
    sent_as: str | None = None  # PHOTO or TEXT, for a message sent


@dataclass(frozen=True, slots=True)
class LedgerStats:
    owed: int
    due_now: int
    sent_last_hour: int
    sent_last_day: int
    failed_last_hour: dict[str, int] = field(default_factory=dict)
    failed_last_day: dict[str, int] = field(default_factory=dict)
    cancelled_last_day: dict[str, int] = field(default_factory=dict)


_DUE_COLUMNS = (
    "d.id, d.chat_id, d.article_id, d.attempts, c.type, c.timezone, c.quiet_start, c.quiet_end,"
    " d.lost_answers, a.story_id, COALESCE(c.language, c.reader_language), d.thread_id"
)
_DUE_JOIN = (
    "FROM deliveries d JOIN chats c ON c.id = d.chat_id JOIN articles a ON a.id = d.article_id"
)
# A fan-out that owes this many rows renews PostgreSQL's statistics of the ledger (see fan_out).
ANALYZE_AFTER = 1000
# Waiting for another report of the story to reach the chat first: looked at again this late.
STORY_WAIT = 1
# How long a claim holds a row (seconds), renewed when the row goes on the wire. Well above
# what a live dispatcher holds one: a claim of 512 rows at 30 messages/s is sent in ~17 s, a
# group's queue of 8 at 20 a minute in 24 s, a send with its retries within a minute.
LEASE = 120
# The tables a claim or an outcome writes (``Database.write_rows``).
LEDGER = ("deliveries",)
# The rows whose lease lapsed: their claimer stopped without finishing them.
_LAPSED = "SELECT id FROM deliveries WHERE status IN ('queued', 'sending') AND lease_until <= ?"


class Deliveries:
    def __init__(self, db: Database) -> None:
        self._db = db

    async def fan_out(
        self, article_ids: Sequence[int], now: int, *, published_after: int | None = None
    ) -> int:
        """Owe each new article to every active chat subscribed to any of its topics or
        following a word it holds, except the chats muting a word it holds.

        Articles published before ``published_after`` are stored but owed to nobody: an
        imported archive must not flood readers. Returns how many rows were added.
        """
        ids = list(article_ids)
        if not ids:
            return 0
        oldest = published_after if published_after is not None else -(2**62)

        def work(conn: Conn) -> int:
            _word_hits(conn, ids, oldest)
            added = 0
            for start in range(0, len(ids), 500):
                chunk = ids[start : start + 500]
                marks = ",".join("?" * len(chunk))
                # An article of two topics a forum group gets in two threads goes to one
                # of them (one row per chat and article): the lowest thread, General first.
                # Rows are numbered article by article, as claims take them: chat by chat
                # would hand the dispatcher a batch of few chats, each held to its own rate.
                topics = conn.execute(
                    "INSERT INTO deliveries"
                    " (chat_id, article_id, next_attempt_at, created_at, updated_at, thread_id)"
                    " SELECT s.chat_id, t.article_id, ?, ?, ?,"
                    " CASE WHEN count(*) = count(s.thread_id) THEN min(s.thread_id) END"
                    " FROM article_topics t"
                    " JOIN articles a ON a.id = t.article_id"
                    " JOIN subscriptions s ON s.topic = t.topic"
                    " JOIN chats c ON c.id = s.chat_id"
                    f" WHERE t.article_id IN ({marks}) AND c.active = 1"
                    " AND a.published_at >= ?" + _NOT_MUTED.format("t", "s") + ""
                    " GROUP BY t.article_id, s.chat_id ORDER BY t.article_id, s.chat_id"
                    " ON CONFLICT DO NOTHING",
                    (now, now, now, *chunk, oldest),
                )
                # Hits exist only for articles new enough to owe (see _word_hits). A chat
                # following two of an article's words, or its topic too, gets one row: the
                # ledger's UNIQUE (chat_id, article_id) ignores the rest.
                words = conn.execute(
                    "INSERT INTO deliveries"
                    " (chat_id, article_id, next_attempt_at, created_at, updated_at, thread_id)"
                    " SELECT w.chat_id, h.article_id, ?, ?, ?, w.thread_id"
                    " FROM fan_out_hits h"
                    " JOIN chat_words w ON w.word = h.word AND w.kind = 'follow'"
                    " JOIN chats c ON c.id = w.chat_id"
                    f" WHERE h.article_id IN ({marks}) AND c.active = 1"
                    + _NOT_MUTED.format("h", "w")
                    + " ORDER BY h.article_id, w.chat_id ON CONFLICT DO NOTHING",
                    (now, now, now, *chunk),
                )
                added += topics.rowcount + words.rowcount
            conn.execute("DELETE FROM fan_out_hits")
            conn.execute("DELETE FROM fan_out_muted")
            if conn.dialect == POSTGRESQL and added >= ANALYZE_AFTER:
                # PostgreSQL plans from statistics that autovacuum renews only a minute or so
                # later; until then a claim from a ledger that just grew by thousands of rows
                # scanned every chat (~0.3 s a claim at 10,000 rows) instead of walking the
                # due index to its LIMIT. The chats' statistics too, when they are as stale
                # (many readers came since they were taken, or never): with none, the plan
                # began at the chats and took 0.6 s a claim at 100,000 chats, not 10 ms.
                conn.execute("ANALYZE deliveries")
                if _stale_statistics(conn, "chats"):
                    conn.execute("ANALYZE chats")
            return added

        return await self._db.write(work)

    async def backlog(
        self,
        chat_id: int,
        topics: Sequence[str],
        count: int,
        now: int,
        *,
        thread: int | None = None,
    ) -> int:
        """Owe a new subscriber the ``count`` newest articles of the topics it just chose
        (none holding a word the chat mutes), into forum ``thread``."""
        if count <= 0 or not topics:
            return 0
        marks = ",".join("?" * len(topics))

        def work(conn: Conn) -> int:
            newest = conn.execute(
                "SELECT id FROM ("
                "  SELECT DISTINCT a.id, a.published_at FROM article_topics t"
                "  JOIN articles a ON a.id = t.article_id"
                f"  WHERE t.topic IN ({marks})"
                "  ORDER BY a.published_at DESC, a.id DESC LIMIT ?) AS newest",
                (*topics, BACKLOG_SCAN),
            )
            return _owe_unmuted(conn, chat_id, (row[0] for row in newest), count, now, thread)

        return await self._db.write(work)

    async def backlog_words(
        self,
        chat_id: int,
        words: Sequence[str],
        count: int,
        now: int,
        *,
        thread: int | None = None,
    ) -> int:
        """Owe a chat that just followed ``words`` the ``count`` newest articles holding one,
        among the newest ``BACKLOG_SCAN`` stored (none holding a word the chat mutes), into
        forum ``thread``."""
        if count <= 0 or not words:
            return 0
        wanted = PhraseSet(words)

        def work(conn: Conn) -> int:
            newest = conn.execute(
                "SELECT id, title, summary, body FROM articles"
                " ORDER BY published_at DESC, id DESC LIMIT ?",
                (BACKLOG_SCAN,),
            )
            holding = (
                row[0] for row in newest if wanted.found_in(article_text(row[1], row[2], row[3]))
            )
            return _owe_unmuted(conn, chat_id, holding, count, now, thread)

        return await self._db.write(work)

    async def withhold(self, chat_id: int, words: Sequence[str], now: int) -> int:
        """A chat muted ``words``: cancel what it is still owed that holds one (a digest's
        pending articles too). Returns how many rows were cancelled."""
        muted = PhraseSet(words)

        def work(conn: Conn) -> int:
            owed = conn.execute(
                "SELECT d.id, a.title, a.summary, a.body FROM deliveries d"
                " JOIN articles a ON a.id = d.article_id"
                " WHERE d.chat_id = ? AND d.status = 'owed'",
                (chat_id,),
            ).fetchall()
            gone = [r[0] for r in owed if muted.found_in(article_text(r[1], r[2], r[3]))]
            conn.executemany(
                "UPDATE deliveries SET status = 'cancelled', last_error = 'muted',"
                " updated_at = ? WHERE id = ? AND status = 'owed'",
                [(now, i) for i in gone],
            )
            return len(gone)

        return await self._db.write(work)

    async def recover(self, now: int) -> tuple[int, int]:
        """At start-up, rows a stopped process had taken are owed again.

        Returns (queued, sending): only the sending ones may have reached Telegram already.
        """

        def work(conn: Conn) -> tuple[int, int]:
            counts = dict(
                conn.execute(
                    "SELECT status, count(*) FROM deliveries"
                    " WHERE status IN ('queued', 'sending') GROUP BY status"
                )
            )
            conn.execute(
                "UPDATE deliveries SET status = 'owed', updated_at = ?"
                " WHERE status IN ('queued', 'sending')",
                (now,),
            )
            return counts.get(QUEUED, 0), counts.get(SENDING, 0)

        return await self._db.write(work)

    async def claim(
        self, now: int, limit: int, *, modes: Sequence[str] = ("instant",)
    ) -> list[Due]:
        """Take up to ``limit`` due rows of chats in these modes, oldest first, for sending."""
        mode_marks = ",".join("?" * len(modes))
        owed = (
            f"{_DUE_JOIN}"
            f" WHERE d.status = 'owed' AND d.next_attempt_at <= ? AND c.mode IN ({mode_marks})"
            " AND c.active = 1"
        )

        def any_due(conn: Conn) -> bool:
            return bool(
                conn.execute(
                    f"SELECT EXISTS (SELECT 1 {owed}) OR EXISTS ({_LAPSED})", (now, *modes, now)
                ).fetchone()[0]
            )

        # The idle dispatcher asks twice a second: when nothing is owed that is a read, which
        # never waits for (or warns about) another process's write lock. A row owed after this
        # snapshot is claimed at the next ask.
        if not await self._db.read(any_due):
            return []

        def work(conn: Conn) -> list[Due]:
            _owe_lapsed(conn, now)
            rows = conn.execute(
                f"SELECT {_DUE_COLUMNS} {owed} ORDER BY d.next_attempt_at, d.id LIMIT ?"
                + _skip_locked(conn, " OF d"),
                (now, *modes, limit),
            ).fetchall()
            due = _one_per_story(conn, [_due(r) for r in rows], now)
            _mark(conn, QUEUED, [d.id for d in due], now)
            return due

        return await self._db.write_rows(work, LEDGER)

    async def claim_for_chat(
        self, chat_id: int, now: int, limit: int, *, whole_stories: bool = False
    ) -> list[Due]:
        """Take a chat's owed rows, oldest article first (a channel slot, a digest).

        A channel slot takes rows one message per story (a later report edits the message);
        a digest, ``whole_stories``, takes every report and lists each story once.
        """

        def work(conn: Conn) -> list[Due]:
            _owe_lapsed(conn, now)
            rows = conn.execute(
                f"SELECT {_DUE_COLUMNS} {_DUE_JOIN}"
                " WHERE d.chat_id = ? AND d.status = 'owed' AND d.next_attempt_at <= ?"
                " ORDER BY a.published_at, a.id LIMIT ?" + _skip_locked(conn, " OF d"),
                (chat_id, now, limit),
            ).fetchall()
            due = [_due(r) for r in rows]
            if not whole_stories:
                due = _one_per_story(conn, due, now)
            _mark(conn, SENDING, [d.id for d in due], now)
            return due

        return await self._db.write_rows(work, LEDGER)

    async def record(
        self, outcomes: Sequence[Outcome], now: int, *, sending: Sequence[int] = ()
    ) -> None:
        """Write a batch of outcomes (and rows now going on the wire) in one transaction."""
        rows = [
            (
                o.status,
                o.message_id,
                o.error,
                int(o.attempted),
                int(o.lost_answer),
                o.retry_at if o.retry_at is not None else now,
                now,
                o.sent_as,
                o.delivery_id,
            )
            for o in outcomes
        ]
        on_the_wire = list(sending)

        def work(conn: Conn) -> None:
            if on_the_wire:
                _mark(conn, SENDING, on_the_wire, now)
            # Together when each row has one outcome here (always, from the dispatcher: a row
            # is claimed again only once its last outcome was written); in turn otherwise.
            if conn.dialect == POSTGRESQL and len({r[-1] for r in rows}) == len(rows):
                _record_together(conn, rows)
                return
            conn.executemany(
                "UPDATE deliveries SET status = ?, message_id = coalesce(?, message_id),"
                " last_error = coalesce(?, last_error), attempts = attempts + ?,"
                " lost_answers = lost_answers + ?, next_attempt_at = ?, updated_at = ?,"
                " sent_as = coalesce(?, sent_as) WHERE id = ?",
                rows,
            )

        await self._db.write_rows(work, LEDGER)

    async def article_for_message(self, chat_id: int, message_id: int) -> int | None:
        def work(conn: Conn) -> int | None:
            row = conn.execute(
                "SELECT article_id FROM deliveries WHERE chat_id = ? AND message_id = ?"
                " ORDER BY edit_of IS NOT NULL, id LIMIT 1",  # the article it was sent as
                (chat_id, message_id),
            ).fetchone()
            return None if row is None else int(row[0])

        return await self._db.read(work)

    async def edited_in(self, delivery_id: int) -> list[int]:
        """The articles whose reports were added by editing this delivery's message, in order."""

        def work(conn: Conn) -> list[int]:
            rows = conn.execute(
                "SELECT article_id FROM deliveries WHERE edit_of = ? AND status = 'sent'"
                " ORDER BY updated_at, id",
                (delivery_id,),
            )
            return [int(r[0]) for r in rows]

        return await self._db.read(work)

    async def sent_since(self, chat_id: int, since: int) -> int:
        def work(conn: Conn) -> int:
            row = conn.execute(
                "SELECT count(*) FROM deliveries WHERE chat_id = ? AND status = 'sent'"
                " AND edit_of IS NULL AND updated_at >= ?",  # edits are no new messages
                (chat_id, since),
            ).fetchone()
            return int(row[0])

        return await self._db.read(work)

    async def prune(self, before: int) -> int:
        """Forget finished rows older than ``before``; owed rows are never pruned."""

        def work(conn: Conn) -> int:
            return conn.execute(
                "DELETE FROM deliveries WHERE status IN ('sent', 'failed', 'cancelled')"
                " AND updated_at < ?",
                (before,),
            ).rowcount

        return await self._db.write(work)

    async def stats(self, now: int) -> LedgerStats:
        def work(conn: Conn) -> LedgerStats:
            owed, due = conn.execute(
                "SELECT count(*), count(*) FILTER (WHERE next_attempt_at <= ?) FROM deliveries"
                " WHERE status IN ('owed', 'queued', 'sending')",
                (now,),
            ).fetchone()

            def by_reason(status: str, since: int) -> dict[str, int]:
                rows = conn.execute(
                    "SELECT coalesce(last_error, '?'), count(*) FROM deliveries"
                    " WHERE status = ? AND updated_at >= ? GROUP BY 1 ORDER BY 2 DESC",
                    (status, since),
                )
                return dict(rows)

            def sent(since: int) -> int:
                row = conn.execute(
                    "SELECT count(*) FROM deliveries WHERE status = 'sent' AND updated_at >= ?",
                    (since,),
                ).fetchone()
                return int(row[0])

            hour, day = now - 3600, now - 86400
            return LedgerStats(
                owed=int(owed),
                due_now=int(due),
                sent_last_hour=sent(hour),
                sent_last_day=sent(day),
                failed_last_hour=by_reason(FAILED, hour),
                failed_last_day=by_reason(FAILED, day),
                cancelled_last_day=by_reason(CANCELLED, day),
            )

        return await self._db.read(work)


def _due(row: Sequence[Any]) -> Due:
    """A Due from a row of _DUE_COLUMNS (the edit fields are set later, by _one_per_story)."""
    chat_id, article_id, attempts, chat_type, zone, quiet_start, quiet_end = row[1:8]
    return Due(
        row[0],
        chat_id,
        article_id,
        attempts,
        chat_type,
        zone,
        quiet_start,
        quiet_end,
        lost_answers=row[8],
        story=row[9],
        language=row[10],
        thread_id=row[11],
    )


def _one_per_story(conn: Conn, claimed: list[Due], now: int) -> list[Due]:
    """The claimed rows that may go now, each as a new message or as an edit of the message
    the chat already has for its story; the others wait for their story's row on the way."""
    taken: set[tuple[int, int]] = set()
    ready: list[Due] = []
    waiting: list[tuple[int, int]] = []  # (next attempt, delivery id)
    # The other rows of each claimed row's story in its chat, read in one statement per
    # chunk rather than one per row (a claim takes hundreds). Rows updated in the loop below
    # only ever belong to a (chat, story) already taken, so reading them all first is the same.
    siblings_of = _story_siblings(conn, {(d.chat_id, d.story) for d in claimed})
    for due in claimed:
        key = (due.chat_id, due.story)
        if key in taken:
            waiting.append((now + STORY_WAIT, due.id))
            continue
        siblings = [s for s in siblings_of.get(key, ()) if s[1] != due.article_id]
        first = [s for s in siblings if s[2] == SENT and s[4] is None and s[3] is not None]
        ahead = [
            s for s in siblings if s[2] in (QUEUED, SENDING) or (s[2] == OWED and s[0] < due.id)
        ]
        if ahead:
            # Another report of the story goes first (a message, or an edit of it).
            later = max([now + STORY_WAIT, *(s[5] for s in ahead if s[2] == OWED)])
            waiting.append((later, due.id))
            continue
        taken.add(key)
        if first:
            original = min(first)  # the story's message in this chat
            conn.execute("UPDATE deliveries SET edit_of = ? WHERE id = ?", (original[0], due.id))
            due = replace(
                due,
                edit_of=original[0],
                edit_article_id=original[1],
                edit_message_id=original[3],
                edit_sent_as=original[6],
            )
        ready.append(due)
    conn.executemany(
        "UPDATE deliveries SET next_attempt_at = ?, updated_at = ? WHERE id = ?",
        [(later, now, delivery_id) for later, delivery_id in waiting],
    )
    return ready


_Sibling = tuple[int, int, str, int | None, int | None, int, str | None]


def _story_siblings(
    conn: Conn, keys: set[tuple[int, int]]
) -> dict[tuple[int, int], list[_Sibling]]:
    """Each (chat, story)'s deliveries: (id, article, status, message id, edit_of, next
    attempt, sent_as)."""
    found: dict[tuple[int, int], list[_Sibling]] = {}
    pairs = sorted(keys)
    for start in range(0, len(pairs), 250):
        chunk = pairs[start : start + 250]
        # VALUES names its columns column1, column2 on both backends.
        rows = conn.execute(
            "SELECT k.column1, k.column2, d.id, d.article_id, d.status, d.message_id,"
            " d.edit_of, d.next_attempt_at, d.sent_as"
            f" FROM (VALUES {', '.join(['(?, ?)'] * len(chunk))}) AS k"
            " JOIN articles a ON a.story_id = k.column2"
            " JOIN deliveries d ON d.article_id = a.id AND d.chat_id = k.column1",
            [value for pair in chunk for value in pair],
        )
        for chat_id, story, row_id, article_id, status, message_id, edit_of, at, sent_as in rows:
            row = (row_id, article_id, status, message_id, edit_of, at, sent_as)
            found.setdefault((chat_id, story), []).append(row)
    return found


def _word_hits(conn: Conn, ids: list[int], oldest: int) -> None:
    """Fill the temporary table fan_out_hits with the followed or muted words each article
    holds, and fan_out_muted with the chats muting each (one key look-up per owed row later; a
    row-value NOT IN over a subquery is scanned, not looked up). Both backends look a temporary
    table up before a stored one of the same name, so the statements name them plainly."""
    # SQLite's clustered WITHOUT ROWID tables; PostgreSQL's temporary tables live as long as
    # the pooled connection (rows emptied at commit, so a failed fan-out leaves none).
    table = " ON COMMIT DELETE ROWS" if conn.dialect == POSTGRESQL else " WITHOUT ROWID"
    conn.execute(
        "CREATE TEMP TABLE IF NOT EXISTS fan_out_hits (article_id BIGINT NOT NULL,"
        f" word TEXT NOT NULL, PRIMARY KEY (article_id, word)){table}"
    )
    conn.execute(
        "CREATE TEMP TABLE IF NOT EXISTS fan_out_muted (article_id BIGINT NOT NULL,"
        f" chat_id BIGINT NOT NULL, PRIMARY KEY (article_id, chat_id)){table}"
    )
    conn.execute("DELETE FROM fan_out_hits")
    conn.execute("DELETE FROM fan_out_muted")
    if not any_words(conn):
        return
    for start in range(0, len(ids), 500):
        chunk = ids[start : start + 500]
        marks = ",".join("?" * len(chunk))
        texts = conn.execute(
            f"SELECT id, title, summary, body FROM articles WHERE id IN ({marks})"
            " AND published_at >= ?",
            (*chunk, oldest),
        ).fetchall()
        conn.executemany(
            "INSERT INTO fan_out_hits (article_id, word) VALUES (?, ?) ON CONFLICT DO NOTHING",
            article_hits(conn, texts),
        )
    # WHERE true: SQLite would read ON CONFLICT as the join's ON without a WHERE between.
    conn.execute(
        "INSERT INTO fan_out_muted (article_id, chat_id)"
        " SELECT h.article_id, m.chat_id FROM fan_out_hits h"
        " JOIN chat_words m ON m.word = h.word AND m.kind = 'mute' WHERE true"
        " ON CONFLICT DO NOTHING"
    )


def _owe_unmuted(
    conn: Conn,
    chat_id: int,
    newest: Iterable[int],
    count: int,
    now: int,
    thread: int | None,
) -> int:
    """Owe ``chat_id`` the first ``count`` of the ``newest`` article ids that hold no word the
    chat mutes."""
    mutes = [
        r[0]
        for r in conn.execute(
            "SELECT word FROM chat_words WHERE chat_id = ? AND kind = 'mute'", (chat_id,)
        )
    ]
    muted = PhraseSet(mutes)
    chosen: list[int] = []
    for article_id in newest:
        if mutes:
            title, summary, body = conn.execute(
                "SELECT title, summary, body FROM articles WHERE id = ?", (article_id,)
            ).fetchone()
            if muted.found_in(article_text(title, summary, body)):
                continue
        chosen.append(article_id)
        if len(chosen) >= count:
            break
    cursor = conn.executemany(
        "INSERT INTO deliveries"
        " (chat_id, article_id, next_attempt_at, created_at, updated_at, thread_id)"
        " VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING",
        [(chat_id, article_id, now, now, now, thread) for article_id in chosen],
    )
    return max(cursor.rowcount, 0)


# One outcome's values, typed for PostgreSQL (a NULL in VALUES has no type of its own).
_OUTCOME_ROW = (
    "(?::text, ?::bigint, ?::text, ?::int, ?::int, ?::bigint, ?::bigint, ?::text, ?::bigint)"
)


def _record_together(conn: Conn, rows: Sequence[Sequence[Any]]) -> None:
    """PostgreSQL: a batch of outcomes as one UPDATE per 500, not one statement per row (at
    1,000 messages/s the server parsed and ran a statement per message, on 2 shared cores)."""
    for start in range(0, len(rows), 500):
        chunk = sorted(rows[start : start + 500], key=lambda r: r[-1])  # ids in one order
        conn.execute(
            "UPDATE deliveries AS d SET status = v.status,"
            " message_id = coalesce(v.message_id, d.message_id),"
            " last_error = coalesce(v.last_error, d.last_error),"
            " attempts = d.attempts + v.attempted, lost_answers = d.lost_answers + v.lost,"
            " next_attempt_at = v.next_at, updated_at = v.now,"
            " sent_as = coalesce(v.sent_as, d.sent_as)"
            f" FROM (VALUES {', '.join([_OUTCOME_ROW] * len(chunk))}) AS v (status,"
            " message_id, last_error, attempted, lost, next_at, now, sent_as, id)"
            " WHERE d.id = v.id",
            [value for row in chunk for value in row],
        )


def _mark(conn: Conn, status: str, ids: list[int], now: int) -> None:
    """Mark rows claimed (QUEUED) or on the wire (SENDING), held for a new lease."""
    for start in range(0, len(ids), 500):
        chunk = ids[start : start + 500]
        conn.execute(
            "UPDATE deliveries SET status = ?, updated_at = ?, lease_until = ?"
            f" WHERE id IN ({','.join('?' * len(chunk))})",
            (status, now, now + LEASE, *chunk),
        )


def _stale_statistics(conn: Conn, table: str) -> bool:
    """Whether PostgreSQL's statistics of ``table`` miss a tenth of its rows or more (the share
    at which autovacuum would renew them, a minute or so later), or were never taken."""
    row = conn.execute(
        "SELECT n_mod_since_analyze, n_live_tup, last_analyze IS NULL"
        " AND last_autoanalyze IS NULL FROM pg_stat_user_tables WHERE relid = ?::regclass",
        (table,),
    ).fetchone()
    return row is not None and (bool(row[2]) or row[0] > max(row[1], 1000) // 10)


def _skip_locked(conn: Conn, of: str = "") -> str:
    """PostgreSQL's row locks for a claim's SELECT: rows another claimer's transaction holds
    are left to it, without waiting. SQLite has one writer at a time and no such clause."""
    return f" FOR UPDATE{of} SKIP LOCKED" if conn.dialect == POSTGRESQL else ""


def _owe_lapsed(conn: Conn, now: int) -> None:
    """Owe again the rows whose lease lapsed; those that were on the wire may repeat."""
    lapsed = conn.execute(
        "UPDATE deliveries SET status = 'owed', updated_at = ?"
        f" WHERE id IN ({_LAPSED}{_skip_locked(conn)})",
        (now, now),
    ).rowcount
    if lapsed:
        log.warning(
            "owed again: %d claimed deliveries whose lease expired (their instance stopped"
            " without finishing them; those it was sending may repeat)",
            lapsed,
        )
