"""Generation throughput on CPU: tokens per second of the embedded model through each backend.

`python -m evallaunch.evaluate backend=lighteval|lmeval` on LIMIT MATH-500 problems, one
greedy sample of TOKENS new tokens, run under bench/cpu/probe.py, which times transformers'
`generate` inside the process. Generated tokens are the `num_tokens` column of the job's
details.parquet; reported per run:

  decode tok/s      tokens / seconds inside generate (prefill included; model load is not)
  end-to-end tok/s  tokens / wall time of the whole evaluate process

Variants, interleaved: each backend with torch threads = 1 and = torch's default (all
cores). The GPU figure (vLLM, or transformers on CUDA) needs a GPU machine: reported as not
measured when torch sees no CUDA device.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))  # the checkout: runs as a file

from bench import common


def main() -> None:
    args = _arguments()
    limit = args.limit or (1 if args.quick else 2)
    tokens = args.tokens or (16 if args.quick else 64)
    threads = [int(t) for t in args.threads.split(",") if t != ""]
    if args.quick:
        threads = threads[:1]
    variants = [f"{b}/t{t}" for b in args.backends.split(",") if b for t in threads]
    print(
        f"throughput: {limit} MATH-500 problems x 1 greedy sample x {tokens} tokens, "
        f"variants {variants} (tN: N torch threads, t0: torch default)",
        flush=True,
    )
    runs: dict[str, list[dict]] = {v: [] for v in variants}
    failures: dict[str, str] = {}
    with common.workdir("throughput") as work:
        cache = common.bench_model_cache(work / "cache")
        for r, variant in common.interleave(variants, args.rounds or 1):
            row = _run_variant(work, cache, variant, r, limit, tokens, failures)
            if row is not None:
                runs[variant].append(row)
    _print_table(runs)
    _print_ratios(runs, [b for b in args.backends.split(",") if b], threads)
    gpu = _gpu()
    print(
        "GPU/vLLM: not measured: "
        + (f"needs a GPU machine (torch sees no CUDA device here; {gpu})" if gpu else "")
    )
    common.emit(
        "throughput",
        {
            "mode": "quick" if args.quick else "full",
            "limit": limit,
            "max_new_tokens": tokens,
            "runs": runs,
            "gpu": "not measured (no CUDA device)",
            "failures": failures,
        },
        args.json,
    )
    if failures:
        sys.exit(1)


def _arguments() -> argparse.Namespace:
    p = common.parser(__doc__.split("\n")[0])
    p.add_argument("--limit", type=int, help="problems (default 2, quick 1)")
    p.add_argument("--tokens", type=int, help="max new tokens (default 64, quick 16)")
    p.add_argument("--rounds", type=int, help="interleaved rounds (default 1)")
    p.add_argument("--threads", default="1,0", help="torch thread settings (0 = default)")
    p.add_argument("--backends", default="lighteval,lmeval")
    return p.parse_args()


def _run_variant(
    work: Path, cache: Path, variant: str, r: int, limit: int, tokens: int, failures: dict
) -> dict | None:
    """One evaluate process under probe.py: its generated tokens and timings (None: failed,
    its log tail in `failures`)."""
    backend, t = variant.split("/")
    run = work / f"{backend}-{t}-{r}"
    run.mkdir()
    probe = run / "probe.json"
    command = common.evallaunch_command(backend, run / "out", cache, limit, tokens)
    command = [sys.executable, str(common.BENCH_DIR / "cpu" / "probe.py"), str(probe)] + [
        *command[2:]  # drop "python -m": probe.py runs the module
    ]
    env = common.base_env(run, int(t[1:]) or None)
    m = common.run_measured(variant, command, cwd=run, env=env, log=run / "log.txt")
    if m.returncode != 0 or not probe.is_file():
        failures[variant] = common.tail(m.log)
        print(f"  {variant}: FAILED\n{failures[variant]}", flush=True)
        return None
    import pandas as pd

    stats = json.loads(probe.read_text())
    job = common.evallaunch_job_dir(run / "out", backend)
    details = pd.read_parquet(job / "details.parquet")
    generated = int(details["num_tokens"].fillna(0).sum())
    row = {
        "tokens": generated,
        "probe_new_tokens": stats["new_tokens"],
        "generate_calls": stats["calls"],
        "generate_s": stats["generate_s"],
        "wall_s": m.wall_s,
        "first_generate_at_s": stats["first_call_s"],
        "peak_rss_mb": m.peak_rss_mb,
        "decode_tok_s": generated / stats["generate_s"] if stats["generate_s"] else 0,
        "e2e_tok_s": generated / m.wall_s,
    }
    print(
        f"  round {r + 1} {variant:14s} {row['decode_tok_s']:6.1f} tok/s in generate, "
        f"{row['e2e_tok_s']:5.2f} tok/s end to end ({generated} tokens, "
        f"{stats['generate_s']:.1f} s of {m.wall_s:.1f} s)",
        flush=True,
    )
    return row


def _print_table(runs: dict[str, list[dict]]) -> None:
    rows: list[list[object]] = []
    for variant, items in runs.items():
        if not items:
            rows.append([variant, "failed", "", "", "", ""])
            continue

        def med(key: str, items: list[dict] = items) -> float:
            return common.median([x[key] for x in items])

        rows.append(
            [
                variant,
                f"{med('decode_tok_s'):.1f}",
                f"{med('e2e_tok_s'):.2f}",
                f"{med('tokens'):.0f}",
                f"{med('generate_s'):.1f} / {med('wall_s'):.1f}",
                f"{med('first_generate_at_s'):.1f}",
            ]
        )
    print()
    head = ["variant", "decode tok/s", "end-to-end tok/s", "tokens", "generate s / wall s"]
    print(common.table([*head, "first generate at s"], rows))
    print()


def _print_ratios(runs: dict[str, list[dict]], backends: list[str], threads: list[int]) -> None:
    """Decode tok/s of the first backend over the second per thread setting, and of each
    backend's second thread setting over its first."""
    medians = {
        v: common.median([x["decode_tok_s"] for x in items]) for v, items in runs.items() if items
    }
    if len(backends) == 2 and len(threads) >= 1:
        for t in threads:
            first, second = (medians.get(f"{backend}/t{t}") for backend in backends)
            if first and second:
                print(
                    f"RATIO decode tok/s {backends[0]}/{backends[1]} (t{t}): {first / second:.2f}"
                )
    for backend in backends:
        if len(threads) >= 2:
            more = medians.get(f"{backend}/t{threads[1]}")
            fewer = medians.get(f"{backend}/t{threads[0]}")
            if more and fewer:
                print(
                    f"RATIO decode tok/s {backend} t{threads[1]}/t{threads[0]}: {more / fewer:.2f}"
                )


def _gpu() -> str:
    try:
        import torch
    except ImportError:
        return "torch not installed"
    if torch.cuda.is_available():
        return f"CUDA device present ({torch.cuda.get_device_name(0)}), run on it separately"
    return f"torch {torch.__version__}"


if __name__ == "__main__":
    main()
