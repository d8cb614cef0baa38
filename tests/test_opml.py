"""OPML import and export (issue 11, section 4): the reader on exact bad files, ``newsbot opml``
on a real store with feeds served on loopback, and the bot's document upload and Export button
through the Bot API double."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import httpx
import pytest
import telegram
from aiohttp import web
from telegram import InputFile
from telegram.error import BadRequest

from bot.cli import main
from bot.handlers.admin import REFUSAL
from bot.handlers.opml import EXPORT_DATA
from botapi_double import BotApiDouble
from botapi_double.state import User
from ingest.guard import REFUSED
from ingest.opml import MAX_OUTLINES, read_opml
from tests.harness import ADMIN_ID, RunningBot, running_bot
from tests.support.feedserver import feed_server as local_server

OPML = Path(__file__).parent / "data" / "opml"

CONFIG = """
[storage]
path = "{db}"

[topics.russia]
name = "Russia"
keywords = ["Kremlin"]

[topics.economy]
name = "Economy"
keywords = ["inflation"]
"""


def opml(body: str) -> bytes:
    return (
        f'<?xml version="1.0" encoding="UTF-8"?>\n<opml version="2.0"><head/><body>{body}'
        "</body></opml>"
    ).encode()


# -- reading: every problem is one line, the good feeds are still read -------------------------


@pytest.mark.parametrize(
    ("data", "problem"),
    [
        (b"this is not xml", "not well-formed XML: syntax error at line 1"),
        (b"", "not well-formed XML: no element found at line 1"),
        (
            b"<!doctype html><html><body>Login</body></html>",
            "not well-formed XML: syntax error at line 1",
        ),
        (b'<rss version="2.0"><channel/></rss>', "not OPML: the root element is <rss>, not <opml>"),
        (opml(""), "no outlines: the OPML body lists no feeds"),
        (b'<opml version="2.0"><head/></opml>', "no outlines: the OPML body lists no feeds"),
        (
            opml('<outline text="Folder"><outline text="note"/></outline>'),
            "no feeds: no outline has an xmlUrl",
        ),
    ],
)
def test_not_a_subscription_list(data: bytes, problem: str) -> None:
    document = read_opml(data)
    assert document.feeds == ()
    assert document.problems == (problem,)


def test_xml_bomb_is_refused_before_it_expands() -> None:
    lol = b"".join(
        b'<!ENTITY lol%d "%s">' % (n, b"&lol%d;" % (n - 1) * 10 if n else b"lol") for n in range(10)
    )
    data = b"<?xml version='1.0'?><!DOCTYPE opml [" + lol + b"]><opml><body>"
    data += b'<outline xmlUrl="https://x.example/&lol9;"/></body></opml>'
    document = read_opml(data)
    assert document.feeds == ()
    assert document.problems == (
        "refused: the file declares XML entities (an XML bomb or an XXE attempt)",
    )


@pytest.mark.parametrize(
    "declaration",
    [
        b'<!ENTITY secret SYSTEM "file:///etc/passwd">',
        b'<!ENTITY secret SYSTEM "http://127.0.0.1:9/steal">',
        b'<!ENTITY % remote SYSTEM "http://127.0.0.1:9/evil.dtd"> %remote;',
    ],
)
def test_external_entities_are_refused(declaration: bytes) -> None:
    data = b"<?xml version='1.0'?><!DOCTYPE opml [" + declaration + b"]><opml><body>"
    data += b'<outline xmlUrl="https://x.example/&secret;"/></body></opml>'
    document = read_opml(data)
    assert document.feeds == ()
    assert document.problems == (
        "refused: the file declares XML entities (an XML bomb or an XXE attempt)",
    )


def test_each_bad_outline_is_one_line_and_the_good_ones_are_read() -> None:
    data = opml(
        '\n<outline text="Good" xmlUrl="https://a.example/feed.xml"/>'
        '\n<outline text="Relative" xmlUrl="/feed.xml"/>'
        '\n<outline text="Scheme-relative" xmlUrl="//b.example/feed.xml"/>'
        '\n<outline text="FTP" xmlUrl="ftp://c.example/feed.xml"/>'
        '\n<outline text="Script" xmlUrl="javascript:alert(1)"/>'
        '\n<outline text="Empty" xmlUrl=""/>'
        '\n<outline text="Twice" xmlUrl="https://a.example/feed.xml"/>'
        '\n<outline text="Also good" xmlUrl="HTTP://d.example/rss"/>'
    )
    document = read_opml(data)
    assert [feed.url for feed in document.feeds] == [
        "https://a.example/feed.xml",
        "HTTP://d.example/rss",
    ]
    assert document.problems == (
        "line 4 (“Relative”): xmlUrl “/feed.xml” is not an absolute http(s) URL: skipped",
        "line 5 (“Scheme-relative”): xmlUrl “//b.example/feed.xml” is not an absolute http(s)"
        " URL: skipped",
        "line 6 (“FTP”): xmlUrl “ftp://c.example/feed.xml” is not an absolute http(s) URL: skipped",
        "line 7 (“Script”): xmlUrl “javascript:alert(1)” is not an absolute http(s) URL: skipped",
        "line 8 (“Empty”): empty xmlUrl: skipped",
        "line 9 (“Twice”): “https://a.example/feed.xml” is listed again: added once",
    )


def test_ten_thousand_outlines_read_the_first_ones_only() -> None:
    data = opml(
        "".join(f'<outline text="f{n}" xmlUrl="https://x.example/{n}.xml"/>' for n in range(10_000))
    )
    document = read_opml(data)
    assert len(document.feeds) == MAX_OUTLINES
    assert document.feeds[-1].url == f"https://x.example/{MAX_OUTLINES - 1}.xml"
    assert document.problems == (
        "more than 2,000 outlines: the first 2,000 were read, the rest skipped",
    )


def test_a_truncated_file_keeps_the_feeds_before_the_break() -> None:
    data = opml('<outline text="a" xmlUrl="https://a.example/rss"/>\n<outline text="b" xm')[:-20]
    document = read_opml(data)
    assert [feed.url for feed in document.feeds] == ["https://a.example/rss"]
    assert document.problems == (
        "not well-formed XML: unclosed token at line 3 (the feeds before it were read)",
    )


def test_topic_names_from_category_or_the_folder() -> None:
    document = read_opml(
        opml(
            '<outline title="Economy" text="ignored">'
            '<outline text="in folder" xmlUrl="https://a.example/1"/>'
            '<outline text="own category" xmlUrl="https://a.example/2" category="/News/Russia"/>'
            '<outline text="nested"><outline text="deep" xmlUrl="https://a.example/3"/></outline>'
            "</outline>"
            '<outline text="top" xmlUrl="https://a.example/4" category="economy, Russia"/>'
            '<outline text="none" xmlUrl="https://a.example/5"/>'
        )
    )
    assert [feed.topic_names for feed in document.feeds] == [
        ("Economy",),
        ("News/Russia",),
        ("nested",),  # the nearest folder
        ("economy", "Russia"),
        (),
    ]


# -- newsbot opml import / export on a real store ---------------------------------------------


@asynccontextmanager
async def feed_server() -> AsyncIterator[tuple[str, list[str]]]:
    """Serves a one-item RSS feed at any ``/NAME.xml`` except ``/missing.xml`` (404)."""
    asked: list[str] = []

    async def feed(request: web.Request) -> web.Response:
        name = request.path.removeprefix("/").removesuffix(".xml")
        if "/" in name or not request.path.endswith(".xml"):
            raise web.HTTPNotFound()
        asked.append(name)
        if name == "missing":
            raise web.HTTPNotFound()
        body = (
            f'<?xml version="1.0"?><rss version="2.0"><channel><title>{name}</title><item>'
            f"<title>Story from {name}</title><guid>urn:{name}:1</guid></item></channel></rss>"
        )
        return web.Response(body=body.encode(), content_type="application/rss+xml")

    async with local_server({}, fallback=feed) as http:
        yield http.base, asked


def write_config(tmp_path: Path, *, allow_private: bool = True, extra: str = "") -> str:
    config = tmp_path / "config.toml"
    text = CONFIG.format(db=tmp_path / "news.db") + extra
    if allow_private:
        text += "\n[fetch]\nallow_private = true\n"  # the feed server is on loopback
    config.write_text(text, encoding="utf-8")
    return str(config)


def reader_export_bytes(base: str) -> bytes:
    """Another reader's export: folders, categories and bad outlines, feeds served at ``base``."""
    return (OPML / "reader_export.opml").read_bytes().replace(b"{base}", base.encode())


def reader_export(tmp_path: Path, base: str) -> str:
    path = tmp_path / "subscriptions.opml"
    path.write_bytes(reader_export_bytes(base))
    return str(path)


async def newsbot(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    # The command runs its own event loop, so it runs in a thread beside the test's loop.
    code = await asyncio.to_thread(main, list(args))
    out, err = capsys.readouterr()
    # Log lines (migrations applied, feeds fetched) go to stderr too: keep what the command said.
    said = [line for line in err.splitlines(keepends=True) if not line[:4].isdigit()]
    return code, out, "".join(said)


async def test_cli_imports_a_reader_export_and_reports_each_problem(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = write_config(tmp_path)
    async with feed_server() as (base, _):
        path = reader_export(tmp_path, base)
        code, out, err = await newsbot(capsys, "--config", config, "opml", "import", path)
        again = await newsbot(capsys, "--config", config, "opml", "import", path)
        _, exported, _ = await newsbot(capsys, "--config", config, "opml", "export")
        _, latest, _ = await newsbot(capsys, "--config", config, "latest", "--json")
    assert code == 1  # there were problems
    assert err.splitlines() == [
        "problem: line 13 (“Relative”): xmlUrl “/feeds/relative.xml” is not an absolute"
        " http(s) URL: skipped",
        "problem: line 14 (“Gopher”): xmlUrl “gopher://old.example.com/feed” is not an"
        " absolute http(s) URL: skipped",
        f"problem: line 15 (“Markets again”): “{base}/markets.xml” is listed again: added once",
        "problem: unknown topic “Blogs” (1 feed): added without it; topics are named in the"
        " config's [topics]",
        "problem: unknown topic “politics” (1 feed): added without it; topics are named in the"
        " config's [topics]",
        "problem: unknown topic “Central Asia” (1 feed): added without it; topics are named in"
        " the config's [topics]",
        f"problem: not added: {base}/missing.xml: HTTP 404 Not Found",
    ]
    assert out == (
        "added 4 feeds (4 new articles), already registered 0, not added 1, problems 7\n"
    )
    # The same file again changes nothing: every good feed is registered already.
    assert again[1].endswith(
        "added 0 feeds (0 new articles), already registered 4, not added 1, problems 4\n"
    )
    assert len(latest.splitlines()) == 4
    assert exported.startswith('<?xml version="1.0" encoding="UTF-8"?>\n<opml version="2.0">')
    outlines = [line.strip() for line in exported.splitlines() if "<outline" in line]
    assert outlines == [
        f'<outline type="rss" text="{base}/markets.xml" xmlUrl="{base}/markets.xml"'
        ' category="Economy"/>',
        f'<outline type="rss" text="{base}/rates.xml" xmlUrl="{base}/rates.xml"'
        ' category="Russia"/>',
        f'<outline type="rss" text="{base}/blog.xml" xmlUrl="{base}/blog.xml"/>',
        f'<outline type="rss" text="{base}/loose.xml" xmlUrl="{base}/loose.xml"/>',
    ]


async def test_cli_export_lists_config_feeds_too_and_imports_back(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = write_config(
        tmp_path,
        extra='[[feeds]]\nurl = "https://config.example/rss?a=1&b=2"\n'
        'topics = ["russia", "economy"]\n',
    )
    code, exported, _ = await newsbot(capsys, "--config", config, "opml", "export")
    assert code == 0
    assert (
        '<outline type="rss" text="https://config.example/rss?a=1&amp;b=2"'
        ' xmlUrl="https://config.example/rss?a=1&amp;b=2" category="Russia,Economy"/>'
    ) in exported
    document = read_opml(exported.encode())
    assert document.problems == ()
    [feed] = document.feeds
    assert (feed.url, feed.topic_names) == (
        "https://config.example/rss?a=1&b=2",
        ("Russia", "Economy"),
    )


async def test_cli_import_follows_the_fetch_policy(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = write_config(tmp_path, allow_private=False)
    async with feed_server() as (base, asked):
        path = reader_export(tmp_path, base)
        code, out, err = await newsbot(capsys, "--config", config, "opml", "import", path)
        _, exported, _ = await newsbot(capsys, "--config", config, "opml", "export")
    assert code == 1
    refused = [line for line in err.splitlines() if line.startswith("problem: not added:")]
    assert sorted(refused) == sorted(
        f"problem: not added: {base}/{name}.xml: {REFUSED}"
        for name in ("markets", "rates", "blog", "loose", "missing")
    )
    assert asked == []  # refused before connecting
    assert out.startswith("added 0 feeds")
    assert "<outline" not in exported


async def test_cli_bad_files(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    config = write_config(tmp_path)
    missing = str(tmp_path / "nowhere.opml")
    code, out, err = await newsbot(capsys, "--config", config, "opml", "import", missing)
    assert (code, out) == (1, "")
    assert err == f"newsbot: cannot read {missing}: No such file or directory\n"
    garbage = tmp_path / "garbage.opml"
    garbage.write_bytes(b"\x00\xffnot xml at all")
    code, out, err = await newsbot(capsys, "--config", config, "opml", "import", str(garbage))
    assert code == 1
    assert err == "problem: not well-formed XML: not well-formed (invalid token) at line 1\n"
    assert out == "added 0 feeds (0 new articles), already registered 0, not added 0, problems 1\n"


# -- in Telegram, through the Bot API double ---------------------------------------------------


async def send_file(bot: RunningBot, user: User, data: bytes, name: str, replies: int) -> list[str]:
    chat = bot.tg.chat(user.id)
    before = len(bot.tg.sent(chat.id))
    bot.tg.send_document(chat, user, data, file_name=name, mime_type="text/x-opml")
    sent = await bot.tg.wait_for_messages(before + replies, chat_id=chat.id, timeout=20)
    return [message.text for message in sent[before:]]


async def test_an_admin_sends_an_opml_file_and_gets_the_summary(tmp_path: Path) -> None:
    async with running_bot(tmp_path) as bot, feed_server() as (base, _):
        data = reader_export_bytes(base)
        answers = await send_file(bot, bot.admin, data, "subscriptions.opml", replies=2)
        feeds = {feed.url: feed.topics for feed in await bot.store.feeds.all()}
        downloads = list(bot.tg.state.downloads)
    assert answers == [
        "Importing subscriptions.opml: each feed is fetched before it is added…",
        "OPML import: added 4 feeds (4 new articles), already registered 0, not added 1,"
        " problems 5\n"
        "• line 13 (“Relative”): xmlUrl “/feeds/relative.xml” is not an absolute http(s) URL:"
        " skipped\n"
        "• line 14 (“Gopher”): xmlUrl “gopher://old.example.com/feed” is not an absolute"
        " http(s) URL: skipped\n"
        f"• line 15 (“Markets again”): “{base}/markets.xml” is listed again: added once\n"
        "• unknown topic “Blogs” (1 feed): added without it; topics are named in the config's"
        " [topics]\n"
        f"• not added: {base}/missing.xml: HTTP 404 Not Found",
    ]
    assert feeds == {
        f"{base}/markets.xml": ("economy",),
        f"{base}/rates.xml": ("russia",),
        f"{base}/blog.xml": (),
        f"{base}/loose.xml": ("politics", "central-asia"),
    }
    assert len(downloads) == 1


async def test_a_reader_sending_an_opml_file_gets_the_admin_only_answer(tmp_path: Path) -> None:
    async with running_bot(tmp_path) as bot:
        answers = await send_file(
            bot, bot.reader, opml('<outline xmlUrl="https://a.example/rss"/>'), "x.OPML", 1
        )
        assert await bot.store.feeds.all() == []
        assert bot.tg.calls("getFile") == []
    assert answers == [REFUSAL]


async def test_a_bad_file_sent_to_the_bot_is_one_line(tmp_path: Path) -> None:
    async with running_bot(tmp_path) as bot:
        answers = await send_file(bot, bot.admin, b"<html>not a list</html>", "feeds.opml", 2)
    assert answers[1] == (
        "OPML import: added 0 feeds (0 new articles), already registered 0, not added 0,"
        " problems 1\n• not OPML: the root element is <html>, not <opml>"
    )


async def test_feeds_export_button_sends_the_opml_file(tmp_path: Path) -> None:
    async with running_bot(tmp_path) as bot:
        await bot.store.feeds.add("https://a.example/rss?x=1&y=2", ["economy", "russia"], 600, 0)
        await bot.store.feeds.add("https://b.example/atom", [], 600, 0)
        admin_chat = bot.tg.chat(ADMIN_ID)
        [listed] = await bot.say("/feeds", chat=admin_chat, user=bot.admin)
        before = len(bot.tg.sent(ADMIN_ID))
        answer = await bot.press(listed, EXPORT_DATA, bot.admin)
        [sent] = (await bot.tg.wait_for_messages(before + 1, chat_id=ADMIN_ID))[before:]
        [call] = bot.tg.calls("sendDocument")
    assert listed.buttons() == [{"text": "Export OPML", "callback_data": EXPORT_DATA}]
    assert answer.text is None
    assert sent.method == "sendDocument"
    assert sent.text == "2 feeds as OPML 2.0: import it into another reader, or send it back here."
    assert sent.document is not None
    assert sent.document.file_name == "newsbot-feeds.opml"
    assert call.params["document"].filename == "newsbot-feeds.opml"  # uploaded as multipart
    document = read_opml(sent.document.data)
    assert document.problems == ()
    assert [(f.url, f.topic_names) for f in document.feeds] == [
        ("https://a.example/rss?x=1&y=2", ("Economy", "Russia")),
        ("https://b.example/atom", ()),
    ]


# -- the double's files, strict as Telegram ----------------------------------------------------


async def test_double_files_upload_reuse_download_and_errors() -> None:
    async with BotApiDouble() as tg:
        alice = tg.add_user("Alice")
        chat = tg.add_private_chat(alice)
        base_file_url = tg.base_url.removesuffix("/bot") + "/file/bot"
        async with telegram.Bot(tg.token, base_url=tg.base_url, base_file_url=base_file_url) as bot:
            sent = await bot.send_document(
                chat.id,
                InputFile(b"<opml/>", filename="a.opml"),
                caption="<b>one</b>",
                parse_mode="HTML",
            )
            assert sent.document is not None
            assert sent.caption == "one"
            again = await bot.send_document(chat.id, sent.document.file_id)  # reuse by file_id
            assert again.document is not None
            assert again.document.file_unique_id == sent.document.file_unique_id
            file = await bot.get_file(sent.document.file_id)
            assert bytes(await file.download_as_bytearray()) == b"<opml/>"
            received = tg.send_document(chat, alice, b"data", file_name="x.opml")
            assert received.document is not None
            assert tg.file(received.document.file_id) == b"data"
            with pytest.raises(BadRequest, match="Wrong file identifier/http url specified"):
                await bot.send_document(chat.id, "no-such-file")
            with pytest.raises(BadRequest, match="Message caption is too long"):
                await bot.send_document(chat.id, sent.document.file_id, caption="x" * 1025)
            with pytest.raises(BadRequest, match="Invalid file_id"):
                await bot.get_file("no-such-file")
            with pytest.raises(BadRequest, match="File must be non-empty"):
                await bot.send_document(chat.id, InputFile(b"", filename="empty.opml"))
        async with httpx.AsyncClient() as client:
            wrong = await client.get(f"{base_file_url}1:wrong/{file.file_path}")
            unknown = await client.get(f"{base_file_url}{tg.token}/documents/nothing")
        assert (wrong.status_code, unknown.status_code) == (404, 404)
        assert unknown.json() == {"ok": False, "error_code": 404, "description": "Not Found"}


async def test_a_reader_pressing_export_in_a_group_gets_the_admin_only_answer(
    tmp_path: Path,
) -> None:
    async with running_bot(tmp_path) as bot:
        group = bot.tg.add_group("Newsroom", admins=[bot.admin], members=[bot.reader])
        await bot.store.feeds.add("https://a.example/rss", [], 600, 0)
        [listed] = await bot.say("/feeds", chat=group, user=bot.admin)
        answer = await bot.press(listed, EXPORT_DATA, bot.reader)
        assert bot.tg.calls("sendDocument") == []
    assert (answer.text, answer.show_alert) == (REFUSAL, True)
