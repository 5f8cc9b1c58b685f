"""Rendering ``get_fws`` / ``get_wflows`` results: rich tables on a terminal, JSON otherwise."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from rich.console import Console
from rich.table import Table

from afw.firework import Firework

__all__ = ["fw_view", "table_of"]


def fw_view(fw: Firework, mode: str) -> dict[str, Any]:
    """One Firework as ``get_fws -d less|more|all`` shows it."""
    if mode == "all":
        return fw.to_dict()
    view: dict[str, Any] = {
        "fw_id": fw.fw_id,
        "name": fw.name,
        "state": fw.state,
        "created_on": fw.created_on,
    }
    if mode == "more":
        view["updated_on"] = fw.updated_on
        view["spec"] = {k: v for k, v in fw.spec.items() if k != "_tasks"}
        view["tasks"] = [t.get("_fw_name") for t in fw.tasks]
        view["launches"] = [
            {
                "launch_id": la.launch_id,
                "state": la.state,
                "launch_dir": la.launch_dir,
                "host": la.host,
                "time_start": la.time_start,
                "time_end": la.time_end,
            }
            for la in fw.launches
        ]
    return view


def table_of(rows: Sequence[Mapping[str, Any]], columns: Sequence[str]) -> Table:
    table = Table(*columns)
    for row in rows:
        table.add_row(*[_cell(row.get(c)) for c in columns])
    return table


def _cell(value: Any) -> str:
    if isinstance(value, dict):
        return ", ".join(f"{k}: {v}" for k, v in value.items())
    if isinstance(value, list):
        return ", ".join(str(v) for v in value)
    return "" if value is None else str(value)


def print_table(rows: Sequence[Mapping[str, Any]], columns: Sequence[str]) -> None:
    Console().print(table_of(rows, columns))
