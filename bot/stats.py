"""The figures behind /stats and ``newsbot stats``: gathered from the store, rendered as text."""

from __future__ import annotations

import html
from dataclasses import dataclass, field
from datetime import datetime

from bot.commands import clip
from bot.context import Services
from bot.i18n import ENGLISH, Translator
from bot.render.text import markup
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


def render_stats(report: StatsReport, tr: Translator = ENGLISH) -> str:
    """HTML for /stats, in ``tr``'s language; the CLI strips the tags. The reasons, channel
    states and chat names are the ledger's and the store's own words: they stay as stored."""
    ledger = report.ledger
    active = sum(n for (_, live), n in report.chats.items() if live)
    inactive = sum(n for (_, live), n in report.chats.items() if not live)
    lines = [
        "<b>" + markup(tr.gettext("Stats")) + "</b>",
        markup(tr.gettext("Articles: %(n)d"), n=report.articles),
        markup(
            tr.gettext("Owed: %(owed)d (%(due)d due now)"), owed=ledger.owed, due=ledger.due_now
        ),
        markup(
            tr.gettext("Sent: %(hour)d in the last hour, %(day)d in the last day"),
            hour=ledger.sent_last_hour,
            day=ledger.sent_last_day,
        ),
        markup(
            tr.gettext("Failed: %(hour)d in the last hour, %(day)d in the last day"),
            hour=sum(ledger.failed_last_hour.values()),
            day=sum(ledger.failed_last_day.values()),
        ),
    ]
    if ledger.failed_last_day:
        by_reason = markup(
            tr.gettext("by reason: %(reasons)s"), reasons=_reasons(ledger.failed_last_day)
        )
        lines.append("  " + by_reason)
    if ledger.cancelled_last_day:
        cancelled = tr.gettext("Cancelled in the last day: %(reasons)s")
        lines.append(markup(cancelled, reasons=_reasons(ledger.cancelled_last_day)))
    chats = tr.gettext("Chats: %(active)d active, %(inactive)d inactive")
    lines.append(markup(chats, active=active, inactive=inactive))
    for chat in report.inactive:
        name = chat.title or (f"@{chat.username}" if chat.username else str(chat.id))
        lines.append(f"  {html.escape(clip(name, 40))}: {html.escape(chat.inactive_reason or '?')}")
    if report.subscriptions:
        counted = ", ".join(f"{t} {n}" for t, n in sorted(report.subscriptions.items()))
        lines.append(markup(tr.gettext("Subscriptions: %(counts)s"), counts=html.escape(counted)))
    for channel in report.channels:
        status = html.escape(channel.status)
        if channel.next_slot:
            slot = f"{channel.next_slot:%H:%M:%S %Z}"
            line = tr.gettext("Channel %(chat)s: %(status)s, next slot %(slot)s")
        else:
            slot, line = "", tr.gettext("Channel %(chat)s: %(status)s")
        lines.append(markup(line, chat=html.escape(channel.chat), status=status, slot=slot))
    failing = [f for f in report.feeds if f.error_count]
    feeds = tr.gettext("Feeds: %(n)d, failing %(failing)d")
    lines.append(markup(feeds, n=len(report.feeds), failing=len(failing)))
    for feed in failing[:10]:
        url, error = clip(feed.url, 60), clip(feed.last_error or "", 120)
        lines.append(f"  #{feed.id} {html.escape(url)}: ×{feed.error_count} {html.escape(error)}")
    return "\n".join(lines)
