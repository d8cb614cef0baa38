"""Nearest articles by meaning: an HNSW index (usearch) over the stored article vectors.

The index only proposes candidates. What ranks them, for ``related`` and for stories, is the
stored vector (``article_vectors``) read again, so the index is never a source of truth: it can
be deleted at any time and is rebuilt from the store. It holds each vector's first ``dims``
values (WordLlama is trained so that a prefix is a smaller embedding of its own), normalised and
quantised to int8, keyed by article id.

Kept in step with the store:
- saved beside an SQLite store (``<store>.ann``) when the store closes, loaded when it opens;
- at load, the store's count of vectors up to the file's largest id must equal the file's count,
  else (a deleted article, a restored backup, a file from another store, a damaged file) it is
  rebuilt from ``article_vectors``; vectors newer than the file are appended (``catch_up``);
- every read through it first appends the vectors stored since (by this process or by another,
  such as a ``newsbot import`` beside a running bot): one indexed look-up when nothing is new.
An article whose text changed keeps its old vector here until the next rebuild; its stored
vector, which ranks, is the new one. Another process's ``newsbot reindex`` of old articles is
seen at the next open (the count no longer matches).

Backend-neutral: it reads (id, vector, published_at) rows with plain SQL on the connection the
storage API's ``Database.read``/``write`` hands it.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from pathlib import Path

import numpy as np
import numpy.typing as npt
from usearch.index import BatchMatches, Index

from semantic import Vectors
from storage.db import Conn
from storage.meaning import decode

log = logging.getLogger(__name__)

# Measured on BBC (bench/quality.py --meaning): see docs/benchmarks.md, issue 10.
DIMS = 64
CONNECTIVITY = 16
EXPANSION_ADD = 64
EXPANSION_SEARCH = 64
# Rows read per query while rebuilding or catching up (~0.5 MB of vectors each).
CHUNK = 20_000

NO_FILE = "no saved index"

Keys = npt.NDArray[np.int64]


class VectorIndex:
    """The index of one store, owned by its ``Store``; ``path`` None keeps it in memory only."""

    def __init__(self, path: Path | None, *, dims: int = DIMS) -> None:
        self.path = path
        self.dims = dims
        self._index: Index | None = None
        self._max_key = 0
        self._dirty = False
        self._lock = threading.RLock()
        self.rebuilt = False  # whether the last open had to rebuild (for logs and tests)

    @property
    def opened(self) -> bool:
        return self._index is not None

    @property
    def size(self) -> int:
        index = self._index
        return 0 if index is None else len(index)

    def project(self, vectors: Vectors) -> Vectors:
        """The part of full vectors that the index holds: the prefix, as unit vectors."""
        part = np.ascontiguousarray(np.atleast_2d(vectors)[:, : self.dims], dtype=np.float32)
        norms = np.linalg.norm(part, axis=1, keepdims=True)
        np.divide(part, norms, out=part, where=norms > 0)
        return part

    # --- opening, catching up, saving ----------------------------------------------------

    def open(self, conn: Conn, *, below: int | None = None) -> None:
        """Load the saved index if it matches the store, else rebuild it; then catch up."""
        with self._lock:
            if self._index is not None:
                self.catch_up(conn, below=below)
                return
            started = time.perf_counter()
            loaded, why = self._load()
            if loaded is not None:
                keys = np.asarray(loaded.keys, dtype=np.int64)
                top = int(keys.max()) if len(keys) else 0
                if _count_upto(conn, top) == len(keys):
                    self._index, self._max_key, self.rebuilt = loaded, top, False
                    added = self.catch_up(conn, below=below)
                    log.debug(
                        "meaning index %s: %d vectors loaded, %d appended in %.1f s",
                        self.path,
                        len(keys),
                        added,
                        time.perf_counter() - started,
                    )
                    return
                why = "it does not match the store"
            self._index, self._max_key, self.rebuilt = self._new(), 0, True
            if why and why != NO_FILE:
                log.warning("meaning index %s: %s; rebuilding it from the store", self.path, why)
            added = self.catch_up(conn, below=below)
            self._dirty = True
            if added:  # a first start of a new store has nothing to say
                took = time.perf_counter() - started
                log.info("meaning index %s: %d vectors indexed in %.1f s", self.path, added, took)

    def catch_up(self, conn: Conn, *, below: int | None = None) -> int:
        """Add the stored vectors newer than the newest indexed one; return how many.

        ``below``: only ids under it. A writer passes its batch's first new id, so that rows its
        transaction has not committed yet (and might roll back) never enter the index.
        """
        with self._lock:
            if self._index is None:
                self.open(conn, below=below)
                return 0
            added = 0
            limit = (1 << 62) if below is None else below
            while True:
                rows = conn.execute(
                    "SELECT article_id, vector FROM article_vectors"
                    " WHERE article_id > ? AND article_id < ? ORDER BY article_id LIMIT ?",
                    (self._max_key, limit, CHUNK),
                ).fetchall()
                if not rows:
                    return added
                keys = np.fromiter((r[0] for r in rows), dtype=np.int64, count=len(rows))
                self.add(keys, decode([r[1] for r in rows]))
                added += len(rows)

    def add(self, keys: Keys, vectors: Vectors) -> None:
        """Index these (already stored) vectors; keys already indexed are left as they are."""
        with self._lock:
            index = self._index
            if index is None or not len(keys):
                return
            fresh = np.logical_not(index.contains(keys))
            if fresh.any():
                index.add(keys[fresh], self.project(vectors[fresh]))
                self._dirty = True
            self._max_key = max(self._max_key, int(keys.max()))

    def save(self) -> None:
        """Write the index beside the store (atomically: a reader never sees half a file)."""
        with self._lock:
            if self.path is None or self._index is None or not self._dirty:
                return
            partial = self.path.with_name(self.path.name + ".partial")
            try:
                self._index.save(str(partial))
                os.replace(partial, self.path)
            except OSError as error:
                # The index is a cache: failing to keep it costs a rebuild at the next start.
                log.warning("meaning index %s not saved: %s", self.path, error)
                partial.unlink(missing_ok=True)
                return
            self._dirty = False

    # --- queries -------------------------------------------------------------------------

    def nearest(self, vectors: Vectors, count: int) -> list[list[int]]:
        """For each vector, the keys of up to ``count`` nearest indexed vectors, nearest first."""
        with self._lock:
            index = self._index
            if index is None or not len(index) or count <= 0:
                return [[] for _ in range(len(np.atleast_2d(vectors)))]
            found = index.search(self.project(vectors), min(count, len(index)))
        if not isinstance(found, BatchMatches):  # one vector asked: usearch answers Matches
            return [[int(k) for k in found.keys]]
        return [[int(k) for k in row[:n]] for row, n in zip(found.keys, found.counts, strict=True)]

    # --- internals -----------------------------------------------------------------------

    def _new(self) -> Index:
        return Index(
            ndim=self.dims,
            metric="cos",
            dtype="i8",
            connectivity=CONNECTIVITY,
            expansion_add=EXPANSION_ADD,
            expansion_search=EXPANSION_SEARCH,
        )

    def _load(self) -> tuple[Index | None, str]:
        """The saved index, or None and why not ("" when there is no file: a first start)."""
        if self.path is None or not self.path.exists():
            return None, "" if self.path is None else NO_FILE
        try:
            meta = Index.metadata(str(self.path))
            if meta is None or meta.get("dimensions") != self.dims:
                return None, "the saved index is damaged or of another shape"
            index = self._new()
            index.load(str(self.path))
        except (RuntimeError, ValueError, OSError) as error:
            return None, f"the saved index is unreadable ({error})"
        return index, ""


def _count_upto(conn: Conn, top: int) -> int:
    return int(
        conn.execute(
            "SELECT count(*) FROM article_vectors WHERE article_id <= ?", (top,)
        ).fetchone()[0]
    )
