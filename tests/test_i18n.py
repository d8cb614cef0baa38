"""The catalogues: every message of the bot is translated in every language, placeholders
survive translation, and the language of a Telegram language_code is picked as documented."""

from __future__ import annotations

import ast
import fnmatch
import re
import tomllib
from pathlib import Path

import pytest
from babel.messages.catalog import Catalog
from babel.messages.extract import extract_from_dir
from babel.messages.frontend import parse_mapping_cfg
from babel.messages.pofile import read_po

from bot.i18n import DOMAIN, LOCALE_DIR, Languages, Text, language_of

ROOT = Path(__file__).resolve().parent.parent
PLACEHOLDER = re.compile(r"%(?:\([a-z_]+\))?[-#0 +]*\d*(?:\.\d+)?[sdifr%]")
PO_FILES = sorted(LOCALE_DIR.glob(f"*/LC_MESSAGES/{DOMAIN}.po"))


def extracted() -> set[str | tuple[str, str]]:
    """Every message in the source, found as ``pybabel extract -F babel.cfg`` finds them."""
    with (ROOT / "babel.cfg").open() as cfg:
        method_map, options_map = parse_mapping_cfg(cfg)
    found: set[str | tuple[str, str]] = set()
    for _file, _line, message, _comments, _context in extract_from_dir(
        ROOT, method_map, options_map
    ):
        found.add(message if isinstance(message, str) else (message[0], message[1]))
    return found


def catalog(path: Path) -> Catalog:
    with path.open("rb") as po:
        return read_po(po)


def msgid_key(message_id: object) -> str | tuple[str, str]:
    if isinstance(message_id, str):
        return message_id
    assert isinstance(message_id, tuple | list)
    return (message_id[0], message_id[1])


def test_there_is_a_catalogue_per_language() -> None:
    assert [p.parent.parent.name for p in PO_FILES] == ["ru"]


def test_the_template_holds_exactly_the_messages_of_the_source() -> None:
    in_template = {msgid_key(m.id) for m in catalog(LOCALE_DIR / f"{DOMAIN}.pot") if m.id}
    source = extracted()
    assert len(source) > 100  # the extraction found the bot's messages, not nothing
    assert sorted(map(str, source - in_template)) == [], (
        "run pybabel extract (docs/translations.md)"
    )
    assert sorted(map(str, in_template - source)) == []


@pytest.mark.parametrize("po", PO_FILES, ids=lambda p: p.parent.parent.name)
def test_every_message_has_a_translation(po: Path) -> None:
    translated = catalog(po)
    untranslated = []
    for message_id in extracted():
        entry = translated.get(message_id if isinstance(message_id, str) else message_id[0])
        strings = () if entry is None else entry.string
        forms = [strings] if isinstance(strings, str) else list(strings)
        if entry is None or entry.fuzzy or not forms or not all(s.strip() for s in forms):
            untranslated.append(message_id)
    assert untranslated == [], f"{po}: untranslated or fuzzy (run pybabel update, then translate)"
    assert [m.id for m in translated if m.id and m.fuzzy] == []
    if isinstance(translated.num_plurals, int) and translated.num_plurals > 1:
        for entry in translated:
            if entry.id and entry.pluralizable:
                assert len(entry.string) == translated.num_plurals, entry.id


@pytest.mark.parametrize("po", PO_FILES, ids=lambda p: p.parent.parent.name)
def test_placeholders_survive_translation(po: Path) -> None:
    translated = catalog(po)
    wrong = []
    for entry in translated:
        if not entry.id:
            continue
        ids = [entry.id] if isinstance(entry.id, str) else list(entry.id)
        wanted = sorted(PLACEHOLDER.findall(ids[-1]))
        strings = [entry.string] if isinstance(entry.string, str) else list(entry.string)
        wrong += [(entry.id, s) for s in strings if sorted(PLACEHOLDER.findall(s)) != wanted]
        # Babel's own checks (python-format and plural forms) agree.
        assert list(entry.check(translated)) == [], entry.id
    assert wrong == []


def test_the_placeholder_check_can_fail() -> None:
    assert sorted(PLACEHOLDER.findall("%(n)d из %(name)s")) == ["%(n)d", "%(name)s"]
    assert PLACEHOLDER.findall("Подписка: %(topic)s") != PLACEHOLDER.findall("%(topics)s")


def test_an_installed_package_carries_the_catalogues() -> None:
    # Compiled at load (bot/i18n.py), so the .po files themselves must be package data.
    with (ROOT / "pyproject.toml").open("rb") as f:
        patterns = tomllib.load(f)["tool"]["setuptools"]["package-data"]["bot"]
    for po in PO_FILES:
        relative = po.relative_to(ROOT / "bot").as_posix()
        assert any(fnmatch.fnmatch(relative, p) for p in patterns), relative


@pytest.mark.parametrize(
    ("code", "language"),
    [
        ("ru", "ru"),
        ("ru-RU", "ru"),
        ("RU", "ru"),
        ("ru_UA", "ru"),
        ("en", "en"),
        ("en-GB", "en"),
        ("de", "en"),
        ("zh-hans", "en"),
        ("", "en"),
        (None, "en"),
        ("r", "en"),
        ("русский", "en"),
    ],
)
def test_a_language_code_picks_russian_or_english(code: str | None, language: str) -> None:
    assert Languages.load().get(code).code == language


def test_language_of_reads_the_first_subtag() -> None:
    assert language_of("pt-br") == "pt"
    assert language_of(" ru ") == "ru"
    assert language_of("12") is None


def test_catalogues_load_from_the_po_files_with_plurals() -> None:
    ru = Languages.load().get("ru")
    assert ru.gettext("Latest news") == "Последние новости"
    forms = [ru.ngettext("%(n)d source", "%(n)d sources", n) % {"n": n} for n in (1, 3, 5, 21)]
    assert forms == ["1 источник", "3 источника", "5 источников", "21 источник"]
    assert ru.name == "Русский"


def test_a_deferred_text_renders_in_each_language() -> None:
    languages = Languages.load()
    usage = Text("Usage: /latest [topic] [n]")
    text = Text("n must be between 1 and %(max)d. %(usage)s", {"max": 20, "usage": usage})
    assert str(text) == "n must be between 1 and 20. Usage: /latest [topic] [n]"
    assert text.render(languages.get("ru")) == (
        "n должно быть от 1 до 20. Как вызывать: /latest [тема] [n]"
    )


GETTEXT_CALLS = {"gettext": 1, "ngettext": 2, "N_": 1}


def literal_calls() -> set[str | tuple[str, str]]:
    """Every gettext, ngettext or N_ call with literal text in bot/, found by ast: also those
    that pybabel's tokenizer does not see (a call inside an f-string's braces)."""
    found: set[str | tuple[str, str]] = set()
    for path in (ROOT / "bot").rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if not isinstance(node, ast.Call):
                continue
            func = node.func
            name = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", None)
            wanted = GETTEXT_CALLS.get(str(name), 0)
            texts = [a.value for a in node.args[:wanted] if isinstance(a, ast.Constant)]
            if wanted and len(texts) == wanted and all(isinstance(t, str) for t in texts):
                found.add(texts[0] if wanted == 1 else (texts[0], texts[1]))
    return found


def test_every_literal_message_in_the_source_is_extracted() -> None:
    calls = literal_calls()
    assert len(calls) > 100
    assert sorted(map(str, calls - extracted())) == [], "move the call out of the f-string"


# What puts text in front of a reader: Telegram calls, our spans and markup. A literal with
# words given straight to one of them was never translated.
SENDERS = frozenset(
    {
        "reply_text",
        "answer",
        "send_message",
        "send_photo",
        "send_document",
        "edit_message_text",
        "edit_text",
        "InlineKeyboardButton",
        "plain",
        "bold",
        "italic",
        "markup",
    }
)
WORDS = re.compile(r"[A-Za-z]{3,}")


def _literal_words(node: ast.expr) -> list[str]:
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return WORDS.findall(node.value)
    if isinstance(node, ast.JoinedStr):
        return [w for v in node.values for w in _literal_words(v)]
    if isinstance(node, ast.BinOp):
        return _literal_words(node.left) + _literal_words(node.right)
    return []


def untranslated_sends(source: str) -> list[tuple[int, str]]:
    """(line, call) for each literal text with words handed to something that shows it."""
    found = []
    for node in ast.walk(ast.parse(source)):
        if not isinstance(node, ast.Call):
            continue
        func = node.func
        name = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")
        if name not in SENDERS:
            continue
        texts = [*node.args[:2], *(k.value for k in node.keywords if k.arg in ("text", "caption"))]
        if any(_literal_words(t) for t in texts):
            found.append((node.lineno, name))
    return sorted(found)


def test_no_reader_text_is_sent_without_gettext() -> None:
    # The demo's terminal text is the operator's, not the bot's.
    leaks = {
        f"{path.relative_to(ROOT)}:{line} {name}"
        for path in (ROOT / "bot").rglob("*.py")
        if "demo" not in path.parts
        for line, name in untranslated_sends(path.read_text(encoding="utf-8"))
    }
    assert sorted(leaks) == []


def test_the_leak_check_can_fail() -> None:
    source = (
        'await reply_text(update, "Hello there")\n'
        'await query.answer(f"Stopped following {name}")\n'
        'InlineKeyboardButton("Related", callback_data="x")\n'
        'await reply_text(update, markup(tr.gettext("Hello")))\n'
        'plain("\\n\\n")\n'
    )
    assert untranslated_sends(source) == [
        (1, "reply_text"),
        (2, "answer"),
        (3, "InlineKeyboardButton"),
    ]
