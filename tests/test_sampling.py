"""How samples are drawn: the ledger's file format, unit seeds, the adaptive stopping rule,
and an adaptive run on the embedded model."""

from __future__ import annotations

import hashlib
import json
import math
from collections import Counter
from pathlib import Path
from types import SimpleNamespace

import pandas as pd
import pytest

from evallaunch.backends.base import Backend, BackendOutput, Completion, GenerationRequest
from evallaunch.benchmarks.problem import Problem
from evallaunch.job.grading import SampleGrader
from evallaunch.job.ledger import SampleLedger
from evallaunch.job.stopping import is_settled, neyman_scale, neyman_target, wilson_width
from evallaunch.job.units import unit_seed
from evallaunch.scoring.metrics import summarize
from tests.helpers import Evaluate, compose_spec, make_request


def completion(problem: str, index: int) -> Completion:
    return Completion(problem, index, "prompt", f"answer {problem}/{index}", "stop", 3)


def test_a_ledger_reads_back_what_was_recorded(tmp_path: Path) -> None:
    ledger = SampleLedger(tmp_path, "abc")
    ledger.record_unit("u1", [completion("p1", 0), completion("p2", 0)], {"pass@1": 0.5})
    ledger.record_unit("u2", [completion("p1", 1)], {"pass@1": 1.0})
    again = SampleLedger(tmp_path, "abc").load()
    assert again.samples == ledger.samples
    assert again.units["u2"]["metrics"] == {"pass@1": 1.0}
    assert again.has("u1", [("p1", 0), ("p2", 0)])
    assert not again.has("u3", [("p1", 0)])
    assert SampleLedger(tmp_path, "other-config").load().samples == {}


def test_a_unit_torn_by_a_crash_is_not_reused(tmp_path: Path) -> None:
    ledger = SampleLedger(tmp_path, "abc")
    ledger.record_unit("u1", [completion("p1", 0)], {})
    # A crash in the middle of the next unit's write: a whole sample line, half of another,
    # and no closing line for the unit.
    whole = json.dumps(completion("p2", 0).__dict__)
    with ledger.path.open("a") as handle:
        handle.write(whole + "\n" + whole[: len(whole) // 2])
    again = SampleLedger(tmp_path, "abc").load()
    assert set(again.samples) == {("p1", 0)}
    assert not again.has("u2", [("p2", 0)])
    # The rerun appends after the torn line and everything reads back.
    again.record_unit("u2", [completion("p2", 0)], {})
    assert set(SampleLedger(tmp_path, "abc").load().samples) == {("p1", 0), ("p2", 0)}


def counting_scorer(monkeypatch: pytest.MonkeyPatch, name: str = "math") -> Counter:
    """Count the calls of the registry's scorer `name`, by (completion, gold)."""
    from evallaunch.scoring import registry

    calls: Counter = Counter()
    score = registry.SCORERS[name]

    def counted(completion: str, gold: str):
        calls[(completion, gold)] += 1
        return score(completion, gold)

    monkeypatch.setitem(registry.SCORERS, name, counted)
    return calls


def test_a_unit_is_recorded_with_its_grades(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Recording a unit grades its samples (a cut-off one is never correct); the grades read
    back with the samples, without grading them again."""
    calls = counting_scorer(monkeypatch)
    problems = [Problem("p1", "What is 2+3?", "5")]
    right, cut = "so \\boxed{5}", "so \\boxed{5} and then"
    samples = [
        Completion("p1", 0, "q", right, "stop", 3),
        Completion("p1", 1, "q", cut, "length", 8),
    ]
    ledger = SampleLedger(tmp_path, "abc", SampleGrader("math", problems))
    ledger.record_unit("u1", samples, {})
    assert [ledger.grades[("p1", i)].correct for i in (0, 1)] == [True, False]
    assert ledger.grades[("p1", 1)].extracted == "5"
    again = SampleLedger(tmp_path, "abc", SampleGrader("math", problems)).load()
    assert again.grades == ledger.grades
    assert sorted(calls.values()) == [1, 1]


def test_an_older_ledger_is_graded_once_when_loaded(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Samples recorded without a grade (by an older evallaunch) are graded when the ledger
    is loaded, and only then: the stopping rule and the details rows read those grades."""
    from evallaunch.backends.details import detail_rows
    from evallaunch.job.grading import graded_samples
    from evallaunch.job.stopping import settled_problems

    problems = [Problem("p1", "What is 2+3?", "5"), Problem("p2", "What is 1+1?", "2")]
    older = SampleLedger(tmp_path, "abc")  # no grader: records without grades
    samples = [
        Completion(p.id, i, "q", f"\\boxed{{{p.answer if i % 2 else 7}}}", "stop", 3)
        for p in problems
        for i in range(4)
    ]
    older.record_unit("u", samples, {})
    assert "correct" not in older.path.read_text()
    calls = counting_scorer(monkeypatch)
    ledger = SampleLedger(tmp_path, "abc", SampleGrader("math", problems)).load()
    assert len(calls) == 4 and set(calls.values()) == {1}  # 2 distinct answers x 2 problems
    rule = SimpleNamespace(adaptive_rule="interval", ci_width=0.9, min_samples=4)
    assert settled_problems(problems, ledger, rule, before=4) == {"p1", "p2"}  # 2/4 each
    rows = detail_rows(graded_samples(list(ledger.samples.values()), problems, ledger.grades))
    assert [row["correct"] for row in rows] == [False, True] * 4
    assert set(calls.values()) == {1}


def test_unit_seeds_depend_on_the_unit_only() -> None:
    assert unit_seed(1234, 0, ["a", "b"]) == unit_seed(1234, 0, ["a", "b"])
    seeds = {
        unit_seed(1234, 0, ["a", "b"]),
        unit_seed(1234, 1, ["a", "b"]),
        unit_seed(1234, 0, ["a"]),
        unit_seed(1235, 0, ["a", "b"]),
    }
    assert len(seeds) == 4
    assert all(0 <= seed < 2**31 for seed in seeds)


def test_wilson_interval_widths() -> None:
    # No successes: the width is z^2 / (m + z^2).
    assert wilson_width(0, 2) == pytest.approx(1.959964**2 / (2 + 1.959964**2))
    assert wilson_width(5, 10) == pytest.approx(0.5268, abs=1e-4)
    assert wilson_width(32, 64) > wilson_width(64, 64)
    assert wilson_width(0, 0) == 1.0


def test_the_stopping_rule() -> None:
    assert not is_settled(0, 2, ci_width=0.7, min_samples=4)  # too few samples yet
    assert is_settled(0, 4, ci_width=0.7, min_samples=4)  # 0/4: width 0.49
    assert not is_settled(2, 4, ci_width=0.6, min_samples=4)  # 2/4: width 0.70
    assert not is_settled(32, 64, ci_width=0.2, min_samples=4)  # a coin flip: keep drawing


def test_adaptive_decisions_look_only_at_the_samples_drawn_before(tmp_path: Path) -> None:
    """A resumed job may find later samples in its ledger; the decision before block b
    uses samples 0..first-1 only, as the uninterrupted job's did."""
    from types import SimpleNamespace

    from evallaunch.benchmarks.problem import Problem
    from evallaunch.job.stopping import settled_problems

    problems = [Problem("p1", "What is 2+3?", "5"), Problem("p2", "What is 1+1?", "2")]
    ledger = SampleLedger(tmp_path, "abc", SampleGrader("math", problems))
    wrong = [Completion("p1", i, "q", "\\boxed{7}", "stop", 3) for i in range(4)]
    right = [Completion("p1", i, "q", "\\boxed{5}", "stop", 3) for i in (4, 5)]
    ledger.record_unit("u", wrong + right, {})
    rule = SimpleNamespace(adaptive_rule="interval", ci_width=0.6, min_samples=4)
    assert settled_problems(problems, ledger, rule, before=2) == set()
    assert settled_problems(problems, ledger, rule, before=4) == {"p1"}  # 0/4
    # 2 right of 6 (width 0.603) would not have stopped it: only the first 4 count.
    assert settled_problems(problems, ledger, rule, before=6) == set()


def reference_neyman_counts(
    outcomes: dict[str, list[tuple[bool, int]]],
    budget: int,
    per_round: int,
    min_samples: int,
    match_n: int,
) -> dict[str, int]:
    """Samples the neyman rule lets each problem of one chunk draw, recomputed from its
    outcomes (right?, tokens) in sample order, apart from evallaunch.job.sampling's code:
    spread sqrt(p (1 - p)) at p = (right + 1) / (n + 2), cost = mean tokens / the pilot's
    (samples < min_samples of every problem), lambda = match_n x sum s sqrt(c) / sum s^2
    over the pilot, stop at the first round end n >= min_samples with n >= lambda s /
    sqrt(c)."""

    def spread(rows: list[tuple[bool, int]]) -> float:
        rate = (sum(r for r, _ in rows) + 1) / (len(rows) + 2)
        return math.sqrt(rate * (1 - rate))

    pilot = [rows[:min_samples] for rows in outcomes.values()]
    reference = sum(t for rows in pilot for _, t in rows) / sum(len(rows) for rows in pilot)

    def cost(rows: list[tuple[bool, int]]) -> float:
        return max(sum(t for _, t in rows) / len(rows), 1) / max(reference, 1)

    top = sum(spread(rows) * math.sqrt(cost(rows)) for rows in pilot)
    scale = match_n * top / sum(spread(rows) ** 2 for rows in pilot)
    counts = {}
    for pid, rows in outcomes.items():
        n = per_round
        while n < budget and not (
            n >= min_samples and n >= scale * spread(rows[:n]) / math.sqrt(cost(rows[:n]))
        ):
            n += per_round
        counts[pid] = min(n, budget)
    return counts


def test_the_neyman_rule_by_hand(tmp_path: Path) -> None:
    """Pilot = the first 2 samples. p1: 0/2 of 400 tokens (spread at (0+1)/(2+2): 0.433),
    p2: 2/2 of 100 (0.433), p3: 1/2 of 200 (0.5); pilot mean 233.3 tokens, so costs
    1.714, 0.429, 0.857 and lambda = match_n x (0.433 x 1.309 + 0.433 x 0.655 + 0.5 x
    0.926) / (0.1875 + 0.1875 + 0.25) = 2.101 x match_n. After 4 samples (p1 0/4, p2 4/4,
    p3 2/4) the targets are lambda x (0.373 / 1.309, 0.373 / 0.655, 0.5 / 0.926): 2.39,
    4.79, 4.54 at match_n = 4 (p1 stops: long traces, no success yet), all below 4 at
    match_n = 3. Without token counts every cost is 1: lambda = 2.186 x 4, targets 3.26,
    3.26, 4.37: the cheap p2 stops too."""
    from evallaunch.job.stopping import settled_problems

    problems = [Problem("p1", "2+3?", "5"), Problem("p2", "1+1?", "2"), Problem("p3", "3+3?", "6")]
    answers = {"p1": "0000", "p2": "1111", "p3": "1010"}  # right (1) or wrong, in order
    tokens = {"p1": 400, "p2": 100, "p3": 200}

    def ledger_of(folder: Path, counted: bool) -> SampleLedger:
        ledger = SampleLedger(folder, "abc", SampleGrader("math", problems))
        rows = []
        for problem in problems:
            for i, right in enumerate(answers[problem.id] + "00"):  # samples 4, 5: wrong
                text = f"\\boxed{{{problem.answer if right == '1' else 'x'}}}"
                size = tokens[problem.id] * (1 if i < 4 else 50) if counted else None
                rows.append(Completion(problem.id, i, "q", text, "stop", size))
        ledger.record_unit("u", rows, {})
        return ledger

    def rule(match_n: int) -> SimpleNamespace:
        return SimpleNamespace(adaptive_rule="neyman", match_n=match_n, min_samples=2)

    ledger = ledger_of(tmp_path / "a", counted=True)
    assert settled_problems(problems, ledger, rule(4), before=4) == {"p1"}
    everything = {"p1", "p2", "p3"}
    assert settled_problems(problems, ledger, rule(3), before=4) == everything
    # Two samples: targets 2.78, 5.56, 4.54 at match_n = 4; samples 4 and 5 (wrong, 50x
    # longer) are in the ledger but not yet decided on.
    assert settled_problems(problems, ledger, rule(4), before=2) == set()
    plain = ledger_of(tmp_path / "b", counted=False)
    assert settled_problems(problems, plain, rule(4), before=4) == {"p1", "p2"}
    # The same decisions from the rule's functions and from the reference above.
    assert neyman_scale(4, [0.75**0.5 / 2] * 2 + [0.5], [1.0] * 3) == pytest.approx(
        4 * 2.1856, 1e-3
    )
    assert neyman_target(0, 4, 1.0, 1.0) == pytest.approx(math.sqrt(5) / 6)
    outcomes = {p.id: [(a == "1", tokens[p.id]) for a in answers[p.id]] for p in problems}
    assert reference_neyman_counts(outcomes, 6, 2, 2, 4) == {"p1": 4, "p2": 6, "p3": 6}


class CoinBackend(Backend):
    """Answers from a hash of (unit seed, problem, index): right with the problem's own
    rate, wrong answers three times longer; the call numbered `fail_on` raises."""

    RATES = {"p0": 1.0, "p1": 0.0, "p2": 0.5, "p3": 0.25, "p4": 0.75, "p5": 0.9}

    def __init__(self, fail_on: int | None = None) -> None:
        super().__init__("coin")
        self.calls = 0
        self.fail_on = fail_on

    def generate(self, request: GenerationRequest, scorer: object = None) -> BackendOutput:
        self.calls += 1
        if self.calls == self.fail_on:
            raise RuntimeError("the engine died")
        out = []
        for problem in request.problems:
            for i in range(request.n):
                digest = hashlib.sha256(f"{request.seed}:{problem.id}:{i}".encode()).digest()
                right = digest[0] / 256 < self.RATES[problem.id]
                text = f"\\boxed{{{problem.answer if right else '-1'}}}"
                size = (40 if right else 120) + digest[1] % 20
                out.append(Completion(problem.id, i, problem.prompt, text, "stop", size))
        return BackendOutput(out)

    def run(self, request: GenerationRequest, scorer: object) -> BackendOutput:
        raise NotImplementedError


def draw_neyman(folder: Path, backend: Backend, in_flight: int = 1):
    from evallaunch.job.sampling import draw_samples

    problems = [Problem(f"p{i}", f"What is {i} + {i}?", str(2 * i)) for i in range(6)]
    request = make_request(
        folder,
        problems=problems,
        n=16,
    )
    rule = SimpleNamespace(
        problems_per_unit=3,
        samples_per_unit=2,
        adaptive=True,
        adaptive_rule="neyman",
        ci_width=0.2,
        min_samples=4,
        match_n=6,
    )
    ledger = SampleLedger(folder, "fingerprint", SampleGrader("math", problems)).load()
    return draw_samples(backend, request, ledger, rule, in_flight)


def test_neyman_runs_decide_from_their_outcomes_and_resume_alike(tmp_path: Path) -> None:
    """Budget 16 in rounds of 2, pilot 4, as precise as 6 fixed samples: each chunk's
    counts are the reference's on the drawn outcomes; a job that died after two units and
    was rerun, or ran units two at a time, drew the same samples."""
    from evallaunch.job.grading import score_completions

    whole, report = draw_neyman(tmp_path / "whole", CoinBackend())
    drawn: dict[str, list[Completion]] = {}
    for c in sorted(whole.completions, key=lambda c: c.sample_index):
        drawn.setdefault(c.problem_id, []).append(c)
    problems = [Problem(f"p{i}", "", str(2 * i)) for i in range(6)]
    graded = score_completions(whole.completions, problems, "math")
    right = {(r["problem_id"], r["sample_index"]): r["correct"] for r in graded}
    for chunk in (["p0", "p1", "p2"], ["p3", "p4", "p5"]):
        outcomes = {
            p: [(right[(p, c.sample_index)], c.num_tokens or 0) for c in drawn[p]] for p in chunk
        }
        expected = reference_neyman_counts(outcomes, 16, 2, 4, 6)
        assert {p: len(drawn[p]) for p in chunk} == expected
    counts = sorted(len(v) for v in drawn.values())
    assert counts[0] < 16 and report.samples_generated == sum(counts)

    with pytest.raises(RuntimeError, match="the engine died"):
        draw_neyman(tmp_path / "resumed", CoinBackend(fail_on=3))
    resumed, again = draw_neyman(tmp_path / "resumed", CoinBackend())
    overlapped, _ = draw_neyman(tmp_path / "overlapped", CoinBackend(), in_flight=2)
    key = lambda c: (c.problem_id, c.sample_index)  # noqa: E731
    for other in (resumed, overlapped):
        assert sorted(other.completions, key=key) == sorted(whole.completions, key=key)
    assert again.units_reused == 2 and again.samples_per_problem == report.samples_per_problem


def test_units_split_the_problems_in_order() -> None:
    from evallaunch.benchmarks.problem import Problem
    from evallaunch.job.units import _chunks

    problems = [Problem(str(i), "q", "a") for i in range(5)]
    assert [[p.id for p in c] for c in _chunks(problems, 2)] == [["0", "1"], ["2", "3"], ["4"]]
    assert [len(c) for c in _chunks(problems, 0)] == [5]  # 0: all in one unit
    assert _chunks([], 0) == []  # adaptive sampling once every problem has settled


def test_summaries_of_problems_with_different_sample_counts() -> None:
    summary = summarize([[True, False], [True, True, True, False]], ragged=True, n_bootstrap=0)
    assert summary["pass@1"].value == pytest.approx((0.5 + 0.75) / 2)
    assert summary["pass@2"].value == pytest.approx((1.0 + 1.0) / 2)
    assert "pass@4" not in summary
    with pytest.raises(ValueError, match="same number of samples"):
        summarize([[True, False], [True, True, True, False]])


@pytest.mark.slow
def test_neyman_sampling_in_a_real_job(evaluate: Evaluate, tmp_path: Path) -> None:
    """The neyman rule in a job on the embedded model: budget 6 in rounds of 2, pilot 2,
    as precise as 3 fixed samples; each problem's count is the reference's on the outcomes
    and token counts in details.parquet."""
    evaluate(
        "backend=lmeval",
        "benchmark.limit=3",
        "benchmark.n=6",
        "generation.max_new_tokens=24",
        "sampling.adaptive=true",
        "sampling.adaptive_rule=neyman",
        "sampling.samples_per_unit=2",
        "sampling.min_samples=2",
        "sampling.match_n=3",
    )
    job = tmp_path / "outputs/default/smollm2-135m-instruct/main/math_500/lmeval"
    details = pd.read_parquet(job / "details.parquet").sort_values("sample_index")
    outcomes = {
        str(pid): list(zip(rows["correct"], rows["num_tokens"], strict=True))
        for pid, rows in details.groupby("problem_id")
    }
    expected = reference_neyman_counts(outcomes, 6, 2, 2, 3)
    assert {pid: len(rows) for pid, rows in outcomes.items()} == expected
    for _, rows in details.groupby("problem_id"):
        assert list(rows["sample_index"]) == list(range(len(rows)))
    results = json.loads((job / "results.json").read_text())
    assert results["sampling"]["samples_generated"] == len(details)


@pytest.mark.slow
def test_adaptive_sampling_stops_settled_problems_and_grades_each_sample_once(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An adaptive lm-eval job on the embedded model, on questions it answers and ones it
    cannot (tests/tiny_mirror.py): budget n=6 in rounds of 2, stopping from 4 samples on
    once the interval is narrower than 0.7; each problem's count is what the rule gives on
    its own outcomes. lm-eval grades each sample with evallaunch's scorer for its own
    pass@1; the job records that grade with the sample, and the stopping rule and the
    results read it. The scorer sees each (completion, gold) of details.parquet once, and
    nothing else."""
    from evallaunch.job.runner import run_job
    from tests.tiny_mirror import ARITHMETIC, TINY_MIRROR, write_tiny_mirror

    calls = counting_scorer(monkeypatch)
    cfg = compose_spec(
        [
            "backend=lmeval",
            f"paths.data_dir={write_tiny_mirror(tmp_path / 'mirror')}",
            f"paths.output_root={tmp_path / 'outputs'}",
            *TINY_MIRROR,
            "benchmark.n=6",
            "generation.max_new_tokens=40",
            "sampling.adaptive=true",
            "sampling.samples_per_unit=2",
            "sampling.min_samples=4",
            "sampling.ci_width=0.7",
        ]
    )
    job = tmp_path / "job"
    results = run_job(cfg, job)
    details = pd.read_parquet(job / "details.parquet")
    drawn = details.groupby("problem_id").size().to_dict()
    for problem, rows in details.sort_values("sample_index").groupby("problem_id"):
        outcomes = list(rows["correct"])
        expected = next((m for m in (2, 4) if is_settled(sum(outcomes[:m]), m, 0.7, 4)), 6)
        assert drawn[problem] == expected, (problem, outcomes)
        assert list(rows["sample_index"]) == list(range(expected))
    sampling = results["sampling"]
    assert sampling["adaptive"] == {
        "rule": "interval",
        "ci_width": 0.7,
        "match_n": None,
        "min_samples": 4,
    }
    problems = len(ARITHMETIC)
    assert sampling["samples_generated"] == sum(drawn.values()) == len(details) >= problems * 4
    assert sampling["samples_per_problem"]["max"] == max(drawn.values())
    assert results["metrics"]["pass@1"]["n"] == problems
    assert results["backend_metrics"]["pass@1"] is not None  # the harness graded them
    assert set(calls) == set(zip(details["completion"], details["gold"], strict=True))
    assert set(calls.values()) == {1}, calls.most_common(3)
