"""The figures behind /stats and ``newsbot stats``: gathered from the store, rendered as text."""

from __future__ import annotations

import html
from dataclasses import dataclass, field
from datetime import datetime

from bot.commands import clip
from bot.context import Services
from storage import Chat, Feed, Store
from storage.deliveries import LedgerStats


@dataclass(frozen=True)
class ChannelLine:
    chat: str
    status: str
    next_slot: datetime | None


@dataclass(frozen=True)
class StatsReport:
    articles: int
    ledger: LedgerStats
    chats: dict[tuple[str, bool], int]
    inactive: list[Chat]
    subscriptions: dict[str, int]
    feeds: list[Feed]
    channels: list[ChannelLine] = field(default_factory=list)


async def gather_store_stats(store: Store, now: int) -> StatsReport:
    return StatsReport(
        articles=await store.articles.count(),
        ledger=await store.deliveries.stats(now),
        chats=await store.chats.counts(),
        inactive=await store.chats.inactive(5),
        subscriptions=await store.subscriptions.counts(),
        feeds=await store.feeds.all(),
    )


async def gather_stats(services: Services) -> StatsReport:
    report = await gather_store_stats(services.store, services.now())
    channels = []
    for state in services.delivery.channels:
        status = state.problem or f"ok, {state.posted} posted"
        channels.append(ChannelLine(str(state.config.chat), status, state.next_slot))
    return StatsReport(**{**report.__dict__, "channels": channels})


def _reasons(counts: dict[str, int]) -> str:
    return "; ".join(f"{html.escape(clip(reason, 80))} ×{n}" for reason, n in counts.items())


def render_stats(report: StatsReport) -> str:
    """HTML for /stats; the CLI strips the tags."""
    ledger = report.ledger
    active = sum(n for (_, live), n in report.chats.items() if live)
    inactive = sum(n for (_, live), n in report.chats.items() if not live)
    lines = [
        "<b>Stats</b>",
        f"Articles: {report.articles}",
        f"Owed: {ledger.owed} ({ledger.due_now} due now)",
        f"Sent: {ledger.sent_last_hour} in the last hour, {ledger.sent_last_day} in the last day",
        f"Failed: {sum(ledger.failed_last_hour.values())} in the last hour,"
        f" {sum(ledger.failed_last_day.values())} in the last day",
    ]
    if ledger.failed_last_day:
        lines.append(f"  by reason: {_reasons(ledger.failed_last_day)}")
    if ledger.cancelled_last_day:
        lines.append(f"Cancelled in the last day: {_reasons(ledger.cancelled_last_day)}")
    lines.append(f"Chats: {active} active, {inactive} inactive")
    for chat in report.inactive:
        name = chat.title or (f"@{chat.username}" if chat.username else str(chat.id))
        lines.append(f"  {html.escape(clip(name, 40))}: {html.escape(chat.inactive_reason or '?')}")
    if report.subscriptions:
        counted = ", ".join(f"{t} {n}" for t, n in sorted(report.subscriptions.items()))
        lines.append(f"Subscriptions: {counted}")
    for channel in report.channels:
        slot = f", next slot {channel.next_slot:%H:%M:%S %Z}" if channel.next_slot else ""
        lines.append(f"Channel {html.escape(channel.chat)}: {html.escape(channel.status)}{slot}")
    failing = [f for f in report.feeds if f.error_count]
    lines.append(f"Feeds: {len(report.feeds)}, failing {len(failing)}")
    for feed in failing[:10]:
        url, error = clip(feed.url, 60), clip(feed.last_error or "", 120)
        lines.append(f"  #{feed.id} {html.escape(url)}: ×{feed.error_count} {html.escape(error)}")
    return "\n".join(lines)
