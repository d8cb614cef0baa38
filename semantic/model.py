"""Load WordLlama from the files its wheel ships, and embed articles with it.

``WordLlama.load()`` looks for a ``tokenizer/`` folder and then downloads from a model hub,
which newsbot must never do. The wheel already carries both files it needs, so they are read
here directly: the token embedding matrix (``embedding.weight``, 32,000 x 256) with safetensors
and the tokenizer with ``tokenizers.Tokenizer.from_file``, and given to ``WordLlamaInference``.

A text's vector is the mean of its token vectors, as ``WordLlamaInference.embed`` computes it.
Tokenizing is most of that cost, and the tokenizer (BPE with no pre-tokenizer, a space becoming
"▁") never merges across a space, so each word is tokenized once and its ids are kept: a text is
then dictionary look-ups and one gather-and-sum. tests/test_semantic.py checks the vectors
against ``WordLlamaInference.embed`` itself.

A word's ids are kept as packed int32 bytes, not a list: a text's ids are then one
``bytes.join`` (C) instead of a Python loop over its words' lists, and the cache holds no
objects the garbage collector must walk (100,000 lists made each collection slow). The sum
is the same gather-and-sum over the same ids in the same order, so the vectors are the same
to the bit (measured: 0.32 -> 0.20 ms an article of 400 words).
"""

from __future__ import annotations

import importlib.util
import itertools
import logging
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

DIM = 256
WEIGHTS = "weights/l2_supercat_256.safetensors"
TOKENIZER = "tokenizers/l2_supercat_tokenizer_config.json"
# Title, summary and the body's first words. Measured (bench/quality.py, BBC P@5): 400 words
# 0.942 alone, 0.945 blended with tf-idf, as full text; 250 words 0.936 / 0.943.
TEXT_WORDS = 400
# Word -> token ids kept for this many words (about 12 MB), then started afresh.
CACHED_WORDS = 100_000
_ID = np.dtype("<i4")

Vectors = npt.NDArray[np.float32]


def one_blas_thread() -> None:
    """Run numpy's matrix products on the calling thread only, for the rest of the process.

    OpenBLAS starts a thread per core for each product. Ours are small (a story window of
    ~2,000 vectors, related's ~80 candidates): the extra thread mostly spins, and on a busy
    2-core machine it competed with the event loop and SQLite. Story assignment of one article
    took 16 ms of CPU with it, 5 ms without (docs/benchmarks.md, issue 10).
    """
    from threadpoolctl import threadpool_limits

    threadpool_limits(limits=1, user_api="blas")


class ModelError(Exception):
    """The embedding model cannot be used; the message names the file to fix."""


def packaged_files() -> tuple[Path, Path]:
    """The weights and tokenizer files inside the installed ``wordllama`` package."""
    # find_spec locates the package without running its __init__ (which configures logging).
    spec = importlib.util.find_spec("wordllama")
    if spec is None or not spec.submodule_search_locations:
        raise ModelError("the wordllama package is not installed (pip install wordllama)")
    root = Path(next(iter(spec.submodule_search_locations)))
    return root / WEIGHTS, root / TOKENIZER


def _inference_class() -> Any:
    # wordllama calls logging.basicConfig(level=INFO) on import; keep the host's logging as is.
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    try:
        from wordllama.inference import WordLlamaInference
    finally:
        for handler in list(root.handlers):
            if handler not in handlers:
                root.removeHandler(handler)
        root.setLevel(level)
    return WordLlamaInference  # untyped package: Any


def _read_weights(path: Path) -> npt.NDArray[Any]:
    from safetensors import safe_open

    if not path.is_file():
        raise ModelError(f"embedding model file missing: {path}")
    try:
        with safe_open(str(path), framework="np") as f:
            weights: npt.NDArray[Any] = f.get_tensor("embedding.weight")
    except Exception as error:  # safetensors raises its own error types and OSError
        raise ModelError(f"embedding model file unreadable: {path} ({error})") from error
    if weights.ndim != 2 or weights.shape[1] != DIM or not np.isfinite(weights).all():
        raise ModelError(
            f"embedding model file holds no usable {DIM}-column matrix: {path}"
            f" (shape {weights.shape})"
        )
    return weights


def _read_tokenizer(path: Path) -> Any:
    from tokenizers import Tokenizer

    if not path.is_file():
        raise ModelError(f"embedding tokenizer file missing: {path}")
    try:
        return Tokenizer.from_file(str(path))
    except Exception as error:  # tokenizers raises a bare Exception on bad JSON
        raise ModelError(f"embedding tokenizer file unreadable: {path} ({error})") from error


class Embedder:
    """Texts to L2-normalised float32 vectors of ``DIM`` dimensions (offline, CPU)."""

    def __init__(self, weights: Path | None = None, tokenizer: Path | None = None) -> None:
        default_weights, default_tokenizer = (
            packaged_files() if weights is None or tokenizer is None else (weights, tokenizer)
        )
        self.weights_path = weights or default_weights
        self.tokenizer_path = tokenizer or default_tokenizer
        matrix = _read_weights(self.weights_path)
        tok = _read_tokenizer(self.tokenizer_path)
        if tok.get_vocab_size() > matrix.shape[0]:
            raise ModelError(
                f"embedding model file has {matrix.shape[0]} rows but the tokenizer"
                f" {self.tokenizer_path} has {tok.get_vocab_size()} tokens: {self.weights_path}"
            )
        inference = _inference_class()(matrix, tok)
        self._matrix: npt.NDArray[np.float32] = inference.embedding  # float32, contiguous
        self._tokenizer = inference.tokenizer
        self._tokenizer.no_padding()  # words are encoded one by one, never padded
        self._word_ids: dict[str, bytes] = {}  # a word's token ids, packed as _ID

    def embed(self, texts: Sequence[str], batch_size: int = 256) -> Vectors:
        """One unit vector per text (a text with no tokens gets the zero vector).

        Runs of whitespace count as one space, as in ``article_text``.
        """
        out = np.zeros((len(texts), DIM), dtype=np.float32)
        for start in range(0, len(texts), batch_size):
            out[start : start + batch_size] = self._pooled(texts[start : start + batch_size])
        norms = np.linalg.norm(out, axis=1, keepdims=True)
        np.divide(out, norms, out=out, where=norms > 0)
        return out

    def _pooled(self, texts: Sequence[str]) -> Vectors:
        words = [text.split() for text in texts]
        self._learn(set(itertools.chain.from_iterable(words)))
        known, matrix = self._word_ids.__getitem__, self._matrix
        pooled = np.zeros((len(texts), DIM), dtype=np.float32)
        for row, ws in enumerate(words):
            packed = b"".join(map(known, ws))
            if packed:
                ids = np.frombuffer(packed, dtype=_ID)
                # One gather and sum per text: measured faster than reduceat over a batch.
                pooled[row] = matrix[ids].sum(axis=0) / len(ids)
        return pooled

    def _learn(self, words: set[str]) -> None:
        missing = [w for w in words if w not in self._word_ids]
        if not missing:
            return
        if len(self._word_ids) + len(missing) > CACHED_WORDS:
            # Started afresh: every word of the batch is looked up again, not only the new ones.
            self._word_ids.clear()
            missing = list(words)
        encodings = self._tokenizer.encode_batch(missing, add_special_tokens=False)
        counts = [len(e.ids) for e in encodings]
        ids = np.fromiter(
            itertools.chain.from_iterable(e.ids for e in encodings), _ID, count=sum(counts)
        )
        # Ids past the matrix are clamped to its last row, as WordLlamaInference.embed does.
        packed = np.minimum(ids, self._matrix.shape[0] - 1).astype(_ID).tobytes()
        at = 0
        for word, count in zip(missing, counts, strict=True):
            self._word_ids[word] = packed[at : at + count * _ID.itemsize]
            at += count * _ID.itemsize


_shared: Embedder | None = None
_shared_lock = threading.Lock()


def shared_embedder() -> Embedder:
    """The process's one Embedder from the packaged files, loaded on first call (~0.5 s).

    Its word cache is not thread-safe: callers in several threads hold a lock around ``embed``.
    """
    global _shared
    with _shared_lock:
        if _shared is None:
            _shared = Embedder()
        return _shared


def article_text(title: str, summary: str = "", body: str = "", words: int = TEXT_WORDS) -> str:
    """What an article is embedded from: title, summary, then the body, cut to ``words`` words."""
    # maxsplit: a long body is cut after its first words, not split to its end.
    parts = " ".join(p for p in (title, summary, body) if p).split(maxsplit=words)
    return " ".join(parts[:words])


def to_bytes(vector: Vectors) -> bytes:
    """A vector as float16 little-endian bytes (512 bytes), for a BLOB column."""
    return np.asarray(vector, dtype="<f2").tobytes()


def from_bytes(blob: bytes) -> Vectors:
    """The float32 vector that ``to_bytes`` stored."""
    if len(blob) != DIM * 2:
        raise ValueError(f"an embedding is {DIM * 2} bytes, got {len(blob)}")
    return np.frombuffer(blob, dtype="<f2").astype(np.float32)
