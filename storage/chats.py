"""Chats the bot knows (private, groups, channels), their settings and whether they are live."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from storage.db import Conn, Database

CHAT_COLUMNS = (
    "id, type, title, username, active, inactive_reason, mode, digest_time, timezone,"
    " quiet_start, quiet_end, language, reader_language"
)
INSTANT, DIGEST, SCHEDULED = "instant", "digest", "scheduled"


@dataclass(frozen=True, slots=True)
class LostThread:
    """A forum thread Telegram refused, and what was delivered into it (now into General)."""

    thread_id: int
    topics: tuple[str, ...]
    words: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class Chat:
    id: int
    type: str
    title: str | None
    username: str | None
    active: bool
    inactive_reason: str | None
    mode: str
    digest_time: str | None
    timezone: str | None
    quiet_start: str | None
    quiet_end: str | None
    language: str | None = None  # chosen in /settings; None follows the reader
    reader_language: str | None = None  # a private chat's user's language_code, as last seen

    @property
    def speaks(self) -> str | None:
        """The language code to write to this chat in when nobody is asking: the chosen one,
        else its reader's; None when neither is known."""
        return self.language or self.reader_language


def _chat(row: Any) -> Chat:
    return Chat(
        id=row[0],
        type=row[1],
        title=row[2],
        username=row[3],
        active=bool(row[4]),
        inactive_reason=row[5],
        mode=row[6],
        digest_time=row[7],
        timezone=row[8],
        quiet_start=row[9],
        quiet_end=row[10],
        language=row[11],
        reader_language=row[12],
    )


def _select_chat(conn: Conn, chat_id: int) -> Chat | None:
    row = conn.execute(
        f"SELECT {CHAT_COLUMNS} FROM chats WHERE id = ?",
        (chat_id,),
    ).fetchone()
    return _chat(row) if row else None


class Chats:
    def __init__(self, db: Database) -> None:
        self._db = db

    async def seen(
        self,
        chat_id: int,
        chat_type: str,
        title: str | None,
        username: str | None,
        now: int,
        reader_language: str | None = None,
    ) -> Chat:
        """Record a chat the bot heard from, keeping its settings and active flag.

        ``reader_language`` (a private chat's user's language code) is kept once known: an
        update without one does not forget it.
        """
        # A chat already stored as it is needs no write: reading is never held up by another
        # process's write lock, so a known chat's /latest answers even then.
        known = await self._db.read(lambda conn: _select_chat(conn, chat_id))
        unchanged = known is not None and (known.type, known.title, known.username) == (
            chat_type,
            title,
            username,
        )
        if known is not None and unchanged and reader_language in (None, known.reader_language):
            return known

        def work(conn: Conn) -> Chat:
            conn.execute(
                "INSERT INTO chats (id, type, title, username, reader_language, created_at,"
                " updated_at) VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT (id) DO UPDATE SET"
                " type = excluded.type, title = excluded.title, username = excluded.username,"
                " reader_language = COALESCE(excluded.reader_language, chats.reader_language),"
                " updated_at = excluded.updated_at"
                " WHERE (chats.type, chats.title, chats.username, chats.reader_language)"
                " IS DISTINCT FROM (excluded.type, excluded.title, excluded.username,"
                "  COALESCE(excluded.reader_language, chats.reader_language))",
                (chat_id, chat_type, title, username, reader_language, now, now),
            )
            chat = _select_chat(conn, chat_id)
            assert chat is not None
            return chat

        return await self._db.write(work)

    async def get(self, chat_id: int) -> Chat | None:
        return await self._db.read(lambda conn: _select_chat(conn, chat_id))

    async def set_active(self, chat_id: int, active: bool, reason: str | None, now: int) -> None:
        """Mark a chat live or not; a chat that went away has what it was owed cancelled."""

        def work(conn: Conn) -> None:
            conn.execute(
                "UPDATE chats SET active = ?, inactive_reason = ?, updated_at = ? WHERE id = ?",
                (int(active), None if active else reason, now, chat_id),
            )
            if not active:
                conn.execute(
                    "UPDATE deliveries SET status = 'cancelled', last_error = ?, updated_at = ?"
                    " WHERE chat_id = ? AND status IN ('owed', 'queued', 'sending')",
                    (reason, now, chat_id),
                )

        await self._db.write(work)

    async def update_settings(self, chat_id: int, now: int, **settings: str | None) -> Chat:
        allowed = {"mode", "digest_time", "timezone", "quiet_start", "quiet_end", "language"}
        unknown = set(settings) - allowed
        if unknown:
            raise ValueError(f"unknown chat settings: {sorted(unknown)}")
        if "mode" in settings and settings["mode"] not in (INSTANT, DIGEST, SCHEDULED):
            raise ValueError(f"mode must be {INSTANT!r}, {DIGEST!r} or {SCHEDULED!r}")
        names = sorted(settings)

        def work(conn: Conn) -> Chat:
            assignments = ", ".join(f"{name} = ?" for name in names)  # names are from `allowed`
            conn.execute(
                f"UPDATE chats SET {assignments}, updated_at = ? WHERE id = ?",
                (*(settings[n] for n in names), now, chat_id),
            )
            chat = _select_chat(conn, chat_id)
            if chat is None:
                raise LookupError(f"no chat {chat_id}")
            return chat

        return await self._db.write(work)

    async def migrate(self, old_id: int, new_id: int, now: int) -> None:
        """A group became a supergroup: move the chat, its subscriptions and owed deliveries."""

        def work(conn: Conn) -> None:
            if conn.execute("SELECT 1 FROM chats WHERE id = ?", (old_id,)).fetchone() is None:
                return  # already moved: Telegram announces a migration in both chats
            exists = conn.execute("SELECT 1 FROM chats WHERE id = ?", (new_id,)).fetchone()
            if exists is None:
                # ON UPDATE CASCADE carries subscriptions and deliveries along.
                conn.execute(
                    "UPDATE chats SET id = ?, type = 'supergroup', updated_at = ? WHERE id = ?",
                    (new_id, now, old_id),
                )
                return
            # Both ids are known (the supergroup spoke first): merge the old into the new.
            conn.execute(
                "INSERT INTO subscriptions (chat_id, topic, created_at)"
                " SELECT ?, topic, created_at FROM subscriptions WHERE chat_id = ?"
                " ON CONFLICT DO NOTHING",
                (new_id, old_id),
            )
            conn.execute(
                "INSERT INTO chat_words (chat_id, word, first, kind, created_at)"
                " SELECT ?, word, first, kind, created_at FROM chat_words WHERE chat_id = ?"
                " ON CONFLICT DO NOTHING",
                (new_id, old_id),
            )
            conn.execute(
                "INSERT INTO deliveries (chat_id, article_id, status, message_id,"
                " attempts, next_attempt_at, last_error, created_at, updated_at)"
                " SELECT ?, article_id, status, message_id, attempts, next_attempt_at, last_error,"
                " created_at, ? FROM deliveries WHERE chat_id = ? ON CONFLICT DO NOTHING",
                (new_id, now, old_id),
            )
            conn.execute(
                "UPDATE chats SET (mode, digest_time, timezone, quiet_start, quiet_end,"
                " language) = (SELECT mode, digest_time, timezone, quiet_start, quiet_end,"
                " language FROM chats"
                "  WHERE id = ?), active = 1, updated_at = ? WHERE id = ?",
                (old_id, now, new_id),
            )
            conn.execute("DELETE FROM chats WHERE id = ?", (old_id,))

        await self._db.write(work)

    async def digest_chats(self) -> list[tuple[int, str | None, str | None, int | None]]:
        """(id, digest_time, timezone, last_digest_at) of every active chat in digest mode."""

        def work(conn: Conn) -> list[tuple[int, str | None, str | None, int | None]]:
            rows = conn.execute(
                "SELECT id, digest_time, timezone, last_digest_at FROM chats"
                " WHERE mode = 'digest' AND active = 1"
            )
            return [(r[0], r[1], r[2], r[3]) for r in rows]

        return await self._db.read(work)

    async def digest_sent(self, chat_id: int, when: int) -> None:
        await self._db.write(
            lambda conn: conn.execute(
                "UPDATE chats SET last_digest_at = ? WHERE id = ?", (when, chat_id)
            )
        )

    async def counts(self) -> dict[tuple[str, bool], int]:
        """How many chats of each (type, active)."""

        def work(conn: Conn) -> dict[tuple[str, bool], int]:
            rows = conn.execute("SELECT type, active, count(*) FROM chats GROUP BY type, active")
            return {(t, bool(a)): n for t, a, n in rows}

        return await self._db.read(work)

    async def lose_thread(
        self, chat_id: int, thread_id: int, reason: str, now: int
    ) -> LostThread | None:
        """Telegram refused forum ``thread_id`` (deleted or closed): what went there goes to the
        chat's General topic from now on (its topics, followed words and owed rows).

        Returns what was moved when this is news, None when the thread was already known lost:
        the group is told once, and the record of that survives a restart.
        """

        def work(conn: Conn) -> LostThread | None:
            new = conn.execute(
                "INSERT INTO lost_threads (chat_id, thread_id, reason, created_at)"
                " VALUES (?, ?, ?, ?) ON CONFLICT (chat_id, thread_id) DO NOTHING",
                (chat_id, thread_id, reason, now),
            ).rowcount
            topics = conn.execute(
                "UPDATE subscriptions SET thread_id = NULL WHERE chat_id = ? AND thread_id = ?"
                " RETURNING topic",
                (chat_id, thread_id),
            ).fetchall()
            words = conn.execute(
                "UPDATE chat_words SET thread_id = NULL WHERE chat_id = ? AND thread_id = ?"
                " RETURNING word",
                (chat_id, thread_id),
            ).fetchall()
            conn.execute(
                "UPDATE deliveries SET thread_id = NULL WHERE chat_id = ? AND thread_id = ?"
                " AND status IN ('owed', 'queued')",
                (chat_id, thread_id),
            )
            if not new:
                return None
            return LostThread(
                thread_id, tuple(sorted(r[0] for r in topics)), tuple(sorted(r[0] for r in words))
            )

        return await self._db.write(work)

    async def thread_back(self, chat_id: int, thread_id: int) -> None:
        """Articles are asked for in ``thread_id`` again: if it is lost once more, say so."""
        await self._db.write(
            lambda conn: conn.execute(
                "DELETE FROM lost_threads WHERE chat_id = ? AND thread_id = ?",
                (chat_id, thread_id),
            )
        )

    async def inactive(self, limit: int = 20) -> list[Chat]:
        def work(conn: Conn) -> list[Chat]:
            rows = conn.execute(
                f"SELECT {CHAT_COLUMNS} FROM chats WHERE active = 0"
                " ORDER BY updated_at DESC LIMIT ?",
                (limit,),
            )
            return [_chat(r) for r in rows]

        return await self._db.read(work)


class Subscriptions:
    def __init__(self, db: Database) -> None:
        self._db = db

    async def of_chat(self, chat_id: int) -> list[str]:
        def work(conn: Conn) -> list[str]:
            rows = conn.execute(
                "SELECT topic FROM subscriptions WHERE chat_id = ? ORDER BY topic", (chat_id,)
            )
            return [r[0] for r in rows]

        return await self._db.read(work)

    async def threads(self, chat_id: int) -> dict[str, int | None]:
        """Each topic of the chat with the forum thread it is delivered into (None: General)."""

        def work(conn: Conn) -> dict[str, int | None]:
            rows = conn.execute(
                "SELECT topic, thread_id FROM subscriptions WHERE chat_id = ? ORDER BY topic",
                (chat_id,),
            )
            return {r[0]: r[1] for r in rows}

        return await self._db.read(work)

    async def subscribe(
        self, chat_id: int, topics: Sequence[str], now: int, *, thread: int | None = None
    ) -> list[str]:
        """Add topics, delivered into forum ``thread`` (None: the chat itself); returns the
        ones that were not subscribed before."""

        def work(conn: Conn) -> list[str]:
            return _changed(
                conn,
                "INSERT INTO subscriptions (chat_id, topic, created_at, thread_id)"
                " SELECT ?, slug, ?, ? FROM topics WHERE slug = ?"
                " ON CONFLICT (chat_id, topic) DO NOTHING",
                topics,
                lambda topic: (chat_id, now, thread, topic),
            )

        return await self._db.write(work)

    async def move(self, chat_id: int, topics: Sequence[str], thread: int | None) -> list[str]:
        """Deliver these subscribed topics into ``thread`` from now on; returns the ones that
        went elsewhere before."""

        def work(conn: Conn) -> list[str]:
            return _changed(
                conn,
                "UPDATE subscriptions SET thread_id = ?"
                " WHERE chat_id = ? AND topic = ? AND thread_id IS DISTINCT FROM ?",
                topics,
                lambda topic: (thread, chat_id, topic, thread),
            )

        return await self._db.write(work)

    async def unsubscribe(self, chat_id: int, topics: Sequence[str] | None) -> list[str]:
        """Remove the given topics, or all when ``topics`` is None; returns what was removed."""

        def work(conn: Conn) -> list[str]:
            if topics is None:
                rows = conn.execute(
                    "DELETE FROM subscriptions WHERE chat_id = ? RETURNING topic", (chat_id,)
                ).fetchall()
                return sorted(r[0] for r in rows)
            return _changed(
                conn,
                "DELETE FROM subscriptions WHERE chat_id = ? AND topic = ?",
                topics,
                lambda topic: (chat_id, topic),
            )

        return await self._db.write(work)

    async def counts(self) -> dict[str, int]:
        def work(conn: Conn) -> dict[str, int]:
            return dict(conn.execute("SELECT topic, count(*) FROM subscriptions GROUP BY topic"))

        return await self._db.read(work)


def _changed(
    conn: Conn,
    sql: str,
    topics: Sequence[str],
    params: Callable[[str], tuple[object, ...]],
) -> list[str]:
    """The topics (each once, in order) for which ``sql``, run with ``params(topic)``, changed
    a row."""
    return [topic for topic in dict.fromkeys(topics) if conn.execute(sql, params(topic)).rowcount]
