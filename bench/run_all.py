"""Run every benchmark script and write bench/RESULTS.md (`make bench`).

    python bench/run_all.py                 # full mode (about 15 minutes on 2 cores)
    python bench/run_all.py --quick         # smoke mode: every script with --quick
    python bench/run_all.py --quick-for overhead,throughput   # those quick, the rest full
    python bench/run_all.py --only sweep_planning,collector_scale --no-write

Each script runs in its own process; its output is shown as it runs and recorded in
RESULTS.md with the machine it ran on. The exit status is non-zero when a script failed.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))  # the checkout: runs as a file

from bench import common

# Each script by its name (--only, --quick-for) and its file under bench/, in the order run.
SCRIPTS = {
    "overhead": "baselines/overhead.py",
    "sweep_planning": "cpu/sweep_planning.py",
    "collector_scale": "cpu/collector_scale.py",
    "sandbox": "cpu/sandbox.py",
    "throughput": "cpu/throughput.py",
    "resume": "cpu/resume.py",
    "gpu_schedule": "gpu/schedule.py",
    "math_scoring": "cpu/math_scoring.py",
    "math_verify_peer": "cpu/math_verify_peer.py",
    "harness_gsm8k": "baselines/harness_gsm8k.py",
}
TITLES = {
    "overhead": "1. evallaunch overhead over the raw harnesses",
    "sweep_planning": "2. Planning a 1,000-job sweep",
    "collector_scale": "3. Collector: merge/dedup and collect at scale",
    "sandbox": "4. Code-scoring sandbox",
    "throughput": "5. Generation throughput (CPU)",
    "resume": "6. Sample ledger: cost of recording units, time saved by resuming",
    "gpu_schedule": "7. GPU schedules simulated: evallaunch vs the ideal and open-r1",
    "math_scoring": "8. Math scoring: the near-miss corpus and a 64-sample AIME run",
    "math_verify_peer": "8b. Math scoring on Math-Verify's own test cases",
    "harness_gsm8k": "9. Harness tasks: lm-eval's gsm8k through evallaunch vs the lm_eval CLI",
}


def run_script(name: str, quick: bool, json_path: Path) -> tuple[int, float, str]:
    """Run the script `name` (SCRIPTS), echoing its output; (exit status, seconds, output)."""
    script = common.BENCH_DIR / SCRIPTS[name]
    command = [sys.executable, str(script), "--json", str(json_path)]
    if quick:
        command.append("--quick")
    print(f"\n=== {name}{' (quick)' if quick else ''}: {' '.join(command[1:])}", flush=True)
    start = time.perf_counter()
    proc = subprocess.Popen(
        command,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        cwd=common.REPO,
    )
    lines = []
    assert proc.stdout is not None
    for line in proc.stdout:
        if not line.startswith(common.RESULT_PREFIX):
            print(line, end="", flush=True)
        lines.append(line)
    proc.wait()
    return proc.returncode, time.perf_counter() - start, "".join(lines)


def report(machine: dict[str, str], runs: list[dict], command: str) -> str:
    """RESULTS.md: machine, summary of the RATIO lines, then each script's output."""
    out = [
        "# Benchmark results",
        "",
        f"Written by `{command}`; do not edit by hand, rerun `make bench`.",
        "How to read the figures: bench/README.md.",
        "",
        "## Machine",
        "",
        f"- date: {machine['date']}",
        f"- CPU: {machine['cpu']}, nproc {machine['nproc']}",
        f"- RAM: {machine['ram']}",
        f"- OS: {machine['os']}; Python {machine['python']}",
        f"- load average at start: {machine['loadavg']} (the machine is shared: absolute "
        "times are noisy, ratios come from interleaved runs)",
        f"- load average at end: {machine.get('loadavg_end', 'unknown')}",
        "",
        "## Summary",
        "",
        "| script | mode | time | status |",
        "|---|---|---|---|",
    ]
    for run in runs:
        status = "ok" if run["rc"] == 0 else f"FAILED (exit {run['rc']})"
        out.append(f"| {run['name']} | {run['mode']} | {run['seconds']:.0f} s | {status} |")
    out += ["", "Ratios and targets (the `RATIO` lines of the scripts):", ""]
    for run in runs:
        for line in run["output"].splitlines():
            if line.startswith(("RATIO", "GPU/", "sandbox: skipped")):
                out.append(f"- {run['name']}: {line.removeprefix('RATIO ').strip()}")
    for run in runs:
        text = "\n".join(
            line for line in run["output"].splitlines() if not line.startswith(common.RESULT_PREFIX)
        ).strip()
        out += [
            "",
            f"## {TITLES.get(run['name'], run['name'])}",
            "",
            f"`python bench/{SCRIPTS[run['name']]}{' --quick' if run['mode'] == 'quick' else ''}`"
            f" ({run['mode']} mode, {run['seconds']:.0f} s)",
            "",
            "```",
            text,
            "```",
        ]
    return "\n".join(out) + "\n"


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--quick", action="store_true", help="run every script with --quick")
    p.add_argument("--quick-for", default="", help="comma list of scripts to run with --quick")
    p.add_argument("--only", default="", help="comma list of scripts to run (default: all)")
    p.add_argument("--results", type=Path, default=common.BENCH_DIR / "RESULTS.md")
    p.add_argument("--no-write", action="store_true", help="do not write RESULTS.md")
    args = p.parse_args()
    only = [s for s in args.only.split(",") if s] or list(SCRIPTS)
    quick_for = {s for s in args.quick_for.split(",") if s}
    unknown = (set(only) | quick_for) - set(SCRIPTS)
    if unknown:
        p.error(f"unknown script(s) {sorted(unknown)}; choose from {list(SCRIPTS)}")
    machine = common.machine()
    print("machine: " + ", ".join(f"{k}={v}" for k, v in machine.items()), flush=True)
    runs = []
    with common.workdir("run-all") as work:
        for name in [s for s in SCRIPTS if s in only]:
            quick = args.quick or name in quick_for
            json_path = work / f"{name}.json"
            rc, seconds, output = run_script(name, quick, json_path)
            data = json.loads(json_path.read_text()) if json_path.is_file() else None
            runs.append(
                {
                    "name": name,
                    "mode": "quick" if quick else "full",
                    "rc": rc,
                    "seconds": seconds,
                    "output": output,
                    "data": data,
                }
            )
    machine["loadavg_end"] = common.machine()["loadavg"]
    print("\n=== summary")
    for run in runs:
        status = "ok" if run["rc"] == 0 else f"FAILED (exit {run['rc']})"
        print(f"  {run['name']:16s} {run['mode']:5s} {run['seconds']:6.0f} s  {status}")
    if not args.no_write:
        command = "python bench/run_all.py " + " ".join(sys.argv[1:])
        args.results.write_text(report(machine, runs, command.strip()))
        print(f"wrote {args.results}")
    if any(run["rc"] != 0 for run in runs):
        sys.exit(1)


if __name__ == "__main__":
    main()
