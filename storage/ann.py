"""Nearest articles by meaning: an HNSW index (usearch) over the stored article vectors.

The index only proposes candidates. What ranks them, for ``related`` and for stories, is the
stored vector (``article_vectors``) read again, so the index is never a source of truth: it can
be deleted at any time and is rebuilt from the store. It holds each vector's first ``dims``
values (WordLlama is trained so that a prefix is a smaller embedding of its own), normalised and
quantised to int8, keyed by article id.

Kept in step with the store:
- saved beside an SQLite store (``<store>.ann``), or for a PostgreSQL store in a folder of the
  host's (``[storage] index_dir``) under a name made of the database's identity
  (``index_file_name``), when the store closes, and opened memory-mapped
  (usearch's view) when it opens: only the pages a search touches are read in, and they are
  the kernel's page cache, which it can drop under pressure, not the process's own memory
  (loaded into memory, the index was ~212 MB of a 512 MB bot at 1,000,000). A view cannot
  grow, so vectors stored after the file was written go to a small in-memory index beside
  it; a search asks both and merges by distance; saving writes both into one new file;
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
from usearch.index import BatchMatches, Index, Matches

from semantic import Vectors
from storage.db import Conn
from storage.meaning import decode

log = logging.getLogger(__name__)

# Measured on BBC (bench/quality.py --meaning): see docs/benchmarks.md, issue 10.
DIMS = 64
# Links per node. 8 instead of 16: 149 instead of 213 bytes a vector (149 MB at 1,000,000,
# resident once searches touched it), the same recall of the 41 nearest at 200,000 real
# articles (0.903 against exact search over the full vectors, both). A saved index keeps the
# connectivity it was built with until it is rebuilt (delete ``<store>.ann``).
CONNECTIVITY = 8
EXPANSION_ADD = 64
EXPANSION_SEARCH = 64
# Rows read per query while rebuilding or catching up (~0.5 MB of vectors each).
CHUNK = 20_000

NO_FILE = "no saved index"

Keys = npt.NDArray[np.int64]
Distances = npt.NDArray[np.float32]


class VectorIndex:
    """The index of one store, owned by its ``Store``; ``path`` None keeps it in memory only."""

    def __init__(self, path: Path | None, *, dims: int = DIMS) -> None:
        self.path = path
        self.dims = dims
        # ``_saved``: the file, memory-mapped (read-only); None when there was none to trust.
        # ``_fresh``: in memory, what was indexed since (everything, after a rebuild), with
        # the vectors it was given, kept to write them into the next file.
        self._saved: Index | None = None
        self._fresh: Index | None = None
        self._fresh_keys: list[Keys] = []
        self._fresh_vectors: list[Vectors] = []
        self._max_key = 0
        self._dirty = False
        self._lock = threading.RLock()
        self.rebuilt = False  # whether the last open had to rebuild (for logs and tests)

    @property
    def opened(self) -> bool:
        return self._fresh is not None

    @property
    def size(self) -> int:
        return sum(len(index) for index in self._parts())

    def project(self, vectors: Vectors) -> Vectors:
        """The part of full vectors that the index holds: the prefix, as unit vectors."""
        part = np.ascontiguousarray(np.atleast_2d(vectors)[:, : self.dims], dtype=np.float32)
        norms = np.linalg.norm(part, axis=1, keepdims=True)
        np.divide(part, norms, out=part, where=norms > 0)
        return part

    # --- opening, catching up, saving ----------------------------------------------------

    def open(self, conn: Conn, *, below: int | None = None, in_memory: bool = False) -> None:
        """Map the saved index if it matches the store, else rebuild it; then catch up.

        ``in_memory``: read the saved file into memory instead of mapping it, for a process
        about to add many vectors (an import): they then go into that one index, which is
        saved as it is, where a mapped file's additions are indexed a second time to be saved
        with it.
        """
        with self._lock:
            if self._fresh is not None:
                self.catch_up(conn, below=below)
                return
            started = time.perf_counter()
            loaded, why = self._view(in_memory=in_memory)
            if loaded is not None:
                keys = np.asarray(loaded.keys, dtype=np.int64)
                top = int(keys.max()) if len(keys) else 0
                if _count_upto(conn, top) == len(keys):
                    self._max_key, self.rebuilt = top, False
                    if in_memory:
                        self._saved, self._fresh = None, loaded
                    else:
                        self._saved, self._fresh = loaded, self._new()
                    added = self.catch_up(conn, below=below)
                    log.debug(
                        "meaning index %s: %d vectors mapped, %d appended in %.1f s",
                        self.path,
                        len(keys),
                        added,
                        time.perf_counter() - started,
                    )
                    return
                why = "it does not match the store"
            self._saved, self._fresh, self._max_key, self.rebuilt = None, self._new(), 0, True
            if why and why != NO_FILE:
                log.warning("meaning index %s: %s; rebuilding it from the store", self.path, why)
            added = self.catch_up(conn, below=below)
            self._dirty = True
            if added:  # a first start of a new store has nothing to say
                took = time.perf_counter() - started
                log.info("meaning index %s: %d vectors indexed in %.1f s", self.path, added, took)

    def worth_keeping(self, conn: Conn, *, below: int | None = None) -> bool:
        """Whether a writer should keep this index current as it stores vectors: it is open,
        or its file exists (mapping it and appending what is new is cheap), or the store has
        no vectors (under ``below``) to build it from. A store with vectors but no file (a
        PostgreSQL database new to this machine, a deleted file) is left to whoever searches
        it first: building the index takes ~11 s a 100,000 vectors, which a writer never
        needs (story assignment asks it only for busy windows)."""
        if self.opened or (self.path is not None and self.path.exists()):
            return True
        limit = (1 << 62) if below is None else below
        row = conn.execute(
            "SELECT 1 FROM article_vectors WHERE article_id < ? LIMIT 1", (limit,)
        ).fetchone()
        return row is None

    def catch_up(self, conn: Conn, *, below: int | None = None) -> int:
        """Add the stored vectors newer than the newest indexed one; return how many.

        ``below``: only ids under it. A writer passes its batch's first new id, so that rows its
        transaction has not committed yet (and might roll back) never enter the index.
        """
        with self._lock:
            if self._fresh is None:
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
            fresh_index = self._fresh
            if fresh_index is None or not len(keys):
                return
            fresh = np.ones(len(keys), dtype=bool)
            for index in self._parts():
                fresh &= np.logical_not(index.contains(keys))
            if fresh.any():
                part = self.project(vectors[fresh])
                fresh_index.add(keys[fresh], part)
                if self._saved is not None:
                    self._fresh_keys.append(keys[fresh])
                    self._fresh_vectors.append(part)
                self._dirty = True
            self._max_key = max(self._max_key, int(keys.max()))

    def save(self) -> None:
        """Write the index beside the store (atomically: a reader never sees half a file).

        The mapped file and the in-memory part become one new file, which is then mapped in
        their place (the old mapping stays valid: replacing a file keeps its pages for whoever
        has it open)."""
        with self._lock:
            if self.path is None or self._fresh is None or not self._dirty:
                return
            # Named per process: instances sharing a PostgreSQL store on one host share the
            # file, and two closing at once must not write into one partial file.
            partial = self.path.with_name(f"{self.path.name}.{os.getpid()}.partial")
            try:
                self.path.parent.mkdir(parents=True, exist_ok=True)
                whole = self._whole()
                whole.save(str(partial))
                os.replace(partial, self.path)
                del whole  # before the view below: never both in memory at once
                saved, _ = self._view()
            except (OSError, RuntimeError) as error:
                # The index is a cache: failing to keep it costs a rebuild at the next start.
                log.warning("meaning index %s not saved: %s", self.path, error)
                partial.unlink(missing_ok=True)
                return
            self._dirty = False
            if saved is not None:
                self._saved, self._fresh = saved, self._new()
                self._fresh_keys, self._fresh_vectors = [], []

    # --- queries -------------------------------------------------------------------------

    def nearest(self, vectors: Vectors, count: int) -> list[list[int]]:
        """For each vector, the keys of up to ``count`` nearest indexed vectors, nearest first."""
        rows = len(np.atleast_2d(vectors))
        with self._lock:
            parts = [index for index in self._parts() if len(index)]
            if not parts or count <= 0:
                return [[] for _ in range(rows)]
            query = self.project(vectors)
            found = [_matches(index.search(query, min(count, len(index)))) for index in parts]
        if len(found) == 1:
            return [keys for keys, _ in found[0]]
        merged = []
        for row in zip(*found, strict=True):
            pairs = sorted(
                (float(d), int(k))
                for keys, distances in row
                for k, d in zip(keys, distances, strict=True)
            )
            merged.append([k for _, k in pairs[:count]])
        return merged

    # --- internals -----------------------------------------------------------------------

    def _parts(self) -> list[Index]:
        return [index for index in (self._saved, self._fresh) if index is not None]

    def _whole(self) -> Index:
        """The mapped file's vectors and the fresh ones in one in-memory index, to save."""
        if self._saved is None or self.path is None:
            assert self._fresh is not None
            return self._fresh
        whole = self._new()
        whole.load(str(self.path))
        if self._fresh_keys:
            whole.add(np.concatenate(self._fresh_keys), np.concatenate(self._fresh_vectors))
        return whole

    def _new(self) -> Index:
        return Index(
            ndim=self.dims,
            metric="cos",
            dtype="i8",
            connectivity=CONNECTIVITY,
            expansion_add=EXPANSION_ADD,
            expansion_search=EXPANSION_SEARCH,
        )

    def _view(self, *, in_memory: bool = False) -> tuple[Index | None, str]:
        """The saved index mapped (or read into memory), or None and why not ("" when there is
        no file: a first start)."""
        if self.path is None or not self.path.exists():
            return None, "" if self.path is None else NO_FILE
        try:
            meta = Index.metadata(str(self.path))
            if meta is None or meta.get("dimensions") != self.dims:
                return None, "the saved index is damaged or of another shape"
            index = self._new()
            if in_memory:
                index.load(str(self.path))
            else:
                index.view(str(self.path))
        except (RuntimeError, ValueError, OSError) as error:
            return None, f"the saved index is unreadable ({error})"
        return index, ""


def _matches(found: Matches | BatchMatches) -> list[tuple[list[int], Distances]]:
    """Each query's keys and distances, nearest first (usearch answers one query unbatched)."""
    if not isinstance(found, BatchMatches):
        return [([int(k) for k in found.keys], found.distances)]
    return [
        ([int(k) for k in keys[:n]], distances[:n])
        for keys, distances, n in zip(found.keys, found.distances, found.counts, strict=True)
    ]


def index_file_name(conn: Conn) -> str:
    """The file name of a PostgreSQL store's index: its server's system identifier (made at
    initdb, so another server or a restored dump is another store), then its database's and
    schema's oids (so another database, or one dropped and made again, is another store).
    The count check at load catches the rest, as for a file beside an SQLite store."""
    row = conn.execute(
        "SELECT (SELECT system_identifier FROM pg_control_system()), d.oid, n.oid"
        " FROM pg_database d, pg_namespace n"
        " WHERE d.datname = current_database() AND n.nspname = current_schema()"
    ).fetchone()
    return f"{row[0]}-{row[1]}-{row[2]}.ann"


def _count_upto(conn: Conn, top: int) -> int:
    return int(
        conn.execute(
            "SELECT count(*) FROM article_vectors WHERE article_id <= ?", (top,)
        ).fetchone()[0]
    )
