"""The terminal side of the demo: what each input produced, the banner, and one writer for
the main thread, the arrivals and the bot's log lines alike."""

from __future__ import annotations

import contextlib
import logging
import threading
from collections.abc import Iterator
from typing import TextIO

from bot.demo import terminal
from bot.demo.session import Outcome

__all__ = ["PROMPT", "Console", "banner", "bot_logs", "format_outcome"]

PROMPT = "> "


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


def banner(*, archive: int, arriving: int, arrival_seconds: float | None) -> str:
    arrivals = (
        f"A new article arrives every {arrival_seconds:g} s ({arriving} in all); you get it if"
        " you follow its topic."
        if arrival_seconds is not None
        else f"A new article arrives on each !arrive ({arriving} in all)."
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


class Console:
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


class LogLine(logging.Handler):
    """The bot's warnings and errors as one dim line each, without tracebacks."""

    def __init__(self, console: Console) -> None:
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
def bot_logs(console: Console) -> Iterator[None]:
    root = logging.getLogger()
    handler = LogLine(console)
    root.addHandler(handler)
    try:
        yield
    finally:
        root.removeHandler(handler)
