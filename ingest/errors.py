"""The one error importers raise for bad input."""

from __future__ import annotations


class ImportFailure(Exception):
    """Input that cannot be imported; ``str()`` is one line naming the source and the reason."""

    def __init__(self, source: str, reason: str) -> None:
        super().__init__(f"{source}: {reason}")
        self.source = source
        self.reason = reason
