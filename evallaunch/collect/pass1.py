"""A collected table's pass@1 per unit and benchmark, as the reports, plots and publishing
show it: the fullest variant of each (a suite group's macro average), each unit's label,
percent strings, and the units x benchmarks grid."""

from __future__ import annotations

from typing import Any

import pandas as pd

from evallaunch.collect.results_table import GROUP_PREFIX, UNIT
from evallaunch.collect.suite_groups import best_rows, headline


def pass1_cells(table: pd.DataFrame) -> pd.DataFrame:
    """pass@1 per unit and benchmark: the fullest variant; groups use their macro average."""
    p1 = table[headline(table)]
    groups = p1["benchmark"].str.startswith(GROUP_PREFIX)
    plain = best_rows(p1[~groups], [*UNIT, "benchmark"])
    return pd.concat([plain, p1[groups & (p1["variant"] == "macro")]], ignore_index=True)


def unit_label(row: Any) -> str:
    """``model@revision:step [backend]``."""
    step = "" if pd.isna(row["step"]) else f":{row['step']}"
    return f"{row['model']}@{row['revision']}{step} [{row['backend']}]"


def unit_labels(frame: pd.DataFrame) -> pd.Series:
    """`unit_label` of every row, vectorized."""
    step = (":" + frame["step"].astype("string")).fillna("")
    return frame["model"] + "@" + frame["revision"] + step + " [" + frame["backend"] + "]"


def percent(value: Any, stderr: Any = None) -> str:
    """``55.3 ± 2.1`` (percent), ``-`` when missing."""
    if value is None or pd.isna(value):
        return "-"
    return f"{100 * value:.1f}" + (
        "" if stderr is None or pd.isna(stderr) else f" ± {100 * stderr:.1f}"
    )


def wide(table: pd.DataFrame) -> pd.DataFrame:
    """Units x benchmarks of ``pass@1 ± stderr`` strings (benchmarks first, groups last)."""
    cells = pass1_cells(table)
    if cells.empty:
        return pd.DataFrame()
    cells = cells.assign(
        unit=unit_labels(cells),
        text=[percent(v, s) for v, s in zip(cells["value"], cells["stderr"], strict=True)],
    )
    grid = cells.pivot_table(index="unit", columns="benchmark", values="text", aggfunc="first")
    columns = sorted(grid.columns, key=lambda c: (c.startswith(GROUP_PREFIX), c))
    return grid.reindex(columns=columns).fillna("-")
