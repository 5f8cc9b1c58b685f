"""What a benchmark generates, decided up front and deterministically (pure, no I/O).

A plan holds N offline runs. Each run is one root Firework of a workflow, reserved for a queue
job; its launch dir says how far the compute node got (``queued``: not started, ``running``,
``completed``, ``fizzled``). Workflows come in sizes (1, 10 and 1,000 Fireworks by default):
a workflow of size s > 1 has s - 1 independent roots and one child that depends on all of them
(a fan-in, so completions make the child READY once every parent is done). Runs are spread over
the sizes by share, statuses and the runs carrying large ``stored_data`` are drawn with a fixed
seed, and the launch ids are handed out in shuffled order, as interleaved submissions would.
"""

from __future__ import annotations

import math
import random
from collections import Counter
from dataclasses import dataclass, field

__all__ = [
    "DEFAULT_SHAPE",
    "STATUSES",
    "Mix",
    "Plan",
    "RunPlan",
    "WorkflowPlan",
    "make_plan",
    "parse_shape",
]

STATUSES = ("completed", "fizzled", "running", "queued")
"""How far a run got: finished well, finished with an error, started, not started."""

DEFAULT_SHAPE: tuple[tuple[int, float], ...] = ((1, 0.2), (10, 0.3), (1000, 0.5))
"""(workflow size, share of the runs): a fifth in one-Firework workflows, ... half in large ones."""


@dataclass(frozen=True)
class Mix:
    """Shares of the run statuses; they need not add up to 1 (they are normalized)."""

    completed: float = 0.7
    fizzled: float = 0.1
    running: float = 0.1
    queued: float = 0.1

    @classmethod
    def parse(cls, text: str) -> Mix:
        """``"completed=0.7,fizzled=0.1,..."``; statuses not named get 0 (``"completed=1"``)."""
        shares = dict.fromkeys(STATUSES, 0.0)
        for part in filter(None, (p.strip() for p in text.split(","))):
            name, sep, value = part.partition("=")
            if not sep or name not in shares:
                raise ValueError(f"bad mix entry {part!r}: use STATUS=SHARE with {STATUSES}")
            shares[name] = float(value)
        if sum(shares.values()) <= 0:
            raise ValueError(f"mix {text!r} has no positive share")
        return cls(**shares)

    def shares(self) -> dict[str, float]:
        total = sum(self.__dict__.values())
        return {name: getattr(self, name) / total for name in STATUSES}

    def label(self) -> str:
        return ",".join(f"{k}={v:g}" for k, v in self.__dict__.items() if v)


def parse_shape(text: str) -> tuple[tuple[int, float], ...]:
    """``"1:0.2,10:0.3,1000:0.5"`` → ((1, 0.2), (10, 0.3), (1000, 0.5))."""
    shape = []
    for part in filter(None, (p.strip() for p in text.split(","))):
        size, sep, share = part.partition(":")
        if not sep or int(size) < 1 or float(share) < 0:
            raise ValueError(f"bad shape entry {part!r}: use SIZE:SHARE, e.g. 10:0.3")
        shape.append((int(size), float(share)))
    if not shape or sum(s for _, s in shape) <= 0:
        raise ValueError(f"shape {text!r} has no positive share")
    return tuple(shape)


@dataclass(frozen=True)
class WorkflowPlan:
    """One workflow: ``size`` Fireworks, of which ``reserved`` roots have offline runs."""

    index: int
    size: int
    reserved: int

    @property
    def roots(self) -> int:
        return max(self.size - 1, 1)


@dataclass(frozen=True)
class RunPlan:
    """One offline run: root number ``root`` of workflow ``wf``; ``index`` names its dir."""

    index: int
    wf: int
    root: int
    status: str
    large: bool


@dataclass(frozen=True)
class Plan:
    """Everything to generate for one benchmark state."""

    n: int
    mix: Mix
    shape: tuple[tuple[int, float], ...]
    workflows: tuple[WorkflowPlan, ...]
    runs: tuple[RunPlan, ...] = field(repr=False)

    @property
    def n_fireworks(self) -> int:
        return sum(wf.size for wf in self.workflows)

    def counts(self) -> dict[str, int]:
        """Runs per status."""
        found = Counter(run.status for run in self.runs)
        return {status: found.get(status, 0) for status in STATUSES}

    def describe(self) -> str:
        sizes = Counter(wf.size for wf in self.workflows)
        shapes = ", ".join(f"{count} x {size}-FW" for size, count in sorted(sizes.items()))
        return f"{self.n} runs ({self.counts()}) in {shapes} workflows"


def _apportion(n: int, weights: list[float]) -> list[int]:
    """Split ``n`` by ``weights`` with the largest-remainder method (exact total)."""
    total = sum(weights)
    raw = [n * w / total for w in weights]
    out = [math.floor(x) for x in raw]
    order = sorted(range(len(raw)), key=lambda i: raw[i] - out[i], reverse=True)
    for i in order[: n - sum(out)]:
        out[i] += 1
    return out


def make_plan(
    n: int,
    mix: Mix | None = None,
    shape: tuple[tuple[int, float], ...] = DEFAULT_SHAPE,
    *,
    large_share: float = 0.02,
    seed: int = 20261122,
) -> Plan:
    """A deterministic plan of ``n`` runs (same arguments, same plan)."""
    if n < 1:
        raise ValueError("a plan needs at least one run")
    mix = mix or Mix()
    rng = random.Random(seed)
    workflows: list[WorkflowPlan] = []
    slots: list[tuple[int, int]] = []
    for (size, _), share in zip(shape, _apportion(n, [s for _, s in shape]), strict=True):
        roots, left = max(size - 1, 1), share
        while left > 0:
            take = min(left, roots)
            wf = WorkflowPlan(len(workflows), size, take)
            workflows.append(wf)
            slots += [(wf.index, root) for root in range(take)]
            left -= take
    shares = mix.shares()
    statuses = [
        status
        for status, count in zip(
            STATUSES, _apportion(n, [shares[s] for s in STATUSES]), strict=True
        )
        for _ in range(count)
    ]
    rng.shuffle(statuses)
    rng.shuffle(slots)
    completed = [i for i, status in enumerate(statuses) if status == "completed"]
    large = set(rng.sample(completed, round(len(completed) * large_share)))
    runs_out = tuple(
        RunPlan(i, wf, root, statuses[i], i in large) for i, (wf, root) in enumerate(slots)
    )
    return Plan(n, mix, tuple(shape), tuple(workflows), runs_out)
