"""Telegram's Markdown and MarkdownV2 parse modes -> plain text + entities (UTF-16 offsets).

Both follow the Bot API server's parsers (TDLib) and report errors in their words:

* MarkdownV2: ``*bold*``, ``_italic_``, ``__underline__``, ``~strike~``, ``||spoiler||``,
  ``[text](url)``, ``![👍](tg://emoji?id=...)``, inline ``code``, fenced ``pre`` with an
  optional language, and ``>`` blockquotes (``**>`` ... ``||`` for an expandable one). Every
  one of ``_*[]()~`>#+-=|{}.!`` outside an entity must be escaped with ``\\``, otherwise:
  ``Character '.' is reserved and must be escaped with the preceding '\\'``.
* Markdown (legacy): ``*bold*``, ``_italic_``, inline and fenced code, ``[text](url)``;
  ``Can't find end of the entity starting at byte offset N``.
"""

from __future__ import annotations

from typing import Any

from botapi_double.html import (
    _USER_LINK,
    EntityParseError,
    ParsedText,
    _checked_link,
    sort_entities,
)

__all__ = ["parse_markdown_legacy", "parse_markdown_v2"]

_RESERVED = "_*[]()~`>#+-=|{}.!"
_TYPE_NAMES = {
    "bold": "Bold",
    "italic": "Italic",
    "underline": "Underline",
    "strikethrough": "Strikethrough",
    "spoiler": "Spoiler",
    "code": "Code",
    "pre": "Pre",
    "text_link": "TextUrl",
    "custom_emoji": "CustomEmoji",
}


class _Text:
    """Output text with its length in UTF-16 code units."""

    def __init__(self) -> None:
        self.parts: list[str] = []
        self.utf16 = 0

    def add(self, char: str) -> None:
        self.parts.append(char)
        self.utf16 += 2 if ord(char) > 0xFFFF else 1

    def since(self, start: int) -> str:
        return "".join(self.parts[start:])

    @property
    def size(self) -> int:
        return len(self.parts)

    def text(self) -> str:
        return "".join(self.parts)


def _byte_offsets(text: str) -> list[int]:
    offsets, total = [], 0
    for ch in text:
        offsets.append(total)
        total += len(ch.encode("utf-8", "surrogatepass"))
    offsets.append(total)
    return offsets


def _link_entity(url: str, offset: int, length: int) -> dict[str, Any] | None:
    user = _USER_LINK.match(url.strip())
    if user:
        return {
            "type": "text_mention",
            "offset": offset,
            "length": length,
            "user": {"id": int(user.group(1))},
        }
    checked = _checked_link(url)
    if checked is None:
        return None
    return {"type": "text_link", "offset": offset, "length": length, "url": checked}


def _skip_pre_start(text: str, i: int) -> tuple[int, str]:
    """After an opening ```: read an optional language and skip one newline."""
    end = i
    while end < len(text) and not text[end].isspace() and text[end] != "`":
        end += 1
    language = ""
    if end != i and end < len(text) and text[end] != "`":
        language, i = text[i:end], end
    if i < len(text) and text[i] in "\r\n":
        if i + 1 < len(text) and text[i + 1] in "\r\n" and text[i] != text[i + 1]:
            i += 2
        else:
            i += 1
    return i, language


def _read_url(text: str, i: int) -> tuple[str, int]:
    """Read ``(url)`` starting after the ``(``; return the url and the index of ``)``."""
    url: list[str] = []
    while i < len(text) and text[i] != ")":
        if text[i] == "\\" and i + 1 < len(text) and 0 < ord(text[i + 1]) <= 126:
            url.append(text[i + 1])
            i += 2
            continue
        url.append(text[i])
        i += 1
    return "".join(url), i


def parse_markdown_v2(text: str) -> ParsedText:
    """Parse ``text`` in the MarkdownV2 parse mode; raise :class:`EntityParseError`."""
    text, quotes = _strip_blockquotes(text)
    bytes_at = _byte_offsets(text)
    out = _Text()
    entities: list[dict[str, Any]] = []
    # open entities: (type, argument, utf16 offset, byte offset, output position)
    stack: list[tuple[str, str, int, int, int]] = []
    line_starts = [0] + [k + 1 for k, ch in enumerate(text) if ch == "\n"]
    marks: dict[int, int] = {}  # line start in ``text`` -> UTF-16 offset in the output
    next_line = 0
    i = 0

    def at(k: int) -> str:
        return text[k] if k < len(text) else ""

    while i < len(text):
        while next_line < len(line_starts) and line_starts[next_line] <= i:
            marks[line_starts[next_line]] = out.utf16
            next_line += 1
        c = text[i]
        if c == "\\" and i + 1 < len(text) and 0 < ord(text[i + 1]) <= 126:
            out.add(text[i + 1])
            i += 2
            continue
        in_code = bool(stack) and stack[-1][0] in ("code", "pre")
        reserved = "`" if in_code else _RESERVED
        if c not in reserved:
            out.add(c)
            i += 1
            continue
        top = stack[-1][0] if stack else None
        ends = {
            "bold": c == "*",
            "italic": c == "_" and at(i + 1) != "_",
            "code": c == "`",
            "pre": c == "`" and at(i + 1) == "`" and at(i + 2) == "`",
            "text_link": c == "]",
            "underline": c == "_" and at(i + 1) == "_",
            "strikethrough": c == "~",
            "spoiler": c == "|" and at(i + 1) == "|",
            "custom_emoji": c == "]",
        }
        if top is None or not ends[top]:
            begin = i
            argument = ""
            if c == "_" and at(i + 1) == "_":
                kind, i = "underline", i + 1
            elif c == "_":
                kind = "italic"
            elif c == "*":
                kind = "bold"
            elif c == "~":
                kind = "strikethrough"
            elif c == "|" and at(i + 1) == "|":
                kind, i = "spoiler", i + 1
            elif c == "[":
                kind = "text_link"
            elif c == "`" and at(i + 1) == "`" and at(i + 2) == "`":
                kind = "pre"
                i, argument = _skip_pre_start(text, i + 3)
                i -= 1
            elif c == "`":
                kind = "code"
            elif c == "!" and at(i + 1) == "[":
                kind, i = "custom_emoji", i + 1
            else:
                raise EntityParseError(
                    f"Character '{c}' is reserved and must be escaped with the preceding '\\'"
                )
            stack.append((kind, argument, out.utf16, bytes_at[begin], out.size))
            i += 1
            continue
        kind, argument, offset, _, out_pos = stack.pop()
        entity: dict[str, Any] | None = {"type": kind, "offset": offset}
        if kind in ("underline", "spoiler"):
            i += 1
        elif kind == "pre":
            i += 2
            if argument:
                entity = {"type": "pre", "offset": offset, "language": argument}
        elif kind == "text_link":
            if at(i + 1) != "(":
                url = out.since(out_pos)
            else:
                url_begin = i + 2
                url, i = _read_url(text, url_begin)
                if at(i) != ")":
                    raise EntityParseError(
                        f"Can't find end of a URL at byte offset {bytes_at[url_begin]}"
                    )
            entity = _link_entity(url, offset, out.utf16 - offset)
        elif kind == "custom_emoji":
            if at(i + 1) != "(":
                raise EntityParseError("Custom emoji entity must contain a tg://emoji URL")
            url_begin = i + 2
            url, i = _read_url(text, url_begin)
            if at(i) != ")":
                raise EntityParseError(
                    f"Can't find end of a custom emoji URL at byte offset {bytes_at[url_begin]}"
                )
            prefix = "tg://emoji?id="
            emoji_id = url[len(prefix) :] if url.startswith(prefix) else ""
            if not emoji_id.isdigit() or int(emoji_id) == 0:
                raise EntityParseError("Invalid custom emoji identifier specified")
            entity = {"type": "custom_emoji", "offset": offset, "custom_emoji_id": emoji_id}
        if entity is not None and out.utf16 > offset:
            entity.setdefault("length", out.utf16 - offset)
            ordered = {"type": entity.pop("type"), "offset": entity.pop("offset")}
            ordered["length"] = entity.pop("length")
            entities.append({**ordered, **entity})
        i += 1
    if stack:
        kind, _, _, byte_offset, _ = stack[-1]
        raise EntityParseError(
            f"Can't find end of {_TYPE_NAMES[kind]} entity at byte offset {byte_offset}"
        )
    for start in line_starts[next_line:]:
        marks[start] = out.utf16
    entities.extend(_quote_entities(quotes, line_starts, marks, out.utf16))
    return ParsedText(out.text(), sort_entities(entities))


def _strip_blockquotes(text: str) -> tuple[str, dict[int, tuple[int, bool]]]:
    """Remove the ``>`` (and ``**>`` ... ``||``) quote markers at line starts.

    Returns the text without them and, for every quoted line, its start index in that text
    mapped to (quote block number, expandable).
    """
    lines = text.split("\n")
    kept: list[str] = []
    quotes: dict[int, tuple[int, bool]] = {}
    position, block, previous_quoted, expandable = 0, 0, False, False
    for index, line in enumerate(lines):
        quoted = line.startswith(">") or (line.startswith("**>") and not previous_quoted)
        if quoted:
            if not previous_quoted:
                block += 1
                expandable = line.startswith("**>")
            line = line[3:] if line.startswith("**>") else line[1:]
            next_quoted = index + 1 < len(lines) and lines[index + 1].startswith(">")
            if expandable and not next_quoted and line.endswith("||"):
                line = line[:-2]
            quotes[position] = (block, expandable)
        previous_quoted = quoted
        kept.append(line)
        position += len(line) + 1
    return "\n".join(kept), quotes


def _quote_entities(
    quotes: dict[int, tuple[int, bool]],
    line_starts: list[int],
    marks: dict[int, int],
    total: int,
) -> list[dict[str, Any]]:
    if not quotes:
        return []
    spans: dict[int, list[int]] = {}
    kinds: dict[int, bool] = {}
    for index, start in enumerate(line_starts):
        if start not in quotes:
            continue
        block, expandable = quotes[start]
        begin16 = marks[start]
        # A line ends before its newline; the last line ends with the text.
        end16 = marks[line_starts[index + 1]] - 1 if index + 1 < len(line_starts) else total
        span = spans.setdefault(block, [begin16, end16])
        span[0], span[1] = min(span[0], begin16), max(span[1], end16)
        kinds[block] = expandable
    result: list[dict[str, Any]] = []
    for block, (begin16, end16) in spans.items():
        if end16 > begin16:
            kind = "expandable_blockquote" if kinds[block] else "blockquote"
            result.append({"type": kind, "offset": begin16, "length": end16 - begin16})
    return result


def parse_markdown_legacy(text: str) -> ParsedText:
    """Parse ``text`` in the legacy Markdown parse mode; raise :class:`EntityParseError`."""
    bytes_at = _byte_offsets(text)
    out = _Text()
    entities: list[dict[str, Any]] = []
    i = 0
    while i < len(text):
        c = text[i]
        if c == "\\" and i + 1 < len(text) and text[i + 1] in "_*`[":
            out.add(text[i + 1])
            i += 2
            continue
        if c not in "_*`[":
            out.add(c)
            i += 1
            continue
        begin, end_char, is_pre, language = i, "]" if c == "[" else c, False, ""
        i += 1
        if c == "`" and text[i : i + 2] == "``":
            is_pre = True
            i, language = _skip_pre_start(text, i + 2)
        offset, out_pos = out.utf16, out.size
        while i < len(text) and (text[i] != end_char or (is_pre and text[i + 1 : i + 3] != "``")):
            out.add(text[i])
            i += 1
        if i >= len(text):
            raise EntityParseError(
                f"Can't find end of the entity starting at byte offset {bytes_at[begin]}"
            )
        length = out.utf16 - offset
        entity: dict[str, Any] | None = None
        if c == "[":
            url = out.since(out_pos)
            if i + 1 < len(text) and text[i + 1] == "(":
                close = text.find(")", i + 2)
                close = len(text) if close < 0 else close
                url, i = text[i + 2 : close], close
            entity = _link_entity(url, offset, length)
        elif c == "`" and is_pre:
            entity = {"type": "pre", "offset": offset, "length": length}
            if language:
                entity["language"] = language
            i += 2
        else:
            kind = {"_": "italic", "*": "bold", "`": "code"}[c]
            entity = {"type": kind, "offset": offset, "length": length}
        if entity is not None and length > 0:
            entities.append(entity)
        i += 1
    return ParsedText(out.text(), sort_entities(entities))
