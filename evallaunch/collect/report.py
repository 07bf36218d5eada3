"""Reports of a collected table: terminal table, markdown, one self-contained HTML file."""

from __future__ import annotations

import base64
import html
from collections.abc import Sequence
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

import pandas as pd
import yaml

from evallaunch.collect.results_table import GROUP_PREFIX, UNIT
from evallaunch.collect.suite_groups import best_rows, headline
from evallaunch.errors import EvallaunchError

REFERENCE_DIR = Path(str(resources.files("evallaunch.collect") / "data" / "reference"))
CSS = """body{font-family:system-ui,sans-serif;margin:2em;color:#222}
table{border-collapse:collapse;margin:1em 0;font-size:14px}
th,td{border:1px solid #ccc;padding:4px 8px;text-align:right}
th{background:#f3f3f3}td.l,th.l{text-align:left}
.out{background:#fde2e2;font-weight:600}img{max-width:100%;border:1px solid #eee}
.note{color:#666;font-size:13px}"""


@dataclass(frozen=True)
class Reference:
    """Published numbers: ``values[(hub_id, benchmark)]`` is a fraction in [0, 1]."""

    name: str
    title: str
    source: str
    values: dict[tuple[str, str], float]


def load_references(directory: Path = REFERENCE_DIR) -> list[Reference]:
    """Every reference file of the package's collect/data/reference/ (``models: {hub_id:
    {benchmark: percent}}``)."""
    refs = []
    for path in sorted(directory.glob("*.yaml")):
        try:
            data = yaml.safe_load(path.read_text())
            values = {
                (str(hub_id), str(bench)): float(value) / 100.0
                for hub_id, scores in data["models"].items()
                for bench, value in scores.items()
            }
        except (OSError, yaml.YAMLError, KeyError, TypeError, ValueError, AttributeError) as err:
            raise EvallaunchError(f"invalid reference file {path}: {err}") from None
        refs.append(
            Reference(
                data.get("name", path.stem),
                data.get("title", path.stem),
                str(data.get("source", "")),
                values,
            )
        )
    return refs


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


def terminal_table(table: pd.DataFrame) -> str:
    """Fixed-width table: models x benchmarks, pass@1 in percent ± stderr."""
    grid = wide(table)
    if grid.empty:
        return "no results"
    head = ["model@revision:step [backend]", *grid.columns]
    rows = [
        [str(index), *map(str, values)]
        for index, values in zip(grid.index, grid.values, strict=True)
    ]
    widths = [max(len(r[i]) for r in [head, *rows]) for i in range(len(head))]

    def line(cells: list[str]) -> str:
        return "  ".join(
            c.ljust(w) if i == 0 else c.rjust(w)
            for i, (c, w) in enumerate(zip(cells, widths, strict=True))
        )

    return "\n".join([line(head), "  ".join("-" * w for w in widths), *map(line, rows)])


def compare_to_references(table: pd.DataFrame, refs: Sequence[Reference]) -> pd.DataFrame:
    """Our pass@1 beside each published number, the delta, and whether it lies outside our CI.

    Models are matched by Hub id: our name ``org--name`` or our name_or_path ``org/name``.
    """
    cells = pass1_cells(table)
    cells = cells[~cells["benchmark"].str.startswith(GROUP_PREFIX)]
    out = []
    for ref in refs:
        for (hub_id, bench), ref_value in ref.values.items():
            match = cells[
                (cells["benchmark"] == bench)
                & (
                    (cells["model"] == hub_id.replace("/", "--"))
                    | (cells["name_or_path"] == hub_id)
                )
            ]
            for _, row in match.iterrows():
                low, high = row["ci_low"], row["ci_high"]
                if pd.isna(low) or pd.isna(high):
                    low, high = (row["value"] + k * 1.96 * row["stderr"] for k in (-1, 1))
                outside = bool(not pd.isna(low) and not low <= ref_value <= high)
                out.append(
                    {
                        **{c: row[c] for c in [*UNIT, "benchmark", "variant", "value"]},
                        "stderr": row["stderr"],
                        "ci_low": low,
                        "ci_high": high,
                        "reference": ref.name,
                        "reference_title": ref.title,
                        "reference_value": ref_value,
                        "delta": row["value"] - ref_value,
                        "outside_ci": outside,
                    }
                )
    return pd.DataFrame(out)


def _reference_lines(comparison: pd.DataFrame) -> list[list[str]]:
    lines = []
    for _, r in comparison.iterrows():
        flag = "outside 95% CI" if r["outside_ci"] else ""
        ci = (
            f"[{100 * r['ci_low']:.1f}, {100 * r['ci_high']:.1f}]" if pd.notna(r["ci_low"]) else "-"
        )
        lines.append(
            [
                unit_label(r),
                r["benchmark"],
                percent(r["value"], r["stderr"]),
                ci,
                r["reference_title"],
                f"{100 * r['reference_value']:.1f}",
                f"{100 * r['delta']:+.1f}",
                flag,
            ]
        )
    return lines


REF_HEAD = ["model", "benchmark", "ours", "95% CI", "reference", "published", "delta", ""]


def _coverage_lines(coverage: pd.DataFrame) -> list[str]:
    if coverage.empty:
        return []
    partial = coverage[coverage["found"] < coverage["size"]]
    return [
        f"{unit_label(r)}: group '{r['group']}' partial ({r['found']}/{r['size']}), "
        f"missing {', '.join(r['missing'])}"
        for _, r in partial.iterrows()
    ]


def markdown_report(table: pd.DataFrame, comparison: pd.DataFrame, coverage: pd.DataFrame) -> str:
    """The report as markdown: pass@1 table, suite groups, published references."""

    def md(head: list[str], rows: list[list[str]]) -> list[str]:
        return [
            "| " + " | ".join(head) + " |",
            "|" + "---|" * len(head),
            *("| " + " | ".join(r) + " |" for r in rows),
        ]

    grid = wide(table)
    parts = ["# evallaunch results", "", "pass@1 in percent ± standard error.", ""]
    if not grid.empty:
        parts += md(
            ["model", *grid.columns],
            [[i, *v] for i, v in zip(grid.index, grid.values, strict=True)],
        )
    groups = table[table["benchmark"].str.startswith(GROUP_PREFIX)]
    if len(groups):
        parts += ["", "## Suite groups", ""]
        rows = [
            [unit_label(r), r["benchmark"], r["variant"], percent(r["value"], r["stderr"])]
            for _, r in groups.iterrows()
        ]
        parts += md(["model", "group", "average", "pass@1"], rows)
    partial = _coverage_lines(coverage)
    if partial:
        parts += ["", *(f"- {line}" for line in partial)]
    if len(comparison):
        parts += ["", "## Published references", ""]
        parts += md(
            REF_HEAD,
            [[*r[:-1], f"**{r[-1]}**" if r[-1] else ""] for r in _reference_lines(comparison)],
        )
    return "\n".join(parts) + "\n"


def _html_table(head: list[str], rows: list[list[str]], marks: Sequence[bool] = ()) -> str:
    cells = "".join(
        f"<th class='l'>{html.escape(h)}</th>" if i == 0 else f"<th>{html.escape(h)}</th>"
        for i, h in enumerate(head)
    )
    body = []
    for n, row in enumerate(rows):
        cls = " class='out'" if n < len(marks) and marks[n] else ""
        tds = "".join(
            f"<td class='l'>{html.escape(c)}</td>" if i < 2 else f"<td>{html.escape(c)}</td>"
            for i, c in enumerate(row)
        )
        body.append(f"<tr{cls}>{tds}</tr>")
    return f"<table><tr>{cells}</tr>{''.join(body)}</table>"


def html_report(
    table: pd.DataFrame,
    comparison: pd.DataFrame,
    coverage: pd.DataFrame,
    plots: Sequence[Path],
    limited: Sequence[str] = (),
    outcomes: pd.DataFrame | None = None,
) -> str:
    """One self-contained HTML page: inline CSS, plots embedded as base64 PNG, no links.
    `limited`: lines marking the runs limited to their first problems; `outcomes`: a single
    run's per-problem outcomes."""
    grid = wide(table)
    parts = [
        f"<!DOCTYPE html><html><head><meta charset='utf-8'><title>evallaunch results"
        f"</title><style>{CSS}</style></head><body><h1>evallaunch results</h1>",
        "<p class='note'>pass@1 in percent ± standard error.</p>",
    ]
    for line in limited:
        parts.append(f"<p class='out'>{html.escape(line)}</p>")
    if not grid.empty:
        rows = [[str(i), *map(str, v)] for i, v in zip(grid.index, grid.values, strict=True)]
        parts.append(_html_table(["model", *grid.columns], rows))
    partial = _coverage_lines(coverage)
    if partial:
        notes = "".join(f"<p class='note'>{html.escape(line)}</p>" for line in partial)
        parts.append(
            f"<details><summary>{len(partial)} suite group(s) partial</summary>{notes}</details>"
        )
    if outcomes is not None and len(outcomes):
        parts.append("<h2>Problems</h2>")
        parts.append(_html_table(list(outcomes.columns), outcomes.astype(str).values.tolist()))
    if len(comparison):
        parts.append(
            "<h2>Published references</h2><p class='note'>Highlighted: the published "
            "number lies outside our 95% confidence interval.</p>"
        )
        parts.append(
            _html_table(REF_HEAD, _reference_lines(comparison), list(comparison["outside_ci"]))
        )
    if plots:
        parts.append("<h2>Plots</h2>")
    for path in plots:
        data = base64.b64encode(path.read_bytes()).decode("ascii")
        parts.append(
            f"<h3>{html.escape(path.stem)}</h3>"
            f"<img alt='{html.escape(path.stem)}' src='data:image/png;base64,{data}'>"
        )
    return "\n".join([*parts, "</body></html>"]) + "\n"
