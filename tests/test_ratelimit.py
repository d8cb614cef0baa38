"""The flood-limit windows, on a clock the test moves by hand."""

from __future__ import annotations

import asyncio

from bot.ratelimit import BULK, INTERACTIVE, Limits, TelegramRateLimiter, Window, window_for_limit


def test_a_slot_is_held_until_a_period_after_the_answer() -> None:
    window = Window(2, 1.0)
    window.take()
    window.take()
    assert not window.free(0.0)
    window.answered(0.3)  # Telegram may have received it as late as 0.3
    assert window.next_free(1.0) == 1.3
    assert not window.free(1.29)
    assert window.free(1.3)


def test_requests_still_in_flight_never_expire_by_time() -> None:
    window = Window(1, 1.0)
    window.take()
    assert not window.free(100.0)
    assert window.next_free(100.0) is None


def test_slow_rates_become_one_request_per_longer_window() -> None:
    group = window_for_limit(20, 60.0)
    assert (group.limit, group.period) == (20, 60.0)
    slow = window_for_limit(0.5, 1.0)
    assert (slow.limit, slow.period) == (1, 2.0)


class FakeClock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


async def test_replies_are_granted_before_bulk_and_busy_chats_do_not_block_others() -> None:
    clock = FakeClock()
    limiter = TelegramRateLimiter(
        Limits(per_second=2, private_per_second=1, group_per_minute=20), clock=clock
    )
    # Fill the global window: two bulk sends granted and answered at t=0.
    for chat in ("1", "2"):
        await limiter.acquire(chat, BULK)
        limiter.release(chat)
    order: list[str] = []

    async def want(chat: str, priority: int, name: str) -> None:
        await limiter.acquire(chat, priority)
        order.append(name)

    tasks = [
        asyncio.create_task(want("1", BULK, "bulk to a chat still in its window")),
        asyncio.create_task(want("3", BULK, "bulk to a fresh chat")),
        asyncio.create_task(want("4", INTERACTIVE, "reply")),
    ]
    await asyncio.sleep(0)  # let the three tasks queue up (ordering, not timing)
    assert order == []
    clock.now = 1.0  # the global window frees two slots; chat 1 is free from 1.0 too
    limiter._grant()
    await asyncio.sleep(0)
    assert order == ["reply", "bulk to a chat still in its window"]
    for task in tasks[1:]:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)


async def test_a_pause_holds_every_request() -> None:
    clock = FakeClock()
    limiter = TelegramRateLimiter(Limits(per_second=100), clock=clock)
    limiter.pause(5.0)
    task = asyncio.create_task(limiter.acquire("7"))
    await asyncio.sleep(0)
    assert not task.done()
    clock.now = 5.0
    limiter._grant()
    await asyncio.sleep(0)
    assert task.done()
    await limiter.shutdown()


async def test_paid_bulk_goes_past_the_free_limit_while_replies_keep_it() -> None:
    clock = FakeClock()
    limiter = TelegramRateLimiter(Limits(per_second=2, paid_per_second=5), clock=clock)
    granted: list[str] = []

    async def want(chat: str, priority: int, *, paid: bool) -> None:
        await limiter.acquire(chat, priority, paid=paid)
        granted.append(f"{'paid' if paid else 'free'} {chat}")

    # Two free replies fill the free window; paid bulk sends still go, up to the paid limit,
    # which the replies count against too.
    tasks = [asyncio.create_task(want(str(n), INTERACTIVE, paid=False)) for n in (1, 2, 3)]
    tasks += [asyncio.create_task(want(str(n), BULK, paid=True)) for n in range(10, 16)]
    await asyncio.sleep(0)
    assert granted == ["free 1", "free 2", "paid 10", "paid 11", "paid 12"]
    for chat, paid in [("1", False), ("2", False), ("10", True), ("11", True), ("12", True)]:
        limiter.release(chat, paid=paid)
    clock.now = 1.0
    limiter._grant()
    await asyncio.sleep(0)
    assert granted[5:] == ["free 3", "paid 13", "paid 14", "paid 15"]
    await asyncio.gather(*tasks)
    await limiter.shutdown()


async def test_after_a_takeover_every_window_counts_as_full_for_one_period() -> None:
    clock = FakeClock()
    limiter = TelegramRateLimiter(Limits(per_second=30, group_per_minute=20), clock=clock)
    clock.now = 100.0
    limiter.inherit()  # another process may have sent up to the limits until now
    private = asyncio.create_task(limiter.acquire("7", BULK))
    group = asyncio.create_task(limiter.acquire("-100", BULK))
    await asyncio.sleep(0)
    assert not private.done()
    assert not group.done()
    clock.now = 101.0  # a second: the overall and private windows have passed
    limiter._grant()
    await asyncio.sleep(0)
    assert private.done()
    assert not group.done()  # a group's window is a minute
    clock.now = 160.0
    limiter._grant()
    await asyncio.sleep(0)
    assert group.done()
    await limiter.shutdown()
