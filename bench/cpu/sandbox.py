"""Code-scoring sandbox (LiveCodeBench): `score_code_batch` with 1 worker vs all cores, and
`run_program` vs a bare `subprocess.run` (what the sandbox costs per program).

Uses evallaunch.scoring.code (`score_code_batch`, `run_program`, `tests_to_json`,
`TestCase`); prints "skipped: sandbox not available" when that module (or a namespace
sandbox, unless EVALLAUNCH_ALLOW_UNSANDBOXED=1) is missing. Side by side, interleaved:

  throughput   `score_code_batch` on N completions (2 tests each; a wrong program stops
               at its first) with workers=1 and workers=<all cores>
  per program  one run of a tiny program on one input: `run_program` vs a bare
               `subprocess.run([sys.executable, "-c", prog])`, and vs the same with
               `-I -S` (the interpreter flags the sandbox itself uses)
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))  # the checkout: runs as a file

from bench import common

PROGRAMS = {
    "sum": "import sys\nprint(sum(map(int, sys.stdin.read().split())))\n",
    "loop": (
        "import sys\nn = sum(map(int, sys.stdin.read().split()))\n"
        "total = 0\nfor i in range(20000):\n    total = (total + i * n) % 1000003\n"
        "print(n)\n"
    ),
    "wrong": "import sys\nprint(len(sys.stdin.read().split()))\n",
}


def load():
    """The code-scoring module and a description of its isolation, or None (+ reason)."""
    try:
        from evallaunch.scoring import code
        from evallaunch.scoring.sandbox import sandbox_available
    except ImportError as err:
        return None, f"evallaunch.scoring.code not importable ({err})"
    needed = ("score_code_batch", "run_program", "tests_to_json", "TestCase")
    missing = [name for name in needed if not hasattr(code, name)]
    if missing:
        return None, f"evallaunch.scoring.code lacks {', '.join(missing)}"
    if sandbox_available():
        return code, "namespace sandbox (unshare)"
    if os.environ.get("EVALLAUNCH_ALLOW_UNSANDBOXED", "") in {"1", "true", "yes"}:
        return code, "NO namespace isolation: rlimits only (EVALLAUNCH_ALLOW_UNSANDBOXED=1)"
    return None, "no namespace sandbox here (set EVALLAUNCH_ALLOW_UNSANDBOXED=1 to measure)"


def workload(code, count: int) -> tuple[list[str], list[str], int, int]:
    """`count` completions (fenced programs, 2/3 correct) and their golds; the expected
    passes and the number of sandboxed runs (a wrong program stops at its first test)."""
    tests = [code.TestCase("1 2 3\n", "6\n"), code.TestCase("10 20\n", "30\n")]
    gold = code.tests_to_json(tests)
    names = list(PROGRAMS)
    completions = []
    for i in range(count):
        program = PROGRAMS[names[i % len(names)]]
        completions.append(f"Here is my solution #{i}:\n```python\n{program}```\n")
    passes = sum(1 for i in range(count) if names[i % len(names)] != "wrong")
    return completions, [gold] * count, passes, len(tests) * passes + (count - passes)


def main() -> None:
    p = common.parser(__doc__.split("\n")[0])
    p.add_argument("--programs", type=int, help="completions per batch (default 48, quick 8)")
    p.add_argument("--rounds", type=int, help="interleaved rounds (default 3, quick 1)")
    p.add_argument("--singles", type=int, help="per-program samples (default 30, quick 5)")
    args = p.parse_args()
    code, isolation = load()
    if code is None:
        print(f"sandbox: skipped: sandbox not available ({isolation})")
        common.emit("sandbox", {"skipped": isolation}, args.json)
        return
    count = args.programs or (8 if args.quick else 48)
    rounds = args.rounds or (1 if args.quick else 3)
    singles = args.singles or (5 if args.quick else 30)
    cores = os.cpu_count() or 1
    print(f"sandbox: {isolation}; {count} completions x 2 tests, {rounds} round(s), {cores} cores")
    batch, runs = time_batches(code, count, rounds, cores)
    single = time_single_programs(code, singles)
    print_table(batch, single, count, runs)
    one, many = (common.median(t) for t in batch.values())
    speedup = one / many
    sandbox_ms = 1000 * common.median(single["run_program"])
    bare_ms = 1000 * common.median(single["bare -c"])
    lean_ms = 1000 * common.median(single["bare -I -S -c"])
    print(f"RATIO workers={cores} / workers=1 throughput: {speedup:.2f}x")
    print(
        f"RATIO run_program / bare subprocess: {sandbox_ms / bare_ms:.2f} "
        f"(+{sandbox_ms - bare_ms:.0f} ms per program); "
        f"vs bare -I -S: {sandbox_ms / lean_ms:.2f} (+{sandbox_ms - lean_ms:.0f} ms)"
    )
    common.emit(
        "sandbox",
        {
            "mode": "quick" if args.quick else "full",
            "isolation": isolation,
            "programs": count,
            "cores": cores,
            "batch_s": batch,
            "programs_per_s": {k: round(count / common.median(v), 2) for k, v in batch.items()},
            "speedup_all_cores": round(speedup, 3),
            "single_ms": {k: round(1000 * common.median(v), 1) for k, v in single.items()},
            "overhead_ratio_vs_bare": round(sandbox_ms / bare_ms, 3),
        },
        args.json,
    )


def time_batches(code, count: int, rounds: int, cores: int) -> tuple[dict[str, list[float]], int]:
    """Seconds of `score_code_batch` on the workload per round, with one worker and with one
    per core; and the number of sandboxed runs a batch makes."""
    completions, golds, expected, runs = workload(code, count)
    code.score_code_batch(completions[:2], golds[:2], 1)  # probe the sandbox once (cached)
    batch: dict[str, list[float]] = {"workers=1": [], f"workers={cores}": []}
    for r, label in common.interleave(list(batch), rounds):
        workers = int(label.split("=")[1])
        start = time.perf_counter()
        scores = code.score_code_batch(completions, golds, workers)
        seconds = time.perf_counter() - start
        passed = sum(bool(s.correct) for s in scores)
        if passed != expected:
            raise SystemExit(f"{label}: {passed} programs passed, expected {expected}")
        batch[label].append(seconds)
        print(f"  round {r + 1} {label:10s} {count / seconds:6.1f} programs/s", flush=True)
    return batch, runs


def time_single_programs(code, singles: int) -> dict[str, list[float]]:
    """Seconds of one tiny program through `run_program` and as a bare subprocess."""
    program = PROGRAMS["sum"]
    test = code.TestCase("1 2 3\n", "6\n")
    single: dict[str, list[float]] = {"run_program": [], "bare -c": [], "bare -I -S -c": []}

    def bare(*flags: str) -> None:
        proc = subprocess.run(
            [sys.executable, *flags, "-c", program], input=b"1 2 3\n", capture_output=True
        )
        assert proc.stdout.strip() == b"6", proc

    runners = {
        "run_program": lambda: code.run_program(program, [test]),
        "bare -c": lambda: bare(),
        "bare -I -S -c": lambda: bare("-I", "-S"),
    }
    for _, label in common.interleave(list(single), singles):
        start = time.perf_counter()
        result = runners[label]()
        single[label].append(time.perf_counter() - start)
        if label == "run_program" and not result.passed:
            raise SystemExit(f"run_program failed: {result}")
    return single


def print_table(
    batch: dict[str, list[float]], single: dict[str, list[float]], count: int, runs: int
) -> None:
    rows = []
    for label, times in batch.items():
        rate = count / common.median(times)
        per_run = f"{rate * runs / count:.1f}"
        rows.append([f"score_code_batch {label}", f"{rate:.1f} programs/s", per_run])
    for label, times in single.items():
        rows.append([label, f"{1000 * common.median(times):.0f} ms/program", ""])
    print()
    print(common.table(["variant", "median", "sandboxed runs/s"], rows))
    print()


if __name__ == "__main__":
    main()
