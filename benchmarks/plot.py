"""``results/recover_scaling.png``: recovery sweep time against N, afw and FireWorks."""

from __future__ import annotations

from collections import defaultdict
from pathlib import Path
from typing import Any

from benchmarks.results import latest_results

__all__ = ["plot_recover"]


def _series(out: Path) -> dict[tuple[str, str, str], list[tuple[int, float]]]:
    """``(side, store, phase) → [(N, wall s)]`` from the latest recover result files."""
    series: dict[tuple[str, str, str], list[tuple[int, float]]] = defaultdict(list)
    latest = latest_results(out)
    for scenario in ("recover", "recover-vs-fireworks"):
        for row in latest.get(scenario, {}).get("rows", []):
            if "[" in row["phase"]:
                continue  # a variant (other mix or shape): not on the scaling plot
            key = (row["side"], row["store"], row["phase"])
            series[key].append((int(row["n"]), float(row["wall_s"])))
    return series


def plot_recover(out: Path) -> Path:
    """Draw the plot from the latest ``recover`` and ``recover-vs-fireworks`` results."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    series = _series(out)
    fig, ax = plt.subplots(figsize=(7.5, 5), dpi=120)
    styles: dict[str, Any] = {"afw": {"marker": "o"}, "fireworks": {"marker": "s"}}
    colors = iter(plt.rcParams["axes.prop_cycle"].by_key()["color"])
    seen: dict[tuple[str, str], str] = {}
    for (side, store, phase), found in sorted(series.items()):
        points = sorted(dict(found).items())
        color = seen.setdefault((side, store), next(colors))
        first = phase.startswith("sweep 1")
        label = f"{'afw' if side == 'afw' else 'FireWorks 2.1.4'}, {store}, {phase}"
        if not first:
            label += ": the 20 % of N still pending"
        ax.plot(
            [p[0] for p in points],
            [p[1] for p in points],
            color=color,
            linestyle="-" if first else "--",
            label=label,
            **styles.get(side, {}),
        )
    ax.plot(
        [10_000, 10_000],
        [3.0, 0.5],
        "x",
        color="0.35",
        markersize=9,
        mew=2,
        label="targets: 10,000 runs in 3 s; 10,000 unchanged runs in 0.5 s",
    )
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("offline runs N (launch dirs swept)")
    ax.set_ylabel("sweep wall time (s)")
    ax.set_title("recover_offline: one sweep over N runs")
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize=7.5, loc="lower right")
    fig.tight_layout()
    path = out / "recover_scaling.png"
    out.mkdir(parents=True, exist_ok=True)
    fig.savefig(path)
    plt.close(fig)
    return path
