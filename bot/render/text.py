"""Text primitives for Telegram HTML: escaping, UTF-16 lengths, safe cuts, and fitting a message.

Telegram limits a message to 4096 UTF-16 code units *after* it has parsed the HTML (tags removed,
entities decoded). Every variable piece of publisher text is therefore cut as plain text first
and only then escaped and wrapped in tags (a ``Span``): a cut can never land inside an entity or
a tag, and the visible length is simply the sum of the spans' plain lengths.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from urllib.parse import urlsplit

MESSAGE_LIMIT = 4096
CAPTION_LIMIT = 1024  # a photo's caption, counted as a message text is
ELLIPSIS = "…"
URL_LIMIT = 2048

# `"` is escaped everywhere so one function is safe both in text and inside href="...";
# Telegram decodes &quot; in text as well.
_ESCAPES = str.maketrans({"&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;"})
_TAG = re.compile(r"<[^>]*>")
_ENTITY = re.compile(r"&(?:(lt|gt|amp|quot)|#([0-9]+)|#[xX]([0-9a-fA-F]+));")
_NAMED = {"lt": "<", "gt": ">", "amp": "&", "quot": '"'}
_SURROGATE = re.compile("[\ud800-\udfff]")
# Removed outright; the whitespace-like controls (\t \n \v \f \r \x1c-\x1f \x85) are left to
# str.split / str.splitlines, which treat them as separators.
_CONTROL = re.compile("[\x00-\x08\x0e-\x1b\x7f-\x84\x86-\x9f\ufeff\ufffe\uffff]")
# Bidi controls (embeddings, overrides, isolates, marks) reorder what follows them, so a title
# can make a reader see text the publisher did not visibly write; zero-width characters disguise
# words. Both are removed from everything shown (strip_invisible).
_BIDI_CONTROLS = "\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069"
_ZERO_WIDTH = "\u200b-\u200d\u2060\ufeff"
_INVISIBLE = re.compile(f"[{_BIDI_CONTROLS}{_ZERO_WIDTH}]")
_ZWNJ, _ZWJ, _VS16 = "\u200c", "\u200d", "\ufe0f"
_SENTENCE_END = re.compile(r"[.!?…][\"'”’»)\]]*(?=\s)")
_TRAILING_JUNK = ",;:-–—/([{«“‘"  # and any whitespace
# A grapheme this long that does not fit is abuse (zalgo text); cut it between code points.
_HUGE_GRAPHEME = 16
# A word boundary further back than this share of the room wastes too much: cut mid-word.
_WORD_CUT_MIN_SHARE = 0.6
_SENTENCE_CUT_MIN_SHARE = 0.5


def escape(text: str) -> str:
    """Escape ``& < > "`` for Telegram HTML: valid in text and in a double-quoted attribute."""
    return text.translate(_ESCAPES)


def markup(message: str, **html: str | int) -> str:
    """A (translated) ``message`` as Telegram HTML: its own words escaped, then ``html`` (markup
    already safe, such as ``<b>Economy</b>``) put in its ``%(name)s`` places."""
    text = escape(message)
    return text % html if html else text


def utf16_len(text: str) -> int:
    """Length in UTF-16 code units, the unit of every Telegram limit."""
    return len(text.encode("utf-16-le", "surrogatepass")) // 2


def visible_text(html: str) -> str:
    """The text Telegram shows for ``html``: tags stripped, the supported entities decoded."""
    return _ENTITY.sub(_decode_entity, _TAG.sub("", html))


def visible_len(html: str) -> int:
    """The length Telegram checks against its limit, in UTF-16 code units."""
    return utf16_len(visible_text(html))


def _decode_entity(match: re.Match[str]) -> str:
    name, dec, hexa = match.groups()
    if name:
        return _NAMED[name]
    try:
        return chr(int(dec) if dec else int(hexa, 16))
    except (ValueError, OverflowError):
        return match.group(0)


def http_url(url: str | None) -> str | None:
    """``url`` if it is a plausible http(s) link; ``javascript:`` and friends never become links."""
    if not url:
        return None
    url = url.strip()
    if len(url) > URL_LIMIT or any(ch.isspace() or ord(ch) < 32 for ch in url):
        return None
    try:
        parts = urlsplit(url)
    except ValueError:
        return None
    if parts.scheme.lower() not in ("http", "https") or not parts.netloc:
        return None
    return url


def _code_points(text: str) -> str:
    # A str can hold lone surrogates (surrogateescape/surrogatepass decoding); they cannot be
    # sent as UTF-8. A round trip joins proper pairs and turns lone ones into U+FFFD.
    if _SURROGATE.search(text):
        return text.encode("utf-16-le", "surrogatepass").decode("utf-16-le", "replace")
    return text


def _is_emoji(ch: str) -> bool:
    return ord(ch) >= 0x1F000 or (ord(ch) >= 0x2000 and unicodedata.category(ch) == "So")


def _is_arabic_letter(ch: str) -> bool:
    cp = ord(ch)
    return ch.isalpha() and (
        0x0600 <= cp <= 0x08FF or 0xFB50 <= cp <= 0xFDFF or 0xFE70 <= cp <= 0xFEFC
    )


def _keeps_joiner(text: str, i: int) -> bool:
    """Whether the ZWJ/ZWNJ at ``i`` is part of the writing, not a disguise.

    A ZWJ between two emoji makes one emoji (man, ZWJ, woman: a family); a ZWNJ between two
    Arabic-script letters is Persian spelling (it stops the letters joining).
    """
    if i == 0 or i + 1 >= len(text):
        return False
    before, after = text[i - 1], text[i + 1]
    if text[i] == _ZWJ:
        if before == _VS16 and i >= 2:
            before = text[i - 2]
        return _is_emoji(before) and _is_emoji(after)
    return text[i] == _ZWNJ and _is_arabic_letter(before) and _is_arabic_letter(after)


def strip_invisible(text: str) -> str:
    """``text`` without bidi controls (U+202E and kin) and zero-width characters.

    Those let a publisher reorder or disguise what a reader sees. A ZWJ inside an emoji
    sequence and a ZWNJ inside a Persian word stay: there they are the writing itself.
    """
    if not _INVISIBLE.search(text):
        return text
    return "".join(
        ch
        for i, ch in enumerate(text)
        if not _INVISIBLE.fullmatch(ch) or (ch in (_ZWJ, _ZWNJ) and _keeps_joiner(text, i))
    )


def clean_line(text: str | None) -> str:
    """Publisher text for one line: control and invisible characters dropped, whitespace
    collapsed."""
    if not text:
        return ""
    return " ".join(_CONTROL.sub("", strip_invisible(_code_points(text))).split())


def clean_block(text: str | None) -> str:
    """Publisher text with paragraphs: lines collapsed, at most one blank line between them."""
    if not text:
        return ""
    lines: list[str] = []
    for raw in _CONTROL.sub("", strip_invisible(_code_points(text))).splitlines():
        line = " ".join(raw.split())
        if line or (lines and lines[-1]):
            lines.append(line)
    while lines and not lines[-1]:
        lines.pop()
    return "\n".join(lines)


def _is_regional_indicator(ch: str) -> bool:
    return 0x1F1E6 <= ord(ch) <= 0x1F1FF


def _extends(ch: str) -> bool:
    """Whether ``ch`` belongs to the grapheme before it (a cheap subset of UAX #29)."""
    cp = ord(ch)
    if unicodedata.category(ch) in ("Mn", "Me", "Mc"):
        return True  # combining marks, variation selectors, the keycap U+20E3
    return (
        cp in (0x200C, 0x200D)
        or 0x1F3FB <= cp <= 0x1F3FF  # skin tone modifiers
        or 0xE0020 <= cp <= 0xE007F  # tag characters of subdivision flags
    )


def _is_boundary(text: str, i: int) -> bool:
    """Whether cutting ``text`` before index ``i`` keeps every grapheme whole."""
    if i <= 0 or i >= len(text):
        return True
    before, after = text[i - 1], text[i]
    if before == "\r" and after == "\n":
        return False
    if "\ud800" <= before <= "\udbff" and "\udc00" <= after <= "\udfff":
        return False
    if before == "\u200d" or _extends(after):
        return False
    if _is_regional_indicator(before) and _is_regional_indicator(after):
        run = 0
        while run < i and _is_regional_indicator(text[i - 1 - run]):
            run += 1
        return run % 2 == 0
    return True


def _fitting_prefix(text: str, budget: int) -> int:
    """The number of code points of ``text`` whose UTF-16 length is at most ``budget``."""
    units = 0
    for i, ch in enumerate(text):
        units += 2 if ord(ch) > 0xFFFF else 1
        if units > budget:
            return i
    return len(text)


def _grapheme_cut(text: str, budget: int) -> int:
    end = _fitting_prefix(text, budget)
    i = end
    while i > 0 and not _is_boundary(text, i):
        i -= 1
    if i > 0 or end < _HUGE_GRAPHEME:
        return i
    i = end
    while i > 0 and (
        ("\ud800" <= text[i - 1] <= "\udbff" and "\udc00" <= text[i] <= "\udfff")
        or (text[i - 1] == "\r" and text[i] == "\n")
    ):
        i -= 1
    return i


def _word_cut(text: str, end: int) -> str:
    if end <= 0:
        return ""
    cut = end
    if end < len(text) and not text[end].isspace() and not text[end - 1].isspace():
        floor = int(end * _WORD_CUT_MIN_SHARE)
        space = next((k for k in range(end - 1, floor - 1, -1) if text[k].isspace()), -1)
        if space > 0:
            cut = space
    while cut > 0 and (text[cut - 1].isspace() or text[cut - 1] in _TRAILING_JUNK):
        cut -= 1
    return text[:cut] or text[:end].rstrip()


def truncate(text: str, limit_utf16: int, ellipsis: str = ELLIPSIS) -> str:
    """Cut plain ``text`` to ``limit_utf16`` UTF-16 units, the ellipsis included.

    Prefers a word boundary, never splits a surrogate pair, a ``\\r\\n``, a base character from
    its combining marks, a ZWJ emoji sequence or a flag. Escape the result, not the input.
    """
    if limit_utf16 < 0:
        raise ValueError(f"limit must be 0 or more, not {limit_utf16}")
    if utf16_len(text) <= limit_utf16:
        return text
    room = limit_utf16 - utf16_len(ellipsis)
    if room < 0:
        return ""
    if room == 0:
        return ellipsis
    return _word_cut(text, _grapheme_cut(text, room)) + ellipsis


def excerpt(text: str, limit_utf16: int, ellipsis: str = ELLIPSIS) -> str:
    """The opening of ``text`` within ``limit_utf16``: whole sentences if that keeps enough."""
    if utf16_len(text) <= limit_utf16:
        return text
    tail = " " + ellipsis
    room = limit_utf16 - utf16_len(tail)
    if room > 0:
        end = _fitting_prefix(text, room)
        # One character past the room, so a sentence ending exactly at the room is seen.
        last = None
        for match in _SENTENCE_END.finditer(text, 0, end + 1):
            if match.end() <= end:
                last = match
        if last is not None and last.end() >= end * _SENTENCE_CUT_MIN_SHARE:
            return text[: last.end()] + tail
    return truncate(text, limit_utf16, ellipsis)


@dataclass(frozen=True, slots=True)
class Span:
    """A run of plain text and the trusted markup around it.

    ``cut`` makes the span flexible: when a message is too long, flexible spans give way in
    ascending ``cut`` order, each down to ``keep`` units. Fixed spans (``cut=None``) are only cut
    as a last resort, from the end.
    """

    text: str
    open_tag: str = ""
    close_tag: str = ""
    cut: int | None = None
    keep: int = 0

    @property
    def size(self) -> int:
        return utf16_len(self.text)


def plain(text: str, *, cut: int | None = None, keep: int = 0) -> Span:
    return Span(text, cut=cut, keep=keep)


def bold(text: str, *, cut: int | None = None, keep: int = 0) -> Span:
    return Span(text, "<b>", "</b>", cut, keep)


def italic(text: str, *, cut: int | None = None, keep: int = 0) -> Span:
    return Span(text, "<i>", "</i>", cut, keep)


def code(text: str, *, cut: int | None = None, keep: int = 0) -> Span:
    return Span(text, "<code>", "</code>", cut, keep)


def bold_link(text: str, url: str | None, *, cut: int | None = None, keep: int = 0) -> Span:
    """Bold text, linked when ``url`` is http(s); anything else stays unlinked."""
    href = http_url(url)
    if href is None:
        return bold(text, cut=cut, keep=keep)
    return Span(text, f'<a href="{escape(href)}"><b>', "</b></a>", cut, keep)


def link(text: str, url: str | None, *, cut: int | None = None, keep: int = 0) -> Span:
    """Text linked when ``url`` is http(s); anything else stays plain."""
    href = http_url(url)
    if href is None:
        return plain(text, cut=cut, keep=keep)
    return Span(text, f'<a href="{escape(href)}">', "</a>", cut, keep)


def spans_len(spans: Iterable[Span]) -> int:
    return sum(span.size for span in spans)


def fit(spans: Sequence[Span], limit: int = MESSAGE_LIMIT) -> list[Span]:
    """The spans cut so their visible length is at most ``limit``; emptied spans are dropped."""
    out = list(spans)
    over = spans_len(out) - limit
    if over > 0:
        flexible = sorted((span.cut, i) for i, span in enumerate(out) if span.cut is not None)
        for _, i in flexible:
            if over <= 0:
                break
            over -= _shrink(out, i, over, out[i].keep)
        for i in reversed(range(len(out))):
            if over <= 0:
                break
            over -= _shrink(out, i, over, 0)
    return [span for span in out if span.text]


def _shrink(spans: list[Span], i: int, over: int, keep: int) -> int:
    span = spans[i]
    size = span.size
    target = max(keep, size - over, 0)
    if target >= size:
        return 0
    spans[i] = replace(span, text=truncate(span.text, target))
    return size - spans[i].size


def to_html(spans: Iterable[Span]) -> str:
    return "".join(f"{s.open_tag}{escape(s.text)}{s.close_tag}" for s in spans if s.text)


def to_plain(spans: Iterable[Span]) -> str:
    return "".join(span.text for span in spans)


def fit_html(spans: Sequence[Span], limit: int = MESSAGE_LIMIT) -> str:
    """Telegram HTML whose parsed length is 1..``limit`` UTF-16 units."""
    fitted = fit(spans, limit)
    _require_text(fitted)
    return to_html(fitted)


def fit_plain(spans: Sequence[Span], limit: int = MESSAGE_LIMIT) -> str:
    """The same content without markup, for ``parse_mode=None``."""
    fitted = fit(spans, limit)
    _require_text(fitted)
    return to_plain(fitted)


def _require_text(spans: Sequence[Span]) -> None:
    # Telegram trims the text and refuses an empty message.
    if not to_plain(spans).strip():
        raise ValueError("a message needs some visible text")
