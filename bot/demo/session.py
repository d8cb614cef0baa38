"""The engine of ``newsbot demo``: the real bot, the Bot API double, sample news, one reader.

:class:`DemoSession` starts the double on 127.0.0.1 (port 0), builds the bot with
``build_application`` against it, stores the sample articles as an archive, and then turns each
input into what a Telegram user would do: a message in the private chat, a press of a numbered
button, or (``!arrive``) a new article published the way a feed poll publishes one. After each
input it gathers what the bot did (new messages, edits, the toast of a button) for the terminal.
The terminal side is in ``console`` and ``drivers``; the articles in ``samples``.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
from collections.abc import Callable
from contextlib import AsyncExitStack
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Literal

from bot.app import build_application
from bot.context import Services
from bot.demo.samples import Samples, demo_config, load_samples, restamp
from bot.lifecycle import App, polling
from bot.render.messages import quoted_word
from bot.usecases import make_importer
from botapi_double import BotApiDouble
from botapi_double.state import Chat, RecordedMessage, User
from core.clock import Clock, utc_now
from core.matching import PhraseSet, article_text
from ingest.pipeline import ImportSummary
from storage import NewArticle
from storage.words import MUTE

__all__ = ["ARRIVE", "DemoSession", "Outcome", "Shown"]

ANSWER_TIMEOUT = 10.0
# UI pacing, not synchronisation: an input may be answered by several messages, an edit and a
# toast, and nothing says how many; once the first has come, whatever follows within this
# quiet spell belongs to the same answer.
QUIET_SECONDS = 0.3
ARRIVE = "!arrive"
_BUTTON = re.compile(r"[0-9]{1,3}")
_ADDRESSED = re.compile(r"/[A-Za-z0-9_]+@([A-Za-z0-9_]+)")

log = logging.getLogger(__name__)


Change = Literal["new", "edited", "deleted"]


@dataclass(frozen=True, slots=True)
class Shown:
    """One bot message to show: a copy taken when it was gathered (the double edits in place)."""

    message: RecordedMessage
    change: Change = "new"
    delivered: bool = False  # sent by delivery, not as an answer


@dataclass(slots=True)
class Outcome:
    """What one input produced; ``problem`` is set when the bot did not answer as it should."""

    shown: list[Shown] = field(default_factory=list)
    toast: str | None = None
    notes: list[str] = field(default_factory=list)
    problem: str | None = None


@dataclass(slots=True)
class _World:
    tg: BotApiDouble
    app: App
    user: User
    chat: Chat

    @property
    def services(self) -> Services:
        services: Services = self.app.bot_data.services
        return services


class DemoSession:
    """The bot, the double and one reader in a private chat; each input returns an Outcome.

    Use from one event loop: ``await start()``, then ``handle(line)`` (or ``say``, ``press``,
    ``arrive``) as often as needed, then ``await stop()``.
    """

    def __init__(
        self,
        workdir: Path,
        samples: Samples | None = None,
        *,
        answer_timeout: float = ANSWER_TIMEOUT,
        quiet_seconds: float = QUIET_SECONDS,
        clock: Clock = utc_now,
        language: str = "en",
    ) -> None:
        self.workdir = workdir
        self.language = language  # the reader's Telegram language_code
        self.samples = samples or load_samples()
        self.answer_timeout = answer_timeout
        self.quiet_seconds = quiet_seconds
        self.clock = clock
        self._world: _World | None = None
        self._stack = AsyncExitStack()
        # One input at a time, and an arrival never in the middle of one: what each gathers
        # is then its own.
        self._lock = asyncio.Lock()
        self._versions: dict[int, int] = {}  # message id -> edits already shown
        self._deleted: set[int] = set()
        self._arrived = 0
        self._arrivals: asyncio.Task[None] | None = None

    # -- lifecycle -------------------------------------------------------------------------

    @property
    def world(self) -> _World:
        if self._world is None:
            raise RuntimeError("the demo session is not started")
        return self._world

    @property
    def tg(self) -> BotApiDouble:
        return self.world.tg

    async def start(self) -> None:
        """Start the double and the bot (in PTB's own order) with the archive loaded."""
        stack = self._stack
        try:
            tg = await stack.enter_async_context(
                BotApiDouble(bot_username="newsbot_demo_bot", bot_name="Newsbot")
            )
            user = tg.add_user("You", username="demo_reader", language_code=self.language)
            chat = tg.add_private_chat(user)
            config = demo_config(tg.base_url, tg.token, self.workdir / "demo.db")
            app: App = build_application(config, clock=self.clock)
            await stack.enter_async_context(
                polling(app, before_start=lambda app: self._load_archive(app.bot_data.services))
            )
        except BaseException:
            await stack.aclose()
            raise
        self._world = _World(tg, app, user, chat)

    async def stop(self) -> None:
        """Stop arrivals, then the bot and the double; safe to call twice."""
        if self._arrivals is not None:
            self._arrivals.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._arrivals
            self._arrivals = None
        self._world = None
        await self._stack.aclose()

    async def _load_archive(self, services: Services) -> None:
        # Not owed: with their own old datelines these are the archive, not news to deliver.
        importer = make_importer(
            services.store,
            services.config,
            clock=services.clock,
            tagger=services.tagger,
            deliver=False,
        )
        summary = ImportSummary()
        await importer.store_articles(self.samples.archive, summary)
        if not summary.ok:
            raise RuntimeError("sample articles failed to import: " + "; ".join(summary.failures))

    # -- inputs ------------------------------------------------------------------------------

    async def handle(self, line: str) -> Outcome:
        """One input: a button number, ``!arrive``, or a message to send."""
        text = line.strip()
        if _BUTTON.fullmatch(text):
            return await self.press(int(text))
        if text.lower() == ARRIVE:
            return await self.arrive()
        if text.startswith("!"):
            return Outcome(problem=f"the demo knows {ARRIVE}, not {text}")
        return await self.say(text)

    async def say(self, text: str) -> Outcome:
        """Send ``text`` as the reader and gather the bot's answer."""
        async with self._lock:
            world = self.world
            outcome = Outcome()
            changed = self._changed_since(self._activity())
            world.tg.send_text(world.chat, world.user, text)
            other_bot = self._other_bot(text)
            if text.startswith("/") and other_bot is None:
                if await self._until(changed, self.answer_timeout):
                    await self._settle()
                else:
                    outcome.problem = f"no answer to {text!r} within {self.answer_timeout:g} s"
            else:
                # Plain text has no handler, and another bot's command is not for this one
                # (Telegram shows it to every bot in a group): it only has to have been fetched.
                answered = await self._until(
                    lambda: not world.tg.pending_updates, self.answer_timeout
                )
                if answered:
                    await self._settle()
                else:
                    outcome.problem = (
                        f"the bot did not fetch {text!r} within {self.answer_timeout:g} s"
                    )
            await self._gather(outcome)
            if outcome.shown or outcome.problem is not None:
                return outcome
            if other_bot is not None:
                me = world.app.bot.username
                command = text.split("@", 1)[0]
                outcome.notes.append(
                    f"no reply: that command is for @{other_bot}, and this bot is @{me};"
                    f" send {command} or {command}@{me}"
                )
            else:
                outcome.notes.append("no reply: the bot answers commands and buttons; try /help")
            return outcome

    def _other_bot(self, text: str) -> str | None:
        """The username a ``/command@username`` is addressed to, when it is not this bot's."""
        addressed = _ADDRESSED.match(text)
        if addressed is None:
            return None
        username = addressed.group(1)
        own = self.world.app.bot.username or ""
        return None if username.casefold() == own.casefold() else username

    async def press(self, number: int) -> Outcome:
        """Press button ``number`` (counted across rows from 1) of the last message with any."""
        async with self._lock:
            world = self.world
            outcome = Outcome()
            target = self.last_with_buttons()
            if target is None:
                outcome.problem = "there are no buttons to press yet"
                return outcome
            buttons = target.buttons()
            if not 1 <= number <= len(buttons):
                outcome.problem = (
                    f"there is no button {number}: the last message with buttons has {len(buttons)}"
                )
                return outcome
            button = buttons[number - 1]
            data = button.get("callback_data")
            if not isinstance(data, str):
                outcome.notes.append(
                    f"button {number} opens {button.get('url', 'something')} outside Telegram"
                )
                return outcome
            query_id = world.tg.press_button(target, data, world.user)
            answered = await self._until(
                lambda: any(a.query_id == query_id for a in world.tg.callback_answers),
                self.answer_timeout,
            )
            if answered:
                answer = next(a for a in world.tg.callback_answers if a.query_id == query_id)
                outcome.toast = answer.text
                await self._settle()
            else:
                outcome.problem = f"no answer to button {number} within {self.answer_timeout:g} s"
            await self._gather(outcome)
            return outcome

    async def arrive(self) -> Outcome:
        """Publish the next article as a feed poll would, and wait for its delivery here."""
        async with self._lock:
            world = self.world
            services = world.services
            outcome = Outcome()
            article = self._next_arrival()
            if article is None:
                outcome.notes.append(self._no_more_arrivals())
                return outcome
            before = world.tg.state.sent_count(world.chat.id)
            owed = 0

            def counted(added: int) -> None:
                nonlocal owed
                owed += added
                services.delivery.dispatcher.notify()

            importer = make_importer(
                services.store,
                services.config,
                clock=services.clock,
                tagger=services.tagger,
                owed=counted,
            )
            summary = ImportSummary()
            await importer.store_articles([article], summary)
            if not summary.new_ids:
                outcome.problem = f"could not publish {article.title!r}: {summary.failures}"
                return outcome
            if owed:
                delivered = await self._until(
                    lambda: world.tg.state.sent_count(world.chat.id) >= before + owed,
                    self.answer_timeout,
                )
                if not delivered:
                    outcome.problem = (
                        f"{article.title!r} was not delivered within {self.answer_timeout:g} s"
                    )
                await self._gather(outcome, delivered=True)
                return outcome
            stored = await services.store.articles.get(summary.new_ids[0])
            slugs = stored.topics if stored is not None else ()
            names = ", ".join(services.topic_names.get(s, s) for s in slugs) or "no topic"
            mutes = [
                w.word for w in await services.store.words.of_chat(world.chat.id) if w.kind == MUTE
            ]
            muted = sorted(
                PhraseSet(mutes).found_in(
                    article_text(article.title, article.summary, article.body)
                )
            )
            if muted:
                why = f"this chat mutes {', '.join(quoted_word(w) for w in muted)}: /unmute"
            else:
                hint = f": /subscribe {slugs[0]}" if slugs else ""
                why = f"this chat does not follow {names}{hint}"
            outcome.notes.append(
                f"new article in {names}: “{article.title}”; not sent here, as {why}"
            )
            return outcome

    def start_arrivals(self, every: float, emit: Callable[[Outcome], None]) -> None:
        """Publish a new article every ``every`` seconds and hand each outcome to ``emit``."""
        self._arrivals = asyncio.get_running_loop().create_task(
            self._arrive_every(every, emit), name="newsbot-demo-arrivals"
        )

    async def _arrive_every(self, every: float, emit: Callable[[Outcome], None]) -> None:
        while self.arrivals_left:
            # A timer, not synchronisation: news turns up at the pace the user asked for.
            await asyncio.sleep(every)
            try:
                outcome = await self.arrive()
            except Exception:
                # Shown as one line by the demo's log handler; the next arrival may work.
                log.exception("publishing a demo article failed")
                continue
            emit(outcome)
        await asyncio.sleep(every)
        emit(Outcome(notes=[self._no_more_arrivals()]))

    @property
    def arrivals_left(self) -> int:
        """How many of the written arrivals are still to be published."""
        return len(self.samples.arriving) - self._arrived

    def _next_arrival(self) -> NewArticle | None:
        """The next written arrival, stamped now; None once each has arrived.

        The archive is never published again: it is listed already, and a fresh copy of an
        article would be a second, identical entry in /latest and /search.
        """
        if not self.arrivals_left:
            return None
        self._arrived += 1
        return restamp(self.samples.arriving[self._arrived - 1], self.clock(), self._arrived)

    def _no_more_arrivals(self) -> str:
        count = len(self.samples.arriving)
        return f"no more news: the demo's {count} new articles have all arrived"

    # -- watching the double -------------------------------------------------------------------

    def last_with_buttons(self) -> RecordedMessage | None:
        """The newest bot message in the chat that has buttons (its numbers are the ones shown)."""
        world = self.world
        for message in reversed(world.tg.sent(world.chat.id)):
            if not message.deleted and message.buttons():
                return message
        return None

    def _activity(self) -> tuple[int, int, int]:
        """Changes to look for: messages sent, edits and deletions, button answers."""
        world = self.world
        messages = world.tg.sent(world.chat.id)
        changes = sum(len(m.history) + m.deleted for m in messages)
        return len(messages), changes, len(world.tg.callback_answers)

    def _changed_since(self, mark: tuple[int, int, int]) -> Callable[[], bool]:
        return lambda: self._activity() != mark

    async def _until(self, predicate: Callable[[], bool], timeout: float) -> bool:  # noqa: ASYNC109
        """Wait (woken by each call the bot makes, never by polling) until ``predicate`` holds."""
        try:
            await self.world.tg.wait_for(predicate, timeout, what="the bot")
        except AssertionError:
            return False
        return True

    async def _settle(self) -> None:
        """Let the rest of an answer come: return once the bot is quiet for a moment."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.answer_timeout
        while (remaining := deadline - loop.time()) > 0:
            if not await self._until(
                self._changed_since(self._activity()), min(self.quiet_seconds, remaining)
            ):
                return

    async def _gather(self, outcome: Outcome, *, delivered: bool = False) -> None:
        """Add to ``outcome`` every message that is new, edited or deleted since last time."""
        world = self.world
        ledger = world.services.store.deliveries
        for message in world.tg.sent(world.chat.id):
            key = message.message_id
            edits = len(message.history)
            if key not in self._versions:
                self._versions[key] = edits
                if message.deleted:
                    self._deleted.add(key)  # came and went unseen
                    continue
                is_delivery = (
                    delivered or await ledger.article_for_message(world.chat.id, key) is not None
                )
                outcome.shown.append(Shown(replace(message), "new", is_delivery))
            elif message.deleted and key not in self._deleted:
                self._deleted.add(key)
                outcome.shown.append(Shown(replace(message), "deleted"))
            elif edits > self._versions[key]:
                self._versions[key] = edits
                outcome.shown.append(Shown(replace(message), "edited"))
