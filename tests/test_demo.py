"""``newsbot demo``: the real bot against the in-process double, driven by a script, and the
terminal renderer; plus the bundled sample articles themselves."""

from __future__ import annotations

import argparse
import asyncio
import io
import re
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from bot.demo import add_demo_arguments, run_demo
from bot.demo.samples import CATEGORIES, DEMO_TOPICS, SEED, article_texts, load_samples, restamp
from bot.demo.session import DemoSession, Outcome
from bot.demo.terminal import render_message, styled, toast
from botapi_double.state import RecordedMessage
from ingest.agency import parse_agency
from ingest.topics import TopicTagger

ROOT = Path(__file__).resolve().parent.parent
SEED_TITLE = "Putin underlines strategic partnership between Russia, Tajikistan"
FIRST_ARRIVAL = "Kura Valley Bank: card payments in the region up 24 percent in May"
ANSI = re.compile(r"\x1b\[")

TOUR = """\
# The tour from the README: everything a first-time user would try.
/start
2
/subscribe economy
/latest
1
/related 1

!arrive
/frobnicate
"""


def run_script(tmp_path: Path, text: str) -> tuple[int, str]:
    script = tmp_path / "tour.txt"
    script.write_text(text, encoding="utf-8")
    out = io.StringIO()
    code = run_demo(script, out=out, inp=io.StringIO())
    return code, out.getvalue()


def section(transcript: str, echo: str, *, after: int = 0) -> str:
    """The output of one input: from its ``> input`` line up to the next one."""
    start = transcript.index(f"\n> {echo}\n", after) + 1
    end = transcript.find("\n> ", start + 1)
    return transcript[start : end if end != -1 else len(transcript)]


# -- the whole demo, scripted --------------------------------------------------------------------


def test_script_tour_shows_what_a_reader_sees(tmp_path: Path) -> None:
    code, transcript = run_script(tmp_path, TOUR)

    assert code == 0, transcript
    assert not ANSI.search(transcript)  # a StringIO is not a terminal: no escape codes
    assert transcript.startswith("newsbot demo:")
    assert "# The tour" not in transcript  # comments are not inputs

    start = section(transcript, "/start")
    assert "Hi! I'm Newsbot" in start
    assert "[1] ▫️ Economy  [2] ▫️ Politics" in start

    toggled = section(transcript, "2")
    assert "ⓘ Subscribed to Politics" in toggled
    assert "(edited)" in toggled
    assert "[2] ✅ Politics" in toggled

    assert "Subscribed to Economy." in section(transcript, "/subscribe economy")

    latest = section(transcript, "/latest")
    assert latest.index(SEED_TITLE) < latest.index("Tarangini Labs")  # newest first
    assert "9 June 2018 12:34 (UTC+04:00) · Russia · #1" in latest
    assert "[1] 1  [2] 2  [3] 3  [4] 4  [5] 5\n  [6] More ›" in latest

    opened = section(transcript, "1", after=transcript.index("> /latest"))
    assert opened.splitlines()[1] == f"  {SEED_TITLE}"
    assert "9 June 2018 12:34 (UTC+04:00)" in opened
    assert "TASS via Azernews" in opened
    assert re.search(r"\[1\] Related  \[2\] Subscribe to \w", opened)

    related = section(transcript, "/related 1")
    assert "Related news" in related
    assert SEED_TITLE in related

    arrived = section(transcript, "!arrive")
    assert "— new article delivered —" in arrived
    assert FIRST_ARRIVAL in arrived
    assert "#economy" in arrived

    assert "I don't know that command" in section(transcript, "/frobnicate")


def test_the_readmes_transcript_is_what_the_demo_prints(tmp_path: Path) -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    start = readme.index("> /start\n")
    shown = readme[start : readme.index("```", start)].rstrip("\n")
    inputs = [line[2:] for line in shown.splitlines() if line.startswith("> ")]
    assert inputs == [
        "/start",
        "/subscribe economy",
        "/follow robot",
        "/mute cricket",
        "/latest 3",
        "1",
        "/related 1",
        "!arrive",
        "!arrive",
    ]

    code, transcript = run_script(tmp_path, "\n".join(inputs) + "\n")

    assert code == 0, transcript
    printed = transcript[transcript.index("> /start\n") :].rstrip("\n")
    # The arrivals are stamped with the time they arrive: the one date that may differ.
    arrival = re.compile(r"^  \d{1,2} \w+ \d{4} \d\d:\d\d (\(UTC\+0\d:00\) · [\w ]+)$", re.M)
    tail = printed.index("> !arrive")
    assert arrival.sub(r"<date> \1", printed[tail:]) == arrival.sub(r"<date> \1", shown[tail:])
    assert printed[:tail] == shown[:tail]


def test_pictures_show_as_a_line_and_a_muted_arrival_says_why(tmp_path: Path) -> None:
    code, transcript = run_script(
        tmp_path, "/subscribe economy technology\n/mute Rotterdam\n!arrive\n!arrive\n"
    )

    assert code == 0, transcript
    first = section(transcript, "!arrive")
    assert first.splitlines()[2:4] == [
        "  [picture: https://caspian-courier.example/img/card-terminal.jpg]",
        f"  {FIRST_ARRIVAL}",
    ]
    second = section(transcript, "!arrive", after=transcript.index(FIRST_ARRIVAL))
    assert "new article delivered" not in second
    assert "not sent here, as this chat mutes rotterdam: /unmute" in second


def test_a_missing_button_fails_the_script_and_says_which(tmp_path: Path) -> None:
    code, transcript = run_script(tmp_path, "7\n/latest\n9\nhello\n")

    assert code == 1
    assert "there are no buttons to press yet" in section(transcript, "7")
    assert "there is no button 9: the last message with buttons has 6" in transcript
    assert "no reply" in section(transcript, "hello")  # plain text: silence is an answer
    assert "line 1: 7: there are no buttons" in transcript
    assert "line 3: 9: there is no button 9" in transcript


def test_arrival_not_followed_is_published_but_not_delivered(tmp_path: Path) -> None:
    code, transcript = run_script(tmp_path, "/start\n!arrive\n/latest 1\n/quit\n/latest\n")

    assert code == 0
    arrived = section(transcript, "!arrive")
    assert "new article delivered" not in arrived
    assert f"new article in Economy: “{FIRST_ARRIVAL}”" in arrived
    assert "/subscribe economy" in arrived
    assert FIRST_ARRIVAL in section(transcript, "/latest 1")  # in the store all the same
    assert transcript.count("> /latest") == 1  # nothing runs after /quit


def test_unreadable_script_is_one_line(tmp_path: Path) -> None:
    out = io.StringIO()
    code = run_demo(tmp_path / "missing.txt", out=out, inp=io.StringIO())
    assert code == 2
    assert out.getvalue().startswith("newsbot demo: cannot read the script")
    assert out.getvalue().count("\n") == 1


def test_interactive_reads_lines_from_a_pipe_and_presses_buttons(tmp_path: Path) -> None:
    out = io.StringIO()
    code = run_demo(None, out=out, inp=io.StringIO("/latest\n1\n/quit\n/help\n"))
    transcript = out.getvalue()

    assert code == 0, transcript
    assert "A new article arrives every 20 s" in transcript
    assert "> /latest" in transcript
    assert "TASS via Azernews" in section(transcript, "1")
    assert "> /help" not in transcript


def test_demo_arguments() -> None:
    parser = argparse.ArgumentParser()
    add_demo_arguments(parser)
    args = parser.parse_args(["--script", "tour.txt", "--arrive-every", "2.5"])
    assert args.script == Path("tour.txt")
    assert args.arrive_every == 2.5
    assert parser.parse_args([]).arrive_every == 20.0
    with pytest.raises(SystemExit):
        parser.parse_args(["--arrive-every", "0"])


# -- defects a newcomer met in the demo (issue 8, section 6), each with its exact input ---------

ARRIVALS = [
    FIRST_ARRIVAL,
    "Hoshizora Robotics to open its first office in Europe",
    "Port Kestrel rowers win the coastal regatta for a second year",
    "Prairie Wind Cooperative adds battery storage to its new wind farm",
]


def test_arrive_never_publishes_an_article_twice(tmp_path: Path) -> None:
    code, transcript = run_script(tmp_path, "!arrive\n" * 6 + "/latest 20\n/search Putin\n")

    assert code == 0, transcript
    assert "(4 in all)" in transcript.split("\n> ", 1)[0]  # the banner says how many will come
    fifth = transcript.split("\n> !arrive\n")[5]
    assert "no more news: the demo's 4 new articles have all arrived" in fifth
    latest = section(transcript, "/latest 20")
    for title in [*ARRIVALS, SEED_TITLE]:
        assert latest.count(title) == 1, title
    assert section(transcript, "/search Putin").count(SEED_TITLE) == 1


def test_more_pages_count_on_and_go_back(tmp_path: Path) -> None:
    code, transcript = run_script(tmp_path, "/latest 2\n3\n3\n")

    assert code == 0, transcript
    more = transcript.split("\n> 3\n")[1]
    assert "Latest news (3–4)" in more
    assert "\n  3. Port Kestrel council backs referendum" in more
    assert "\n  4. Coromandel Cyclones win" in more
    assert "\n  1. " not in more
    assert "[1] 3  [2] 4\n  [3] ‹ Back  [4] More ›" in more
    back = transcript.split("\n> 3\n")[2]
    assert "Latest news\n" in back
    assert f"1. {SEED_TITLE}" in back
    assert "[3] More ›" in back
    assert "Back" not in back  # the first page has nothing before it


def test_a_search_without_hits_says_so(tmp_path: Path) -> None:
    code, transcript = run_script(tmp_path, "/search zzzqqq\n")

    assert code == 0, transcript
    found = section(transcript, "/search zzzqqq")
    assert "No articles match “zzzqqq”." in found
    assert "Nothing here yet" not in found


def test_related_times_carry_the_zone_the_article_shows(tmp_path: Path) -> None:
    code, transcript = run_script(tmp_path, "/related 1\n1\n")

    assert code == 0, transcript
    listed = section(transcript, "/related 1")
    assert "8 June 2018 11:00 (UTC+05:00) · Central Asia · #13" in listed
    opened = section(transcript, "1")
    assert "8 June 2018 11:00 (UTC+05:00) · Central Asia" in opened
    for line in listed.splitlines():
        if re.search(r"· #\d+$", line):
            assert re.search(r"\(UTC[+-]\d\d:\d\d\)", line), line


def test_another_bots_command_gets_no_reply_and_no_wait(tmp_path: Path) -> None:
    code, transcript = run_script(tmp_path, "/latest@newsbot\n/latest@newsbot_demo_bot 1\n")

    # Waiting for a reply would have ended in "no answer ... within 10 s" and exit 1.
    assert code == 0, transcript
    other = section(transcript, "/latest@newsbot")
    assert "no answer" not in other
    assert "Latest news" not in other
    assert (
        "no reply: that command is for @newsbot, and this bot is @newsbot_demo_bot;"
        " send /latest or /latest@newsbot_demo_bot"
    ) in other
    own = section(transcript, "/latest@newsbot_demo_bot 1")
    assert f"1. {SEED_TITLE}" in own


async def test_timer_arrivals_stop_when_the_news_runs_out(tmp_path: Path) -> None:
    session = DemoSession(tmp_path)
    await session.start()
    try:
        seen: list[Outcome] = []
        done = asyncio.Event()

        def emit(outcome: Outcome) -> None:
            seen.append(outcome)
            if any("no more news" in note for note in outcome.notes):
                done.set()

        session.start_arrivals(0.01, emit)
        await asyncio.wait_for(done.wait(), 30)
        assert session.arrivals_left == 0
    finally:
        await session.stop()
    assert len(seen) == 5  # four articles, then one last word
    assert all(outcome.problem is None for outcome in seen)


# -- the engine, driven directly -----------------------------------------------------------------


async def test_timer_arrivals_reach_a_subscriber(tmp_path: Path) -> None:
    session = DemoSession(tmp_path)
    await session.start()
    try:
        subscribed = await session.handle("/subscribe economy")
        assert subscribed.shown[0].message.text == "Subscribed to Economy."
        seen: list[Outcome] = []
        arrived = asyncio.Event()

        def emit(outcome: Outcome) -> None:
            seen.append(outcome)
            arrived.set()

        session.start_arrivals(0.05, emit)
        await asyncio.wait_for(arrived.wait(), 10)
    finally:
        await session.stop()
    [first, *_] = seen
    assert first.problem is None
    [shown] = first.shown
    assert shown.delivered
    assert shown.message.text.startswith(FIRST_ARRIVAL)


async def test_an_unanswered_command_is_reported(tmp_path: Path) -> None:
    session = DemoSession(tmp_path, answer_timeout=0.5)
    await session.start()
    try:
        # Every send fails, so the bot cannot answer at all.
        session.tg.fail_next("sendMessage", count=10, description="Bad Request: demo failure")
        outcome = await session.handle("/latest")
    finally:
        await session.stop()
    assert outcome.shown == []
    assert outcome.problem == "no answer to '/latest' within 0.5 s"


def test_restamp_moves_the_article_and_its_box_to_now() -> None:
    seed = load_samples().archive[0]
    now = datetime(2030, 1, 2, 3, 4, 5, 678, tzinfo=UTC)
    fresh = restamp(seed, now, 7)
    assert fresh.published_at == now.replace(microsecond=0)
    assert fresh.published_at is not None
    assert seed.published_at is not None
    assert fresh.published_at.utcoffset() == seed.published_at.utcoffset()  # still Baku time
    assert fresh.guid == "demo-arrival:7"
    assert seed.related[0].published_at is not None
    assert fresh.related[0].published_at is not None
    shift = fresh.published_at - seed.published_at
    assert fresh.related[0].published_at == seed.related[0].published_at + shift


# -- the bundled articles ------------------------------------------------------------------------


def test_every_bundled_article_parses_and_has_a_category() -> None:
    texts = article_texts()
    assert len(texts) >= 12
    for name, text in texts:
        article = parse_agency(text, source=name)
        assert article.body, name
        assert article.publisher, name
        assert article.related, name
        assert name in CATEGORIES, f"{name} needs a publisher category"
    assert sorted(CATEGORIES) == sorted(name for name, _ in texts)
    attributed = [parse_agency(t, source=n).attribution for n, t in texts]
    assert sum(1 for a in attributed if a) >= 6


def test_the_seed_is_the_sample_file_unchanged_and_article_one() -> None:
    texts = dict(article_texts())
    assert texts[SEED] == (ROOT / "samples" / SEED).read_text(encoding="utf-8")
    samples = load_samples()
    assert samples.archive[0].title == SEED_TITLE
    # The archive is old news with the seed the newest, so /latest then 1 opens it.
    newest = max(samples.archive, key=lambda a: a.published_at or datetime.min.replace(tzinfo=UTC))
    assert newest.title == SEED_TITLE


def test_samples_cover_topics_and_time_zones() -> None:
    samples = load_samples()
    tagger = TopicTagger(DEMO_TOPICS)
    everything = samples.archive + samples.arriving
    tagged = {a.title: tagger.tag(a) for a in everything}
    assert all(tagged.values()), [t for t, topics in tagged.items() if not topics]
    covered = {slug for topics in tagged.values() for slug in topics}
    assert covered == {t.slug for t in DEMO_TOPICS}
    assert len(covered) >= 6
    offsets = {a.published_at.utcoffset() for a in samples.archive if a.published_at}
    assert len(offsets) >= 4
    assert "economy" in tagger.tag(samples.arriving[0])  # what !arrive in the tour delivers


# -- the terminal renderer -----------------------------------------------------------------------


def message(
    text: str, entities: list[dict[str, Any]], reply_markup: dict[str, Any] | None = None
) -> RecordedMessage:
    return RecordedMessage(
        chat_id=1,
        message_id=1,
        text=text,
        entities=entities,
        date=datetime(2018, 6, 9, tzinfo=UTC),
        from_user=None,
        outgoing=True,
        reply_markup=reply_markup,
    )


def utf16_offset(text: str, part: str) -> int:
    return len(text[: text.index(part)].encode("utf-16-le")) // 2


def test_entities_become_ansi_styles_at_utf16_offsets() -> None:
    # "👋" is two UTF-16 units, so every offset after it is one more than the str index.
    text = "👋 Hi! I'm Newsbot. Read more"
    assert utf16_offset(text, "Newsbot") == text.index("Newsbot") + 1 == 11
    entities = [
        {"type": "bold", "offset": 11, "length": 7},
        {"type": "italic", "offset": utf16_offset(text, "Read"), "length": 4},
        {
            "type": "text_link",
            "offset": utf16_offset(text, "more"),
            "length": 4,
            "url": "https://news.example/1",
        },
    ]
    shown = styled(text, entities, color=True)
    assert "\x1b[1mNewsbot\x1b[0m" in shown
    assert "\x1b[3mRead\x1b[0m" in shown
    assert "\x1b[4mmore\x1b[0m\x1b[2m <https://news.example/1>\x1b[22m" in shown
    assert styled(text, entities, color=False) == (
        "👋 Hi! I'm Newsbot. Read more <https://news.example/1>"
    )


def test_nested_styles_and_code_survive_each_other() -> None:
    text = "bold and italic #7"
    entities = [
        {"type": "bold", "offset": 0, "length": 15},
        {"type": "italic", "offset": 9, "length": 6},
        {"type": "code", "offset": 16, "length": 2},
    ]
    shown = styled(text, entities, color=True)
    assert shown == (
        "\x1b[0m\x1b[1mbold and \x1b[0m\x1b[1;3mitalic\x1b[0m \x1b[0m\x1b[36m#7\x1b[0m"
    )


def test_styles_stop_before_the_indent_of_the_next_line() -> None:
    shown = styled(
        "one\ntwo", [{"type": "underline", "offset": 0, "length": 7}], color=True, indent="  "
    )
    assert shown == "\x1b[0m\x1b[4mone\x1b[0m\n  \x1b[4mtwo\x1b[0m"


def test_message_block_numbers_buttons_across_rows_and_marks_edits() -> None:
    markup = {
        "inline_keyboard": [
            [{"text": "1", "callback_data": "art:1"}, {"text": "2", "callback_data": "art:2"}],
            [{"text": "More ›", "callback_data": "more:-:5:5"}],
            [{"text": "Site", "url": "https://news.example/"}],
        ]
    }
    shown = render_message(
        message(
            "Latest news\n\n1. One",
            [{"type": "bold", "offset": 0, "length": 11}],
            reply_markup=markup,
        ),
        color=False,
        edited=True,
    )
    assert shown == (
        "  (edited)\n"
        "  Latest news\n"
        "\n"
        "  1. One\n"
        "  [1] 1  [2] 2\n"
        "  [3] More ›\n"
        "  [4] Site <https://news.example/>"
    )
    assert toast("Subscribed to Economy", color=False) == "  ⓘ Subscribed to Economy"
