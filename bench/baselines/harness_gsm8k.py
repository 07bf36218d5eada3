"""evallaunch's harness tasks vs the raw `lm_eval` CLI: lm-eval's own gsm8k, run both ways.

The job: the embedded model (SmolLM2-135M-Instruct, float32, CPU) on the first LIMIT GSM8K
test documents with lm-eval's built-in gsm8k task (its prompt, few-shot examples from train,
both filters, exact match), SHOTS few-shot examples, at most TOKENS new tokens, chat template
on, seed 1234. Variants, each a fresh process:

  raw  the `lm_eval` CLI on `gsm8k_local`, a task YAML that includes lm-eval's gsm8k.yaml and
       reads the same local files (offline there is no other way to give the CLI the data);
       the CLI indexes all of lm-eval's ~14,700 task names on every start
  el   python -m evallaunch.evaluate benchmark=harness benchmark.task=gsm8k backend=lmeval,
       reading the mirror (prepared before timing; its task index built before timing)

Rounds are interleaved; reported: median wall time, CPU time and peak RSS (process tree),
the ratio el / raw (target: within 3%), and both runs' exact-match scores (equal when both
saw the same prompts).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))  # the checkout: runs as a file

from bench import common

TARGET = 1.03
GSM8K = common.DATA_DIR / "gsm8k"


def prepare(work: Path, cache: Path) -> Path:
    """The mirror with GSM8K, and evallaunch's lm-eval task index in `cache` (untimed)."""
    mirror = work / "mirror"
    env = {**os.environ, "EVALLAUNCH_CACHE": str(cache)}
    cli = [sys.executable, "-m", "evallaunch.cli"]
    subprocess.run(
        [*cli, "prepare", "--task", "gsm8k", "--source", str(GSM8K), "--data-dir", str(mirror)],
        check=True,
        env=env,
        stdout=subprocess.DEVNULL,
    )
    return mirror


def raw_task_dir(work: Path) -> Path:
    """A task YAML for the raw CLI: lm-eval's gsm8k, reading the local files."""
    import lm_eval

    tasks = work / "raw_tasks"
    tasks.mkdir(parents=True, exist_ok=True)
    gsm8k = Path(lm_eval.__file__).parent / "tasks" / "gsm8k" / "gsm8k.yaml"
    files = {"train": str(GSM8K / "train.jsonl"), "test": str(GSM8K / "test.jsonl")}
    config: dict[str, object] = {
        "include": str(gsm8k),
        "task": "gsm8k_local",
        "tag": [],
        "dataset_path": "json",
        "dataset_name": None,
        "dataset_kwargs": {"data_files": files},
    }
    (tasks / "gsm8k_local.yaml").write_text(json.dumps(config, indent=2))
    return tasks


def commands(
    work: Path, cache: Path, mirror: Path, args: argparse.Namespace, r: int
) -> dict[str, list[str]]:
    limit, shots, tokens, batch = args.limit, args.shots, args.tokens, args.batch
    model = common.model_dir(cache)
    raw = [
        sys.executable,
        "-m",
        "lm_eval",
        "--model",
        "hf",
        "--model_args",
        f"pretrained={model},dtype=float32",
        "--device",
        "cpu",
        "--tasks",
        "gsm8k_local",
        "--include_path",
        str(raw_task_dir(work)),
        "--limit",
        str(limit),
        "--num_fewshot",
        str(shots),
        "--gen_kwargs",
        f"max_gen_toks={tokens}",
        "--batch_size",
        str(batch),
        "--apply_chat_template",
        "--seed",
        "1234",
        "--output_path",
        str(work / f"raw-{r}"),
        "--log_samples",
    ]
    el = [
        sys.executable,
        "-m",
        "evallaunch.evaluate",
        "benchmark=harness",
        "benchmark.task=gsm8k",
        "backend=lmeval",
        f"paths.output_root={work / f'el-{r}'}",
        f"paths.data_dir={mirror}",
        f"paths.cache_dir={cache}",
        f"benchmark.limit={limit}",
        f"benchmark.num_fewshot={shots}",
        f"benchmark.gen_kwargs='max_gen_toks={tokens}'",
        f"backend.batch_size={batch}",
        "generation.seed=1234",
    ]
    return {"raw": raw, "el": el}


def scores(work: Path, variant: str, r: int) -> dict[str, float]:
    """exact_match per filter, as the run wrote it."""
    if variant == "el":
        results = next((work / f"el-{r}").rglob("results.json"))
        metrics = json.loads(results.read_text())["metrics"]
        return {name: m["value"] for name, m in metrics.items()}
    results = next((work / f"raw-{r}").rglob("results_*.json"))
    task = json.loads(results.read_text())["results"]["gsm8k_local"]
    return {k: v for k, v in task.items() if k.startswith("exact_match,")}


def responses(work: Path, variant: str, r: int) -> dict[int, str]:
    """Each document's generated text, from the harness's per-sample log."""
    if variant == "el":
        files = list((work / f"el-{r}").rglob("backend/samples.jsonl"))
    else:
        files = list((work / f"raw-{r}").rglob("samples_gsm8k_local_*.jsonl"))
    out = {}
    for line in files[0].read_text().splitlines():
        sample = json.loads(line)
        out[int(sample["doc_id"])] = str(sample["resps"][0][0])
    return out


def main() -> None:
    p = common.parser(__doc__.split("\n")[0])
    p.add_argument("--rounds", type=int, help="interleaved rounds (default 2, quick 1)")
    p.add_argument("--limit", type=int, help="GSM8K documents (default 8, quick 3)")
    p.add_argument("--shots", type=int, default=2, help="few-shot examples")
    p.add_argument("--tokens", type=int, help="max new tokens (default 64, quick 16)")
    p.add_argument("--batch", type=int, default=4, help="batch size of both runs")
    p.add_argument("--threads", type=int, default=0, help="torch threads (0: torch's default)")
    args = p.parse_args()
    rounds = args.rounds or (1 if args.quick else 2)
    args.limit = args.limit or (3 if args.quick else 8)
    args.tokens = args.tokens or (16 if args.quick else 64)
    print(
        f"harness_gsm8k: {args.limit} documents, {args.shots}-shot, {args.tokens} tokens, "
        f"batch {args.batch}, {rounds} round(s)",
        flush=True,
    )
    runs: dict[str, list[common.Measurement]] = {"raw": [], "el": []}
    found: dict[str, dict[str, float]] = {}
    texts: dict[str, dict[int, str]] = {}
    with common.workdir("harness") as work:
        cache = common.bench_model_cache(work / "cache")
        mirror = prepare(work, cache)
        subprocess.run(
            [sys.executable, "-m", "evallaunch.cli", "tasks", "gsm8k"],
            check=True,
            env={**os.environ, "EVALLAUNCH_CACHE": str(cache)},
            stdout=subprocess.DEVNULL,
        )  # builds the task index in `cache`
        env = common.base_env(work, args.threads)
        for r, variant in common.interleave(list(runs), rounds):
            command = commands(work, cache, mirror, args, r)[variant]
            m = common.run_measured(
                variant, command, cwd=work, env=env, log=work / f"{variant}-{r}.log"
            )
            print(
                f"  round {r + 1}/{rounds} {variant:4s} {m.wall_s:7.1f} s wall "
                f"{m.cpu_s:7.1f} s CPU {m.peak_rss_mb:7.0f} MiB  rc={m.returncode}",
                flush=True,
            )
            if m.returncode != 0:
                print(common.tail(m.log))
                sys.exit(1)
            runs[variant].append(m)
            found[variant] = scores(work, variant, r)
            texts[variant] = responses(work, variant, r)
    same = sum(texts["el"].get(doc) == text for doc, text in texts["raw"].items())
    print(f"same completions: {same} of {len(texts['raw'])} documents")
    report(runs, found, args)


def report(
    runs: dict[str, list[common.Measurement]],
    found: dict[str, dict[str, float]],
    args: argparse.Namespace,
) -> None:
    wall = {v: common.median([m.wall_s for m in ms]) for v, ms in runs.items()}
    cpu = {v: common.median([m.cpu_s for m in ms]) for v, ms in runs.items()}
    rss = {v: common.median([m.peak_rss_mb for m in ms]) for v, ms in runs.items()}
    rows = [(v, f"{wall[v]:.1f}", f"{cpu[v]:.1f}", f"{rss[v]:.0f}", found[v]) for v in runs]
    print(common.table(["variant", "wall s", "CPU s", "peak MiB", "exact_match"], rows))
    ratio = common.ratio(wall["el"], wall["raw"])
    verdict = "ok" if ratio <= TARGET else f"over the {TARGET:.2f} target"
    print(f"RATIO el / raw lm_eval CLI wall time: {ratio:.3f} ({verdict})")
    print(f"RATIO el / raw CPU time: {common.ratio(cpu['el'], cpu['raw']):.3f}")
    print(f"same scores: {found['el'] == found['raw']}")
    common.emit(
        "harness_gsm8k",
        {"wall_s": wall, "cpu_s": cpu, "peak_rss_mb": rss, "ratio_wall": ratio, "scores": found},
        args.json,
    )


if __name__ == "__main__":
    main()
