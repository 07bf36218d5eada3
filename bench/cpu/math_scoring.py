"""Math scoring speed: `score_math` on the near-miss corpus (completions/s, one core and all
cores) against plain math-verify, then `evallaunch score` on a synthetic 64-sample AIME 2024
run (30 problems x 64 long reasoning completions ending in a boxed answer) against a plain
math-verify script on the same file. Target: `evallaunch score` at most 20% slower.

Every measurement is a fresh process (`--worker ...`): math-verify's parser warms caches as
it goes, so a second pass in one process would be faster than a user's run. The variants
alternate (interleaved rounds, order rotating); medians are reported.
"""

from __future__ import annotations

import json
import os
import random
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))  # the checkout: runs as a file

from bench import common

CORPUS = common.REPO / "tests" / "data" / "math_near_miss.jsonl"
TARGET = 1.20  # evallaunch score / plain math-verify, wall time

SENTENCES = [
    "Let $a = {a}$ and $b = {b}$, so $a + b = {s}$ and $ab = {p}$.",
    "Then $\\frac{{{a}}}{{{b}}} + \\frac{{{b}}}{{{a}}} = \\frac{{{q}}}{{{p}}}$.",
    "Wait, let me double-check: ${a}^2 = {a2}$, which is consistent with the bound.",
    "Hmm, maybe I should consider the case $x \\equiv {r} \\pmod{{{m}}}$ separately.",
    "So the number of arrangements is $\\binom{{{m}}}{{{r}}} \\cdot {a} = {p}$.",
    "Using $\\sin^2\\theta + \\cos^2\\theta = 1$ we get "
    "$\\cos\\theta = \\frac{{\\sqrt{{{a}}}}}{{{b}}}$.",
    "This gives $x^2 - {s}x + {p} = 0$, whose roots are $x = {a}$ and $x = {b}$.",
    "But that can't be right, because the answer must be an integer between 0 and 999.",
    "Let me recount the cases carefully, one residue class at a time.",
    "So maybe $m + n = {s}$? Let me verify this once more before concluding.",
]


# --------------------------------------------------------------------------- workers


def _ours(case: dict) -> bool:
    from evallaunch.scoring.math_answers import score_math

    return score_math(
        case["completion"], case["gold"], integer_answer=case["integer_answer"]
    ).correct


def _plain(case: dict) -> bool:
    from math_verify import parse, verify

    return bool(verify(parse(f"$\\boxed{{{case['gold']}}}$"), parse(case["completion"])))


def corpus_worker(scorer: str, procs: int, limit: int) -> None:
    """Score the corpus in this fresh process; print seconds and how many came out right."""
    cases = [json.loads(line) for line in CORPUS.read_text().splitlines()][:limit]
    score = _ours if scorer == "ours" else _plain
    score(cases[0])  # imports
    start = time.perf_counter()
    if procs > 1:
        import multiprocessing

        with multiprocessing.get_context("fork").Pool(procs) as pool:
            results = pool.map(score, cases, chunksize=16)
    else:
        results = [score(case) for case in cases]
    seconds = time.perf_counter() - start
    right = sum(r == c["equivalent"] for r, c in zip(results, cases, strict=True))
    print(json.dumps({"seconds": seconds, "count": len(cases), "right": right}))


def plain_score_worker(completions: Path) -> None:
    """What a user would run with math-verify alone: pass@1 of a JSONL of completions."""
    from math_verify import parse, verify

    golds = {}
    for line in (common.DATA_DIR / "aime24.jsonl").read_text().splitlines():
        row = json.loads(line)
        golds[str(row["id"])] = parse(f"$\\boxed{{{row['answer']}}}$")
    per_problem: dict[str, list[bool]] = {}
    for line in completions.read_text().splitlines():
        item = json.loads(line)
        correct = bool(verify(golds[item["id"]], parse(item["completion"])))
        per_problem.setdefault(item["id"], []).append(correct)
    pass1 = sum(sum(v) / len(v) for v in per_problem.values()) / len(per_problem)
    print(json.dumps({"pass@1": pass1, "completions": sum(map(len, per_problem.values()))}))


# ------------------------------------------------------------------------- workload


def reasoning(rng: random.Random, chars: int) -> str:
    parts, size = [], 0
    while size < chars:
        a, b = rng.randint(2, 60), rng.randint(2, 60)
        sentence = rng.choice(SENTENCES).format(
            a=a,
            b=b,
            s=a + b,
            p=a * b,
            q=a * a + b * b,
            a2=a * a,
            r=rng.randint(1, 9),
            m=rng.randint(10, 30),
        )
        parts.append(sentence)
        if rng.random() < 0.15:
            parts.append("\n\n")
        size += len(sentence) + 1
    return " ".join(parts)


def aime_run(path: Path, samples: int, chars: tuple[int, int], seed: int = 0) -> int:
    """Write a synthetic AIME 2024 run: per problem `samples` completions, each a long
    <think> block and a boxed final answer (right with a per-problem rate, else a wrong
    integer; 4% cut off without an answer). Returns the number of completions."""
    rng = random.Random(seed)
    rows = [
        json.loads(line) for line in (common.DATA_DIR / "aime24.jsonl").read_text().splitlines()
    ]
    count = 0
    with path.open("w") as handle:
        for row in rows:
            gold, rate = int(row["answer"]), rng.uniform(0.05, 0.95)
            for _ in range(samples):
                text = "<think>\n" + reasoning(rng, rng.randint(*chars))
                finish = "stop"
                if rng.random() < 0.04:
                    finish = "length"
                else:
                    answer = gold if rng.random() < rate else rng.randint(0, 999)
                    shown = f"{answer:03d}" if rng.random() < 0.2 else str(answer)
                    text += (
                        "\n</think>\n\nPutting the cases together gives the count above, so "
                        f"the answer is ${shown}$.\n\n**Final Answer**\n"
                        f"\\[\n\\boxed{{{shown}}}\n\\]"
                    )
                item = {"id": str(row["id"]), "completion": text, "finish_reason": finish}
                handle.write(json.dumps(item) + "\n")
                count += 1
    return count


# ---------------------------------------------------------------------------- driver


def run_worker(args: list[str]) -> dict:
    import subprocess

    proc = subprocess.run(
        [sys.executable, __file__, "--worker", *args],
        capture_output=True,
        text=True,
        cwd=common.REPO,
        check=False,
    )
    if proc.returncode != 0:
        raise SystemExit(f"worker {args} failed:\n{proc.stderr[-3000:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def corpus_section(rounds: int, limit: int) -> dict:
    print(f"corpus: {rounds} interleaved round(s), each variant in a fresh process")
    cores = os.cpu_count() or 1
    variants = [
        f"{scorer} x{procs}" for scorer in ("ours", "plain") for procs in sorted({1, cores})
    ]
    seconds: dict[str, list[float]] = {v: [] for v in variants}
    right: dict[str, int] = {}
    count = 0
    for r, label in common.interleave(variants, rounds):
        scorer, procs = label.split(" x")
        out = run_worker(["corpus", scorer, procs, str(limit)])
        seconds[label].append(out["seconds"])
        right[label], count = out["right"], out["count"]
        print(f"  round {r + 1} {label:9s} {count / out['seconds']:7.1f} completions/s", flush=True)
    rate = {v: count / common.median(s) for v, s in seconds.items()}
    rows = [
        [
            "evallaunch score_math" if v.startswith("ours") else "plain math-verify",
            v.split(" x")[1],
            f"{rate[v]:.1f}",
            f"{count - right[v]} of {count}",
        ]
        for v in variants
    ]
    print()
    print(common.table(["scorer", "processes", "completions/s", "wrong on the corpus"], rows))
    print()
    one, all_ = "ours x1", f"ours x{cores}"
    print(
        f"RATIO score_math all cores ({cores}) / one core throughput: {rate[all_] / rate[one]:.2f}x"
    )
    print(
        "RATIO score_math / plain math-verify throughput, one core: "
        f"{rate[one] / rate['plain x1']:.2f} (reported)"
    )
    return {
        "completions": count,
        "completions_per_s": rate,
        "wrong": {v: count - right[v] for v in variants},
    }


def aime_section(rounds: int, samples: int, chars: tuple[int, int], work: Path) -> dict:
    path = work / "aime24-run.jsonl"
    count = aime_run(path, samples, chars)
    mb = path.stat().st_size / common.MB
    print(
        f"\nAIME 2024: 30 problems x {samples} samples = {count} completions, {mb:.0f} MB; "
        f"{rounds} interleaved round(s)"
    )
    commands = {
        "evallaunch score": [
            sys.executable, "-m", "evallaunch.cli", "score", "aime24", str(path),
            "--output", str(work / "scored"), "--data-dir", str(common.DATA_DIR),
        ],
        "plain math-verify": [sys.executable, __file__, "--worker", "plain-score", str(path)],
    }  # fmt: skip
    runs: dict[str, list[common.Measurement]] = {label: [] for label in commands}
    for r, label in common.interleave(list(commands), rounds):
        log = work / f"{label.replace(' ', '-')}-{r}.log"
        measured = common.run_measured(label, commands[label], cwd=common.REPO, log=log)
        if measured.returncode != 0:
            raise SystemExit(f"{label} failed:\n{common.tail(log)}")
        runs[label].append(measured)
        print(
            f"  round {r + 1} {label:18s} wall {measured.wall_s:6.1f} s  "
            f"CPU {measured.cpu_s:6.1f} s",
            flush=True,
        )
    results = json.loads((work / "scored" / "results.json").read_text())
    plain_out = json.loads(common.tail(runs["plain math-verify"][-1].log, 1))
    ours_pass1 = results["metrics"]["pass@1"]["value"]
    rows = [
        [label, common.spread([m.wall_s for m in ms]), common.spread([m.cpu_s for m in ms]),
         f"{count / common.median([m.wall_s for m in ms]):.0f}"]
        for label, ms in runs.items()
    ]  # fmt: skip
    print()
    print(common.table(["command", "wall s", "CPU s", "completions/s"], rows))
    print(
        f"pass@1: evallaunch {100 * ours_pass1:.2f}%, plain math-verify "
        f"{100 * plain_out['pass@1']:.2f}%; no extractable answer: "
        f"{results['completions_file']['num_no_answer']} (evallaunch scores a completion "
        "cut off at the token limit as wrong; plain math-verify reads whatever it ends with)"
    )
    wall = common.ratio(*(common.median([m.wall_s for m in runs[k]]) for k in commands))
    cpu = common.ratio(*(common.median([m.cpu_s for m in runs[k]]) for k in commands))
    verdict = "ok" if wall <= TARGET else f"MISSED (target <= {TARGET})"
    print(
        f"RATIO evallaunch score / plain math-verify, {count} AIME completions: "
        f"wall {wall:.3f} ({verdict}), CPU {cpu:.3f}"
    )
    return {
        "completions": count,
        "wall_s": {k: [m.wall_s for m in v] for k, v in runs.items()},
        "cpu_s": {k: [m.cpu_s for m in v] for k, v in runs.items()},
        "ratio_wall": round(wall, 3),
        "ratio_cpu": round(cpu, 3),
        "pass1": {"evallaunch": ours_pass1, "plain": plain_out["pass@1"]},
    }


def main() -> None:
    if len(sys.argv) > 2 and sys.argv[1] == "--worker":
        if sys.argv[2] == "corpus":
            corpus_worker(sys.argv[3], int(sys.argv[4]), int(sys.argv[5]))
        else:
            plain_score_worker(Path(sys.argv[3]))
        return
    p = common.parser(__doc__.split("\n")[0])
    p.add_argument("--rounds", type=int, help="AIME interleaved rounds (default 3, quick 1)")
    p.add_argument(
        "--corpus-rounds", type=int, help="corpus interleaved rounds (default 2, quick 1)"
    )
    p.add_argument("--samples", type=int, help="AIME samples per problem (default 64, quick 4)")
    p.add_argument("--only", choices=("corpus", "aime"), help="run one of the two parts")
    args = p.parse_args()
    rounds = args.rounds or (1 if args.quick else 3)
    samples = args.samples or (4 if args.quick else 64)
    limit = 300 if args.quick else 10**9
    chars = (2_000, 8_000) if args.quick else (10_000, 60_000)
    print(f"math_scoring: {os.cpu_count()} cores")
    print(
        f"near-miss corpus: {CORPUS.relative_to(common.REPO)}"
        + (" (first 300)" if args.quick else "")
    )
    corpus_rounds = args.corpus_rounds or (1 if args.quick else 2)
    corpus = corpus_section(corpus_rounds, limit) if args.only != "aime" else None
    aime = None
    if args.only != "corpus":
        with common.workdir("math-scoring") as work:
            aime = aime_section(rounds, samples, chars, work)
    common.emit(
        "math_scoring",
        {
            "mode": "quick" if args.quick else "full",
            "rounds": rounds,
            "corpus": corpus,
            "aime": aime,
        },
        args.json,
    )


if __name__ == "__main__":
    main()
