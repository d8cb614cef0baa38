"""Which of several ``newsbot run`` processes on one PostgreSQL store leads.

Exactly one instance leads at a time. The leader polls Telegram, sends every bulk delivery (so
Telegram's flood limits are counted in one process, exactly as with one instance) and runs the
scheduled work; the others stand by (and in webhook mode answer the updates they are given).

Leadership is a session-level advisory lock held on a connection of its own. PostgreSQL drops
it the moment that session ends, whatever ended it (the process was killed, the server
restarted, the network dropped the connection), so a standby that tries every second leads
within a couple of seconds of a SIGKILL; the connection has TCP keepalives so that a host that
vanished is noticed too. The leader checks its session every ``check_every`` seconds and, when
it is gone, stops leading before it tries to lead again.

The id of the next update to fetch is committed on that same connection once the updates
below it were handled (in ``cluster_poll_offsets``, made by the store's migrations, which
``newsbot run`` applies before it asks for the lead). A write there succeeds only while the
session, and so the lock, is alive: an instance that lost the lead cannot move the offset back
or forth.

With SQLite there is one process, which always leads (``SoleInstance``): the offset is kept in
memory and Telegram's own confirmation (the next getUpdates) keeps it across restarts.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
from collections.abc import Awaitable, Callable

import psycopg
from psycopg.conninfo import conninfo_to_dict

from core.aio import cancel_and_wait

log = logging.getLogger(__name__)

Hook = Callable[[], Awaitable[None]]

RETRY_EVERY = 1.0  # a standby asks for the lock this often
CHECK_EVERY = 2.0  # the leader checks that its session (and so its lock) is alive this often
CHECK_TIMEOUT = 5.0  # a check that takes longer means the session is lost
OFFSET_FRESH_SECONDS = 3600


class LostLead(RuntimeError):
    """This instance does not lead (any more): it must not poll, send or commit."""


class Leadership:
    """Who leads, with hooks run as the lead is won and lost.

    ``term`` counts the times this instance came to lead, so that work started in one term
    (updates fetched, a batch claimed) can tell that the lead was lost and won again since.
    """

    def __init__(self) -> None:
        self.term = 0
        # Whether this instance stood by while another led: only then may Telegram's windows
        # hold that leader's sends when this one starts to lead.
        self.took_over = False
        self._leading = asyncio.Event()
        self._promoted: list[Hook] = []
        self._demoted: list[Hook] = []

    @property
    def leading(self) -> bool:
        return self._leading.is_set()

    def watch(self, *, promoted: Hook, demoted: Hook) -> None:
        """Run ``promoted`` each time this instance comes to lead (before it acts as leader),
        ``demoted`` each time it stops (after it stopped acting as leader)."""
        self._promoted.append(promoted)
        self._demoted.append(demoted)

    async def wait_leading(self) -> None:
        await self._leading.wait()

    async def start(self) -> None:
        raise NotImplementedError

    async def stop(self) -> None:
        raise NotImplementedError

    async def next_update_id(self) -> int | None:
        """The first update not yet handled, as committed; None when nothing was."""
        raise NotImplementedError

    async def commit_update_id(self, next_update_id: int) -> None:
        """Every update below ``next_update_id`` was handled. Raises LostLead if not leading."""
        raise NotImplementedError

    async def _promote(self) -> None:
        self.term += 1
        for hook in self._promoted:
            try:
                await hook()
            except Exception:
                log.exception("starting to lead failed in part; leading anyway")
        self._leading.set()

    async def _demote(self) -> None:
        if not self._leading.is_set():
            return
        self._leading.clear()
        for hook in self._demoted:
            try:
                await hook()
            except Exception:
                log.exception("stopping to lead failed in part")


class SoleInstance(Leadership):
    """One process on its own store (SQLite): it leads from start to stop."""

    def __init__(self) -> None:
        super().__init__()
        self._next: int | None = None

    async def start(self) -> None:
        await self._promote()

    async def stop(self) -> None:
        await self._demote()

    async def next_update_id(self) -> int | None:
        return self._next

    async def commit_update_id(self, next_update_id: int) -> None:
        if not self.leading:
            raise LostLead("not leading")
        self._next = next_update_id


class PostgresLeadership(Leadership):
    """The lead among the processes sharing one PostgreSQL database, for one bot (``scope``)."""

    def __init__(
        self,
        url: str,
        scope: str,
        *,
        retry_every: float = RETRY_EVERY,
        check_every: float = CHECK_EVERY,
        check_timeout: float = CHECK_TIMEOUT,
    ) -> None:
        super().__init__()
        self.url = url
        self.scope = scope
        self.key = lock_key(scope)
        self.retry_every = retry_every
        self.check_every = check_every
        self.check_timeout = check_timeout
        self._conn: psycopg.AsyncConnection[tuple[object, ...]] | None = None
        self._task: asyncio.Task[None] | None = None
        self._failing = False

    @property
    def where(self) -> str:
        """The database as logs name it: host, port and name, never the password."""
        return describe_url(self.url)

    async def start(self) -> None:
        """Try for the lead once now (so a lone instance leads before it serves), then keep
        trying, or checking, in the background."""
        await self._step()
        self._task = asyncio.create_task(self._run(), name="newsbot-leadership")

    async def stop(self) -> None:
        """Stop leading and let the lock go at once, so a standby takes over without waiting."""
        await cancel_and_wait(self._task)
        self._task = None
        await self._demote()
        await self._close()

    async def next_update_id(self) -> int | None:
        conn = self._leader_connection()
        # Only a recent one: a leader commits as it handles, and its next getUpdates confirms
        # the same offset to Telegram, so an older one tells nothing Telegram does not know.
        # After a week without updates Telegram numbers them afresh, maybe lower: an old
        # offset would then hide every new update.
        cursor = await conn.execute(
            "SELECT next_update_id FROM cluster_poll_offsets WHERE scope = %s"
            " AND committed_at > now() - make_interval(secs => %s)",
            (self.scope, OFFSET_FRESH_SECONDS),
        )
        row = await cursor.fetchone()
        return None if row is None else int(str(row[0]))

    async def commit_update_id(self, next_update_id: int) -> None:
        conn = self._leader_connection()
        try:
            await conn.execute(
                "INSERT INTO cluster_poll_offsets (scope, next_update_id) VALUES (%s, %s)"
                " ON CONFLICT (scope) DO UPDATE SET next_update_id = excluded.next_update_id,"
                " committed_at = now()",
                (self.scope, next_update_id),
            )
        except (psycopg.Error, OSError) as exc:
            raise LostLead(f"the leader's session is gone: {exc}") from exc

    def _leader_connection(self) -> psycopg.AsyncConnection[tuple[object, ...]]:
        if not self.leading or self._conn is None:
            raise LostLead("not leading")
        return self._conn

    # -- the loop --------------------------------------------------------------------------

    async def _run(self) -> None:
        while True:
            await asyncio.sleep(self.check_every if self.leading else self.retry_every)
            await self._step()

    async def _step(self) -> None:
        won = False
        try:
            async with asyncio.timeout(self.check_timeout):
                if self._conn is None:
                    self._conn = await self._connect()
                if self.leading:
                    await self._conn.execute("SELECT 1")  # the session, and so the lock, lives
                else:
                    cursor = await self._conn.execute(
                        "SELECT pg_try_advisory_lock(%s)", (self.key,)
                    )
                    row = await cursor.fetchone()
                    won = row is not None and row[0] is True
                    # Another instance holds the lead: winning it later is a takeover.
                    self.took_over = self.took_over or not won
            if self._failing:
                log.info("PostgreSQL at %s answers again", self.where)
                self._failing = False
        except (psycopg.Error, OSError, TimeoutError) as exc:
            if self.leading:
                log.error("lost the lead (%s: %s); standing by", self.where, _one_line(exc))
            elif not self._failing:
                log.warning("cannot reach PostgreSQL at %s: %s", self.where, _one_line(exc))
            self._failing = True
            await self._demote()
            await self._close()
            return
        if won:
            log.info("leading: this instance polls, sends and runs the schedule")
            await self._promote()

    async def _connect(self) -> psycopg.AsyncConnection[tuple[object, ...]]:
        conn = await psycopg.AsyncConnection.connect(
            self.url,
            autocommit=True,  # the lock is the session's, not a transaction's
            connect_timeout=max(1, int(self.check_timeout)),
            application_name="newsbot leadership",
            # A peer that vanished without closing the connection is noticed in ~10 s.
            keepalives=1,
            keepalives_idle=4,
            keepalives_interval=2,
            keepalives_count=3,
        )
        return conn

    async def _close(self) -> None:
        conn, self._conn = self._conn, None
        if conn is not None:
            with contextlib.suppress(psycopg.Error, OSError):
                await conn.close()


def lock_key(scope: str) -> int:
    """The advisory lock's key for ``scope``: 64 stable bits, as PostgreSQL's signed bigint."""
    digest = hashlib.blake2b(f"newsbot leader {scope}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big", signed=True)


def describe_url(url: str) -> str:
    """``host:port/dbname`` of a connection URL, leaving out the user's password."""
    try:
        parts = conninfo_to_dict(url)
    except psycopg.ProgrammingError:
        return "(an unreadable URL)"
    host = parts.get("host") or "localhost"
    port = parts.get("port") or "5432"
    return f"{host}:{port}/{parts.get('dbname') or parts.get('user') or ''}"


def _one_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return text[0] if text else type(exc).__name__
