"""The ``newsbot`` command: import and query the store, poll feeds, run the bot.

Run without a command, ``newsbot`` prints its help and exits with status 2 (a usage error).
Every failure is one line on stderr starting ``newsbot:``; the statuses are in bot/exitcodes.py.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import html
import json
import os
import re
import shutil
import sqlite3
import sys
from collections.abc import AsyncIterator, Callable, Coroutine, Iterator, Sequence
from contextlib import AbstractContextManager, asynccontextmanager, contextmanager, nullcontext
from pathlib import Path
from typing import Any, TextIO

from tqdm import tqdm

from bot.bootstrap import open_store
from bot.config import load_config
from bot.demo import add_demo_arguments
from bot.exitcodes import (
    EXIT_BROKEN_PIPE,
    EXIT_FAILED,
    EXIT_INTERRUPTED,
    EXIT_OK,
    EXIT_USAGE,
)
from bot.logs import setup_logging
from bot.ops import cmd_backup, cmd_check_config, cmd_copy_store
from bot.render.table import article_sheet, article_table, topic_table
from bot.usecases import make_importer
from core.clock import utc_now
from core.settings import Config, ConfigError
from ingest.jsonio import article_to_dict
from ingest.pipeline import ImportSummary
from semantic import ModelError, one_blas_thread
from semantic.model import shared_embedder
from semantic.worker import EmbeddingProcess
from storage import Article, Meaning, Store, StoreUnreachable, fts
from storage.db import describe

MAX_LIST = 200
MAX_ID = 2**63 - 1  # SQLite's largest integer


def _count(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if not 1 <= value <= MAX_LIST:
        raise argparse.ArgumentTypeError(f"must be between 1 and {MAX_LIST}")
    return value


def _batch_size(text: str) -> int:
    if not (text.isascii() and text.isdigit()):
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number")
    value = int(text)
    if not 1 <= value <= 100_000:
        raise argparse.ArgumentTypeError("must be between 1 and 100000")
    return value


def _article_id(text: str) -> int:
    try:
        value = int(text.lstrip("#"))
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not an article id") from None
    if not 1 <= value <= MAX_ID:
        raise argparse.ArgumentTypeError(f"{text!r} is not an article id (1 to {MAX_ID})")
    return value


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="newsbot",
        description="A Telegram news-feed bot and its article store.",
        epilog="Without a COMMAND, newsbot prints this help and exits with status 2."
        " `newsbot COMMAND --help` lists a command's options.",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {_version()}")
    parser.add_argument("--config", metavar="PATH", help=CONFIG_HELP)
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    p = sub.add_parser("import", help="import articles from files, folders or URLs")
    p.add_argument("sources", nargs="+", metavar="PATH|URL")
    p.add_argument("--quiet", action="store_true", help="no progress bar")

    p = sub.add_parser(
        "export", help="every article with every field as JSON Lines, for backup or a move"
    )
    p.add_argument(
        "target", nargs="?", metavar="PATH", help="file to write (default: standard output)"
    )

    sub.add_parser("fetch", help="poll every configured feed once")

    p = sub.add_parser("opml", help="feeds from or to an OPML file (other feed readers' lists)")
    opml = p.add_subparsers(dest="opml_command", required=True, metavar="import|export")
    opml.add_parser("import", help="add every feed an OPML file lists").add_argument(
        "file", metavar="FILE"
    )
    opml.add_parser("export", help="print every feed as OPML 2.0")

    p = sub.add_parser(
        "reindex", help="compute the vectors (and stories) of articles that have none yet"
    )
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.add_argument(
        "--batch-size",
        type=_batch_size,
        default=1000,
        metavar="N",
        help="articles per committed batch (default 1000; an interrupted run keeps them)",
    )

    p = sub.add_parser("latest", help="the newest articles")
    p.add_argument("--topic", metavar="T", help="only this topic's articles (default: all)")
    p.add_argument("-n", type=_count, default=10, metavar="N", help=_n_help(10))
    p.add_argument("--json", action="store_true", help="one JSON object per line")

    p = sub.add_parser("related", help="articles related to one")
    p.add_argument("id", type=_article_id, metavar="ID")
    p.add_argument("-n", type=_count, default=5, metavar="N", help=_n_help(5))
    p.add_argument("--json", action="store_true", help="one JSON object per line")

    p = sub.add_parser("search", help="articles matching words")
    p.add_argument("words", nargs="+", metavar="WORDS")
    p.add_argument("-n", type=_count, default=10, metavar="N", help=_n_help(10))
    p.add_argument("--json", action="store_true", help="one JSON object per line")

    p = sub.add_parser("show", help="one article with every field")
    p.add_argument("id", type=_article_id, metavar="ID")
    p.add_argument("--json", action="store_true", help="the article as one JSON object")

    p = sub.add_parser("topics", help="configured topics and their article counts")
    p.add_argument("--json", action="store_true", help="one JSON object per line")

    sub.add_parser("stats", help="delivery, chat and feed figures")

    p = sub.add_parser("demo", help="try the bot in this terminal: no token, no network")
    add_demo_arguments(p)

    p = sub.add_parser("backup", help="copy the store, safely even while the bot runs")
    p.add_argument("target", metavar="PATH", help="the copy to write, or a folder for a dated one")
    p.add_argument("--force", action="store_true", help="replace PATH if it exists")

    p = sub.add_parser(
        "copy-store", help="copy the store into another, empty one (SQLite or PostgreSQL)"
    )
    p.add_argument(
        "target", metavar="TARGET", help="an SQLite file, or postgresql://user@host:port/db"
    )
    p.add_argument("--quiet", action="store_true", help="no progress bar")

    sub.add_parser("check-config", help="print the config in effect, secrets masked")

    sub.add_parser("run", help="run the bot (long polling, or the webhook if configured)")
    for command in sub.choices.values():
        # Also after the command (`newsbot latest --config c.toml`); SUPPRESS keeps a --config
        # given before the command when none comes after it.
        command.add_argument(
            "--config", metavar="PATH", default=argparse.SUPPRESS, help=CONFIG_HELP
        )
    return parser


CONFIG_HELP = "config file (default: $NEWSBOT_CONFIG, else ./config.toml)"


def _n_help(default: int) -> str:
    return f"how many articles (1-{MAX_LIST}, default {default})"


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("newsbot")
    except PackageNotFoundError:  # run from a source tree that was never installed
        return "(not installed)"


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    one_blas_thread()
    if args.command is None:
        parser.print_help()
        return EXIT_USAGE
    if args.command == "demo":  # the demo brings its own config, store and Telegram
        from bot.demo import run_demo

        return run_demo(
            args.script,
            out=sys.stdout,
            inp=sys.stdin,
            arrival_seconds=args.arrive_every,
            language=args.lang,
        )
    try:
        config = load_config(args.config)
    except ConfigError as exc:
        print(f"newsbot: {exc}", file=sys.stderr)
        return EXIT_USAGE
    webhook = config.telegram.webhook
    setup_logging(
        config.logging.level,
        secrets=[config.telegram.token, webhook.secret_token if webhook else None],
        # import and fetch print each failure themselves; the importer's warning would repeat it.
        reported=("ingest.pipeline",) if args.command in ("import", "fetch") else (),
    )
    if args.command == "run":
        return run_bot(config)
    command = COMMANDS[args.command]
    try:
        return asyncio.run(command(config, args))
    except KeyboardInterrupt:
        return EXIT_INTERRUPTED
    except ModelError as exc:  # the embedding model's files: one line naming the file
        print(f"newsbot: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except StoreUnreachable as exc:  # a config or operations problem: one line, the URL masked
        print(f"newsbot: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except sqlite3.Error as exc:  # StoreError included: one line naming the store and why
        print(f"newsbot: {describe(config.storage.where, exc)}", file=sys.stderr)
        return EXIT_FAILED
    except BrokenPipeError:
        # The reader went away (`newsbot latest | head -1`): stop quietly, as cat does. The
        # output still buffered would fail again at exit, so it goes to /dev/null instead.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return EXIT_BROKEN_PIPE


def run_bot(config: Config) -> int:
    """Run the bot until SIGINT or SIGTERM; a bad token or unreachable API is one line."""
    from telegram.error import InvalidToken, NetworkError

    from bot.app import POLL_TIMEOUT, build_application
    from bot.lifecycle import run_polling
    from bot.metrics import MetricsError
    from bot.ratelimit import SharedLimitsUnreachable
    from bot.webhook import WebhookError, run_webhook

    try:
        shared_embedder()  # a missing or damaged model stops the start, not the first import
        app = build_application(config)
    except (ConfigError, ModelError) as exc:
        print(f"newsbot: {exc}", file=sys.stderr)
        return EXIT_USAGE
    try:
        if config.telegram.webhook is not None:
            run_webhook(app, config.telegram.webhook)
        else:
            run_polling(app, poll_timeout=POLL_TIMEOUT)
    except (WebhookError, MetricsError) as exc:
        print(f"newsbot: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except (StoreUnreachable, SharedLimitsUnreachable) as exc:  # a server down: one line
        print(f"newsbot: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except sqlite3.Error as exc:  # the store could not be opened: one line, as other commands
        print(f"newsbot: {describe(config.storage.where, exc)}", file=sys.stderr)
        return EXIT_FAILED
    except InvalidToken:
        print(
            "newsbot: Telegram rejected the token; check [telegram].token or NEWSBOT_TOKEN",
            file=sys.stderr,
        )
        return EXIT_USAGE
    except NetworkError as exc:
        redacted = str(exc).replace(config.telegram.token or "\0", "***")
        print(
            f"newsbot: cannot reach the Bot API at {config.telegram.api_base_url}: {redacted}",
            file=sys.stderr,
        )
        return EXIT_FAILED
    return EXIT_OK


@asynccontextmanager
async def opened(
    config: Config, *, readonly: bool = False, embedding: EmbeddingProcess | None = None
) -> AsyncIterator[Store]:
    """The store for one command, closed however the command ends.

    Commands that only look (latest, show, stats, ...) open it ``readonly``: a missing store is
    then an error rather than a new empty file, and a store in a read-only folder still answers.
    """
    told: list[float] = []

    def waiting(seconds: float) -> None:  # in the writer's thread; said once per command
        if not told:
            told.append(seconds)
            print(
                f"newsbot: {config.storage.where}: locked by another process;"
                f" waiting up to {seconds:.0f} s",
                file=sys.stderr,
                flush=True,
            )

    store = await open_store(config, readonly=readonly, on_wait=waiting, embedding=embedding)
    try:
        yield store
    finally:
        await store.close()


def _print_articles(articles: Sequence[Article], as_json: bool, out: TextIO) -> None:
    if as_json:
        for article in articles:
            out.write(json.dumps(article_to_dict(article, full=False), ensure_ascii=False) + "\n")
    else:
        width = shutil.get_terminal_size((100, 24)).columns
        out.write(article_table(articles, width=width) + "\n")


def _print_summary(summary: ImportSummary, out: TextIO) -> None:
    for failure in summary.failures:
        print(f"failed: {failure}", file=sys.stderr)
    for warning in summary.warnings:
        print(f"warning: {warning}", file=sys.stderr)
    out.write(
        f"imported {summary.imported}, updated {summary.updated},"
        f" duplicate {summary.duplicate}, failed {summary.failed}\n"
    )


def _progress_bar(quiet: bool, desc: str) -> AbstractContextManager[Any]:
    if quiet:
        return nullcontext()
    bar: AbstractContextManager[Any] = tqdm(
        desc=desc, unit=" articles", file=sys.stderr, disable=None
    )
    return bar


async def _load_model() -> None:
    """Load the embedding model before the store is opened: a broken model changes nothing."""
    await asyncio.to_thread(shared_embedder)


@contextmanager
def _bulk_work(config: Config) -> Iterator[EmbeddingProcess]:
    """What a big import or reindex runs with: the child process that embeds while this one
    stores (semantic/worker.py). On PostgreSQL the child also writes each article's
    full-text document (``fts.tsvector_binary``, ~0.1 ms an article of text work), so this process
    only stores.

    The model is loaded and the child forked before the store is opened: a broken model
    changes nothing, and the fork copies a process with no store threads or connections yet.
    Everything loaded by then (modules, the model) is frozen out of the garbage collector's
    walks: it is never garbage, and the collections a bulk job's many rows set off walked it
    each time (and would have copied the child's shared pages); measured ~15% of an import.
    """
    embedder = shared_embedder()
    gc.freeze()
    try:
        document = fts.tsvector_binary if config.storage.url else None
        with EmbeddingProcess(embedder, document=document) as embedding:
            yield embedding
    finally:
        gc.unfreeze()


async def cmd_reindex(config: Config, args: argparse.Namespace) -> int:
    """Vectors and stories for articles stored without them; Ctrl-C keeps the batches done."""
    with _bulk_work(config) as embedding:
        return await _reindex(config, args, embedding)


async def _reindex(config: Config, args: argparse.Namespace, embedding: EmbeddingProcess) -> int:
    async with opened(config, embedding=embedding) as store:
        await store.keep_index_current()
        meaning = store.meaning or Meaning()
        todo = await store.vectors.missing()
        with _progress_bar(args.quiet, "reindexing") as bar:
            if bar is not None:
                bar.total = todo
            done = await store.vectors.fill_missing(
                meaning,
                batch_size=args.batch_size,
                progress=bar.update if bar is not None else None,
            )
    print(f"vectors computed for {done} article(s); every article has one")
    return EXIT_OK


async def cmd_import(config: Config, args: argparse.Namespace) -> int:
    with _bulk_work(config) as embedding:
        return await _import(config, args, embedding)


async def _import(config: Config, args: argparse.Namespace, embedding: EmbeddingProcess) -> int:
    async with opened(config, embedding=embedding) as store:
        await store.keep_index_current()
        importer = make_importer(store, config, clock=utc_now)
        with _progress_bar(args.quiet, "importing") as progress:
            summary = await importer.import_sources(
                args.sources,
                config.fetch,
                progress=progress.update if progress is not None else None,
            )
        # Here, where no reader waits, rather than at the bot's first /related after it.
        await store.search.refresh_term_stats_if_stale()
    _print_summary(summary, sys.stdout)
    return EXIT_OK if summary.ok else EXIT_FAILED


async def cmd_export(config: Config, args: argparse.Namespace) -> int:
    """Write every article as one JSON line each, in id order; ``import`` reads it back."""
    out: TextIO
    skipped: list[int] = []
    # Export only looks: a missing store is an error, not a new empty one, and a store in a
    # read-only folder can still be exported.
    async with opened(config, readonly=True) as store:
        if args.target is None:
            out, close = sys.stdout, False
        else:
            try:
                out = await asyncio.to_thread(
                    Path(args.target).open, "w", encoding="utf-8", newline="\n"
                )
                close = True
            except OSError as exc:
                print(f"newsbot: cannot write {args.target}: {exc.strerror}", file=sys.stderr)
                return EXIT_FAILED
        try:
            async for page in store.articles.all_pages(skipped=skipped):
                out.writelines(
                    json.dumps(article_to_dict(a, full=True), ensure_ascii=False) + "\n"
                    for a in page
                )
        finally:
            if close:
                out.close()
    if skipped:
        # Export promises every article; a reader of the file must know some are missing.
        shown = ", ".join(str(i) for i in skipped[:10])
        more = f" and {len(skipped) - 10} more" if len(skipped) > 10 else ""
        print(
            f"newsbot: export left out {len(skipped)} unreadable article(s) (ids {shown}{more});"
            " the export is incomplete",
            file=sys.stderr,
        )
        return EXIT_FAILED
    return EXIT_OK


async def cmd_fetch(config: Config, args: argparse.Namespace) -> int:
    from ingest.fetch import make_client

    if not config.feeds:
        print("newsbot: no [[feeds]] in the config: nothing to fetch", file=sys.stderr)
    total = ImportSummary()
    await _load_model()
    async with opened(config) as store, make_client(config.fetch) as http:
        importer = make_importer(store, config, clock=utc_now)
        for feed in await store.feeds.all():
            summary = await importer.poll_feed(feed, http, config.fetch)
            print(
                f"{feed.url}: new {summary.imported}, updated {summary.updated},"
                f" unchanged {summary.duplicate}, failed {summary.failed}"
            )
            total.add(summary)
    _print_summary(total, sys.stdout)
    return EXIT_OK if total.ok else EXIT_FAILED


async def cmd_opml(config: Config, args: argparse.Namespace) -> int:
    from bot.opml import export_opml, import_opml_feeds, report_lines
    from ingest.fetch import make_client
    from ingest.opml import MAX_BYTES

    if args.opml_command == "export":
        async with opened(config) as store:
            sys.stdout.write(await export_opml(store, config, utc_now()))
        return EXIT_OK
    try:
        with open(args.file, "rb") as file:  # noqa: ASYNC230 - one small file, before any work
            data = file.read(MAX_BYTES + 1)
    except OSError as exc:
        print(f"newsbot: cannot read {args.file}: {exc.strerror}", file=sys.stderr)
        return EXIT_FAILED
    async with opened(config) as store, make_client(config.fetch) as http:
        importer = make_importer(store, config, clock=utc_now)
        report = await import_opml_feeds(
            store, importer, http, config, data, lambda: int(utc_now().timestamp())
        )
    *problems, counts = report_lines(report)
    for problem in problems:
        print(f"problem: {problem}", file=sys.stderr)
    print(counts)
    return EXIT_OK if report.ok else EXIT_FAILED


async def cmd_stats(config: Config, args: argparse.Namespace) -> int:
    from bot.stats import gather_store_stats, render_stats

    async with opened(config, readonly=True) as store:
        report = await gather_store_stats(store, int(utc_now().timestamp()))
    print(html.unescape(re.sub(r"</?b>", "", render_stats(report))))
    return EXIT_OK


async def cmd_latest(config: Config, args: argparse.Namespace) -> int:
    if args.topic is not None and config.topic(args.topic) is None:
        known = ", ".join(t.slug for t in config.topics) or "none configured"
        print(f"newsbot: unknown topic {args.topic!r} (topics: {known})", file=sys.stderr)
        return EXIT_USAGE
    async with opened(config, readonly=True) as store:
        articles = await store.articles.latest(topic=args.topic, limit=args.n)
    _print_articles(articles, args.json, sys.stdout)
    return EXIT_OK


async def cmd_related(config: Config, args: argparse.Namespace) -> int:
    async with opened(config, readonly=True) as store:
        if await store.articles.get(args.id) is None:
            print(f"newsbot: no article with id {args.id}", file=sys.stderr)
            return EXIT_FAILED
        articles = await store.search.related(args.id, limit=args.n)
    _print_articles(articles, args.json, sys.stdout)
    return EXIT_OK


async def cmd_search(config: Config, args: argparse.Namespace) -> int:
    async with opened(config, readonly=True) as store:
        articles = await store.search.search(" ".join(args.words), limit=args.n)
    _print_articles(articles, args.json, sys.stdout)
    return EXIT_OK


async def cmd_show(config: Config, args: argparse.Namespace) -> int:
    async with opened(config, readonly=True) as store:
        article = await store.articles.get(args.id)
    if article is None:
        print(f"newsbot: no article with id {args.id}", file=sys.stderr)
        return EXIT_FAILED
    if args.json:
        print(json.dumps(article_to_dict(article, full=True), ensure_ascii=False))
    else:
        print(article_sheet(article))
    return EXIT_OK


async def cmd_topics(config: Config, args: argparse.Namespace) -> int:
    async with opened(config, readonly=True) as store:
        topics = await store.articles.topics()
        counts = await store.articles.topic_counts()
    if args.json:
        for topic in topics:
            configured = config.topic(topic.slug)
            print(
                json.dumps(
                    {
                        "slug": topic.slug,
                        "name": topic.name,
                        "articles": counts.get(topic.slug, 0),
                        "categories": list(configured.categories) if configured else [],
                        "keywords": list(configured.keywords) if configured else [],
                    },
                    ensure_ascii=False,
                )
            )
    else:
        print(topic_table(topics, counts))
    return EXIT_OK


COMMANDS: dict[str, Callable[[Config, argparse.Namespace], Coroutine[Any, Any, int]]] = {
    "import": cmd_import,
    "export": cmd_export,
    "fetch": cmd_fetch,
    "opml": cmd_opml,
    "reindex": cmd_reindex,
    "latest": cmd_latest,
    "related": cmd_related,
    "search": cmd_search,
    "show": cmd_show,
    "topics": cmd_topics,
    "stats": cmd_stats,
    "backup": cmd_backup,
    "copy-store": cmd_copy_store,
    "check-config": cmd_check_config,
}

if __name__ == "__main__":
    raise SystemExit(main())
