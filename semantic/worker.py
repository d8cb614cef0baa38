"""Embedding in a child process, so a big import or reindex uses a second core.

Embedding is pure CPU in Python and numpy under the GIL (~0.2-0.5 ms an article); a thread
beside the writer only takes turns with it. A child process embeds batch N+1 while this one
stores batch N. It is forked, not spawned: it starts in milliseconds with the weights this
process already loaded (shared page by page, never copied), where a spawned one would import
numpy and load the model again (~1 s).

One request at a time over a pipe: (title, summary, body) triples go in, one float32 matrix
comes out, computed by the same ``Embedder`` code as in this process (so the same vectors),
with each article's ``document`` when one is asked for (the store's full-text document on
PostgreSQL: more text work this process then does not do).
The child ends when its pipe closes: at ``close``, and when this process dies in any way, even
by SIGKILL, since it holds no copy of this process's end of the pipe. It ignores SIGINT (a
Ctrl-C in a terminal reaches the whole process group): this process decides how to stop.
"""

from __future__ import annotations

import multiprocessing
import signal
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from multiprocessing.connection import Connection
from types import TracebackType
from typing import Any

from semantic.model import Embedder, Vectors, article_text
from semantic.stories import Words, story_words

# How long ``close`` waits for the child to see its pipe closed before killing it.
CLOSE_SECONDS = 5.0


class EmbeddingFailed(Exception):
    """The child process could not embed a batch, or is gone; the message says why."""


@dataclass(frozen=True, slots=True)
class Embedded:
    """A batch's vectors, and its documents (None unless the process was given ``document``)
    and story words (``semantic.story_words`` of title and summary; None unless asked)."""

    vectors: Vectors
    documents: list[bytes] | None
    words: list[Words] | None = None


Document = Callable[[str, str, str], bytes]


class EmbeddingProcess:
    """A forked child process that embeds articles with ``embedder`` (and computes each one's
    ``document`` from its title, summary and body, if given); a context manager."""

    def __init__(self, embedder: Embedder, *, document: Document | None = None) -> None:
        context = multiprocessing.get_context("fork")
        self._conn, child_end = context.Pipe()
        self._process = context.Process(
            target=_serve,
            args=(embedder, document, child_end, self._conn),
            name="newsbot-embedding",
            daemon=True,  # never outlives a normal exit of this process
        )
        self._process.start()
        child_end.close()
        self._lock = threading.Lock()  # one request on the pipe at a time

    def embed_articles(self, texts: Sequence[tuple[str, str, str]]) -> Vectors:
        """Vectors of (title, summary, body) triples, as ``Embedder.embed(article_text(...))``
        gives them. Blocks until the child answers: call it from a thread."""
        return self.prepare_articles(texts).vectors

    def prepare_articles(
        self, texts: Sequence[tuple[str, str, str]], *, words: bool = False
    ) -> Embedded:
        """``embed_articles``, with each article's document if the process computes them, and
        its story words if ``words``."""
        with self._lock:
            try:
                self._conn.send(([tuple(t) for t in texts], words))
                answer: Any = self._conn.recv()
            except (OSError, EOFError) as error:
                code = self._process.exitcode
                raise EmbeddingFailed(
                    f"the embedding process is gone (exit code {code}): {error!r}"
                ) from error
        if isinstance(answer, str):
            raise EmbeddingFailed(f"the embedding process failed: {answer}")
        embedded: Embedded = answer
        return embedded

    def close(self) -> None:
        """End the child: it sees its pipe closed and exits; killed if it does not."""
        with self._lock:
            self._conn.close()
        self._process.join(CLOSE_SECONDS)
        if self._process.is_alive():
            self._process.kill()
            self._process.join()

    def __enter__(self) -> EmbeddingProcess:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        trace: TracebackType | None,
    ) -> None:
        self.close()


def _serve(
    embedder: Embedder, document: Document | None, conn: Connection, parent_end: Connection
) -> None:
    """The child: answer each batch of triples with their vectors until the pipe closes."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    # A signal here must not wake the parent's event loop through a copied wake-up fd.
    signal.set_wakeup_fd(-1)
    # The fork copied this process's end of the pipe too; closed, the pipe ends when the
    # parent's copy does, which is what tells this loop to stop.
    parent_end.close()
    while True:
        try:
            texts, words = conn.recv()
        except (EOFError, OSError):
            return
        try:
            answer: Any = Embedded(
                embedder.embed([article_text(*t) for t in texts]),
                None if document is None else [document(*t) for t in texts],
                [story_words(t[0], t[1]) for t in texts] if words else None,
            )
        except Exception as error:  # reported to the parent, which raises it there
            answer = f"{type(error).__name__}: {error}"
        try:
            conn.send(answer)
        except OSError:
            return
