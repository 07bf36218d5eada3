"""The `collect`, `compare` and `diff` sub-commands of `evallaunch`."""

from __future__ import annotations

import argparse
import json
import os
import sys
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import pandas as pd

    from evallaunch.collect.collection import Collection
    from evallaunch.collect.plots import PlotFile


def _warn(message: str) -> None:
    print(f"evallaunch: warning: {message}", file=sys.stderr)


def _wandb_available() -> bool:
    import importlib.util

    return importlib.util.find_spec("wandb") is not None


def _collect(args: argparse.Namespace) -> int:
    from evallaunch import api
    from evallaunch.collect import report
    from evallaunch.collect.results_table import read_table, write_table

    roots = [Path(root) for root in (args.roots or ["outputs"])]
    stamp = datetime.now(timezone.utc).strftime("%Y%m%d-%H%M%S")
    out_dir = Path(args.output or Path("outputs") / "collect" / stamp)
    merge_path = Path(args.merge) if args.merge else None
    previous = read_table(merge_path) if merge_path and merge_path.is_file() else None
    result = api.collect(roots, [previous] if previous is not None else [])
    for skipped in result.skipped:
        _warn(f"skipped {skipped}")
    table = _sync_hub(args, result, out_dir) if args.hub_repo else result.table
    print(report.terminal_table(table))
    print(f"{len(result.new_rows)} rows from {len(roots)} root(s); {len(result.skipped)} skipped")
    if args.dry_run:
        _print_dry_run(previous, result, merge_path, out_dir)
        return 0
    files = write_table(table, out_dir / "table.parquet", csv=args.csv)
    if merge_path:
        write_table(table, merge_path)
        print(f"merged into {merge_path}")
    written = _write_reports(table, result, out_dir)
    use_wandb = args.wandb if args.wandb is not None else _wandb_available()
    if use_wandb:
        _publish_wandb(args, table, result, out_dir, written, stamp)
    manifest: dict[str, Any] = {
        "roots": [str(root) for root in roots],
        "rows": len(table),
        "new_rows": len(result.new_rows),
        "skipped": [{"path": str(s.path), "reason": s.reason} for s in result.skipped],
        "plots": [str(p.path) for p in written],
    }
    (out_dir / "collect.json").write_text(json.dumps(manifest, indent=2) + "\n")
    print("wrote " + ", ".join(str(f) for f in [*files, out_dir / "report.html"]))
    return 0


def _sync_hub(args: argparse.Namespace, result: Collection, out_dir: Path) -> pd.DataFrame:
    """Merge the table with the Hub dataset's (commit it unless --dry-run); the merged table."""
    import tempfile

    from evallaunch.collect import publish

    with tempfile.TemporaryDirectory() as tmp:
        staging = out_dir / "hub" if not args.dry_run else Path(tmp)
        plan = publish.sync_hub(
            args.hub_repo,
            result.table,
            staging,
            result.groups,
            result.aggregates,
            dry_run=args.dry_run,
            include_limited=args.include_limited,
        )
    print(("would commit to " if args.dry_run else "Hub: ") + plan.describe())
    return plan.table


def _print_dry_run(
    previous: pd.DataFrame | None, result: Collection, merge_path: Path | None, out_dir: Path
) -> None:
    from evallaunch.collect import publish

    if merge_path:
        counts = publish.changed_rows(previous, result.new_rows)["change"].value_counts()
        print(
            f"would update {merge_path}: {counts.get('added', 0)} rows added, "
            f"{counts.get('updated', 0)} updated, {counts.get('unchanged', 0)} unchanged"
        )
    print(f"would write {out_dir}/table.parquet, report.md, report.html and plots")


def _write_reports(table: pd.DataFrame, result: Collection, out_dir: Path) -> list[PlotFile]:
    """The plots, report.md and report.html (the table against the published references)."""
    from evallaunch.collect import plots, references, report, single_run

    comparison = references.compare_to_references(table, references.load_references())
    written = [
        *plots.learning_curves(table, out_dir / "plots"),
        *plots.reference_bars(comparison, out_dir / "plots"),
    ]
    outcomes = None
    if (job_dir := single_run.single_job_dir(table)) is not None:  # a report of one run
        label = " ".join(job_dir.parts[-4:])
        written += plots.token_lengths(job_dir, label, out_dir / "plots")
        outcomes = single_run.problem_outcomes(job_dir)
    (out_dir / "report.md").write_text(report.markdown_report(table, comparison, result.coverage))
    page = report.html_report(
        table,
        comparison,
        result.coverage,
        [p.path for p in written],
        limited=single_run.limited_lines(table),
        outcomes=outcomes,
    )
    (out_dir / "report.html").write_text(page)
    return written


def _publish_wandb(
    args: argparse.Namespace,
    table: pd.DataFrame,
    result: Collection,
    out_dir: Path,
    written: list[PlotFile],
    stamp: str,
) -> None:
    from evallaunch.collect import publish

    runs = publish.publish_wandb(
        table,
        out_dir,
        project=args.wandb_project,
        per_model=args.wandb_per_model,
        plots=written,
        details=publish.details_files(result.new_rows),
        name=f"collect-{stamp}",
    )
    offline = os.environ.get("WANDB_MODE") == "offline"
    for run_dir in runs:
        print(f"W&B run: {run_dir}" + (f"  (upload: wandb sync {run_dir})" if offline else ""))


def _compare(args: argparse.Namespace) -> int:
    from evallaunch import api
    from evallaunch.collect.compare import format_comparisons

    rows = api.compare(args.a, args.b, args.root or ["outputs"], seed=args.seed)
    print(f"A = {args.a}\nB = {args.b}")
    print(format_comparisons(rows))
    for row in rows:
        print(f"{row.benchmark}: A {row.a_dir}\n{'':<{len(row.benchmark)}}  B {row.b_dir}")
    same = [row.benchmark for row in rows if Path(row.a_dir).resolve() == Path(row.b_dir).resolve()]
    if same:
        _warn(f"A and B are the same job directory on {', '.join(same)}: a run against itself")
    return 0


def _diff(args: argparse.Namespace) -> int:
    from evallaunch import api
    from evallaunch.collect.compare import format_diff

    differences = api.diff(args.run1, args.run2)
    print(format_diff(differences))
    return 1 if differences else 0


def register_collect_commands(commands: Any) -> None:
    """Add `collect`, `compare` and `diff` to an argparse sub-parsers object."""
    collect = commands.add_parser(
        "collect",
        help="gather every finished job into one results table, reports and plots",
        description="Scan output roots for finished jobs, build one long table (parquet), "
        "merge it with earlier tables (latest evaluation wins), write a terminal table, "
        "report.md, a self-contained report.html and plots, and publish to W&B / the Hub.",
    )
    collect.add_argument("roots", nargs="*", metavar="ROOT", help="output roots (default: outputs)")
    collect.add_argument("--output", help="output directory (default outputs/collect/<time>)")
    collect.add_argument("--merge", metavar="PATH", help="table to merge into (updated in place)")
    collect.add_argument("--csv", action="store_true", help="also write table.csv")
    collect.add_argument(
        "--wandb",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="log to W&B (default: when wandb is installed; WANDB_MODE defaults to offline)",
    )
    collect.add_argument("--wandb-project", default="evallaunch", help="W&B project")
    collect.add_argument("--wandb-per-model", action="store_true", help="one W&B run per model")
    collect.add_argument("--hub-repo", metavar="ORG/NAME", help="Hub dataset repo to update")
    collect.add_argument(
        "--include-limited",
        action="store_true",
        help="publish runs limited to their first problems (benchmark.limit) too; refused "
        "by default: a smoke test is not a score",
    )
    collect.add_argument(
        "--dry-run", action="store_true", help="print what would change; write and upload nothing"
    )
    collect.set_defaults(func=_collect)

    compare = commands.add_parser(
        "compare",
        help="paired significance test of two runs (B minus A) per shared benchmark",
        description="A and B are job directories, or model@revision / model:step resolved "
        "in the output roots. Uses per-problem outcomes from details.parquet: paired "
        "bootstrap CI and p-value, and McNemar's exact test when both have one sample.",
    )
    compare.add_argument("a", metavar="A")
    compare.add_argument("b", metavar="B")
    compare.add_argument(
        "--root", action="append", help="output root (repeatable; default outputs)"
    )
    compare.add_argument("--seed", type=int, default=0, help="bootstrap seed (default 0)")
    compare.set_defaults(func=_compare)

    diff = commands.add_parser(
        "diff",
        help="what differs between two job directories that can move the numbers",
    )
    diff.add_argument("run1", metavar="RUN1")
    diff.add_argument("run2", metavar="RUN2")
    diff.set_defaults(func=_diff)
