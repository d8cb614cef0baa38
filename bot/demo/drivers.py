"""``run_demo``: the session driven by a script or by the terminal.

The session runs on an event loop in a background thread (``loop.LoopThread``) and the terminal
keeps the main thread: ``input()`` with readline, and Ctrl-C, work there as usual.
"""

from __future__ import annotations

import contextlib
import importlib
import logging
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import TextIO

from bot.demo import ARRIVAL_SECONDS, terminal
from bot.demo.console import PROMPT, Console, banner, bot_logs, format_outcome
from bot.demo.loop import LoopThread
from bot.demo.samples import load_samples
from bot.demo.session import DemoSession, Outcome
from bot.exitcodes import EXIT_FAILED, EXIT_INTERRUPTED, EXIT_OK, EXIT_USAGE

__all__ = ["run_demo"]

QUIT = frozenset({"/quit", "/exit"})

log = logging.getLogger(__name__)


def run_demo(
    script: Path | None,
    *,
    out: TextIO,
    inp: TextIO,
    arrival_seconds: float = ARRIVAL_SECONDS,
    language: str = "en",
) -> int:
    """Run the demo: interactive on ``inp``, or the inputs in ``script``; return the exit code.

    ``language`` is the demo reader's Telegram ``language_code``: it picks the bot's language.

    Exit codes: 0 done, 1 the bot did not answer an input as it should, 2 the script cannot be
    read, 130 interrupted during a script.
    """
    console = Console(out, terminal.wants_color(out))
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
        bot_logs(console),
        LoopThread() as runner,
    ):
        session = DemoSession(Path(workdir), samples, language=language)
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
                    arriving=len(samples.arriving),
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


async def _step(session: DemoSession, console: Console, line: str) -> Outcome:
    outcome = await session.handle(line)
    # Printed before this task yields: an arrival waiting for the session cannot cut in
    # between an input and its answer.
    console.block(format_outcome(outcome, color=console.color))
    return outcome


def _scripted(
    session: DemoSession, runner: LoopThread, console: Console, lines: Sequence[str]
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
    runner: LoopThread,
    console: Console,
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
