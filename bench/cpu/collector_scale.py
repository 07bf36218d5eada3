"""Collector scaling: evallaunch's `merge_tables` vs the bare pandas strategy on long results
tables (merge and deduplicate), and collecting many jobs, against the 10 s target at 1M rows.

Uses evallaunch.collect.results_table when it exists (its public `merge_tables`, `long_table`,
`group_rows` and `scan`), and otherwise only the bare pandas strategy. Cases, each in a fresh
process so that memory growth is its own:

  merge N      an existing table of N rows plus a new collection of N/10 rows (half of them
               re-evaluations of existing keys with a later eval_date, half new keys).
               Side by side, interleaved: `merge_tables([existing, new])` and the bare pandas
               strategy (concat, sort_values("eval_date"), drop_duplicates(KEY, keep="last")).
  summaries M  M results.json summaries (in memory, 3 metrics each) through `long_table`,
               `merge_tables` and `group_rows`: `collect` minus reading files.
  scan D       D job directories on disk read by `scan` (per-job cost, extrapolated).

Reported: time and peak RSS growth (the high-water mark during the call minus the RSS
before it). Targets: merge of 1M rows < 10 s; memory bounded (growth a small multiple of the
input tables' size).
"""

from __future__ import annotations

import contextlib
import gc
import json
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))  # the checkout: runs as a file

from bench import common

TARGET_1M_S = 10.0
BENCHMARKS = ["math_500", "aime24", "aime25", "gpqa_diamond", "lcb_codegen"]
METRICS = ["pass@1", "pass@4", "maj@4"]
BACKENDS = ["lighteval", "lmeval"]
STEPS = 40
GROUPS = {"reasoning": BENCHMARKS, "math": ["aime24", "aime25", "math_500"]}


def _table_module():
    try:
        from evallaunch.collect import results_table as table
    except ImportError:
        return None
    return table


KEY = ["model", "revision", "step", "benchmark", "metric", "variant", "backend"]


def make_rows(start: int, count: int, day: int):
    """`count` long-table rows with distinct keys numbered from `start`, evaluated on `day`."""
    import numpy as np
    import pandas as pd

    i = np.arange(start, start + count)
    per_step = len(BENCHMARKS) * len(METRICS) * len(BACKENDS)
    per_model = per_step * STEPS
    model = i // per_model
    bench = np.array(BENCHMARKS)[(i // (len(METRICS) * len(BACKENDS))) % len(BENCHMARKS)]
    rng = np.random.default_rng(start)
    value = rng.random(count)
    date = pd.Timestamp("2026-01-01", tz="UTC") + pd.to_timedelta(day, unit="D")
    frame = pd.DataFrame(
        {
            "model": pd.Series(model).map(lambda m: f"model-{m:05d}"),
            "revision": "main",
            "step": ((i // per_step) % STEPS + 1) * 500,
            "benchmark": bench,
            "metric": np.array(METRICS)[(i // len(BACKENDS)) % len(METRICS)],
            "variant": "n=4",
            "backend": np.array(BACKENDS)[i % len(BACKENDS)],
            "value": value,
            "stderr": value / 10,
            "ci_low": value * 0.9,
            "ci_high": np.minimum(value * 1.1, 1.0),
            "num_problems": 500,
            "num_samples": 4,
            "eval_date": date + pd.to_timedelta(i % 86400, unit="s"),
            "config_fingerprint": pd.Series(i).map(lambda x: f"{x * 2654435761 % 2**64:016x}"),
            "tokens_trained": ((i // per_step) % STEPS + 1) * 500 * 4_000_000,
            "packages": "evallaunch=0.1.0;lighteval=0.13.0;torch=2.13.0;transformers=5.23.0",
            "experiment": "bench",
            "name_or_path": pd.Series(model).map(lambda m: f"/ckpt/model-{m:05d}"),
            "job_dir": "outputs/bench/job",
        }
    )
    table = _table_module()
    return table.normalize(frame) if table else frame


def bare_merge(frames):
    """The strategy on its own: concat, newest eval last, one row per key."""
    import pandas as pd

    merged = pd.concat(frames, ignore_index=True)
    merged = merged.sort_values("eval_date", kind="stable")
    return merged.drop_duplicates(KEY, keep="last")


def _trim_heap() -> None:
    """Hand freed heap memory back to the OS, so earlier steps do not hide later growth."""
    import ctypes

    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL("libc.so.6").malloc_trim(0)


def measure(fn) -> tuple[float, float, Any]:
    """(seconds, peak RSS growth MiB, result) of one call."""
    gc.collect()
    _trim_heap()
    before = common.rss_mb()
    common.reset_peak_rss()
    start = time.perf_counter()
    result = fn()
    seconds = time.perf_counter() - start
    return seconds, common.peak_rss_mb() - before, result


# ---------------------------------------------------------------------------- children


def child_merge(size: int, reps: int) -> dict:
    table = _table_module()
    existing = make_rows(0, size, day=0)
    new = make_rows(size - size // 20, size // 10, day=30)  # half updates, half new keys
    input_mb = sum(f.memory_usage(deep=True).sum() for f in (existing, new)) / common.MB
    expected = size + size // 20
    variants = {
        "bare pandas": lambda: bare_merge([existing, new]),
        # What merge_tables adds last: the result sorted by the key (separates its cost).
        "bare + sort by key": lambda: bare_merge([existing, new]).sort_values(
            KEY, kind="stable", ignore_index=True
        ),
    }
    if table:
        variants = {"merge_tables": lambda: table.merge_tables([existing, new]), **variants}
    out: dict[str, dict[str, list[float]]] = {v: {"s": [], "mb": []} for v in variants}
    for _, name in common.interleave(list(variants), reps):
        seconds, growth, result = measure(variants[name])
        if len(result) != expected:
            raise SystemExit(f"{name}: {len(result)} rows, expected {expected}")
        del result
        out[name]["s"].append(seconds)
        out[name]["mb"].append(growth)
    return {"rows_in": size + size // 10, "rows_out": expected, "input_mb": input_mb, **out}


def results_dict(i: int) -> dict:
    """A results.json summary (schema 1) of job number `i`: 3 metrics."""
    model, step, bench = i // (STEPS * 10), (i // 10) % STEPS, BENCHMARKS[i % 5]
    value = (i % 97) / 97

    def metric(name: str, k: int) -> dict:
        return {"name": name, "value": value, "stderr": 0.02, "ci_low": 0.0, "ci_high": 1.0}

    return {
        "schema_version": 1,
        "status": "completed",
        "experiment": "bench",
        "model": {
            "name": f"model-{model:05d}",
            "name_or_path": f"/ckpt/model-{model:05d}/checkpoint-{(step + 1) * 500}",
            "revision": "main",
            "step": (step + 1) * 500,
            "tokens_trained": (step + 1) * 500 * 4_000_000,
        },
        "benchmark": {"name": bench, "limit": None},
        "backend": {"name": BACKENDS[(i // 5) % 2], "model_type": "transformers"},
        "backend_metrics": {"pass@1": value},
        "num_problems": 500,
        "num_samples": 4,
        "num_truncated": 0,
        "generation": {"temperature": 0.6, "top_p": 0.95, "max_new_tokens": 32768},
        "seed": 1234,
        "packages": {"evallaunch": "0.1.0", "lighteval": "0.13.0", "torch": "2.13.0"},
        "config_fingerprint": f"{i * 2654435761 % 2**64:016x}",
        "started_at": "2026-11-01T00:00:00+00:00",
        "finished_at": f"2026-11-{1 + i % 28:02d}T{i % 24:02d}:00:00+00:00",
        "duration_s": 3600.0,
        "metrics": {"pass@1": metric("pass@1", 1), "pass@4": metric("pass@4", 4)}
        | {"maj@4": metric("maj@4", 4)},
    }


def child_summaries(count: int, reps: int) -> dict:
    table = _table_module()
    if table is None:
        return {"skipped": "evallaunch.collect.results_table not available"}
    from evallaunch.collect import suite_groups

    jobs = [(Path(f"outputs/bench/job-{i}"), results_dict(i)) for i in range(count)]
    stages: dict[str, dict[str, list[float]]] = {}
    rows = 0
    for _ in range(reps):
        seconds, growth, frame = measure(lambda: table.long_table(jobs))
        stages.setdefault("long_table", {"s": [], "mb": []})
        stages["long_table"]["s"].append(seconds)
        stages["long_table"]["mb"].append(growth)
        rows = len(frame)
        for name, fn in (
            ("merge_tables", lambda f=frame: table.merge_tables([f])),
            ("group_rows", lambda f=frame: suite_groups.group_rows(f, GROUPS)),
        ):
            seconds, growth, result = measure(fn)
            del result
            stages.setdefault(name, {"s": [], "mb": []})
            stages[name]["s"].append(seconds)
            stages[name]["mb"].append(growth)
        del frame
    return {"summaries": count, "rows": rows, **stages}


def child_scan(count: int, reps: int) -> dict:
    table = _table_module()
    if table is None or not hasattr(table, "scan"):
        return {"skipped": "evallaunch.collect.results_table.scan not available"}
    with common.workdir("scan") as root:
        for i in range(count):
            job = root / f"model-{i // 200:03d}" / f"step-{i % 200:03d}" / BENCHMARKS[i % 5]
            job.mkdir(parents=True)
            (job / "results.json").write_text(json.dumps(results_dict(i), indent=2))
            (job / "status.json").write_text('{"status": "completed"}\n')
        times = []
        for _ in range(reps):
            seconds, _, (jobs, skipped) = measure(lambda: table.scan([root]))
            if len(jobs) != count or skipped:
                raise SystemExit(f"scan found {len(jobs)} jobs, {len(skipped)} skipped")
            times.append(seconds)
    return {"dirs": count, "s": times}


CHILDREN = {"merge": child_merge, "summaries": child_summaries, "scan": child_scan}


def run_case(case: str, size: int, reps: int) -> dict:
    command = [sys.executable, __file__, "--child", case, "--size", str(size)]
    proc = subprocess.run(
        [*command, "--reps", str(reps)], capture_output=True, text=True, timeout=1800
    )
    for line in proc.stdout.splitlines():
        if line.startswith("CHILD-RESULT "):
            return json.loads(line[len("CHILD-RESULT ") :])
    raise RuntimeError(f"{case} {size} failed ({proc.returncode}):\n{proc.stderr[-3000:]}")


def main() -> None:
    p = common.parser(__doc__.split("\n")[0])
    p.add_argument("--child", choices=list(CHILDREN), help=argparse_hidden())
    p.add_argument("--size", type=int, help=argparse_hidden())
    p.add_argument("--reps", type=int, help="repetitions per variant (default 3; 1M rows: 2)")
    args = p.parse_args()
    if args.child:
        out = CHILDREN[args.child](args.size, args.reps or 1)
        print("CHILD-RESULT " + json.dumps(out), flush=True)
        return

    table = _table_module()
    source = (
        "evallaunch.collect.results_table (merge_tables, long_table, group_rows, scan)"
        if table
        else "bare pandas only (evallaunch.collect.results_table not found)"
    )
    sizes = [1_000, 10_000] if args.quick else [10_000, 100_000, 1_000_000]
    summaries = 5_000 if args.quick else 100_000
    scan_dirs = 200 if args.quick else 2_000
    print(f"collector_scale: {source}", flush=True)
    results: dict[str, dict] = {"merge": {}, "summaries": {}, "scan": {}}
    rows: list[list[str]] = []
    for size in sizes:
        out = run_case("merge", size, args.reps or (2 if size >= 1_000_000 else 3))
        results["merge"][size] = out
        rows += merge_rows(size, out)
        print(f"  merge {size:,}: done ({out['input_mb']:.0f} MiB of input tables)", flush=True)
    out = run_case("summaries", summaries, args.reps or (1 if not args.quick else 2))
    results["summaries"][summaries] = out
    rows += summaries_rows(summaries, out)
    out = run_case("scan", scan_dirs, args.reps or 2)
    results["scan"][scan_dirs] = out
    rows += scan_rows(scan_dirs, out)
    print()
    head = ["case", "variant", "time s", "peak RSS growth MiB", "growth/input", "time/bare"]
    print(common.table(head, rows))
    print()
    print_ratios(results["merge"][max(sizes)], max(sizes))
    common.emit(
        "collector_scale",
        {"mode": "quick" if args.quick else "full", "source": source, **results},
        args.json,
    )


def merge_rows(size: int, out: dict) -> list[list[str]]:
    """Table rows of one merge case: time, RSS growth and time over bare pandas per variant."""
    rows = []
    base = out["bare pandas"]
    for name in [k for k in out if isinstance(out[k], dict)]:
        s, mb = common.median(out[name]["s"]), common.median(out[name]["mb"])
        rows.append(
            [
                f"merge {size:,} + {size // 10:,}",
                name,
                f"{s:.3f}",
                f"{mb:.0f}",
                f"{mb / out['input_mb']:.1f}x",
                f"{s / common.median(base['s']):.2f}",
            ]
        )
    return rows


def summaries_rows(summaries: int, out: dict) -> list[list[str]]:
    if "skipped" in out:
        return []
    rows = []
    for stage in ("long_table", "merge_tables", "group_rows"):
        s, mb = common.median(out[stage]["s"]), common.median(out[stage]["mb"])
        rows.append([f"{summaries:,} summaries ({out['rows']:,} rows)", stage, f"{s:.3f}"])
        rows[-1] += [f"{mb:.0f}", "", ""]
    return rows


def scan_rows(scan_dirs: int, out: dict) -> list[list[str]]:
    """The scan's time, and that time extrapolated to 100,000 job directories."""
    if "skipped" in out:
        return []
    s = common.median(out["s"])
    return [
        [f"scan {scan_dirs:,} job dirs", "scan", f"{s:.3f}", "", "", ""],
        ["  -> 100,000 job dirs (extrapolated)", "scan", f"{s / scan_dirs * 1e5:.0f}"]
        + ["", "", ""],
    ]


def print_ratios(merge_out: dict, biggest: int) -> None:
    """The largest merge against TARGET_1M_S, and merge_tables over bare pandas."""
    main_name = "merge_tables" if "merge_tables" in merge_out else "bare pandas"
    s_big = common.median(merge_out[main_name]["s"])
    growth = common.median(merge_out[main_name]["mb"]) / merge_out["input_mb"]
    verdict = "ok" if s_big < TARGET_1M_S else f"MISSED (target < {TARGET_1M_S:g} s at 1M)"
    if biggest < 1_000_000:
        verdict += "; quick mode, the target is for 1M rows"
    print(
        f"RATIO {main_name} at {biggest:,} rows / target: {s_big / TARGET_1M_S:.2f} "
        f"({s_big:.2f} s: {verdict}); peak RSS growth {growth:.1f}x the input tables"
    )
    if "merge_tables" in merge_out:
        print(
            "RATIO merge_tables / bare pandas at "
            f"{biggest:,} rows: {s_big / common.median(merge_out['bare pandas']['s']):.2f}"
        )


def argparse_hidden() -> str:
    import argparse

    return argparse.SUPPRESS


if __name__ == "__main__":
    main()
