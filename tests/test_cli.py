"""The newsbot command line on a real store file: import, show, latest, topics, fetch, stats."""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path

import pytest

from bot.cli import main
from tests.support.feedserver import body, feed_server
from tests.support.newsbot import run_newsbot

SEED = Path(__file__).resolve().parents[1] / "samples" / "azernews_putin_tajikistan.txt"
FEEDS = Path(__file__).parent / "data" / "feeds"

CONFIG = """
[storage]
path = "{db}"

[topics.russia]
name = "Russia"
categories = ["Russia"]
keywords = ["Kremlin", "Putin"]

[topics.economy]
name = "Economy"
categories = ["Economy news", "Business"]
keywords = ["trade turnover", "inflation"]
"""


@pytest.fixture
def config(tmp_path: Path) -> str:
    path = tmp_path / "config.toml"
    path.write_text(CONFIG.format(db=tmp_path / "news.db"), encoding="utf-8")
    return str(path)


def run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main(list(args))
    out, err = capsys.readouterr()
    return code, out, err


def test_import_the_seed_and_see_every_field(
    config: str, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, _ = run(capsys, "--config", config, "import", "--quiet", str(SEED))
    assert code == 0
    assert out.strip() == "imported 1, updated 0, duplicate 0, failed 0"
    code, out, _ = run(capsys, "--config", config, "show", "1", "--json")
    shown = json.loads(out)
    assert code == 0
    assert shown["id"] == 1
    assert shown["title"] == "Putin underlines strategic partnership between Russia, Tajikistan"
    assert shown["published_at"] == "2018-06-09T12:34:00+04:00"
    assert shown["publisher"] == "Azernews"
    assert shown["attribution"] == "TASS"
    assert shown["topics"] == ["economy", "russia"]
    assert shown["body"].startswith("Russian President Vladimir Putin and his Tajik counterpart")
    assert "Follow Trend" not in shown["body"]
    assert len(shown["related"]) == 18
    assert shown["related"][0] == {
        "title": (
            "Rouhani urges Iran and Russia to step up dialogue after US pullout from nuclear deal"
        ),
        "category": "Russia",
        "published_at": "2018-06-09T13:29:00+04:00",
    }
    assert shown["related"][6]["published_at"] == "2018-06-08T20:45:00+04:00"
    assert shown["related"][6]["category"] == "Politics"


def test_reimporting_is_a_duplicate_and_show_json_imports_back_unchanged(
    config: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    run(capsys, "--config", config, "import", "--quiet", str(SEED))
    _, again, _ = run(capsys, "--config", config, "import", "--quiet", str(SEED))
    _, exported, _ = run(capsys, "--config", config, "show", "1", "--json")
    dump = tmp_path / "export.json"
    dump.write_text(exported, encoding="utf-8")
    other = tmp_path / "other.toml"
    other.write_text(CONFIG.format(db=tmp_path / "other.db"), encoding="utf-8")
    code, imported, _ = run(capsys, "--config", str(other), "import", "--quiet", str(dump))
    _, reexported, _ = run(capsys, "--config", str(other), "show", "1", "--json")
    first, second = json.loads(exported), json.loads(reexported)
    for volatile in ("created_at", "updated_at"):
        first.pop(volatile, None)
        second.pop(volatile, None)
    assert again.strip() == "imported 0, updated 0, duplicate 1, failed 0"
    assert code == 0
    assert imported.strip() == "imported 1, updated 0, duplicate 0, failed 0"
    assert second == first


def test_a_bad_file_is_named_and_the_rest_still_imports(
    config: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    folder = tmp_path / "batch"
    folder.mkdir()
    (folder / "a.xml").write_bytes((FEEDS / "rss20.xml").read_bytes())
    (folder / "broken.json").write_text('{"title": "no key"}\n{oops', encoding="utf-8")
    (folder / "garbage.xml").write_bytes((FEEDS / "garbage.bin").read_bytes())
    code, out, err = run(capsys, "--config", config, "import", "--quiet", str(folder))
    assert code == 1
    imported = int(out.split("imported ")[1].split(",")[0])
    assert imported > 0
    assert "failed 3" in out
    failures = [line for line in err.splitlines() if line.startswith("failed: ")]
    assert len(failures) == 3
    assert any("broken.json" in line for line in failures)
    assert any("garbage.xml" in line for line in failures)


def test_latest_and_topics_as_json_lines_and_as_tables(
    config: str, capsys: pytest.CaptureFixture[str]
) -> None:
    run(capsys, "--config", config, "import", "--quiet", str(SEED), str(FEEDS / "rss20.xml"))
    code, out, _ = run(capsys, "--config", config, "latest", "-n", "3", "--json")
    rows = [json.loads(line) for line in out.splitlines()]
    assert code == 0
    assert len(rows) == 3
    for row in rows:
        assert {
            "id",
            "title",
            "url",
            "published_at",
            "category",
            "topics",
            "publisher",
            "attribution",
        } <= set(row)
    stamps = [datetime.fromisoformat(row["published_at"]) for row in rows]
    assert stamps == sorted(stamps, reverse=True)
    _, table, _ = run(capsys, "--config", config, "latest", "--topic", "russia")
    assert table.splitlines()[0].split()[:3] == ["ID", "PUBLISHED", "TOPICS"]
    assert "Putin underlines" in table
    _, topics, _ = run(capsys, "--config", config, "topics", "--json")
    counted = {
        json.loads(line)["slug"]: json.loads(line)["articles"] for line in topics.splitlines()
    }
    assert counted["russia"] >= 1


def test_odd_arguments_get_clear_errors(config: str, capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run(capsys, "--config", config, "latest", "--topic", "sport")
    assert code == 2
    assert "unknown topic 'sport'" in err
    run(capsys, "--config", config, "import", "--quiet", str(SEED))  # a store to look in
    code, _, err = run(capsys, "--config", config, "show", "99")
    assert code == 1
    assert "no article with id 99" in err
    with pytest.raises(SystemExit) as exited:
        main(["--config", config, "show", "abc"])
    assert exited.value.code == 2
    assert "is not an article id" in capsys.readouterr().err


def test_a_broken_config_is_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bad = tmp_path / "bad.toml"
    bad.write_text("[storage]\npaht = 'x.db'\n", encoding="utf-8")
    code, _, err = run(capsys, "--config", str(bad), "latest")
    assert code == 2
    assert err.strip() == f"newsbot: {bad}: unknown key [storage].paht"


def test_run_without_a_token_is_one_clear_line(
    config: str, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("NEWSBOT_TOKEN", raising=False)
    code, _, err = run(capsys, "--config", config, "run")
    assert code == 2
    assert "[telegram].token is required" in err
    assert "Traceback" not in err


def test_run_with_a_token_telegram_rejects_is_one_clear_line(tmp_path: Path) -> None:
    from botapi_double import ThreadedBotApiDouble

    with ThreadedBotApiDouble(token="111111:the-right-one") as tg:
        path = tmp_path / "config.toml"
        path.write_text(
            f'[telegram]\ntoken = "222222:a-wrong-one"\napi_base_url = "{tg.base_url}"\n'
            f'[storage]\npath = "{tmp_path / "news.db"}"\n',
            encoding="utf-8",
        )
        done = run_newsbot("--config", path, "run", timeout=60)
    assert done.returncode == 2
    assert "newsbot: Telegram rejected the token" in done.stderr
    assert "Traceback" not in done.stderr
    assert "a-wrong-one" not in done.stderr


async def test_fetch_polls_every_configured_feed_once(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    import asyncio

    rss = (FEEDS / "rss20.xml").read_bytes()
    async with feed_server({"/rss": body(rss, "text/xml")}) as server:
        url = server.url("/rss")
        config = tmp_path / "config.toml"
        config.write_text(
            CONFIG.format(db=tmp_path / "news.db")
            + f'\n[[feeds]]\nurl = "{url}"\ntopics = ["economy"]\n'
            + '\n[[feeds]]\nurl = "http://127.0.0.1:9/nothing-listens-here"\n'
            + "\n[fetch]\nallow_private = true\n",  # the feed server is on loopback
            encoding="utf-8",
        )
        # The command runs its own event loop, so it runs in a thread beside the test's loop.
        first = await asyncio.to_thread(main, ["--config", str(config), "fetch"])
        out, _ = capsys.readouterr()
        second = await asyncio.to_thread(main, ["--config", str(config), "fetch"])
        again, _ = capsys.readouterr()
    assert first == 1  # one feed failed
    assert f"{url}: new " in out
    assert int(out.split(f"{url}: new ")[1].split(",")[0]) > 0
    assert "nothing-listens-here: new 0, updated 0, unchanged 0, failed 1" in out
    assert second == 1
    assert f"{url}: new 0," in again  # the same items again are not new
