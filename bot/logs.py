"""Logging set-up: one line per event with level and logger, and the token never in any line."""

from __future__ import annotations

import logging
import sys
from collections.abc import Iterable

FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"
MASK = "***"


class RedactSecrets(logging.Filter):
    """Replace every secret in a record's message, arguments and traceback text.

    A Bot API URL carries the token (``/bot<token>/sendMessage``), and libraries put URLs in
    exception messages, so redaction has to happen on the formatted line, not at call sites.
    """

    def __init__(self, secrets: Iterable[str | None]) -> None:
        super().__init__()
        self.secrets = tuple(s for s in secrets if s)

    def redact(self, text: str) -> str:
        for secret in self.secrets:
            text = text.replace(secret, MASK)
        return text

    def filter(self, record: logging.LogRecord) -> bool:
        if not self.secrets:
            return True
        record.msg = self.redact(record.getMessage())
        record.args = None
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = self.redact(record.exc_text)
        if record.stack_info:
            record.stack_info = self.redact(record.stack_info)
        return True


class DropStartFailure(logging.Filter):
    """PTB logs a rejected token, or a Bot API it cannot reach at start, with a traceback
    before raising it; newsbot then says so in one line of its own (``run_bot``), so the
    traceback would only bury that line. Failures after the start are logged as they are."""

    def filter(self, record: logging.LogRecord) -> bool:
        error = record.exc_info[1] if record.exc_info else None
        if type(error).__name__ == "InvalidToken":
            return False
        return not (
            record.levelno >= logging.ERROR
            and "Bootstrap Initialize Application" in record.getMessage()
        )


class DropReported(logging.Filter):
    """Warnings from loggers whose failures the command prints itself (``failed: ...``)."""

    def __init__(self, loggers: Iterable[str]) -> None:
        super().__init__()
        self.loggers = tuple(loggers)

    def filter(self, record: logging.LogRecord) -> bool:
        return record.levelno >= logging.ERROR or not any(
            record.name == name or record.name.startswith(name + ".") for name in self.loggers
        )


def setup_logging(
    level: str, secrets: Iterable[str | None] = (), *, reported: Iterable[str] = ()
) -> None:
    """Log to stderr, secrets masked; ``reported`` loggers' warnings are the caller's to print."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter(FORMAT))
    handler.addFilter(RedactSecrets(secrets))
    handler.addFilter(DropStartFailure())
    handler.addFilter(DropReported(reported))
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level)
    # httpx logs every request URL at INFO, and the Bot API URL holds the token.
    logging.getLogger("httpx").setLevel(logging.WARNING)
    logging.getLogger("apscheduler").setLevel(logging.WARNING)
