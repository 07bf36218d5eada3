"""How samples are drawn: the ledger's file format, unit seeds, the adaptive stopping rule,
and an adaptive run on the embedded model."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest

from evallaunch.backends.base import Completion
from evallaunch.ledger import SampleLedger
from evallaunch.sampling import is_settled, unit_seed, wilson_width
from evallaunch.scoring.metrics import summarize
from tests.conftest import Evaluate


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

    from evallaunch.data import Problem
    from evallaunch.sampling import _settled

    problems = [Problem("p1", "What is 2+3?", "5"), Problem("p2", "What is 1+1?", "2")]
    ledger = SampleLedger(tmp_path, "abc")
    wrong = [Completion("p1", i, "q", "\\boxed{7}", "stop", 3) for i in range(4)]
    right = [Completion("p1", i, "q", "\\boxed{5}", "stop", 3) for i in (4, 5)]
    ledger.record_unit("u", wrong + right, {})
    rule = SimpleNamespace(ci_width=0.6, min_samples=4)
    assert _settled(problems, ledger, "math", rule, before=2, graded={}) == set()
    assert _settled(problems, ledger, "math", rule, before=4, graded={}) == {"p1"}  # 0/4
    # 2 right of 6 (width 0.603) would not have stopped it: only the first 4 count.
    assert _settled(problems, ledger, "math", rule, before=6, graded={}) == set()


def test_units_split_the_problems_in_order() -> None:
    from evallaunch.data import Problem
    from evallaunch.sampling import _chunks

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
def test_adaptive_sampling_stops_settled_problems(evaluate: Evaluate, tmp_path: Path) -> None:
    """Budget n=6 in rounds of 2, stopping from 4 samples on once the interval is narrower
    than 0.7: each problem's count is what the rule gives on its own outcomes."""
    evaluate(
        "backend=lmeval",
        "benchmark.limit=3",
        "benchmark.n=6",
        "generation.max_new_tokens=24",
        "sampling.adaptive=true",
        "sampling.samples_per_unit=2",
        "sampling.min_samples=4",
        "sampling.ci_width=0.7",
    )
    job = tmp_path / "outputs/default/smollm2-135m-instruct/main/math_500/lmeval"
    results = json.loads((job / "results.json").read_text())
    details = pd.read_parquet(job / "details.parquet")
    drawn = details.groupby("problem_id").size().to_dict()
    for problem, rows in details.sort_values("sample_index").groupby("problem_id"):
        outcomes = list(rows["correct"])
        expected = next((m for m in (2, 4) if is_settled(sum(outcomes[:m]), m, 0.7, 4)), 6)
        assert drawn[problem] == expected, (problem, outcomes)
        assert list(rows["sample_index"]) == list(range(expected))
    sampling = results["sampling"]
    assert sampling["adaptive"] == {"ci_width": 0.7, "min_samples": 4}
    assert sampling["samples_generated"] == sum(drawn.values())
    assert sampling["samples_per_problem"]["max"] == max(drawn.values())
    assert results["metrics"]["pass@1"]["n"] == 3
