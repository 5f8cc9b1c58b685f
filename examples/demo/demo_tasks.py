"""Functions the demo workflow calls through PyTask (importable from examples/demo)."""

from __future__ import annotations

from afw import FWAction


def make_numbers(count: int) -> list[int]:
    """The first ``count`` natural numbers."""
    return list(range(1, count + 1))


def square_all(numbers: list[int]) -> list[int]:
    return [n * n for n in numbers]


def summarize(squares: list[int], words: dict[str, int]) -> FWAction:
    """Store a summary and add a report Firework to the workflow (a dynamic action)."""
    total = sum(squares)
    report = {
        "fw_id": -1,
        "name": "report",
        "spec": {
            "_tasks": [
                {
                    "_fw_name": "ScriptTask",
                    "script": f"echo 'sum of squares = {total}; words = {words['count']}'",
                    "store_stdout": True,
                }
            ]
        },
    }
    return FWAction(stored_data={"total": total}, update_spec={"total": total}, additions=[report])
