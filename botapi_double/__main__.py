"""Serve the Bot API double until killed: ``python -m botapi_double --port N --token T``.

Prints the base URL for python-telegram-bot (``.base_url(...)``) on the first line of stdout,
then serves on 127.0.0.1 until SIGINT or SIGTERM.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import signal
import sys

from botapi_double.double import DEFAULT_TOKEN, BotApiDouble


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """Parse the command line."""
    parser = argparse.ArgumentParser(
        prog="python -m botapi_double", description="Serve a strict Telegram Bot API double."
    )
    parser.add_argument("--host", default="127.0.0.1", help="address to bind (default loopback)")
    parser.add_argument("--port", type=int, default=0, help="TCP port; 0 picks a free one")
    parser.add_argument("--token", default=DEFAULT_TOKEN, help="the bot token to accept")
    parser.add_argument("--bot-username", default="newsbot_test_bot", help="the bot's username")
    parser.add_argument(
        "--no-privacy-mode",
        action="store_true",
        help="deliver every group message to the bot, as with privacy mode off",
    )
    parser.add_argument(
        "--rate-limits",
        action="store_true",
        help="enforce Telegram's flood limits (30/s, 1/s per private chat, 20/min per group)",
    )
    return parser.parse_args(argv)


async def serve(args: argparse.Namespace) -> None:
    """Run the double until a termination signal arrives."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError):
            loop.add_signal_handler(signum, stop.set)
    async with BotApiDouble(
        args.token,
        host=args.host,
        port=args.port,
        bot_username=args.bot_username,
        privacy_mode=not args.no_privacy_mode,
    ) as tg:
        if args.rate_limits:
            tg.set_rate_limits()
        print(tg.base_url, flush=True)
        await stop.wait()


def main(argv: list[str] | None = None) -> int:
    """Entry point."""
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(serve(parse_args(argv)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
