"""Feed HTML (summaries, content, titles) to clean plain text.

This is a small linear-time tokenizer rather than ``html.parser.HTMLParser``: on the Python
this project runs (3.11.7) HTMLParser is quadratic on malformed input (``"<a b='" * 50_000``
took over three minutes, ``"<!--" * 50_000`` fifteen seconds; CVE-2025-6069 and friends, fixed
only in later patch releases) and raises ``AssertionError`` on ``<![foo[``. Feed text is
untrusted, so every scan here is bounded by the next ``<`` or moves strictly forward.
"""

from __future__ import annotations

import html
import re

__all__ = ["html_to_text"]

# Elements whose end or start begins a new paragraph / a new line.
_PARAGRAPH_TAGS = frozenset(
    {
        "address",
        "article",
        "aside",
        "blockquote",
        "center",
        "dl",
        "div",
        "figcaption",
        "figure",
        "footer",
        "form",
        "h1",
        "h2",
        "h3",
        "h4",
        "h5",
        "h6",
        "header",
        "hr",
        "main",
        "nav",
        "ol",
        "p",
        "pre",
        "section",
        "table",
        "ul",
    }
)
_LINE_TAGS = frozenset({"br", "dd", "dt", "li", "tr"})
# Adjacent cells would otherwise glue their words together ("a</td><td>b" -> "ab").
_SPACE_TAGS = frozenset({"td", "th"})
# Raw-text elements: everything up to their end tag is code, never prose.
_SKIP_TAGS = frozenset({"script", "style"})

# Possessive quantifiers and quotes that may not contain "<" keep each attempt bounded by the
# next "<", so a failed match never rescans the rest of the document.
_TAG = re.compile(r"""<(/?)([A-Za-z][A-Za-z0-9:_-]*+)(?:[^<>"']++|"[^<"]*+"|'[^<']*+')*+>""")
# A tag whose quotes do not pair up ("<a b='>x"): end it at the first ">" as browsers do.
_LOOSE_TAG = re.compile(r"<(/?)([A-Za-z][A-Za-z0-9:_-]*+)[^<>]*+>")
# Declarations, processing instructions and "</ ...>": nothing readable in them.
_BOGUS = re.compile(r"<[!?/][^<>]*+>")
_SKIP_END = {tag: re.compile(rf"</{tag}[\s/>]", re.IGNORECASE) for tag in _SKIP_TAGS}
# C0 controls other than whitespace (and DEL) are never meant as text and upset Telegram.
_CONTROL = dict.fromkeys([*range(0x09), *range(0x0E, 0x20), 0x7F])
_BLANK_LINE = re.compile(r"\n[ \t\r\f\v]*\n")


class _Writer:
    """Collects text into lines and paragraphs, collapsing whitespace inside each line."""

    def __init__(self) -> None:
        self.paragraphs: list[str] = []
        self.lines: list[str] = []
        self.pieces: list[str] = []

    def text(self, text: str) -> None:
        self.pieces.append(text.translate(_CONTROL))

    def _flush_line(self) -> bool:
        line = " ".join("".join(self.pieces).split())
        self.pieces = []
        if line:
            self.lines.append(line)
        return bool(line)

    def line_break(self, *, from_br: bool = False) -> None:
        had_text = self._flush_line()
        # "one<br><br>two" is how many feeds write paragraphs.
        if from_br and not had_text and self.lines:
            self.paragraph_break()

    def paragraph_break(self) -> None:
        self._flush_line()
        if self.lines:
            self.paragraphs.append("\n".join(self.lines))
            self.lines = []

    def result(self) -> str:
        self.paragraph_break()
        return "\n\n".join(self.paragraphs)


def html_to_text(fragment: str) -> str:
    """Turn an HTML fragment (or plain text) into paragraphs of plain text joined by blank lines.

    Tags, comments and the contents of ``<script>``/``<style>`` are dropped, entities decoded,
    whitespace collapsed within each line. Never raises, and runs in time linear in the input.
    """
    if "<" not in fragment:
        # Plain text: its blank lines are the only paragraph marks it has.
        plain = _Writer()
        for paragraph in _BLANK_LINE.split(html.unescape(fragment)):
            plain.text(paragraph)
            plain.paragraph_break()
        return plain.result()

    out = _Writer()
    _tokenize(fragment, out, in_cdata=False)
    return out.result()


def _tokenize(fragment: str, out: _Writer, *, in_cdata: bool) -> None:
    n = len(fragment)
    i = 0
    while i < n:
        lt = fragment.find("<", i)
        if lt < 0:
            out.text(html.unescape(fragment[i:]))
            break
        if lt > i:
            out.text(html.unescape(fragment[i:lt]))
        if not in_cdata and fragment.startswith("<![CDATA[", lt):
            # CDATA left inside feed HTML means markup wrapped twice: read what it wraps as
            # HTML too. One level only, so "<![CDATA[" * 50_000 cannot recurse deeply.
            end = fragment.find("]]>", lt + 9)
            _tokenize(fragment[lt + 9 : n if end < 0 else end], out, in_cdata=True)
            i = n if end < 0 else end + 3
        else:
            i = _consume_markup(fragment, lt, out)


def _consume_markup(fragment: str, lt: int, out: _Writer) -> int:
    """Handle the markup starting at ``fragment[lt] == "<"``; return where text resumes."""
    n = len(fragment)
    if fragment.startswith("<!--", lt):
        end = fragment.find("-->", lt + 4)
        return n if end < 0 else end + 3  # an unclosed comment runs to the end, as in browsers

    match = _TAG.match(fragment, lt) or _LOOSE_TAG.match(fragment, lt)
    if match is None:
        bogus = _BOGUS.match(fragment, lt)
        if bogus is not None:
            return bogus.end()
        out.text("<")  # a lone "<" as in "5 < 6" is text
        return lt + 1

    closing, name = match.group(1) == "/", match.group(2).lower()
    if name in _SKIP_TAGS and not closing:
        end_tag = _SKIP_END[name].search(fragment, match.end())
        if end_tag is None:
            return n
        close = fragment.find(">", end_tag.start())
        return n if close < 0 else close + 1
    if name in _PARAGRAPH_TAGS:
        out.paragraph_break()
    elif name in _LINE_TAGS:
        out.line_break(from_br=name == "br")
    elif name in _SPACE_TAGS:
        out.text(" ")
    return match.end()
