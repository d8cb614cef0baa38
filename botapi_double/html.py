"""Telegram's text formatting: the HTML parse mode, entity detection and UTF-16 lengths.

:func:`parse_html` follows the Bot API server's HTML parser (the one in TDLib) rather than a
browser's: only the documented tags (``b strong i em u ins s strike del span.tg-spoiler
tg-spoiler a tg-emoji code pre blockquote``) are accepted, attributes are parsed the same way, the
named entities ``&lt; &gt; &amp; &quot;`` and numeric ``&#NNN; &#xHH;`` are decoded, and errors
carry Telegram's own reasons and UTF-8 byte offsets (``Unsupported start tag "script" at byte
offset 0``). Entity offsets and lengths are in UTF-16 code units, as in the Bot API.

One deliberate difference: an unknown named entity such as ``&nbsp;`` is an error in strict mode
(the default), where Telegram would silently show the raw text ``&nbsp;`` to users. Pass
``strict_entities=False`` for Telegram's exact behaviour.

:func:`detect_entities` finds what Telegram highlights on its own in a plain text (bot commands,
``@mentions``, ``#hashtags``, URLs with a scheme or ``www.``; bare domains, e-mails and phone
numbers are not detected); :func:`trim` removes the surrounding whitespace Telegram strips from a
message. The Markdown parse modes are in ``markdown.py``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

__all__ = [
    "EntityParseError",
    "ParsedText",
    "detect_entities",
    "parse_html",
    "sort_entities",
    "trim",
    "utf16_len",
]

_SPACE = frozenset(b" \t\r\n\v\0")
_SUPPORTED_TAGS = frozenset(
    {
        "a",
        "b",
        "strong",
        "i",
        "em",
        "s",
        "strike",
        "del",
        "u",
        "ins",
        "tg-spoiler",
        "tg-emoji",
        "span",
        "pre",
        "code",
        "blockquote",
    }
)
_SIMPLE_TAGS = {
    "b": "bold",
    "strong": "bold",
    "i": "italic",
    "em": "italic",
    "u": "underline",
    "ins": "underline",
    "s": "strikethrough",
    "strike": "strikethrough",
    "del": "strikethrough",
    "tg-spoiler": "spoiler",
    "span": "spoiler",
}
_NAMED = {b"lt": "<", b"gt": ">", b"amp": "&", b"quot": '"'}
# TDLib's tie-break order for entities starting at the same offset with the same length.
_PRIORITY = {
    "blockquote": 0,
    "expandable_blockquote": 0,
    "pre": 11,
    "code": 20,
    "text_link": 49,
    "text_mention": 49,
    "bold": 90,
    "italic": 91,
    "underline": 92,
    "strikethrough": 93,
    "spoiler": 94,
    "custom_emoji": 99,
}
_USER_LINK = re.compile(r"^tg://user\?id=(\d+)$", re.IGNORECASE)
_SCHEME = re.compile(r"^([a-zA-Z][a-zA-Z0-9+.-]*)://")
_OPAQUE_SCHEME = re.compile(r"^[a-zA-Z][a-zA-Z0-9+.-]*:(?!\d)")
_ALLOWED_SCHEMES = frozenset({"http", "https", "tg", "ton"})
_TRIM = " \t\r\n"


class EntityParseError(ValueError):
    """The text cannot be parsed in the requested parse mode (Telegram's reason as message)."""


@dataclass(frozen=True, slots=True)
class ParsedText:
    """Plain text and its Bot API ``MessageEntity`` dicts (UTF-16 offsets)."""

    text: str
    entities: list[dict[str, Any]]


_ASTRAL = re.compile("[\U00010000-\U0010ffff]")
_SPECIAL = re.compile(rb"[&<]")


def utf16_len(text: str) -> int:
    """Return the length of ``text`` in UTF-16 code units, as Telegram counts it."""
    return len(text) + len(_ASTRAL.findall(text))


def sort_entities(entities: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Sort entities as Telegram returns them: by offset, longer first, then by type."""
    return sorted(entities, key=lambda e: (e["offset"], -e["length"], _PRIORITY.get(e["type"], 50)))


# -- HTML ----------------------------------------------------------------------------------------


@dataclass(slots=True)
class _Open:
    tag: str
    argument: str
    utf16_offset: int
    out_pos: int


class _Html:
    """One parse of a UTF-8 encoded HTML text; byte offsets in errors are Telegram's."""

    def __init__(self, text: str, strict_entities: bool) -> None:
        self.data = text.encode("utf-8", "surrogatepass")
        self.strict = strict_entities
        self.out = bytearray()
        self.utf16 = 0
        self.entities: list[dict[str, Any]] = []
        self.stack: list[_Open] = []
        self.bad_surrogate = False

    def at(self, i: int) -> int:
        return self.data[i] if i < len(self.data) else 0

    def decode_entity(self, pos: int) -> tuple[str, int] | None:
        """Decode the character reference at ``pos`` (an ``&``): (character, next position)."""
        data, end = self.data, pos + 1
        if self.at(end) == ord("#"):
            end += 1
            code = 0
            if self.at(end) == ord("x"):
                end += 1
                while chr(self.at(end)) in "0123456789abcdefABCDEF":
                    code = code * 16 + int(chr(self.at(end)), 16)
                    end += 1
            else:
                while ord("0") <= self.at(end) <= ord("9"):
                    code = code * 10 + self.at(end) - ord("0")
                    end += 1
            if code == 0 or code >= 0x10FFFF or end - pos >= 10:
                return None
            char = chr(code)
            if 0xD800 <= code <= 0xDFFF:
                self.bad_surrogate = True
        else:
            while chr(self.at(end)).isascii() and chr(self.at(end)).isalpha():
                end += 1
            name = bytes(data[pos + 1 : end])
            if name not in _NAMED:
                if self.strict and name and self.at(end) == ord(";"):
                    raise EntityParseError(
                        f'Unsupported HTML entity "&{name.decode()};" at byte offset {pos}'
                        " (Telegram would show it as literal text)"
                    )
                return None
            char = _NAMED[name]
        if self.at(end) == ord(";"):
            end += 1
        return char, end

    def run(self) -> ParsedText:
        data, i = self.data, 0
        while i < len(data):
            special = _SPECIAL.search(data, i)
            stop = len(data) if special is None else special.start()
            if stop > i:  # copy plain text up to the next "&" or "<" in one go
                self.utf16 += utf16_len(data[i:stop].decode("utf-8", "surrogatepass"))
                self.out += data[i:stop]
                i = stop
                continue
            c = data[i]
            if c == ord("&"):
                decoded = self.decode_entity(i)
                if decoded is not None:
                    char, i = decoded
                    self.utf16 += 2 if ord(char) > 0xFFFF else 1
                    self.out += char.encode("utf-8", "surrogatepass")
                    continue
            if c != ord("<"):
                if c & 0xC0 != 0x80:
                    self.utf16 += 2 if c >= 0xF0 else 1
                self.out.append(c)
                i += 1
                continue
            i = self.end_tag(i) if self.at(i + 1) == ord("/") else self.start_tag(i)
        if self.stack:
            raise EntityParseError(
                f'Can\'t find end tag corresponding to start tag "{self.stack[-1].tag}"'
            )
        if self.bad_surrogate:
            raise EntityParseError(
                "Text contains invalid Unicode characters after decoding HTML entities, "
                "check for unmatched surrogate code units"
            )
        text = self.out.decode("utf-8")
        return ParsedText(text, sort_entities(self.entities))

    def start_tag(self, begin: int) -> int:
        i = begin + 1
        while self.at(i) not in _SPACE and self.at(i) != ord(">"):
            i += 1
        if self.at(i) == 0:
            raise EntityParseError(f"Unclosed start tag at byte offset {begin}")
        tag = self.data[begin + 1 : i].decode("utf-8", "replace").lower()
        if tag not in _SUPPORTED_TAGS:
            raise EntityParseError(f'Unsupported start tag "{tag}" at byte offset {begin}')
        argument = ""
        while self.at(i) != ord(">"):
            while self.at(i) != 0 and self.at(i) in _SPACE:
                i += 1
            if self.at(i) == ord(">"):
                break
            name_begin = i
            while self.at(i) not in _SPACE and self.at(i) not in b"=>":
                i += 1
            name = self.data[name_begin:i].decode("utf-8", "replace")
            if not name:
                raise EntityParseError(
                    f'Empty attribute name in the tag "{tag}" at byte offset {begin}'
                )
            while self.at(i) != 0 and self.at(i) in _SPACE:
                i += 1
            if self.at(i) != ord("="):
                if tag == "blockquote" and name == "expandable":
                    argument = "expandable"
                    continue
                raise EntityParseError(
                    "Expected equal sign in declaration of an attribute of the tag "
                    f'"{tag}" at byte offset {begin}'
                )
            i += 1
            while self.at(i) != 0 and self.at(i) in _SPACE:
                i += 1
            if self.at(i) == 0:
                raise EntityParseError(f'Unclosed start tag "{tag}" at byte offset {begin}')
            value, i = self.attribute_value(i)
            if self.at(i) == 0:
                raise EntityParseError(f"Unclosed start tag at byte offset {begin}")
            if tag == "a" and name == "href":
                argument = value
            elif tag == "code" and name == "class" and value.startswith("language-"):
                argument = value[len("language-") :]
            elif tag == "span" and name == "class" and value.startswith("tg-"):
                argument = value[len("tg-") :]
            elif tag == "tg-emoji" and name == "emoji-id":
                argument = value
        if tag == "span" and argument != "spoiler":
            raise EntityParseError(
                f'Tag "span" must have class "tg-spoiler" at byte offset {begin}'
            )
        self.stack.append(_Open(tag, argument, self.utf16, len(self.out)))
        return i + 1

    def attribute_value(self, i: int) -> tuple[str, int]:
        quote = self.at(i)
        if quote not in b"'\"":
            # A name token: letters, digits, periods and hyphens; case-insensitive.
            begin = i
            while chr(self.at(i)).isascii() and (chr(self.at(i)).isalnum() or self.at(i) in b".-"):
                i += 1
            if self.at(i) not in _SPACE and self.at(i) != ord(">"):
                raise EntityParseError(f"Unexpected end of name token at byte offset {begin}")
            return self.data[begin:i].decode("ascii").lower(), i
        i += 1
        value = bytearray()
        while self.at(i) != quote and self.at(i) != 0:
            if self.at(i) == ord("&"):
                decoded = self.decode_entity(i)
                if decoded is not None:
                    char, i = decoded
                    value += char.encode("utf-8", "surrogatepass")
                    continue
            value.append(self.at(i))
            i += 1
        if self.at(i) == quote:
            i += 1
        return value.decode("utf-8", "replace"), i

    def end_tag(self, begin: int) -> int:
        if not self.stack:
            raise EntityParseError(f"Unexpected end tag at byte offset {begin}")
        i = begin + 2
        while self.at(i) not in _SPACE and self.at(i) != ord(">"):
            i += 1
        end_name = self.data[begin + 2 : i].decode("utf-8", "replace").lower()
        while self.at(i) != 0 and self.at(i) in _SPACE:
            i += 1
        if self.at(i) != ord(">"):
            raise EntityParseError(f"Unclosed end tag at byte offset {begin}")
        top = self.stack[-1]
        if end_name and end_name != top.tag:
            raise EntityParseError(
                f'Unmatched end tag at byte offset {begin}, expected "</{top.tag}>", '
                f'found "</{end_name}>"'
            )
        if self.utf16 > top.utf16_offset:
            self.close(top)
        self.stack.pop()
        return i + 1

    def close(self, top: _Open) -> None:
        offset, length = top.utf16_offset, self.utf16 - top.utf16_offset
        entity: dict[str, Any] = {"offset": offset, "length": length}
        last = self.entities[-1] if self.entities else None
        same_range = last is not None and (last["offset"], last["length"]) == (offset, length)
        if top.tag in _SIMPLE_TAGS:
            entity["type"] = _SIMPLE_TAGS[top.tag]
        elif top.tag == "tg-emoji":
            if not top.argument.isdigit() or not 0 < int(top.argument) < 2**63:
                raise EntityParseError("Invalid custom emoji identifier specified")
            entity["type"] = "custom_emoji"
            entity["custom_emoji_id"] = top.argument
        elif top.tag == "a":
            url = top.argument or self.out[top.out_pos :].decode("utf-8", "replace")
            user = _USER_LINK.match(url.strip())
            if user:
                entity["type"] = "text_mention"
                entity["user"] = {"id": int(user.group(1))}
            else:
                checked = _checked_link(url)
                if checked is None:
                    return  # Telegram drops links it cannot use and keeps the text.
                entity["type"] = "text_link"
                entity["url"] = checked
        elif top.tag == "pre":
            if last is not None and same_range and last["type"] == "code":
                last["type"] = "pre"  # <pre><code class="language-x">: one pre entity
                return
            entity["type"] = "pre"
        elif top.tag == "code":
            if last is not None and same_range and last["type"] == "pre" and top.argument:
                last["language"] = top.argument
                return
            entity["type"] = "code"
            if top.argument:
                entity["language"] = top.argument  # kept only if a <pre> closes around it
        else:  # blockquote
            entity["type"] = "expandable_blockquote" if top.argument else "blockquote"
        self.entities.append({"type": entity.pop("type"), **entity})


def _checked_link(url: str) -> str | None:
    """Normalise an ``<a href>`` the way Telegram does, or return None if it is unusable."""
    url = url.strip()
    if not url or any(ch.isspace() for ch in url):
        return None
    match = _SCHEME.match(url)
    if match is None:
        if _OPAQUE_SCHEME.match(url):
            return None  # mailto:, javascript: and the like
        url = "http://" + url
        match = _SCHEME.match(url)
        assert match is not None
    if match.group(1).lower() not in _ALLOWED_SCHEMES:
        return None
    rest = url[match.end() :]
    if not rest:
        return None
    if match.group(1).lower() in ("http", "https") and "/" not in rest and "?" not in rest:
        url += "/"
    return url


def parse_html(text: str, *, strict_entities: bool = True) -> ParsedText:
    """Parse ``text`` in Telegram's HTML parse mode; raise :class:`EntityParseError`."""
    parsed = _Html(text, strict_entities).run()
    for entity in parsed.entities:
        if entity["type"] == "code":
            entity.pop("language", None)
    return parsed


# -- detection and trimming -----------------------------------------------------------------------

_COMMAND = re.compile(r"(?<![\w/<>])/[A-Za-z0-9_]{1,64}(?:@[A-Za-z0-9_]{3,32})?(?![\w/<>])")
_MENTION = re.compile(r"(?<!\w)@[A-Za-z0-9_]{4,32}(?!\w)")
_HASHTAG = re.compile(r"(?<![\w#])#(?=\w*[^\W\d_])\w{1,256}(?![\w#])")
_URL = re.compile(r"(?<![\w@/])(?:https?://|www\.)[^\s<>\"]+", re.IGNORECASE)
_URL_TAIL = ".,;:!?)]}'\""
_NO_DETECTION_INSIDE = frozenset({"code", "pre", "text_link", "text_mention", "url"})


def _utf16_offsets(text: str) -> list[int] | range:
    if not _ASTRAL.search(text):
        return range(len(text) + 1)  # all in the BMP: code points are code units
    offsets, total = [0] * (len(text) + 1), 0
    for index, ch in enumerate(text):
        offsets[index] = total
        total += 2 if ord(ch) > 0xFFFF else 1
    offsets[len(text)] = total
    return offsets


def detect_entities(
    text: str, existing: list[dict[str, Any]] | None = None
) -> list[dict[str, Any]]:
    """Return ``existing`` plus the entities Telegram detects by itself, sorted.

    Bot commands, ``@mentions``, ``#hashtags`` and http(s)/www URLs are found; nothing is
    detected inside code, pre or links, as in Telegram.
    """
    entities = list(existing or [])
    offsets = _utf16_offsets(text)
    blocked = [
        (e["offset"], e["offset"] + e["length"])
        for e in entities
        if e["type"] in _NO_DETECTION_INSIDE
    ]
    found: list[dict[str, Any]] = []
    for kind, regex in (
        ("url", _URL),
        ("bot_command", _COMMAND),
        ("mention", _MENTION),
        ("hashtag", _HASHTAG),
    ):
        for match in regex.finditer(text):
            start, end = match.start(), match.end()
            if kind == "url":
                while end > start and text[end - 1] in _URL_TAIL:
                    end -= 1
            begin16, end16 = offsets[start], offsets[end]
            taken = blocked + [(f["offset"], f["offset"] + f["length"]) for f in found]
            if any(begin16 < b_end and b_begin < end16 for b_begin, b_end in taken):
                continue
            found.append({"type": kind, "offset": begin16, "length": end16 - begin16})
    return sort_entities(entities + found)


def trim(text: str, entities: list[dict[str, Any]]) -> ParsedText:
    """Strip leading and trailing whitespace as Telegram does, clipping entities to match."""
    stripped_left = text.lstrip(_TRIM)
    cut = utf16_len(text) - utf16_len(stripped_left)
    result = stripped_left.rstrip(_TRIM)
    total = utf16_len(result)
    kept: list[dict[str, Any]] = []
    for entity in entities:
        begin = max(entity["offset"] - cut, 0)
        end = min(entity["offset"] + entity["length"] - cut, total)
        if end > begin:
            kept.append({**entity, "offset": begin, "length": end - begin})
    return ParsedText(result, sort_entities(kept))
