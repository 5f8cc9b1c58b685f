"""Profiles of the measured afw side: py-spy when installed (it samples every thread, which is
where afw's SQLite and file work runs), else pyinstrument or cProfile inside the process.

``python -m benchmarks run recover --profile`` writes ``results/profiles/<name>.pyspy`` (raw
collapsed stacks, for flamegraph tools) and ``<name>.txt``: a summary by function, inclusive and
self time, as shares of all samples of all threads.
"""

from __future__ import annotations

import re
import shutil
import sys
from collections import Counter
from pathlib import Path

__all__ = ["py_spy", "summarize", "wrap"]

_IDLE = ("Condition.wait", "EpollSelector.select", "Event.wait", "Thread.join")
"""Leaf frames of a thread that waits for work (worker threads on their queue, the event loop)."""
_PATH_PREFIX = re.compile(r" \((?:.*/(?:site-packages|python3\.\d+|main)/)?")
_LINE = re.compile(r":\d+\)$")


def py_spy() -> str | None:
    """The py-spy executable (beside this interpreter, or on PATH)."""
    beside = Path(sys.executable).with_name("py-spy")
    return str(beside) if beside.exists() else shutil.which("py-spy")


def wrap(argv: list[str], raw: Path) -> list[str]:
    """``argv`` run under ``py-spy record`` writing collapsed stacks to ``raw``."""
    exe = py_spy()
    if exe is None:
        return argv
    return [exe, "record", "--threads", "-r", "250", "-f", "raw", "-o", str(raw), "--", *argv]


def _frame(text: str) -> str:
    return _LINE.sub(")", _PATH_PREFIX.sub(" (", text, count=1))


def summarize(raw: Path, top: int = 45) -> str:
    """Inclusive and self shares per function of the busy samples in py-spy's raw output."""
    inclusive: Counter[str] = Counter()
    own: Counter[str] = Counter()
    threads: Counter[str] = Counter()
    total = idle = 0
    for line in raw.read_text().splitlines():
        stack, _, count = line.rpartition(" ")
        if not stack or not count.isdigit():
            continue
        n = int(count)
        frames = stack.split(";")
        if frames[-1].startswith(_IDLE) or any(f.startswith("_find_and_load") for f in frames):
            idle += n  # waiting for work, or importing modules at start-up
            continue
        total += n
        threads[re.sub(r"\(\d+\)", "", frames[0])] += n
        for frame in {_frame(f) for f in frames[1:]}:
            inclusive[frame] += n
        own[_frame(frames[-1])] += n
    if not total:
        return "no samples\n"
    out = [f"{total} busy samples, all threads ({idle} idle or import ones left out)", ""]
    out += [f"{n / total:6.1%}  {name}" for name, n in threads.most_common()]
    out += ["", "inclusive:"] + [f"{n / total:6.1%}  {k}" for k, n in inclusive.most_common(top)]
    out += ["", "self:"] + [f"{n / total:6.1%}  {k}" for k, n in own.most_common(25)]
    return "\n".join(out) + "\n"
