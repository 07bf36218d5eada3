"""evallaunch's overhead over the raw harnesses: the same evaluation run both ways.

The job: the embedded model (SmolLM2-135M-Instruct, float32, CPU) on the first LIMIT MATH-500
problems, one greedy sample (temperature 0) of at most TOKENS new tokens, chat template on,
seed 1234, so every variant does the same work. Variants, each a fresh process:

  lighteval  raw    baselines/raw_lighteval.py: lighteval's Pipeline + a custom task module
             el     python -m evallaunch.evaluate backend=lighteval
  lmeval     raw    the `lm_eval` CLI with --include_path (a task YAML written here)
             api    baselines/raw_lmeval_api.py: simple_evaluate on that YAML, without indexing
                    lm-eval's built-in tasks (the CLI always indexes them)
             el     python -m evallaunch.evaluate backend=lmeval

Rounds are interleaved (every variant once per round, order rotating); reported: median
wall time and peak RSS (whole process tree), and the ratios evallaunch / raw (target: within
3%). Each run gets a fresh datasets cache and a fresh lighteval sample cache.
"""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))  # the checkout: runs as a file

from bench import common

TARGET = 1.03
RAW_LMEVAL_TASK = "raw_math500"


def write_data(work: Path, limit: int) -> Path:
    """The first `limit` MATH-500 rows, as the raw harnesses read them (raw fields)."""
    data = work / "data"
    data.mkdir(parents=True, exist_ok=True)
    with (data / "test.jsonl").open("w", encoding="utf-8") as handle:
        for row in common.math500_rows(limit):
            handle.write(json.dumps(row, ensure_ascii=False) + "\n")
    return data


UTILS_PY = '''"""process_results of the raw lm-eval task: math_verify on the filtered samples."""

from math_verify import parse, verify


def process_results(doc, results):
    samples = results[0]
    gold = parse("$" + doc["answer"] + "$")
    correct = [bool(verify(gold, parse(text))) for text in samples]
    return {"pass@1": sum(correct) / len(correct)}
'''


def write_lmeval_task(work: Path, data_file: Path, tokens: int) -> Path:
    """An lm-eval task directory equivalent to evallaunch's lmeval_tasks/generate.yaml."""
    import yaml

    tasks = work / "lmeval_tasks"
    tasks.mkdir(parents=True, exist_ok=True)
    template = common.math500_template().replace("{problem}", "{{problem}}")
    config = {
        "task": RAW_LMEVAL_TASK,
        "dataset_path": "json",
        "dataset_kwargs": {"data_files": {"test": str(data_file)}},
        "test_split": "test",
        "output_type": "generate_until",
        "doc_to_text": template,
        "doc_to_target": "{{answer}}",
        "repeats": 1,
        "generation_kwargs": {
            "until": [],
            "do_sample": False,
            "temperature": 0.0,
            "top_p": 1.0,
            "max_gen_toks": tokens,
        },
        "filter_list": [{"name": "all_samples", "filter": [{"function": "take_first_k", "k": 1}]}],
        "metric_list": [{"metric": "pass@1", "aggregation": "mean", "higher_is_better": True}],
        "metadata": {"version": 1},
    }
    text = yaml.safe_dump(config, sort_keys=False, allow_unicode=True)
    text += "process_results: !function utils.process_results\n"
    (tasks / f"{RAW_LMEVAL_TASK}.yaml").write_text(text)
    (tasks / "utils.py").write_text(UTILS_PY)
    return tasks


def commands(
    variant: str, run: Path, cache: Path, data: Path, tasks: Path, limit: int, tokens: int
) -> list[str]:
    model = str(common.model_dir(cache))
    py = sys.executable
    if variant == "lighteval/raw":
        script = common.BENCH_DIR / "baselines" / "raw_lighteval.py"
        return [py, str(script), "--model", model, "--out", str(run / "out")] + [
            *("--cache", str(run / "sample-cache"), "--tokens", str(tokens)),
        ]
    if variant == "lmeval/raw":
        # device goes in --device: in model_args it clashes with the CLI's own default.
        model_args = f"pretrained={model},dtype=float32,max_length=8192"
        return [
            *(py, "-m", "lm_eval", "--model", "hf", "--model_args", model_args),
            *("--device", "cpu"),
            *("--tasks", RAW_LMEVAL_TASK, "--include_path", str(tasks)),
            *("--apply_chat_template", "--batch_size", "1", "--seed", "1234"),
            *("--log_samples", "--output_path", str(run / "out")),
        ]
    if variant == "lmeval/api":
        script = common.BENCH_DIR / "baselines" / "raw_lmeval_api.py"
        return [py, str(script), "--model", model, "--tasks-dir", str(tasks)] + [
            "--out",
            str(run / "out"),
        ]
    backend = variant.split("/")[0]
    return common.evallaunch_command(backend, run / "out", cache, limit, tokens)


def completions(variant: str, run: Path) -> list[str] | None:
    """The generated texts of a finished run (to check all variants did the same work)."""
    import pandas as pd

    out = run / "out"
    try:
        if variant.endswith("/el"):
            job = common.evallaunch_job_dir(out, variant.split("/")[0])
            return list(pd.read_parquet(job / "details.parquet")["completion"])
        if variant == "lighteval/raw":
            frame = pd.concat(pd.read_parquet(p) for p in sorted(out.rglob("details_*.parquet")))
            return [str(r["text"][0]) for r in frame["model_response"]]
        files = sorted(out.rglob(f"samples_{RAW_LMEVAL_TASK}_*.jsonl"))
        rows = [json.loads(line) for f in files for line in f.read_text().splitlines() if line]
        return [str(r["filtered_resps"][0][0]) for r in sorted(rows, key=lambda r: r["doc_id"])]
    except (OSError, ValueError, KeyError, IndexError, TypeError):
        return None


PROBED = {
    "run_job": "evallaunch.job.runner:run_job",
    "load_problems": "evallaunch.job.runner:load_problems",
    "resolve_model": "evallaunch.job.runner:resolve_model",
    "pick_device": "evallaunch.job.runner:pick_device",
    "backend": "evallaunch.backends.base:Backend.generate",
    "score": "evallaunch.job.runner:score_completions",
    "write": "evallaunch.job.runner:write_outcome",
    "print": "evallaunch.job.summary:print_results",
    "token_count": "evallaunch.backends.lmeval_backend:_tokenizer",
}


def explain(backend: str, work: Path, cache: Path, limit: int, tokens: int, threads: int):
    """Where one evallaunch run spends its time (bench/cpu/probe.py): {segment: seconds}."""
    run = work / "explain" / backend
    run.mkdir(parents=True)
    probe = run / "probe.json"
    command = common.evallaunch_command(backend, run / "out", cache, limit, tokens)
    command = [sys.executable, str(common.BENCH_DIR / "cpu" / "probe.py"), str(probe), *command[2:]]
    env = common.base_env(run, threads)
    env["BENCH_PROBE_FUNCS"] = ",".join(PROBED.values())
    m = common.run_measured(backend, command, cwd=run, env=env, log=run / "log.txt")
    if m.returncode != 0 or not probe.is_file():
        print(f"  explain {backend}: FAILED\n{common.tail(m.log)}")
        return None
    data = json.loads(probe.read_text())
    f = {key: data["functions"].get(name, {}) for key, name in PROBED.items()}

    def s(key: str) -> float:
        return float(f[key].get("s") or 0.0)

    job = f["run_job"]
    return {
        "startup: interpreter, imports, Hydra compose (until run_job)": job["first_start_s"],
        "load problems (read + sha256)": s("load_problems"),
        "resolve model": s("resolve_model"),
        "pick device (imports torch, which the harness needs anyway)": s("pick_device"),
        "backend: the harness (Backend.generate)": s("backend"),
        "  of which transformers generate()": data["generate_s"],
        "  of which lm-eval token counting (tokenizer reload)": s("token_count"),
        "score completions (evallaunch scorer)": s("score"),
        "write details.parquet + results.json": s("write"),
        "rest of run_job (status files, backend setup, config)": s("run_job")
        - sum(
            s(k)
            for k in ("load_problems", "resolve_model", "pick_device", "backend", "score", "write")
        ),
        "after run_job (print results, exit)": data["process_s"] - job["last_end_s"],
        "total (in process)": data["process_s"],
        "wall time of the process (+ interpreter start and teardown)": m.wall_s,
    }


def main() -> None:
    args = _arguments()
    rounds = args.rounds or (1 if args.quick else 3)
    limit = args.limit or (1 if args.quick else 3)
    tokens = args.tokens or (8 if args.quick else 32)
    backends = [b for b in args.backends.split(",") if b]
    variants = _variants(backends, args.no_api)
    print(
        f"overhead: {limit} MATH-500 problems x 1 greedy sample x {tokens} tokens, "
        f"{rounds} round(s), torch threads={args.threads or 'default'}, variants {variants}",
        flush=True,
    )
    with common.workdir("overhead", keep=args.keep) as work:
        cache = common.bench_model_cache(work / "cache")
        data = write_data(work, limit)
        tasks = write_lmeval_task(work, data / "test.jsonl", tokens)
        job = Job(work, cache, data, tasks, common.math500_template())
        runs, failures, texts = run_rounds(job, variants, rounds, limit, tokens, args.threads)
        breakdown = {}
        if args.explain if args.explain is not None else not args.quick:
            for backend in backends:
                breakdown[backend] = explain(backend, work, cache, limit, tokens, args.threads)

    print_runs(variants, runs)
    ratios = print_ratios(backends, runs)
    same = print_same_completions(variants, texts)
    for variant in failures:
        print(f"FAILED {variant}")
    if breakdown:
        print_breakdown(breakdown)
    common.emit(
        "overhead",
        {
            "mode": "quick" if args.quick else "full",
            "limit": limit,
            "tokens": tokens,
            "rounds": rounds,
            "threads": args.threads or "default",
            "variants": {
                v: {
                    "wall_s": [round(m.wall_s, 2) for m in ms],
                    "cpu_s": [round(m.cpu_s, 2) for m in ms],
                    "peak_rss_mb": [round(m.peak_rss_mb, 1) for m in ms],
                }
                for v, ms in runs.items()
            },
            "ratios": ratios,
            "identical_completions": same,
            "breakdown_s": breakdown,
            "failures": {v: log[-2000:] for v, log in failures.items()},
        },
        args.json,
    )
    if failures:
        sys.exit(1)


def _arguments() -> argparse.Namespace:
    p = common.parser(__doc__.split("\n")[0])
    p.add_argument("--rounds", type=int, help="interleaved rounds (default 3, quick 1)")
    p.add_argument("--limit", type=int, help="problems (default 3, quick 1)")
    p.add_argument("--tokens", type=int, help="max new tokens (default 32, quick 8)")
    p.add_argument(
        "--threads",
        type=int,
        default=1,
        help="torch threads (OMP_NUM_THREADS); 0 = torch's default. Default 1: on a shared "
        "2-core machine two spinning OMP threads make runs several times slower and noisier",
    )
    p.add_argument("--backends", default="lighteval,lmeval")
    p.add_argument("--no-api", action="store_true", help="skip the lm-eval Python-API variant")
    p.add_argument("--keep", action="store_true", help="keep the work directory")
    p.add_argument(
        "--explain",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="one more evallaunch run per backend with its steps timed (default: full mode)",
    )
    return p.parse_args()


def _variants(backends: list[str], no_api: bool) -> list[str]:
    """Per backend: raw, (lm-eval's Python API,) evallaunch."""
    variants = []
    for backend in backends:
        variants += [f"{backend}/raw", *([f"{backend}/api"] if backend == "lmeval" else [])]
        variants.append(f"{backend}/el")
    return [v for v in variants if v != "lmeval/api"] if no_api else variants


@dataclass(frozen=True)
class Job:
    """What every variant reads: the work directory, the model cache, the data, lm-eval's
    task directory and the chat template."""

    work: Path
    cache: Path
    data: Path
    tasks: Path
    template: str


def _run_dir(work: Path, variant: str, r: int) -> Path:
    return work / "runs" / f"{variant.replace('/', '-')}-{r}"


def run_rounds(
    job: Job, variants: list[str], rounds: int, limit: int, tokens: int, threads: int
) -> tuple[dict[str, list[common.Measurement]], dict[str, str], dict[str, list[str] | None]]:
    """Every variant once per round, interleaved (a failed variant is not run again):
    the measurements per variant, the log tail of each failed one, and the completions of
    round 1."""
    runs: dict[str, list[common.Measurement]] = {v: [] for v in variants}
    failures: dict[str, str] = {}
    texts: dict[str, list[str] | None] = {}
    for r, variant in common.interleave(variants, rounds):
        if variant in failures:
            continue
        m = run_variant(job, variant, r, limit, tokens, threads)
        status = "ok" if m.returncode == 0 else f"FAILED rc={m.returncode}"
        print(
            f"  round {r + 1}/{rounds} {variant:14s} {m.wall_s:7.1f} s wall "
            f"{m.cpu_s:7.1f} s CPU {m.peak_rss_mb:7.0f} MiB  {status}",
            flush=True,
        )
        if m.returncode != 0:
            failures[variant] = common.tail(m.log)
            print(f"    log tail ({m.log}):\n{failures[variant]}", flush=True)
            continue
        runs[variant].append(m)
        if r == 0:
            texts[variant] = completions(variant, _run_dir(job.work, variant, r))
    return runs, failures, texts


def run_variant(
    job: Job, variant: str, r: int, limit: int, tokens: int, threads: int
) -> common.Measurement:
    """One timed run of a variant in a fresh directory (and fresh caches)."""
    run = _run_dir(job.work, variant, r)
    run.mkdir(parents=True)
    env = common.base_env(run, threads)
    env.update(
        RAW_MATH500_DIR=str(job.data),
        RAW_MATH500_TEMPLATE=job.template,
        RAW_MATH500_TOKENS=str(tokens),
    )
    command = commands(variant, run, job.cache, job.data, job.tasks, limit, tokens)
    return common.run_measured(variant, command, cwd=run, env=env, log=run / "log.txt")


def print_runs(variants: list[str], runs: dict[str, list[common.Measurement]]) -> None:
    rows: list[list[object]] = []
    for variant in variants:
        ms = runs[variant]
        if not ms:
            rows.append([variant, "failed", "failed", "failed", ""])
            continue
        rows.append(
            [
                variant,
                common.spread([m.wall_s for m in ms]),
                common.spread([m.cpu_s for m in ms]),
                common.spread([m.peak_rss_mb for m in ms]),
                len(ms),
            ]
        )
    print()
    head = ["variant", "wall s median [min-max]", "CPU s", "peak RSS MiB", "runs"]
    print(common.table(head, rows))
    print()


def print_ratios(backends: list[str], runs: dict[str, list[common.Measurement]]) -> dict:
    """evallaunch over each raw variant: wall time (medians and per round), CPU time and
    peak RSS, against TARGET."""
    ratios = {}
    for backend in backends:
        el = runs.get(f"{backend}/el", [])
        for ref in ("raw", "api"):
            base = runs.get(f"{backend}/{ref}", [])
            if not el or not base:
                continue
            key = f"{backend}: evallaunch/{ref}"
            # Per-round ratios as well as the ratio of medians (rounds are paired in time).
            paired = [common.ratio(a.wall_s, b.wall_s) for a, b in zip(el, base, strict=False)]
            time_ratio = common.ratio(
                common.median([m.wall_s for m in el]), common.median([m.wall_s for m in base])
            )
            cpu_ratio = common.ratio(
                common.median([m.cpu_s for m in el]), common.median([m.cpu_s for m in base])
            )
            mem_ratio = common.ratio(
                common.median([m.peak_rss_mb for m in el]),
                common.median([m.peak_rss_mb for m in base]),
            )
            ratios[key] = {
                "wall": round(time_ratio, 3),
                "cpu": round(cpu_ratio, 3),
                "wall_per_round": [round(x, 3) for x in paired],
                "peak_rss": round(mem_ratio, 3),
            }
            print(
                f"RATIO {key}: wall {time_ratio:.3f} ({_verdict(time_ratio)}; per round "
                f"{', '.join(f'{x:.3f}' for x in paired)}), CPU {cpu_ratio:.3f} "
                f"({_verdict(cpu_ratio)}), peak RSS {mem_ratio:.3f} ({_verdict(mem_ratio)})"
            )
    return ratios


def _verdict(ratio: float) -> str:
    return "ok" if ratio <= TARGET else "MISSED (target <= 1.03)"


def print_same_completions(
    variants: list[str], texts: dict[str, list[str] | None]
) -> dict[str, bool | None]:
    """Whether each raw variant's round-1 completions equal evallaunch's (None: not checked)."""
    same: dict[str, bool | None] = {}
    for variant in variants:
        if variant.endswith("/el"):
            continue
        a, b = texts.get(variant.split("/")[0] + "/el"), texts.get(variant)
        # As multisets: lighteval's details are not in problem order.
        same[variant] = None if a is None or b is None else sorted(a) == sorted(b)
        word = {None: "not checked", True: "yes", False: "NO"}[same[variant]]
        print(f"identical completions, evallaunch vs {variant} (round 1): {word}")
    return same


def print_breakdown(breakdown: dict) -> None:
    names = list(next((b for b in breakdown.values() if b), {}))
    print("\nWhere an evallaunch run spends its time (one extra run each, seconds):")
    rows = [
        [name, *(f"{(breakdown[b] or {}).get(name, float('nan')):.2f}" for b in breakdown)]
        for name in names
    ]
    print(common.table(["step", *breakdown], rows))


if __name__ == "__main__":
    main()
