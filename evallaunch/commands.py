"""Sub-commands of `evallaunch` (each parses its arguments and delegates to a module)."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any


def _prepare(args: argparse.Namespace) -> int:
    from evallaunch.compose import compose_config, group_options
    from evallaunch.errors import EvallaunchError
    from evallaunch.prepare import prepare

    names = args.benchmarks or group_options("benchmark")
    unknown = sorted(set(names) - set(group_options("benchmark")))
    if unknown:
        raise EvallaunchError(
            f"unknown benchmark(s) {unknown}; valid choices: {group_options('benchmark')}"
        )
    configs = [compose_config([f"benchmark={name}"]) for name in names]
    data_dir = Path(args.data_dir or configs[0].paths.data_dir).expanduser()
    source = Path(args.source).expanduser() if args.source else None
    for record in prepare([cfg.benchmark for cfg in configs], data_dir, source):
        print(
            f"{record['benchmark']:<14} {record['action']:<10} {record['rows']:>5} rows  "
            f"sha256 {record['sha256'][:12]}  {data_dir / record['file']}"
        )
    return 0


def register_commands(commands: Any) -> None:
    """Add evallaunch's sub-commands to an argparse sub-parsers object."""
    prepare = commands.add_parser(
        "prepare",
        help="copy or download benchmark data into the local mirror (paths.data_dir)",
        description="Materialize benchmarks into the local mirror once, verifying sha256 and "
        "row counts; jobs then read only the mirror.",
    )
    prepare.add_argument("benchmarks", nargs="*", help="benchmark names (default: all)")
    prepare.add_argument("--source", help="local directory with the mirror files (offline)")
    prepare.add_argument("--data-dir", help="mirror directory (default: paths.data_dir)")
    prepare.set_defaults(func=_prepare)
