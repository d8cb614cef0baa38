"""The reader's language: gettext catalogues, one ``.po`` file a language, read with Babel.

English is the source language: every message is written in English in the code, marked with
``tr.gettext("...")`` / ``tr.ngettext(...)`` (or ``N_("...")`` where it is defined before a
reader is known), and ``pybabel extract`` collects them (see docs/translations.md). A language
is one file, ``bot/locale/<code>/LC_MESSAGES/newsbot.po``; the bot speaks every language that
has one.

The ``.po`` files are compiled when the bot starts (Babel's ``read_po`` and ``write_mo`` into
memory), not shipped as ``.mo``: the ``.po`` is then the one source of truth, a compiled file
can never be stale or missing after ``pip install -e .``, and compiling takes milliseconds.

Nothing here holds a current language: a :class:`Translator` is resolved for each update (in
the group -1 handler, ``bot.handlers.common.record_chat``) and passed to what renders text.
"""

from __future__ import annotations

import gettext
import io
import re
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from babel.core import Locale
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po

__all__ = [
    "DEFAULT_LANGUAGE",
    "DOMAIN",
    "ENGLISH",
    "LOCALE_DIR",
    "N_",
    "Languages",
    "Text",
    "Translator",
    "language_of",
]

DOMAIN = "newsbot"
DEFAULT_LANGUAGE = "en"
LOCALE_DIR = Path(__file__).resolve().parent / "locale"
# Telegram's language_code is an IETF tag ("ru", "ru-RU", "pt-br"); its first subtag is the
# ISO 639 language the catalogues are named by.
_LANGUAGE = re.compile(r"[a-z]{2,3}")


def N_(message: str) -> str:  # the name is the gettext convention pybabel looks for
    """Mark ``message`` for extraction where it is defined; it is translated where it is used."""
    return message


def language_of(code: str | None) -> str | None:
    """The ISO 639 language of a Telegram ``language_code`` (``ru-RU`` -> ``ru``), or None."""
    if not code:
        return None
    first = re.split(r"[-_]", code.strip().lower(), maxsplit=1)[0]
    return first if _LANGUAGE.fullmatch(first) else None


def language_name(code: str) -> str:
    """A language's own name from Babel's CLDR data, capitalised: ``English``, ``Русский``."""
    locale = Locale.parse(code)
    name = locale.get_display_name(locale) or code
    return name[:1].upper() + name[1:]


@dataclass(frozen=True)
class Translator:
    """One language: its messages and its Babel locale (for dates and language names)."""

    code: str
    locale: Locale
    translations: gettext.NullTranslations = field(repr=False)

    def gettext(self, message: str) -> str:
        return self.translations.gettext(message)

    def ngettext(self, singular: str, plural: str, n: int) -> str:
        return self.translations.ngettext(singular, plural, n)

    @property
    def name(self) -> str:
        """The language's own name, capitalised: ``English``, ``Русский``."""
        return language_name(self.code)


# The source language needs no catalogue: its msgids are its messages.
ENGLISH = Translator(DEFAULT_LANGUAGE, Locale.parse(DEFAULT_LANGUAGE), gettext.NullTranslations())


@dataclass(frozen=True)
class Text:
    """A message chosen before its reader is known (an error raised by a parser).

    ``msgid`` is marked with ``N_``; ``params`` fill its ``%(name)s`` placeholders and may be
    ``Text`` themselves (a usage line inside an error).
    """

    msgid: str
    params: Mapping[str, object] = field(default_factory=dict)

    def render(self, tr: Translator) -> str:
        message = tr.gettext(self.msgid)
        if not self.params:
            return message
        values = {k: v.render(tr) if isinstance(v, Text) else v for k, v in self.params.items()}
        return message % values

    def __str__(self) -> str:
        return self.render(ENGLISH)


def compile_po(path: Path) -> gettext.GNUTranslations:
    """A ``.po`` file compiled in memory; fuzzy entries are left out, as ``msgfmt`` does."""
    with path.open("rb") as po:
        catalog = read_po(po, domain=DOMAIN)
    mo = io.BytesIO()
    write_mo(mo, catalog)
    mo.seek(0)
    return gettext.GNUTranslations(mo)


class Languages:
    """Every language the bot speaks, English first; the one to use for a language code."""

    def __init__(self, translators: Iterable[Translator]) -> None:
        self._by_code = {DEFAULT_LANGUAGE: ENGLISH}
        self._by_code.update({t.code: t for t in translators})

    @classmethod
    def load(cls, directory: Path = LOCALE_DIR) -> Languages:
        """Read every ``<code>/LC_MESSAGES/newsbot.po`` under ``directory``."""
        found = []
        for po in sorted(directory.glob(f"*/LC_MESSAGES/{DOMAIN}.po")):
            code = po.parent.parent.name
            found.append(Translator(code, Locale.parse(code), compile_po(po)))
        return cls(found)

    @property
    def codes(self) -> tuple[str, ...]:
        return tuple(self._by_code)

    def __iter__(self) -> Iterator[Translator]:
        return iter(self._by_code.values())

    @property
    def default(self) -> Translator:
        return ENGLISH

    def supported(self, code: str | None) -> str | None:
        """The catalogue's code for a Telegram ``language_code``; None when there is none."""
        language = language_of(code)
        return language if language in self._by_code else None

    def get(self, code: str | None) -> Translator:
        """The language for ``code``: ``ru`` and ``ru-RU`` give Russian, anything else English."""
        return self._by_code[self.supported(code) or DEFAULT_LANGUAGE]
