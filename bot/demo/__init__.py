"""``newsbot demo``: try the real bot in a terminal, with no token and no network.

The bot (``bot.app.build_application``, unchanged) talks over loopback HTTP to the Bot API
double, which plays Telegram in the same process. A temporary store holds the sample articles
in ``articles/``; what you type is sent as your messages, and the bot's answers are shown with
their formatting and numbered buttons::

    newsbot demo                          # interactive; a new article arrives every 20 s
    newsbot demo --script tour.txt        # run the inputs in a file and print the transcript
    newsbot demo --lang ru                # you are a reader whose Telegram is in Russian

This module stays light (argparse only) so that ``newsbot --help`` does not load the bot.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import TextIO

__all__ = ["ARRIVAL_SECONDS", "add_demo_arguments", "run_demo"]

ARRIVAL_SECONDS = 20.0


def _seconds(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number of seconds") from None
    if not value > 0:
        raise argparse.ArgumentTypeError("must be more than 0 seconds")
    return value


def add_demo_arguments(parser: argparse.ArgumentParser) -> None:
    """Add ``--script FILE``, ``--arrive-every SECONDS`` and ``--lang CODE`` to ``demo``."""
    parser.add_argument(
        "--script",
        type=Path,
        metavar="FILE",
        help="run the inputs in FILE (one a line; a number presses a button, !arrive publishes"
        " an article, # starts a comment) and print the transcript",
    )
    parser.add_argument(
        "--arrive-every",
        type=_seconds,
        default=ARRIVAL_SECONDS,
        metavar="SECONDS",
        help=f"interactive mode: publish a new article this often (default {ARRIVAL_SECONDS:g})",
    )
    parser.add_argument(
        "--lang",
        default="en",
        metavar="CODE",
        help="the language_code of your Telegram, as Telegram sends it (ru, ru-RU, de ...): the"
        " bot answers in Russian for ru, in English for anything it does not speak (default en)",
    )


def run_demo(
    script: Path | None,
    *,
    out: TextIO,
    inp: TextIO,
    arrival_seconds: float = ARRIVAL_SECONDS,
    language: str = "en",
) -> int:
    """Run the demo: interactive on ``inp``, or the inputs in ``script``; return the exit code.

    ``language`` is the demo reader's Telegram ``language_code``."""
    # The engine loads python-telegram-bot, the store and the double: only when it runs.
    from bot.demo.drivers import run_demo as run

    return run(script, out=out, inp=inp, arrival_seconds=arrival_seconds, language=language)
