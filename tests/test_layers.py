"""Packages import one way: every import of every module is read (ast) and checked against LAYERS.

Imports under ``if TYPE_CHECKING:`` and inside functions count too: they still tie one layer to
another, and they are how import circles hide.
"""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent

# Which of our packages each package may import (itself always). The longest dotted key that
# prefixes a module's name applies. A new package is one line here; the README's Development
# section draws the same picture.
LAYERS: dict[str, frozenset[str]] = {
    "core": frozenset(),  # settings and time; standard library only
    "semantic": frozenset(),
    "storage": frozenset({"core", "semantic"}),
    "ingest": frozenset({"core", "semantic", "storage"}),
    "bot": frozenset({"core", "semantic", "storage", "ingest"}),
    # The demo runs the real bot against the Bot API double, in one process.
    "bot.demo": frozenset({"core", "semantic", "storage", "ingest", "botapi_double"}),
    "botapi_double": frozenset(),  # a stand-in for Telegram; knows nothing of newsbot
}
# Packages that may not import anything outside the standard library either.
STDLIB_ONLY = frozenset({"core"})
OURS = frozenset(key.partition(".")[0] for key in LAYERS)


def module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def imports_of(module: str, source: str, *, is_package: bool = False) -> list[tuple[int, str]]:
    """Every module named by an import statement anywhere in the source, with its line."""
    found = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:  # relative: resolve against the importing module's package
                package = module.split(".") if is_package else module.split(".")[:-1]
                base = package[: len(package) - node.level + 1]
                target = ".".join([*base, node.module] if node.module else base)
            else:
                target = node.module or ""
            found.append((node.lineno, target))
    return found


def rule_for(module: str) -> tuple[str, frozenset[str]]:
    keys = [k for k in LAYERS if module == k or module.startswith(k + ".")]
    key = max(keys, key=len)
    return key, LAYERS[key]


def violations(module: str, source: str, *, is_package: bool = False) -> list[str]:
    key, allowed = rule_for(module)
    own = module.partition(".")[0]
    found = []
    for line, target in imports_of(module, source, is_package=is_package):
        top = target.partition(".")[0]
        if top in OURS and top != own and top not in allowed:
            found.append(f"{module}:{line} imports {target} ({key} may import: {_names(allowed)})")
        elif own in STDLIB_ONLY and top not in OURS and top not in sys.stdlib_module_names:
            found.append(f"{module}:{line} imports {target} ({own} uses the standard library only)")
    return found


def _names(allowed: frozenset[str]) -> str:
    return ", ".join(sorted(allowed)) or "nothing of ours"


def our_modules() -> list[Path]:
    return sorted(p for top in OURS if (ROOT / top).is_dir() for p in (ROOT / top).rglob("*.py"))


def test_every_package_has_a_layer() -> None:
    packages = {p.parent.name for p in ROOT.glob("*/__init__.py")} - {"tests", "bench"}
    assert packages <= OURS, f"add {sorted(packages - OURS)} to LAYERS in {__file__}"


def test_no_module_imports_against_the_layers() -> None:
    found = []
    for path in our_modules():
        source = path.read_text(encoding="utf-8")
        found += violations(module_name(path), source, is_package=path.name == "__init__.py")
    assert found == []


@pytest.mark.parametrize(
    ("module", "source"),
    [
        ("ingest.topics", "from bot.config import TopicConfig\n"),
        ("ingest.topics", "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    import bot\n"),
        ("storage.articles", "def f():\n    from ingest.pipeline import Importer\n"),
        ("storage.articles", "from ..bot import context\n"),
        ("core.settings", "from storage import Store\n"),
        ("core.settings", "import httpx\n"),
        ("semantic", "from core import settings\n"),
        ("bot.handlers.start", "import botapi_double\n"),
        ("botapi_double.server", "from bot.context import Services\n"),
    ],
)
def test_a_wrong_import_is_caught_wherever_it_hides(module: str, source: str) -> None:
    assert violations(module, source) != []


@pytest.mark.parametrize(
    ("module", "source"),
    [
        ("ingest.topics", "from core.settings import TopicConfig\nfrom storage import models\n"),
        ("bot.cli", "from .config import load_config\nimport httpx\n"),
        ("bot.demo.session", "from botapi_double import BotApiDouble\nfrom bot.app import x\n"),
        ("core.clock", "from datetime import UTC, datetime\nfrom . import settings\n"),
    ],
)
def test_an_allowed_import_passes(module: str, source: str) -> None:
    assert violations(module, source) == []


def test_the_topic_tagger_and_the_importer_load_without_telegram_or_metrics() -> None:
    # What the layers buy: ingest (and the settings it reads) is usable without the bot's
    # third-party stack. A fresh interpreter, so nothing imported by other tests counts.
    code = (
        "import sys, ingest.topics, ingest.pipeline, ingest.fetch, core.settings\n"
        "heavy = {'bot', 'telegram', 'prometheus_client', 'aiohttp', 'tornado'}\n"
        "print(sorted(heavy & {m.partition('.')[0] for m in sys.modules}))\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True
    )
    assert out.stdout.strip() == "[]"
