"""Meaning for newsbot: article embeddings from a packaged model, and same-story decisions.

The bottom layer: it imports nothing from ``bot``, ``ingest`` or ``storage``.
"""

from semantic.model import (
    DIM,
    TEXT_WORDS,
    Embedder,
    ModelError,
    Vectors,
    article_text,
    from_bytes,
    one_blas_thread,
    packaged_files,
    to_bytes,
)
from semantic.stories import (
    RULE,
    WINDOW,
    StoryItem,
    StoryRule,
    Words,
    same_story,
    story_items,
    story_score,
    story_words,
    words_from_text,
    words_text,
)

__all__ = [
    "DIM",
    "RULE",
    "TEXT_WORDS",
    "WINDOW",
    "Embedder",
    "ModelError",
    "StoryItem",
    "StoryRule",
    "Vectors",
    "Words",
    "article_text",
    "from_bytes",
    "one_blas_thread",
    "packaged_files",
    "same_story",
    "story_items",
    "story_score",
    "story_words",
    "to_bytes",
    "words_from_text",
    "words_text",
]
