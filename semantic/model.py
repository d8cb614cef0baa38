"""Load WordLlama from the files its wheel ships, and embed articles with it.

``WordLlama.load()`` looks for a ``tokenizer/`` folder and then downloads from a model hub,
which newsbot must never do. The wheel already carries both files it needs, so they are read
here directly: the token embedding matrix (``embedding.weight``, 32,000 x 256) with safetensors
and the tokenizer with ``tokenizers.Tokenizer.from_file``; ``WordLlamaInference`` then averages
the token vectors of a text.
"""

from __future__ import annotations

import importlib.util
import logging
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

DIM = 256
WEIGHTS = "weights/l2_supercat_256.safetensors"
TOKENIZER = "tokenizers/l2_supercat_tokenizer_config.json"
# Title, summary and the body's first words: measured in bench/quality.py, the first 250 words
# keep almost all of full text's quality at a fifth of its cost.
TEXT_WORDS = 250

Vectors = npt.NDArray[np.float32]


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
        self._inference = _inference_class()(matrix, tok)

    def embed(self, texts: Sequence[str], batch_size: int = 64) -> Vectors:
        """One unit vector per text (a text with no tokens gets the zero vector)."""
        out = np.zeros((len(texts), DIM), dtype=np.float32)
        # Texts of similar length share a batch, so little time goes on padding.
        order = sorted(range(len(texts)), key=lambda i: len(texts[i]))
        for start in range(0, len(order), batch_size):
            chunk = order[start : start + batch_size]
            pooled = self._inference.embed(
                [texts[i] for i in chunk], norm=False, batch_size=len(chunk)
            )
            out[chunk] = pooled
        norms = np.linalg.norm(out, axis=1, keepdims=True)
        np.divide(out, norms, out=out, where=norms > 0)
        return out


def article_text(title: str, summary: str = "", body: str = "", words: int = TEXT_WORDS) -> str:
    """What an article is embedded from: title, summary, then the body, cut to ``words`` words."""
    parts = " ".join(p for p in (title, summary, body) if p).split()
    return " ".join(parts[:words])


def to_bytes(vector: Vectors) -> bytes:
    """A vector as float16 little-endian bytes (512 bytes), for a BLOB column."""
    return np.asarray(vector, dtype="<f2").tobytes()


def from_bytes(blob: bytes) -> Vectors:
    """The float32 vector that ``to_bytes`` stored."""
    if len(blob) != DIM * 2:
        raise ValueError(f"an embedding is {DIM * 2} bytes, got {len(blob)}")
    return np.frombuffer(blob, dtype="<f2").astype(np.float32)
