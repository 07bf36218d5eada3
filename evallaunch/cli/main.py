"""`evallaunch`: the commands that are not a Hydra job (version, prepare, collect, status, ...).

Evaluation itself is `evallaunch-evaluate` (Hydra); this command groups everything around it.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Sequence

from evallaunch import __version__
from evallaunch.errors import EvallaunchError, exit_with_error

Command = Callable[[argparse.Namespace], int]


def _version(args: argparse.Namespace) -> int:
    from evallaunch.job.results import package_versions

    if args.all:
        for name, ver in package_versions(
            ("hydra-core", "omegaconf", "lighteval", "lm_eval", "transformers", "torch")
        ).items():
            print(f"{name} {ver}")
    else:
        print(f"evallaunch {__version__}")
    return 0


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of `evallaunch` with one sub-command per verb."""
    parser = argparse.ArgumentParser(
        prog="evallaunch",
        description="Evaluate LLM checkpoints on reasoning benchmarks. Run evaluations with "
        "`evallaunch-evaluate KEY=VALUE ...` (Hydra); this command holds the rest.",
    )
    parser.add_argument("--version", action="version", version=f"evallaunch {__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")

    version = commands.add_parser("version", help="print the version of evallaunch")
    version.add_argument("--all", action="store_true", help="also the backends' versions")
    version.set_defaults(func=_version)

    from evallaunch.cli.evaluation_commands import register_commands
    from evallaunch.cli.harness_commands import register_harness_commands
    from evallaunch.cli.results_commands import register_collect_commands

    register_commands(commands)
    register_collect_commands(commands)
    register_harness_commands(commands)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the `evallaunch` console script."""
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return 0
    func: Command = args.func
    try:
        return func(args)
    except EvallaunchError as err:
        exit_with_error(err)
    except KeyboardInterrupt:
        print("evallaunch: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
