"""Showing the bot's Telegram messages in a terminal: entities as ANSI styles, buttons numbered.

Telegram sends text plus entities (bold, italic, links, ...) whose offsets count UTF-16 code
units, so an emoji before a bold word shifts the offsets by two, not one. The renderer walks the
text once, counting UTF-16 units, and at every entity boundary switches to the styles active
there. Without colour (a pipe, a file, ``NO_COLOR``) it writes the same layout as plain text.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from typing import Any, TextIO

from botapi_double.state import RecordedMessage

__all__ = [
    "INDENT",
    "button_rows",
    "note",
    "render_message",
    "rule",
    "styled",
    "toast",
    "wants_color",
]

INDENT = "  "
RESET = "\x1b[0m"
_DIM, _UNDIM = "\x1b[2m", "\x1b[22m"
# SGR parameters per entity type; types not listed (blockquote, custom_emoji, ...) stay plain.
_STYLES: dict[str, str] = {
    "bold": "1",
    "italic": "3",
    "underline": "4",
    "strikethrough": "9",
    "spoiler": "2",
    "code": "36",
    "pre": "36",
    "text_link": "4",
    "url": "34",
    "email": "34",
    "mention": "34",
    "text_mention": "34",
    "hashtag": "34",
    "cashtag": "34",
    "bot_command": "34",
    "phone_number": "34",
}

Entity = Mapping[str, Any]


def wants_color(out: TextIO) -> bool:
    """ANSI styles only for a terminal, and never when the user set NO_COLOR or TERM=dumb."""
    if os.environ.get("NO_COLOR") or os.environ.get("TERM") == "dumb":
        return False
    isatty = getattr(out, "isatty", None)
    return bool(isatty is not None and isatty())


def _sgr(active: Sequence[Entity]) -> str:
    codes = [_STYLES[e["type"]] for e in active if e.get("type") in _STYLES]
    return f"\x1b[{';'.join(codes)}m" if codes else ""


def _link_suffix(entity: Entity, shown: str) -> str:
    """`` <url>`` after a text link, unless the text already is the URL."""
    if entity.get("type") != "text_link":
        return ""
    url = str(entity.get("url", ""))
    return f" <{url}>" if url and url != shown else ""


def styled(text: str, entities: Sequence[Entity], *, color: bool, indent: str = "") -> str:
    """``text`` with its entities as ANSI styles (or plain), every line after a newline indented.

    Links become ``text <url>`` in both modes: a terminal cannot click a text link.
    """
    spans = sorted(
        (e for e in entities if int(e.get("length", 0)) > 0),
        key=lambda e: (int(e["offset"]), -int(e["length"])),
    )
    # Every UTF-16 boundary where something starts or ends, with the entities involved.
    starts: dict[int, list[Entity]] = {}
    ends: dict[int, list[Entity]] = {}
    for entity in spans:
        start = int(entity["offset"])
        starts.setdefault(start, []).append(entity)
        ends.setdefault(start + int(entity["length"]), []).append(entity)
    # UTF-16 offset of each character, to cut out a link's visible text for the comparison.
    offsets: list[int] = []
    unit = 0
    for char in text:
        offsets.append(unit)
        unit += 2 if ord(char) > 0xFFFF else 1
    offsets.append(unit)

    def visible(entity: Entity) -> str:
        first = int(entity["offset"])
        last = first + int(entity["length"])
        return "".join(c for c, o in zip(text, offsets, strict=False) if first <= o < last)

    out: list[str] = []
    active: list[Entity] = []
    boundaries = sorted(set(starts) | set(ends))
    pending = 0  # index into boundaries
    for index in range(len(text) + 1):
        here = offsets[index]
        changed = False
        suffixes: list[str] = []
        # A boundary inside a surrogate pair (a malformed entity) is taken at the next character.
        while pending < len(boundaries) and boundaries[pending] <= here:
            at = boundaries[pending]
            pending += 1
            # Inner entities end first, so a link's URL follows its own text.
            for entity in sorted(ends.get(at, []), key=lambda e: -int(e["offset"])):
                if entity in active:
                    active.remove(entity)
                    changed = True
                    suffixes.append(_link_suffix(entity, visible(entity)))
            for entity in starts.get(at, []):
                active.append(entity)
                changed = True
        suffix = "".join(suffixes)
        if color and changed:
            out.append(RESET)
            if suffix:
                out.append(f"{_DIM}{suffix}{_UNDIM}")
            out.append(_sgr(active))
        elif suffix:
            out.append(suffix)
        if index == len(text):
            break
        char = text[index]
        if char == "\n":
            # Styles stop at the line's end so the indent of the next line is never underlined.
            styles = _sgr(active) if color else ""
            out.append((RESET if styles else "") + "\n" + indent + styles)
        else:
            out.append(char)
    if color and active:
        out.append(RESET)
    return "".join(out)


def button_rows(message: RecordedMessage) -> list[list[dict[str, Any]]]:
    """The inline keyboard row by row (empty without one)."""
    markup = message.reply_markup or {}
    rows = markup.get("inline_keyboard", [])
    return [list(row) for row in rows if isinstance(row, list)]


def _button(number: int, button: Mapping[str, Any], color: bool) -> str:
    label = str(button.get("text", ""))
    url = button.get("url")
    if url:
        label += f" <{url}>"
    tag = f"[{number}]"
    if color:
        tag = f"\x1b[1;36m{tag}{RESET}"
    return f"{tag} {label}"


def render_message(
    message: RecordedMessage,
    *,
    color: bool,
    edited: bool = False,
    deleted: bool = False,
) -> str:
    """One bot message as an indented block: its picture, its text, then its buttons numbered
    from 1. A picture (a photo, or a large link preview shown above the text) is a line
    ``[picture: URL]``: a terminal cannot show it."""
    lines: list[str] = []
    if deleted:
        lines.append(_dim("(deleted)", color))
    elif edited:
        lines.append(_dim("(edited)", color))
    picture = picture_of(message)
    if picture is not None:
        lines.append(_dim(f"[picture: {picture}]", color))
    lines.append(styled(message.text, message.entities, color=color, indent=INDENT))
    if not deleted:
        number = 1
        for row in button_rows(message):
            labels = []
            for button in row:
                labels.append(_button(number, button, color))
                number += 1
            if labels:
                lines.append("  ".join(labels))
    block = "\n".join(INDENT + line for line in lines)
    # An empty line keeps no indent: trailing blanks only get in the way of copying text.
    return "\n".join("" if not line.strip(" ") else line for line in block.split("\n"))


def picture_of(message: RecordedMessage) -> str | None:
    """The URL of the picture a message shows: its photo, or its link preview's picture when
    the preview is asked for large and above the text."""
    if message.photo_url is not None:
        return message.photo_url
    options = message.link_preview_options or {}
    url = options.get("url")
    if isinstance(url, str) and options.get("show_above_text") and not options.get("is_disabled"):
        return url
    return None


def toast(text: str, *, color: bool) -> str:
    """A button's answer, shown by Telegram as a short notice over the chat."""
    return INDENT + _dim(f"ⓘ {text}", color)


def note(text: str, *, color: bool) -> str:
    """The demo's own remark (not something the bot sent)."""
    return INDENT + _dim(f"({text})", color)


def rule(text: str, *, color: bool) -> str:
    """A separator line such as ``— new article delivered —``."""
    line = f"— {text} —"
    return f"\x1b[1;33m{line}{RESET}" if color else line


def _dim(text: str, color: bool) -> str:
    return f"{_DIM}{text}{_UNDIM}" if color else text
