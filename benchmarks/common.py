"""What the benchmarks share: the checkout's paths, pausing a process that would compete for the CPU while
something is timed, timing a command, and writing a result file."""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import shlex
import signal
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results"
DEFACE = ROOT / "benchmarks" / ".venv-deface" / "bin" / "deface"  # deface in a venv of its own (see the README)
ANONYMIZE = Path(sys.executable).parent / "anonymize"  # the CLI of the interpreter running the benchmark


def add_pause_argument(parser: argparse.ArgumentParser) -> None:
    """``--pause PID``: a process to stop while the benchmark times anything."""
    parser.add_argument(
        "--pause",
        type=int,
        default=None,
        metavar="PID",
        help="stop this process (SIGSTOP) while timing and let it go on after (SIGCONT), so that it does not "
        "compete for the CPU: for example a long training run in the background",
    )


@contextlib.contextmanager
def paused(pid: int | None):
    """Stop process ``pid`` (SIGSTOP) for the block, and let it go on after (SIGCONT), whatever happens."""
    if pid is None:
        yield
        return
    os.kill(pid, signal.SIGSTOP)
    try:
        yield
    finally:
        os.kill(pid, signal.SIGCONT)


def timed(cmd: list[str], cwd: Path | None = None) -> float:
    """Run ``cmd`` and return its wall time in seconds; exit with its error output if it fails."""
    start = time.perf_counter()
    done = subprocess.run(cmd, cwd=cwd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    seconds = time.perf_counter() - start
    if done.returncode != 0:
        raise SystemExit(f"{' '.join(cmd)} failed ({done.returncode}):\n{done.stderr[-2000:]}")
    return seconds


def command_line() -> str:
    """The command that is running, as it would be typed from the checkout's root."""
    module = Path(sys.argv[0]).stem if sys.argv and sys.argv[0] else "?"
    return shlex.join(["python", "-m", f"benchmarks.{module}", *sys.argv[1:]])


def write_json(path: Path, result, indent: int = 2) -> Path:
    """Write ``result`` as JSON (UTF-8, a newline at the end), making the folder if needed."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(result, indent=indent) + "\n", encoding="utf-8")
    return path


def write_results(folder: Path, name: str, result: dict, markdown: str) -> None:
    """Write ``NAME.json`` and ``NAME.md`` (the table a person reads) into ``folder``, and print the table."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    write_json(folder / f"{name}.json", result)
    (folder / f"{name}.md").write_text(markdown, encoding="utf-8")
    print(markdown)
