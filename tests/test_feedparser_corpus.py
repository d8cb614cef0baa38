"""parse_feed over feedparser's own test corpus: ~2,250 well-formed, ill-formed and oddly
encoded feeds (plus a few compressed blobs, which are garbage to a parser given bytes).

Fetch the corpus first with ``.ci/fetch-feedparser-corpus`` (CI always does); without it these
tests skip. ``NEWSBOT_FEEDPARSER_CORPUS`` points at a corpus elsewhere.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from ingest.errors import ImportFailure
from ingest.feeds import INTERNAL_ERROR, FeedResult, parse_feed
from storage.models import NewArticle

pytestmark = pytest.mark.slow

REPO = Path(__file__).resolve().parents[1]
CORPUS = Path(os.environ.get("NEWSBOT_FEEDPARSER_CORPUS") or REPO / ".cache" / "feedparser-corpus")
# The corpus is .xml throughout, plus .gz/.z bodies for feedparser's HTTP decompression tests.
SUFFIXES = {".xml", ".rdf", ".rss", ".atom", ".gz", ".z"}
MIN_FILES = 1500
# feedparser is expected to cope with its own corpus; a crash inside it is news, as is a bug here.
CRASHES = (INTERNAL_ERROR, "feedparser gave up")
MISSING = f"no feedparser corpus at {CORPUS}: run .ci/fetch-feedparser-corpus"

FILES = (
    sorted(p for p in CORPUS.rglob("*") if p.is_file() and p.suffix.lower() in SUFFIXES)
    if CORPUS.is_dir()
    else []
)
STR_FIELDS = ("title", "summary", "body")
OPTIONAL_STR_FIELDS = ("url", "guid", "publisher", "attribution", "category", "language")


def test_corpus_is_all_there() -> None:
    if not CORPUS.is_dir():
        pytest.skip(MISSING)
    # A broken extraction must not pass as a handful of green tests.
    assert len(FILES) > MIN_FILES


@pytest.mark.parametrize(
    "path",
    FILES or [pytest.param(None, marks=pytest.mark.skip(reason=MISSING))],
    ids=lambda path: str(path.relative_to(CORPUS)) if isinstance(path, Path) else "missing",
)
def test_parse_feed_keeps_its_contract(path: Path) -> None:
    result = parse_or_failure(path.read_bytes(), source=str(path))
    if isinstance(result, ImportFailure):
        assert result.reason
        assert not any(crash in result.reason for crash in CRASHES), result.reason
        return
    assert isinstance(result, FeedResult)
    assert result.title is None or isinstance(result.title, str)
    for failure in result.failures:
        assert isinstance(failure, ImportFailure)
        assert not any(crash in failure.reason for crash in CRASHES), failure.reason
    for article in result.articles:
        check_article(article)


def parse_or_failure(data: bytes, *, source: str) -> FeedResult | ImportFailure:
    # Anything but these two escapes and fails the test with its traceback.
    try:
        return parse_feed(data, source=source, default_topics=("corpus",))
    except ImportFailure as failure:
        return failure


def check_article(article: NewArticle) -> None:
    assert isinstance(article, NewArticle)
    assert article.title.strip()
    assert article.guid or article.url
    assert article.key
    published = article.published_at
    assert published is None or published.utcoffset() is not None
    for name in STR_FIELDS:
        assert isinstance(getattr(article, name), str), name
    for name in (*OPTIONAL_STR_FIELDS, "image_url"):
        value = getattr(article, name)
        assert value is None or (isinstance(value, str) and value), name
    assert article.topics == ("corpus",)
    assert article.related == ()
