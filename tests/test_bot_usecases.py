"""The use cases handlers, the CLI and the demo share run without Telegram."""

from __future__ import annotations

import subprocess
import sys


def test_use_cases_import_no_telegram() -> None:
    probe = "import sys, bot.usecases; print(sorted(m for m in sys.modules if 'telegram' in m))"
    found = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True
    ).stdout
    assert found.strip() == "[]"
