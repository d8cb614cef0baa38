"""newsbot as a process of its own, the way a user runs it: ``python -m bot.cli ARGS``.

Used by the tests and by bench/ (which puts the checkout on ``sys.path`` to import it)::

    async with await start_newsbot("--config", config, "run") as bot:
        await tg.wait_for_messages(1)            # wait on a real signal: the double's record
        await bot.wait_for_output("stopped")     # ... or a line the process wrote
        done = await bot.stop()                  # SIGTERM, then its exit code and output
    code, out, err = await newsbot("--config", config, "backup", target)  # one that ends
    done = run_newsbot("--config", config, "import", feed)   # the same from synchronous code

Leaving the ``async with`` block kills a process that is still running, so no test leaves one
behind. The child never sees the developer's ``NEWSBOT_TOKEN``/``NEWSBOT_CONFIG``.
"""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType

ROOT = Path(__file__).resolve().parents[2]
NEWSBOT = ("-m", "bot.cli")


def newsbot_env(**changes: str) -> dict[str, str]:
    """This environment without the NEWSBOT_* overrides, with the checkout importable."""
    env = {k: v for k, v in os.environ.items() if k not in ("NEWSBOT_TOKEN", "NEWSBOT_CONFIG")}
    env["PYTHONPATH"] = str(ROOT)
    env.update(changes)
    return env


@dataclass(frozen=True)
class Finished:
    """How a process ended: its exit code and what it wrote."""

    code: int
    out: str
    err: str

    @property
    def text(self) -> str:
        return self.out + self.err


class PythonProcess:
    """A running child process; its stdout and stderr are read as they come (unless they go to
    a log file), so a test can wait for a line and a chatty child never blocks on a full pipe."""

    def __init__(self, process: asyncio.subprocess.Process) -> None:
        self.process = process
        self._out: list[str] = []
        self._err: list[str] = []
        self._wrote = asyncio.Condition()
        streams = ((process.stdout, self._out), (process.stderr, self._err))
        self._readers = [
            asyncio.create_task(self._read(stream, into)) for stream, into in streams if stream
        ]
        self._open_streams = len(self._readers)

    @property
    def pid(self) -> int:
        return self.process.pid

    @property
    def returncode(self) -> int | None:
        return self.process.returncode

    @property
    def output(self) -> str:
        """Everything written so far (stdout, then stderr)."""
        return "".join(self._out) + "".join(self._err)

    async def _read(self, stream: asyncio.StreamReader, into: list[str]) -> None:
        while line := await stream.readline():
            into.append(line.decode(errors="replace"))
            async with self._wrote:
                self._wrote.notify_all()
        async with self._wrote:
            self._open_streams -= 1
            self._wrote.notify_all()

    async def wait_for_output(self, text: str, seconds: float = 60) -> None:
        """Wait until ``text`` appears in the output; fail if the process ends without it."""

        def seen_or_ended() -> bool:
            return text in self.output or self._open_streams == 0

        async with self._wrote:
            await asyncio.wait_for(self._wrote.wait_for(seen_or_ended), seconds)
        assert text in self.output, f"{text!r} never appeared; the output was:\n{self.output}"

    async def first_line(self, seconds: float = 60) -> str:
        """The first line the process writes to stdout (waiting for it)."""
        async with self._wrote:
            await asyncio.wait_for(
                self._wrote.wait_for(lambda: bool(self._out) or self._open_streams == 0), seconds
            )
        assert self._out, f"the process wrote no line; its output was:\n{self.output}"
        return self._out[0]

    def send_signal(self, sig: int) -> None:
        self.process.send_signal(sig)

    async def finish(self, seconds: float = 60) -> Finished:
        """Wait for the process to end by itself; its exit code and output."""
        code = await asyncio.wait_for(self.process.wait(), seconds)
        await asyncio.gather(*self._readers)
        return Finished(code, "".join(self._out), "".join(self._err))

    async def stop(self, sig: int = signal.SIGTERM, seconds: float = 30) -> Finished:
        """Send ``sig`` (SIGTERM: as systemd or docker stop would) and wait for the end."""
        if self.returncode is None:
            self.send_signal(sig)
        return await self.finish(seconds)

    async def kill(self) -> None:
        if self.returncode is None:
            self.process.kill()
        await self.process.wait()
        await asyncio.gather(*self._readers)

    async def __aenter__(self) -> PythonProcess:
        return self

    async def __aexit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.kill()


async def start_python(
    *args: str | Path,
    log: Path | None = None,
    merge_stderr: bool = False,
    env: dict[str, str] | None = None,
    cwd: Path | None = None,
) -> PythonProcess:
    """Start ``python ARGS``; output to ``log`` (appended) or captured (``merge_stderr``: both
    streams into ``out``, in the order written)."""
    if log is not None:
        with log.open("ab") as sink:  # the child has its own copy of the descriptor
            process = await asyncio.create_subprocess_exec(
                sys.executable,
                *map(str, args),
                stdout=sink,
                stderr=asyncio.subprocess.STDOUT,
                env=env or newsbot_env(),
                cwd=cwd,
            )
        return PythonProcess(process)
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        *map(str, args),
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT if merge_stderr else asyncio.subprocess.PIPE,
        env=env or newsbot_env(),
        cwd=cwd,
    )
    return PythonProcess(process)


async def start_newsbot(
    *args: str | Path,
    log: Path | None = None,
    merge_stderr: bool = False,
    env: dict[str, str] | None = None,
    cwd: Path | None = None,
) -> PythonProcess:
    """Start ``newsbot ARGS`` (as ``python -m bot.cli``)."""
    return await start_python(*NEWSBOT, *args, log=log, merge_stderr=merge_stderr, env=env, cwd=cwd)


async def newsbot(*args: str | Path, seconds: float = 60) -> tuple[int, str, str]:
    """Run ``newsbot ARGS`` to its end: exit code, stdout, stderr."""
    done = await (await start_newsbot(*args)).finish(seconds)
    return done.code, done.out, done.err


def run_newsbot(
    *args: str | Path,
    timeout: float = 120,
    cwd: Path | None = None,
    env: dict[str, str] | None = None,
) -> subprocess.CompletedProcess[str]:
    """Run ``newsbot ARGS`` to its end from synchronous code; output captured as text."""
    return subprocess.run(
        [sys.executable, *NEWSBOT, *map(str, args)],
        capture_output=True,
        text=True,
        encoding="utf-8",
        timeout=timeout,
        check=False,
        cwd=cwd,
        env=env or newsbot_env(),
    )
