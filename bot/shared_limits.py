"""Telegram's flood limits counted across instances, in Redis: windows every instance takes from.

In webhook mode every instance answers the updates the load balancer gives it, so replies go
out from several processes at once, and each process's own limiter (bot/ratelimit.py) sees
only its share. With ``[delivery] shared_limits`` naming a Redis server, every message also
takes a slot from the windows kept there, under the same rule as the local ones: a slot is held
from the moment it is granted until one period after its answer came back (a lease while it is
in flight bounds what a dead instance holds). Each window is a sorted set of slots scored by the
moment each stops counting, so it slides exactly as Telegram counts (a counter per fixed second
would let two adjacent seconds put twice the limit into one sliding second). One Lua script
takes a slot from every window a message counts against at once, or none, by the Redis server's
own clock; a second gives the slots back with their release times.

Replies go ahead of bulk sends across instances too: a reply that finds an overall window full
registers as waiting (for a moment, renewed while it waits), and no bulk send is granted while
any reply waits, in whichever instance.

Costs two round trips to Redis per message (``python bench/cluster.py budget``); used only where
several instances send (webhook mode on a shared store). When Redis stops answering, the
local limiter alone keeps this instance's windows (said once in the log) and Telegram's 429s,
which make every request wait, catch the rest; at start an unreachable server is an error.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
import os
import secrets
from collections.abc import Sequence
from dataclasses import dataclass

import redis.asyncio as aioredis
from redis.exceptions import RedisError

from bot.ratelimit import SharedLimitsUnreachable, Span
from core.settings import masked_url

log = logging.getLogger(__name__)

# Seconds a granted slot counts while its request is in flight (longer than any send waits for
# its answer, [delivery] send_timeout): what an instance killed mid-request holds at most.
LEASE = 30.0
# A waiting reply's registration lapses this long after it was last renewed (its instance died).
WAITER_TTL = 1.0
# A refused request asks again after the window's next release, but at least this often (a
# reply must renew its registration; an answer elsewhere may free a slot early).
POLL_AT_MOST = 0.05

# KEYS: the windows (overall ones first), then the waiting replies' set.
# ARGV: member, lease, interactive (1/0), how many windows are overall, then each window's
#       limit and period (seconds) in KEYS' order.
# Returns {1} when granted, else {0, seconds until the first slot of a full window frees}.
_ACQUIRE = """
local t = redis.call('TIME')
local now = tonumber(t[1]) + tonumber(t[2]) / 1000000
local windows = #KEYS - 1
local waiters = KEYS[#KEYS]
local member, lease = ARGV[1], tonumber(ARGV[2])
local interactive, overall = ARGV[3] == '1', tonumber(ARGV[4])
redis.call('ZREMRANGEBYSCORE', waiters, '-inf', now)
if not interactive and redis.call('ZCARD', waiters) > 0 then
  return {0, '0.02'}
end
local wait, overall_full = 0, false
for i = 1, windows do
  redis.call('ZREMRANGEBYSCORE', KEYS[i], '-inf', now)
  if redis.call('ZCARD', KEYS[i]) >= tonumber(ARGV[3 + 2 * i]) then
    local first = redis.call('ZRANGE', KEYS[i], 0, 0, 'WITHSCORES')
    wait = math.max(wait, tonumber(first[2]) - now)
    if i <= overall then overall_full = true end
  end
end
if wait > 0 then
  if interactive and overall_full then
    redis.call('ZADD', waiters, now + tonumber(ARGV[#ARGV]), member)
    redis.call('EXPIRE', waiters, 60)
  end
  return {0, tostring(wait)}
end
for i = 1, windows do
  redis.call('ZADD', KEYS[i], now + lease, member)
  redis.call('EXPIRE', KEYS[i], math.ceil(lease + tonumber(ARGV[4 + 2 * i])) + 1)
end
if interactive then redis.call('ZREM', waiters, member) end
return {1}
"""

# KEYS: the windows the slot was taken from. ARGV: member, then each window's period.
_RELEASE = """
local t = redis.call('TIME')
local now = tonumber(t[1]) + tonumber(t[2]) / 1000000
for i = 1, #KEYS do
  redis.call('ZADD', KEYS[i], now + tonumber(ARGV[1 + i]), ARGV[1])
end
return 1
"""


@dataclass(frozen=True, slots=True)
class Slot:
    """A granted slot: its name in the windows (their keys and periods) it counts in."""

    member: str
    keys: tuple[str, ...]
    periods: tuple[float, ...]


class SharedLimits:
    """The windows of one bot (by its id) in one Redis database, shared by its instances."""

    def __init__(self, url: str, bot_id: str, *, lease: float = LEASE) -> None:
        self.url = url
        self.where = masked_url(url)
        self.prefix = f"newsbot:{bot_id}:limits"
        self.lease = lease
        self._redis = aioredis.Redis.from_url(url, socket_connect_timeout=3, socket_timeout=5)
        self._acquire = self._redis.register_script(_ACQUIRE)
        self._release = self._redis.register_script(_RELEASE)
        self._names = (f"{os.getpid()}-{secrets.token_hex(3)}-{n}" for n in itertools.count())
        self._failing = False

    async def check(self) -> None:
        """Reach the server (at start): ``SharedLimitsUnreachable`` names it, password masked."""
        try:
            await self._redis.ping()
        except (RedisError, OSError) as exc:
            raise SharedLimitsUnreachable(
                f"[delivery] shared_limits: cannot reach Redis at {self.where}: {exc}"
            ) from exc

    async def close(self) -> None:
        await self._redis.aclose()

    async def acquire(self, spans: Sequence[Span], overall: int, *, interactive: bool) -> object:
        """Wait for a slot in every window of ``spans`` (the first ``overall`` are the windows
        of every chat); None when Redis does not answer (the local limiter alone counts)."""
        member = next(self._names)
        args: list[str | float | int] = [member, self.lease, int(interactive), overall]
        for span in spans:
            args += [span.limit, span.period]
        args.append(WAITER_TTL)
        keys = [f"{self.prefix}:{span.name}" for span in spans]
        while True:
            try:
                answer = await self._acquire(keys=[*keys, f"{self.prefix}:replies"], args=args)
            except (RedisError, OSError) as exc:
                self._failed(exc)
                return None
            self._answered()
            if int(answer[0]) == 1:
                return Slot(member, tuple(keys), tuple(span.period for span in spans))
            wait = float(answer[1])
            await asyncio.sleep(min(max(wait, 0.001), POLL_AT_MOST))

    async def release(self, slot: object) -> None:
        """The slot's request was answered: it counts one period more in each window."""
        if not isinstance(slot, Slot):
            return  # taken while Redis did not answer: nothing to give back
        try:
            await self._release(keys=list(slot.keys), args=[slot.member, *slot.periods])
        except (RedisError, OSError) as exc:
            self._failed(exc)  # the slot's lease lets it go
            return
        self._answered()

    def _failed(self, exc: BaseException) -> None:
        if not self._failing:
            self._failing = True
            log.warning(
                "Redis at %s does not answer (%s): Telegram's limits are counted in this"
                " instance alone until it does",
                self.where,
                exc,
            )

    def _answered(self) -> None:
        if self._failing:
            self._failing = False
            log.warning("Redis at %s answers again: limits are shared again", self.where)
