"""html_to_text: feed HTML to clean paragraphs, and staying linear on hostile input."""

from __future__ import annotations

import time

import pytest

from ingest.html import html_to_text


@pytest.mark.parametrize(
    ("fragment", "expected"),
    [
        ("", ""),
        ("   \n\t ", ""),
        ("Plain words", "Plain words"),
        ("AT&amp;T &#8217;s &#x2014; caf&eacute;", "AT&T ’s — café"),
        ("R&D and Q&A, 5 < 6 > 4", "R&D and Q&A, 5 < 6 > 4"),
        ("first\n\n  second   line\nsame paragraph", "first\n\nsecond line same paragraph"),
        ("<b>Bold</b> and <i>italic</i> and <a href='/x'>a link</a>", "Bold and italic and a link"),
        ("one&nbsp;two&nbsp;&nbsp; three", "one two three"),
        ("<p>First.</p><p>Second.</p>", "First.\n\nSecond."),
        ("<div>a</div><div>b</div>c", "a\n\nb\n\nc"),
        ("<h1>Head</h1>Text<h6>Small</h6>", "Head\n\nText\n\nSmall"),
        ("<blockquote>Quoted</blockquote>After", "Quoted\n\nAfter"),
        ("line one<br>line two<br/>line three", "line one\nline two\nline three"),
        ("para one<br><br>para two<br />\n<br/>para three", "para one\n\npara two\n\npara three"),
        ("<ul><li>apples</li><li>pears</li></ul>Done", "apples\npears\n\nDone"),
        ("<table><tr><td>a</td><td>b</td></tr><tr><td>c</td></tr></table>", "a b\nc"),
        ("<p>  lots   of\n\n   space\t</p>", "lots of space"),
        ("<P>Upper<BR>case</P>", "Upper\ncase"),
    ],
)
def test_converts(fragment: str, expected: str) -> None:
    assert html_to_text(fragment) == expected


@pytest.mark.parametrize(
    ("fragment", "expected"),
    [
        ("<script>alert(1)</script>Hello", "Hello"),
        ("A<script type='text/javascript'>if (a<b && c>d) { x('</div>') }</script>B", "AB"),
        ("<style>p { color: red }</style><p>Styled</p>", "Styled"),
        ("<SCRIPT>evil()</SCRIPT >after", "after"),
        ("before<script>never closed <p>and more", "before"),
        ("a<!-- a comment <b>with tags</b> -->b", "ab"),
        ("a<!-- never closed", "a"),
        ("<!--[if gte mso 9]><xml><o:x/></xml><![endif]-->Office", "Office"),
        ("<![if !supportLists]>1.<![endif]> item", "1. item"),
        ("x<![foo[ y", "x<![foo[ y"),  # HTMLParser raises AssertionError on this one
        ("<![CDATA[<p>wrapped</p> twice]]>", "wrapped\n\ntwice"),
        ("<![CDATA[never closed", "never closed"),
        ("<?xml version='1.0'?><!DOCTYPE html>Doc", "Doc"),
        ('<img alt="a > b" src="x.png">caption', "caption"),
        ("<a b='>unpaired quote", "unpaired quote"),
        ("a<b", "a<b"),  # a "<" that starts no tag is text
        ("unclosed <b>bold <i>italic", "unclosed bold italic"),
        ("</>x</ y>", "x"),
        ("tab\tand\x00nul\x07bell", "tab andnulbell"),
        ("<<<>>>", "<<<>>>"),  # "<>" opens no tag
    ],
)
def test_survives_hostile_and_broken_markup(fragment: str, expected: str) -> None:
    assert html_to_text(fragment) == expected


# Each of these is quadratic (or worse) in Python 3.11.7's html.parser.HTMLParser. A piece
# repeated n times; the test compares the work at n and at 32n.
HOSTILE = {
    "unclosed attribute": ("<a b='", ""),
    "unclosed comments": ("<!--", ""),
    "tag openers": ("<a", ""),
    "quotes across tags": ("<a b='>x'", ""),
    "end tag openers": ("</", ""),
    "processing instructions": ("<?", ""),
    "cdata openers": ("<![CDATA[", ""),
    "nested divs": ("<div>", ""),
    "entities": ("&#", "&amp"),
    "script end lookalikes": ("</scrip", "<script>"),
    "big document": ("<p>word &amp; <b>word</b></p>", ""),
}
LARGE = 50_000
SMALL = LARGE // 32
RUNS = 5


def hostile(piece: str, extra: str, n: int) -> str:
    if extra == "<script>":
        return extra + piece * n
    return piece * n + extra * n


def cpu_seconds(fragment: str) -> float:
    """This process's CPU time for one run (wall-clock time also counts the other processes of
    a loaded machine: a 2 s wall-clock limit flaked at 4.1 s)."""
    started = time.process_time()
    assert isinstance(html_to_text(fragment), str)
    return time.process_time() - started


@pytest.mark.parametrize(("piece", "extra"), HOSTILE.values(), ids=HOSTILE.keys())
def test_hostile_input_takes_linear_time(piece: str, extra: str) -> None:
    # 32 times the input: linear work grows about 32x, quadratic about 1,000x (HTMLParser took
    # minutes at the large size). Runs alternate and the fastest of each size counts, so both
    # sizes see the same machine; under load the ratio has been measured up to 25.
    small, large = hostile(piece, extra, SMALL), hostile(piece, extra, LARGE)
    times = [(cpu_seconds(small), cpu_seconds(large)) for _ in range(RUNS)]
    fastest_small = max(min(t for t, _ in times), 1e-4)
    fastest_large = min(t for _, t in times)
    assert fastest_large < 128 * fastest_small, (fastest_small, fastest_large)


def test_unclosed_attribute_flood_stays_text() -> None:
    fragment = "<a b='" * 1000
    assert html_to_text(fragment) == fragment


def test_output_has_no_tags_or_stray_whitespace() -> None:
    text = html_to_text(
        "<div>\n  <h2>Title</h2>\n  <p>Body <em>text</em>.</p>\n  <ul>\n    <li>one</li>\n"
        "    <li>two</li>\n  </ul>\n</div>"
    )
    assert text == "Title\n\nBody text.\n\none\ntwo"
    assert "\n\n\n" not in text
    assert all(line == line.strip() for line in text.split("\n"))
