"""The exit statuses of every ``newsbot`` command, in one place."""

from __future__ import annotations

EXIT_OK = 0
EXIT_FAILED = 1  # the command ran and failed: a store fault, a failed import, no such article
EXIT_USAGE = 2  # the command line or the config is wrong (argparse uses 2 as well)
EXIT_INTERRUPTED = 130  # Ctrl-C: 128 + SIGINT, as a shell reports it
EXIT_BROKEN_PIPE = 141  # the reader of our output went away (`| head`): 128 + SIGPIPE

__all__ = ["EXIT_BROKEN_PIPE", "EXIT_FAILED", "EXIT_INTERRUPTED", "EXIT_OK", "EXIT_USAGE"]
