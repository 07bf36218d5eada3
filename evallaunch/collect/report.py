"""Reports of a collected table: terminal table, markdown, one self-contained HTML file
(the pass@1 grid of `evallaunch.collect.pass1`, the published references of
`evallaunch.collect.references`)."""

from __future__ import annotations

import base64
import html
from collections.abc import Sequence
from pathlib import Path

import pandas as pd

from evallaunch.collect.pass1 import percent, unit_label, wide
from evallaunch.collect.results_table import GROUP_PREFIX

CSS = """body{font-family:system-ui,sans-serif;margin:2em;color:#222}
table{border-collapse:collapse;margin:1em 0;font-size:14px}
th,td{border:1px solid #ccc;padding:4px 8px;text-align:right}
th{background:#f3f3f3}td.l,th.l{text-align:left}
.out{background:#fde2e2;font-weight:600}img{max-width:100%;border:1px solid #eee}
.note{color:#666;font-size:13px}"""


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
