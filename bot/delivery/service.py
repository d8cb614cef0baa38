"""Delivery as the rest of the bot sees it: owe new articles, run digests and channel slots."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from telegram.error import TelegramError

from bot.delivery.dispatcher import Dispatcher
from bot.delivery.policy import (
    Action,
    Verdict,
    digest_moment,
    ledger_outcome,
    quiet_until,
    zone_named,
)
from bot.render.messages import RenderedMessage, render_list
from bot.transport import NewsbotBot
from core.clock import Clock, utc_now
from core.settings import ChannelConfig, Config
from storage import Article, Store
from storage.deliveries import CANCELLED, OWED, SENT, Due, Outcome

log = logging.getLogger(__name__)

DIGEST_PAGE = 20  # headlines per digest message before it is split
DIGEST_MAX = 200  # at most this many articles in one day's digest; older ones wait


@dataclass
class ChannelState:
    """A configured channel as resolved at start-up; ``problem`` says why it cannot be used."""

    config: ChannelConfig
    chat_id: int | None = None
    title: str | None = None
    problem: str | None = None
    job: Any = None  # the JobQueue job of a scheduled channel
    posted: int = 0

    @property
    def next_slot(self) -> datetime | None:
        if self.job is None:
            return None
        try:
            when: datetime | None = self.job.next_t
        except AttributeError:  # APScheduler sets it once the scheduler has started
            return None
        return when


@dataclass
class DeliveryService:
    config: Config
    store: Store
    bot: NewsbotBot
    dispatcher: Dispatcher
    clock: Clock = field(default=utc_now)
    channels: list[ChannelState] = field(default_factory=list)

    def now(self) -> int:
        return int(self.clock().timestamp())

    async def subscribed(
        self, chat_id: int, topics: Sequence[str], thread: int | None = None
    ) -> int:
        """A chat chose topics: owe it the configured backlog of recent articles (into forum
        ``thread``)."""
        count = self.config.delivery.new_subscriber_backlog
        added = await self.store.deliveries.backlog(
            chat_id, topics, count, self.now(), thread=thread
        )
        if added:
            self.dispatcher.notify()
        return added

    async def followed(self, chat_id: int, words: Sequence[str], thread: int | None = None) -> int:
        """A chat followed words: owe it the backlog of recent articles holding one (into
        forum ``thread``)."""
        count = self.config.delivery.new_subscriber_backlog
        added = await self.store.deliveries.backlog_words(
            chat_id, words, count, self.now(), thread=thread
        )
        if added:
            self.dispatcher.notify()
        return added

    # -- digests ---------------------------------------------------------------------------

    async def send_due_digests(self) -> int:
        """Send each digest chat its digest once its local digest time has passed today."""
        now = self.clock()
        sent = 0
        for chat_id, digest_time, zone_name, last in await self.store.chats.digest_chats():
            zone = zone_named(zone_name)
            moment = digest_moment(now, digest_time or "08:00", zone)
            if last is not None and last >= moment.timestamp():
                continue
            sent += await self._send_digest(chat_id, zone)
            await self.store.chats.digest_sent(chat_id, int(now.timestamp()))
        return sent

    async def _send_digest(self, chat_id: int, zone: ZoneInfo | None) -> int:
        claimed = await self.store.deliveries.claim_for_chat(
            chat_id, self.now(), DIGEST_MAX, whole_stories=True
        )
        if not claimed:
            return 0
        articles = {
            a.id: a for a in await self.store.articles.get_many([d.article_id for d in claimed])
        }
        rows = [(d, articles.get(d.article_id)) for d in claimed]
        gone = [
            Outcome(d.id, CANCELLED, error="article no longer stored") for d, a in rows if a is None
        ]
        # One entry per story, at its first report; its other reports are named under it.
        stories: dict[int, list[tuple[Due, Article]]] = {}
        for d, a in rows:
            if a is not None:
                stories.setdefault(a.story or a.id, []).append((d, a))
        pending = list(stories.values())
        outcomes: list[Outcome] = list(gone)
        messages = 0
        total = len(pending)
        now = self.now()
        tr = self.dispatcher.languages.get(claimed[0].language)  # every row is this chat's
        while pending:
            title = (
                tr.ngettext(
                    "Your digest: %(n)d new article (continued)",
                    "Your digest: %(n)d new articles (continued)",
                    total,
                )
                if messages
                else tr.ngettext(
                    "Your digest: %(n)d new article", "Your digest: %(n)d new articles", total
                )
            ) % {"n": total}
            page = pending[:DIGEST_PAGE]
            also = {story[0][1].id: [a for _, a in story[1:]] for story in page}
            rendered = render_list(
                title, [story[0][1] for story in page], tz=zone, also=also, tr=tr
            )
            page = page[: max(1, _listed(rendered))]
            result = await self.dispatcher.send(chat_id, rendered)
            if isinstance(result, Verdict):
                log.warning("digest for chat %d: %s", chat_id, result.reason)
                outcomes += [ledger_outcome(d, result, now) for s in page for d, _ in s]
                # The later pages never left: owed again as they were, no attempt counted (a
                # lost answer counted against them would fail them on the next loss), unless
                # the chat itself is gone.
                rest = [d for s in pending[len(page) :] for d, _ in s]
                if result.action is Action.DEACTIVATE:
                    outcomes += [ledger_outcome(d, result, now) for d in rest]
                else:
                    outcomes += [Outcome(d.id, OWED, attempted=False) for d in rest]
                break
            outcomes += [
                Outcome(d.id, SENT, message_id=result.message_id, sent_as=result.sent_as)
                for s in page
                for d, _ in s
            ]
            pending = pending[len(page) :]
            messages += 1
        # Recorded through the dispatcher's writer, which keeps them and tries again while the
        # store refuses writes: a digest page that reached the chat is never owed again
        # (counted there like any send).
        await self.dispatcher.settle(outcomes)
        return messages

    # -- channels --------------------------------------------------------------------------

    async def resolve_channels(self) -> None:
        """Find each configured channel, check the bot may post there, and set it up.

        A channel that does not exist or where the bot is not an admin is reported (log and
        /stats) and left out; it blocks nothing else.
        """
        me = await self.bot.get_me()
        states = []
        for channel in self.config.channels:
            state = ChannelState(channel)
            states.append(state)
            try:
                chat = await self.bot.get_chat(channel.chat)
                member = await self.bot.get_chat_member(chat.id, me.id)
            except TelegramError as exc:
                state.problem = f"cannot use {channel.chat}: {exc}"
                log.error("channel %s: %s", channel.chat, state.problem)
                continue
            if channel.thread is not None and not chat.is_forum:
                state.problem = f"{channel.chat} is not a forum group, so it has no thread"
                log.error("channel %s: %s", channel.chat, state.problem)
                continue
            if member.status not in ("administrator", "creator"):
                state.problem = f"the bot is not an admin of {channel.chat}"
                log.error("channel %s: %s", channel.chat, state.problem)
                continue
            state.chat_id, state.title = chat.id, chat.title
            await self._set_up_channel(state)
        self.channels = states

    async def _set_up_channel(self, state: ChannelState) -> None:
        channel, chat_id = state.config, state.chat_id
        assert chat_id is not None
        now = self.now()
        await self.store.chats.seen(chat_id, "channel", state.title, _username(channel.chat), now)
        await self.store.chats.set_active(chat_id, True, None, now)
        quiet = channel.quiet_hours
        await self.store.chats.update_settings(
            chat_id,
            now,
            mode="scheduled" if channel.mode == "every" else "instant",
            quiet_start=quiet.start if quiet else None,
            quiet_end=quiet.end if quiet else None,
        )
        # The config is the truth for a channel's topics.
        current = set(await self.store.subscriptions.of_chat(chat_id))
        wanted = set(channel.topics)
        if current - wanted:
            await self.store.subscriptions.unsubscribe(chat_id, sorted(current - wanted))
        if wanted - current:
            await self.store.subscriptions.subscribe(
                chat_id, sorted(wanted - current), now, thread=channel.thread
            )
        await self.store.subscriptions.move(chat_id, sorted(wanted), channel.thread)
        self.dispatcher.cap_per_hour(chat_id, channel.max_per_hour)

    async def post_channel_slot(self, state: ChannelState) -> bool:
        """One slot of a scheduled channel: post the oldest owed article, if allowed now."""
        if state.chat_id is None:
            return False
        channel = state.config
        now = self.clock()
        if channel.quiet_hours is not None and quiet_until(
            now, channel.quiet_hours.start, channel.quiet_hours.end, None
        ):
            return False
        if await self.dispatcher.over_hourly_cap(state.chat_id):
            return False
        claimed = await self.store.deliveries.claim_for_chat(state.chat_id, self.now(), 1)
        if not claimed:
            return False
        [due] = claimed
        outcome = await self.dispatcher.attempt_safely(due)
        # Kept and written again while the store refuses writes: a post that reached the
        # channel is never owed again.
        await self.dispatcher.settle([outcome])
        if outcome.status == SENT:
            state.posted += 1
            return True
        return False


def _listed(rendered: RenderedMessage) -> int:
    if rendered.reply_markup is None:
        return 0
    return sum(
        1
        for row in rendered.reply_markup.inline_keyboard
        for button in row
        if isinstance(button.callback_data, str) and button.callback_data.startswith("art:")
    )


def _username(chat: str | int) -> str | None:
    return chat.lstrip("@") if isinstance(chat, str) else None
