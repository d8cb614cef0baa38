"""The engine of ``newsbot demo``: the real bot, the Bot API double, sample news, one reader.

:class:`DemoSession` starts the double on 127.0.0.1 (port 0), builds the bot with
``build_application`` against it, stores the sample articles as an archive, and then turns each
input into what a Telegram user would do: a message in the private chat, a press of a numbered
button, or (``!arrive``) a new article published the way a feed poll publishes one. After each
input it gathers what the bot did (new messages, edits, the toast of a button) for the terminal.

:func:`run_demo` runs the session on an event loop in a background thread and keeps the
terminal in the main thread: ``input()`` with readline, and Ctrl-C, work there as usual.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import importlib
import logging
import re
import sys
import tempfile
import threading
from collections.abc import Callable, Coroutine, Iterator, Sequence
from contextlib import AsyncExitStack
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from importlib import resources
from pathlib import Path
from types import TracebackType
from typing import Any, Literal, TextIO, TypeVar

from telegram import Update
from telegram.ext import Application

from bot.app import build_application
from bot.context import Services, utc_now
from bot.demo import ARRIVAL_SECONDS, terminal
from botapi_double import BotApiDouble
from botapi_double.state import Chat, RecordedMessage, User
from core.settings import Config, DeliveryConfig, StorageConfig, TelegramConfig, TopicConfig
from ingest.agency import parse_agency
from ingest.pipeline import Importer, ImportSummary
from storage import NewArticle

__all__ = [
    "CATEGORIES",
    "DEMO_TOPICS",
    "DemoSession",
    "Outcome",
    "Samples",
    "Shown",
    "article_texts",
    "demo_config",
    "format_outcome",
    "load_samples",
    "run_demo",
]

T = TypeVar("T")
App = Application[Any, Any, Any, Any, Any, Any]

ANSWER_TIMEOUT = 10.0
# UI pacing, not synchronisation: an input may be answered by several messages, an edit and a
# toast, and nothing says how many; once the first has come, whatever follows within this
# quiet spell belongs to the same answer.
QUIET_SECONDS = 0.3
SEED = "azernews_putin_tajikistan.txt"
ARRIVING_PREFIX = "arrive_"
ARRIVE = "!arrive"
QUIT = frozenset({"/quit", "/exit"})
PROMPT = "> "
EXIT_OK, EXIT_FAILED, EXIT_USAGE, EXIT_INTERRUPTED = 0, 1, 2, 130
_BUTTON = re.compile(r"[0-9]{1,3}")

DEMO_TOPICS: tuple[TopicConfig, ...] = (
    TopicConfig(
        "economy",
        "Economy",
        ("Economy news", "Business"),
        ("inflation", "central bank", "exports", "GDP", "card payments"),
    ),
    TopicConfig(
        "politics", "Politics", ("Politics",), ("referendum", "parliament", "coalition", "ballot")
    ),
    TopicConfig(
        "energy",
        "Energy",
        ("Energy", "Oil & Gas"),
        ("solar", "wind farm", "pipeline", "oil field", "power station"),
    ),
    TopicConfig(
        "technology",
        "Technology",
        ("Technology", "ICT"),
        ("startup", "robot", "5G", "software", "satellite"),
    ),
    TopicConfig(
        "sport", "Sport", ("Sport",), ("football", "cricket", "marathon", "regatta", "championship")
    ),
    TopicConfig("russia", "Russia", ("Russia",), ("Kremlin", "Moscow", "Putin")),
    TopicConfig(
        "central-asia",
        "Central Asia",
        ("Central Asia", "Tajikistan", "Uzbekistan", "Kazakhstan"),
        ("Tajikistan", "Uzbekistan", "Kazakhstan", "Kyrgyzstan", "Turkmenistan"),
    ),
)

# The publisher's category of each sample, as its site shows it above the article. The saved
# text does not carry it (the agency importer leaves ``category`` empty), so the demo adds it,
# as a JSON export would: it shows in lists and matches the topics' categories.
CATEGORIES: dict[str, str] = {
    SEED: "Russia",
    "atlantic_ledger_marathon.txt": "Sport",
    "atlantic_ledger_tunnel_referendum.txt": "Politics",
    "caspian_courier_growth_forecast.txt": "Economy news",
    "caspian_courier_solar_park.txt": "Energy",
    "deccan_morning_5g_kit.txt": "ICT",
    "deccan_morning_cricket_final.txt": "Sport",
    "lakeshore_tribune_freight_index.txt": "Business",
    "lakeshore_tribune_wind_deal.txt": "Energy",
    "northern_dispatch_volga_cruises.txt": "Russia",
    "pacific_morning_voting_age.txt": "Politics",
    "pacific_morning_warehouse_robot.txt": "Technology",
    "silk_road_review_rail_link.txt": "Central Asia",
    "arrive_1_card_payments.txt": "Economy news",
    "arrive_2_robotics_office.txt": "Technology",
    "arrive_3_regatta.txt": "Sport",
    "arrive_4_battery_storage.txt": "Energy",
}

log = logging.getLogger(__name__)


# -- sample articles and config --------------------------------------------------------------------


def article_texts() -> list[tuple[str, str]]:
    """``(file name, text)`` of every bundled article, by name (read as package data)."""
    folder = resources.files("bot.demo").joinpath("articles")
    found = [
        (entry.name, entry.read_text(encoding="utf-8"))
        for entry in folder.iterdir()
        if entry.name.endswith(".txt") and entry.is_file()
    ]
    return sorted(found)


@dataclass(frozen=True, slots=True)
class Samples:
    """The archive loaded at start (the seed first, so it is article #1) and the articles that
    arrive later, in order."""

    archive: tuple[NewArticle, ...]
    arriving: tuple[NewArticle, ...]


def load_samples() -> Samples:
    archive: list[NewArticle] = []
    arriving: list[NewArticle] = []
    for name, text in article_texts():
        article = parse_agency(text, source=f"bot/demo/articles/{name}")
        article = replace(article, category=CATEGORIES.get(name))
        if name.startswith(ARRIVING_PREFIX):
            arriving.append(article)
        elif name == SEED:
            archive.insert(0, article)
        else:
            archive.append(article)
    return Samples(tuple(archive), tuple(arriving))


def demo_config(api_base_url: str, token: str, store_path: Path) -> Config:
    """The bot's config for the demo: the double as Telegram, a temporary store, demo topics."""
    return Config(
        path=None,
        telegram=TelegramConfig(token=token, api_base_url=api_base_url),
        storage=StorageConfig(str(store_path)),
        topics=DEMO_TOPICS,
        # One reader who types and taps quickly: the bot answers at once instead of keeping
        # Telegram's one-message-a-second pace per private chat (the double does not enforce
        # it), so an answer never lands after the demo has stopped looking for it.
        delivery=DeliveryConfig(private_chat_per_second=30.0),
    )


def restamp(article: NewArticle, now: datetime, number: int) -> NewArticle:
    """The article as if published ``now`` (in its own zone), with a guid of its own.

    Its related box moves by the same amount, so "13:29" stays "a few hours earlier".
    """
    original = article.published_at or now
    zone = original.tzinfo or UTC
    when = now.astimezone(zone).replace(microsecond=0)
    shift = when - original
    related = tuple(
        replace(entry, published_at=entry.published_at + shift)
        if entry.published_at is not None
        else entry
        for entry in article.related
    )
    return replace(
        article, published_at=when, guid=f"demo-arrival:{number}", url=None, related=related
    )


# -- what the reader sees --------------------------------------------------------------------------

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


def format_outcome(outcome: Outcome, *, color: bool) -> str:
    parts: list[str] = []
    if outcome.toast:
        parts.append(terminal.toast(outcome.toast, color=color))
    for shown in outcome.shown:
        block = terminal.render_message(
            shown.message,
            color=color,
            edited=shown.change == "edited",
            deleted=shown.change == "deleted",
        )
        if shown.delivered:
            block = terminal.rule("new article delivered", color=color) + "\n" + block
        parts.append(block)
    parts += [terminal.note(text, color=color) for text in outcome.notes]
    if outcome.problem:
        parts.append(terminal.note(f"! {outcome.problem}", color=color))
    return "\n\n".join(parts)


def banner(*, archive: int, arrival_seconds: float | None) -> str:
    arrivals = (
        f"A new article arrives every {arrival_seconds:g} s; you get it if you follow its topic."
        if arrival_seconds is not None
        else "A new article arrives on each !arrive."
    )
    return "\n".join(
        [
            "newsbot demo: the real bot, with a stand-in for Telegram in this terminal.",
            f"No token, no network. The archive holds {archive} sample articles: the first is a",
            "real Azernews report, the others are made up for this demo.",
            arrivals,
            "",
            "Type what you would send the bot:",
            "  /latest              the newest articles",
            "  /subscribe economy   follow a topic (/topics lists them)",
            "  /related 1           articles related to #1",
            "  /search putin        find articles",
            "  3                    press button [3] of the last message with buttons",
            "  !arrive              publish a new article now",
            "  /quit or Ctrl-D      leave",
        ]
    )


# -- the engine ------------------------------------------------------------------------------------


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
        clock: Callable[[], datetime] = utc_now,
    ) -> None:
        self.workdir = workdir
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
            user = tg.add_user("You", username="demo_reader")
            chat = tg.add_private_chat(user)
            config = demo_config(tg.base_url, tg.token, self.workdir / "demo.db")
            app: App = build_application(config, clock=self.clock)
            # The callbacks run in reverse: updater.stop, stop, post_stop, shutdown,
            # post_shutdown, as run_polling does when it ends.
            await app.initialize()
            stack.push_async_callback(_hook, app.post_shutdown, app)
            stack.push_async_callback(app.shutdown)
            await _hook(app.post_init, app)  # run_polling does this; here we drive the steps
            stack.push_async_callback(_hook, app.post_stop, app)
            await self._load_archive(app.bot_data.services)
            await app.start()
            stack.push_async_callback(app.stop)
            assert app.updater is not None
            await app.updater.start_polling(
                poll_interval=0.0, timeout=1, allowed_updates=Update.ALL_TYPES
            )
            stack.push_async_callback(app.updater.stop)
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
        # No on_new: with their own old datelines these are the archive, not news to deliver.
        importer = Importer(services.store, services.tagger, now=services.clock)
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
            if text.startswith("/"):
                if await self._until(changed, self.answer_timeout):
                    await self._settle()
                else:
                    outcome.problem = f"no answer to {text!r} within {self.answer_timeout:g} s"
            else:
                # Plain text has no handler; the bot only has to have fetched it.
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
            if not outcome.shown and outcome.problem is None:
                outcome.notes.append("no reply: the bot answers commands and buttons; try /help")
            return outcome

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
            delivery = services.delivery
            assert delivery is not None, "post_init starts delivery"
            outcome = Outcome()
            article = self._next_arrival()
            before = world.tg.state.sent_count(world.chat.id)
            owed = 0

            async def owe(article_ids: list[int]) -> None:
                nonlocal owed
                owed += await delivery.articles_stored(article_ids)

            importer = Importer(services.store, services.tagger, now=services.clock, on_new=owe)
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
            hint = f": /subscribe {slugs[0]}" if slugs else ""
            outcome.notes.append(
                f"new article in {names}: “{article.title}”; not sent here, as this chat"
                f" does not follow {names}{hint}"
            )
            return outcome

    def start_arrivals(self, every: float, emit: Callable[[Outcome], None]) -> None:
        """Publish a new article every ``every`` seconds and hand each outcome to ``emit``."""
        self._arrivals = asyncio.get_running_loop().create_task(
            self._arrive_every(every, emit), name="newsbot-demo-arrivals"
        )

    async def _arrive_every(self, every: float, emit: Callable[[Outcome], None]) -> None:
        while True:
            # A timer, not synchronisation: news turns up at the pace the user asked for.
            await asyncio.sleep(every)
            try:
                outcome = await self.arrive()
            except Exception:
                # Shown as one line by the demo's log handler; the next arrival may work.
                log.exception("publishing a demo article failed")
                continue
            emit(outcome)

    def _next_arrival(self) -> NewArticle:
        # The written arrivals first, then the archive again as if it were today's news.
        pool = self.samples.arriving + self.samples.archive
        self._arrived += 1
        return restamp(pool[(self._arrived - 1) % len(pool)], self.clock(), self._arrived)

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


async def _hook(hook: Callable[[App], Coroutine[Any, Any, None]] | None, app: App) -> None:
    if hook is not None:
        await hook(app)


# -- the terminal side -----------------------------------------------------------------------------


class _Console:
    """Writes to ``out`` from the main thread and the arrivals task without mixing lines."""

    def __init__(self, out: TextIO, color: bool) -> None:
        self.out = out
        self.color = color
        self.at_prompt = False
        self._lock = threading.Lock()

    def write(self, text: str) -> None:
        with self._lock:
            self.out.write(text)
            self.out.flush()

    def block(self, text: str) -> None:
        """A block of output and the blank line after it."""
        self.write(f"{text}\n\n" if text else "\n")

    def interjection(self, text: str) -> None:
        """Output nobody asked for just now (an arriving article): keep the prompt usable."""
        with self._lock:
            if self.at_prompt:
                # Over the prompt line, then the prompt again (what was typed stays in readline).
                self.out.write("\r\x1b[K" if self.color else "\n")
                self.out.write(f"{text}\n\n{PROMPT}")
            else:
                self.out.write(f"{text}\n\n")
            self.out.flush()

    def ask(self) -> str:
        """One line from the terminal with readline editing; EOFError on Ctrl-D."""
        self.at_prompt = True
        try:
            return input(PROMPT)
        finally:
            self.at_prompt = False


class _LoopThread:
    """An event loop in a background thread; the main thread keeps the terminal.

    ``input()`` blocks, and Ctrl-C is delivered to the main thread only: with the bot's loop
    elsewhere, neither stops the bot from working nor leaves it half-stopped.
    """

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._run, name="newsbot-demo", daemon=True)

    def _run(self) -> None:
        asyncio.set_event_loop(self.loop)
        self.loop.run_forever()

    def __enter__(self) -> _LoopThread:
        self._thread.start()
        return self

    def submit(self, coro: Coroutine[Any, Any, T]) -> concurrent.futures.Future[T]:
        return asyncio.run_coroutine_threadsafe(coro, self.loop)

    def run(self, coro: Coroutine[Any, Any, T]) -> T:
        """Run ``coro`` on the loop and wait; Ctrl-C cancels it and is raised here."""
        future = self.submit(coro)
        try:
            return future.result()
        except KeyboardInterrupt:
            future.cancel()
            raise

    def finish(self, coro: Coroutine[Any, Any, T]) -> T:
        """Run ``coro`` to the end even through Ctrl-C: for shutting down."""
        future = self.submit(coro)
        while True:
            try:
                return future.result()
            except KeyboardInterrupt:
                continue

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.finish(self._drain())
        self.loop.call_soon_threadsafe(self.loop.stop)
        while self._thread.is_alive():
            # A Ctrl-C now would only leave the loop unclosed; the thread ends in a moment.
            with contextlib.suppress(KeyboardInterrupt):
                self._thread.join()
        self.loop.close()

    async def _drain(self) -> None:
        """What ``asyncio.run`` does before it closes a loop."""
        current = asyncio.current_task()
        tasks = [t for t in asyncio.all_tasks() if t is not current]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        await self.loop.shutdown_asyncgens()
        await self.loop.shutdown_default_executor()


class _LogLine(logging.Handler):
    """The bot's warnings and errors as one dim line each, without tracebacks."""

    def __init__(self, console: _Console) -> None:
        super().__init__(logging.WARNING)
        self.console = console

    def emit(self, record: logging.LogRecord) -> None:
        try:
            text = f"bot log: {record.levelname.lower()}: {record.getMessage()}"
            if record.exc_info and record.exc_info[1] is not None:
                error = record.exc_info[1]
                text += f" ({type(error).__name__}: {error})"
            self.console.interjection(terminal.note(text, color=self.console.color))
        except Exception:
            self.handleError(record)


@contextlib.contextmanager
def _bot_logs(console: _Console) -> Iterator[None]:
    root = logging.getLogger()
    handler = _LogLine(console)
    root.addHandler(handler)
    try:
        yield
    finally:
        root.removeHandler(handler)


def run_demo(
    script: Path | None,
    *,
    out: TextIO,
    inp: TextIO,
    arrival_seconds: float = ARRIVAL_SECONDS,
) -> int:
    """Run the demo: interactive on ``inp``, or the inputs in ``script``; return the exit code.

    Exit codes: 0 done, 1 the bot did not answer an input as it should, 2 the script cannot be
    read, 130 interrupted during a script.
    """
    console = _Console(out, terminal.wants_color(out))
    lines: list[str] | None = None
    if script is not None:
        try:
            lines = script.read_text(encoding="utf-8").splitlines()
        except (OSError, UnicodeDecodeError) as exc:
            console.write(f"newsbot demo: cannot read the script {script}: {exc}\n")
            return EXIT_USAGE
    samples = load_samples()
    with (
        tempfile.TemporaryDirectory(prefix="newsbot-demo-") as workdir,
        _bot_logs(console),
        _LoopThread() as runner,
    ):
        session = DemoSession(Path(workdir), samples)
        try:
            try:
                runner.run(session.start())
            except Exception as exc:
                log.debug("demo start failed", exc_info=True)
                console.write(f"newsbot demo: the bot did not start: {exc}\n")
                return EXIT_FAILED
            console.block(
                banner(
                    archive=len(samples.archive),
                    arrival_seconds=None if lines is not None else arrival_seconds,
                )
            )
            if lines is not None:
                return _scripted(session, runner, console, lines)
            return _interactive(session, runner, console, inp, arrival_seconds)
        except KeyboardInterrupt:
            console.write("\nbye\n")
            return EXIT_INTERRUPTED if lines is not None else EXIT_OK
        finally:
            try:
                runner.finish(session.stop())
            except Exception as exc:
                console.write(f"newsbot demo: stopping the bot: {exc}\n")


async def _step(session: DemoSession, console: _Console, line: str) -> Outcome:
    outcome = await session.handle(line)
    # Printed before this task yields: an arrival waiting for the session cannot cut in
    # between an input and its answer.
    console.block(format_outcome(outcome, color=console.color))
    return outcome


def _scripted(
    session: DemoSession, runner: _LoopThread, console: _Console, lines: Sequence[str]
) -> int:
    failures: list[str] = []
    for number, raw in enumerate(lines, 1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        console.write(f"{PROMPT}{line}\n")
        if line.lower() in QUIT:
            break
        outcome = runner.run(_step(session, console, line))
        if outcome.problem:
            failures.append(f"line {number}: {line}: {outcome.problem}")
    if failures:
        console.write("newsbot demo: the bot did not answer as expected:\n")
        console.write("".join(f"  {failure}\n" for failure in failures))
        return EXIT_FAILED
    return EXIT_OK


def _interactive(
    session: DemoSession,
    runner: _LoopThread,
    console: _Console,
    inp: TextIO,
    arrival_seconds: float,
) -> int:
    # input() brings line editing and history when readline is loaded, but it reads the real
    # terminal: other streams (a pipe, a test's StringIO) are read line by line and echoed.
    terminal_input = inp is sys.stdin and console.out is sys.stdout and inp.isatty()
    if terminal_input:
        with contextlib.suppress(ImportError):
            importlib.import_module("readline")

    def emit(outcome: Outcome) -> None:
        console.interjection(format_outcome(outcome, color=console.color))

    async def begin() -> None:
        session.start_arrivals(arrival_seconds, emit)

    runner.run(begin())
    while True:
        if terminal_input:
            try:
                line = console.ask()
            except EOFError:
                console.write("\nbye\n")
                return EXIT_OK
        else:
            raw = inp.readline()
            if not raw:
                return EXIT_OK
            line = raw.strip()
            if line:
                console.write(f"{PROMPT}{line}\n")
        line = line.strip()
        if not line:
            continue
        if line.lower() in QUIT:
            return EXIT_OK
        runner.run(_step(session, console, line))
