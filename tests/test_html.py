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


HOSTILE = {
    # Each of these is quadratic (or worse) in Python 3.11.7's html.parser.HTMLParser.
    "unclosed attribute": "<a b='" * 50_000,
    "unclosed comments": "<!--" * 50_000,
    "tag openers": "<a" * 50_000,
    "quotes across tags": "<a b='>x'" * 50_000,
    "end tag openers": "</" * 50_000,
    "processing instructions": "<?" * 50_000,
    "cdata openers": "<![CDATA[" * 50_000,
    "nested divs": "<div>" * 50_000,
    "entities": "&#" * 50_000 + "&amp" * 50_000,
    "script end lookalikes": "<script>" + "</scrip" * 50_000,
    "big document": "<p>word &amp; <b>word</b></p>" * 50_000,
}


@pytest.mark.parametrize("fragment", HOSTILE.values(), ids=HOSTILE.keys())
def test_hostile_input_takes_linear_time(fragment: str) -> None:
    # Linear work on these is a few tens of milliseconds; quadratic is seconds to minutes.
    started = time.perf_counter()
    text = html_to_text(fragment)
    assert time.perf_counter() - started < 2.0
    assert isinstance(text, str)


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
