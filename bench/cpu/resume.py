"""What the sample ledger costs, and what it saves after a crash: one job recorded as one unit
vs one unit per problem, and that job killed half-way and rerun vs a whole run.

One lm-eval job on the embedded model (MATH-500, `--limit` problems x n=2 samples,
`--tokens` new tokens), three ways, each a fresh process:

  one-unit    sampling.problems_per_unit=0 sampling.samples_per_unit=0: one call to the
              harness, recorded once at the end (what the harness alone would do)
  units       sampling.problems_per_unit=1 sampling.samples_per_unit=0: one unit per
              problem, each recorded (fsync) before the next starts
  resume      the `units` job killed with SIGKILL once half its units are recorded, then
              rerun: the rerun's wall time against a whole `units` run

Reported: the cost of recording unit by unit (units / one-unit, wall and CPU) and the time a
rerun takes after losing the job half-way (resume / units; a harness that cannot resume
starts from zero: ratio 1).
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))  # the checkout: runs as a file

from bench import common
from evallaunch.job.ledger import SampleLedger


def command(out: Path, cache: Path, limit: int, tokens: int, per_problem: bool) -> list[str]:
    base = common.evallaunch_command("lmeval", out, cache, limit, tokens)
    sampled = [a for a in base if not a.startswith(("benchmark.n=", "generation.t"))]
    unit = "1" if per_problem else "0"
    return [
        *sampled,
        "benchmark.n=2",
        "generation.temperature=0.6",
        f"sampling.problems_per_unit={unit}",
        "sampling.samples_per_unit=0",
    ]


def recorded(job_dir: Path) -> int:
    return sum(
        len(SampleLedger(job_dir, path.stem).load().units)
        for path in (job_dir / "ledger").glob("*.jsonl")
    )


def kill_half_way(cmd: list[str], job_dir: Path, env: dict[str, str], units: int) -> float:
    """Start `cmd`, SIGKILL it once half its units are recorded; return its wall time."""
    start = time.perf_counter()
    proc = subprocess.Popen(
        cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True
    )
    while recorded(job_dir) < units // 2 and proc.poll() is None:
        time.sleep(0.1)
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    return time.perf_counter() - start


def main() -> None:
    p = common.parser(__doc__.split("\n")[0])
    p.add_argument("--rounds", type=int, help="interleaved rounds (default 2, quick 1)")
    p.add_argument("--limit", type=int, help="problems = units (default 6, quick 2)")
    p.add_argument("--tokens", type=int, help="max new tokens (default 32, quick 8)")
    p.add_argument("--threads", type=int, default=1, help="torch threads (0: torch's default)")
    args = p.parse_args()
    rounds = args.rounds or (1 if args.quick else 2)
    limit = args.limit or (2 if args.quick else 6)
    tokens = args.tokens or (8 if args.quick else 32)
    print(
        f"resume: lmeval, {limit} MATH-500 problems x 2 samples x {tokens} tokens, "
        f"{rounds} round(s)",
        flush=True,
    )
    runs: dict[str, list[common.Measurement]] = {"one-unit": [], "units": [], "resume": []}
    generated: list[int] = []
    with common.workdir("resume") as work:
        cache = common.bench_model_cache(work / "cache")
        for r, variant in common.interleave(list(runs), rounds):
            run = work / f"{variant}-{r}"
            m, samples = run_variant(run, cache, variant, limit, tokens, args.threads)
            print(
                f"  round {r + 1}/{rounds} {variant:9s} {m.wall_s:7.1f} s wall "
                f"{m.cpu_s:7.1f} s CPU  rc={m.returncode}",
                flush=True,
            )
            if m.returncode != 0:
                print(common.tail(m.log))
                sys.exit(1)
            runs[variant].append(m)
            if samples is not None:
                generated.append(samples)
    report(runs, limit, generated, args.json)


def run_variant(
    run: Path, cache: Path, variant: str, limit: int, tokens: int, threads: int
) -> tuple[common.Measurement, int | None]:
    """One timed job in `run` (for `resume`: after a first start killed half-way), and
    for `resume` the samples its rerun generated."""
    run.mkdir(parents=True)
    env = common.base_env(run, threads)
    out = run / "out"
    cmd = command(out, cache, limit, tokens, per_problem=variant != "one-unit")
    job_dir = common.evallaunch_job_dir(out, "lmeval")
    if variant == "resume":
        killed_s = kill_half_way(cmd, job_dir, env, limit)
        print(f"  killed after {killed_s:.1f} s with {recorded(job_dir)} unit(s)")
    m = common.run_measured(variant, cmd, cwd=run, env=env, log=run / "log.txt")
    if variant != "resume" or m.returncode != 0:
        return m, None
    results = json.loads((job_dir / "results.json").read_text())
    return m, results["sampling"]["samples_generated"]


def report(
    runs: dict[str, list[common.Measurement]], limit: int, generated: list[int], path: Path | None
) -> None:
    """The table of runs, the cost of recording unit by unit and the rerun's share."""
    rows = [
        [v, common.spread([m.wall_s for m in ms]), common.spread([m.cpu_s for m in ms]), len(ms)]
        for v, ms in runs.items()
    ]
    print()
    print(common.table(["variant", "wall s", "CPU s", "runs"], rows))

    def med(variant: str, key: str) -> float:
        return common.median([getattr(m, key) for m in runs[variant]])

    cost_wall = common.ratio(med("units", "wall_s"), med("one-unit", "wall_s"))
    cost_cpu = common.ratio(med("units", "cpu_s"), med("one-unit", "cpu_s"))
    saved = common.ratio(med("resume", "wall_s"), med("units", "wall_s"))
    print(
        f"RATIO units / one-unit: wall {cost_wall:.3f}, CPU {cost_cpu:.3f} "
        f"({limit} units recorded one by one)"
    )
    print(
        f"RATIO resume / units: wall {saved:.3f} (rerun after a SIGKILL half-way; "
        f"generated {generated} of {2 * limit} samples; without a ledger: 1.0)"
    )
    common.emit(
        "resume",
        {"units_cost_wall": cost_wall, "units_cost_cpu": cost_cpu, "resume_wall": saved},
        path,
    )


if __name__ == "__main__":
    main()
