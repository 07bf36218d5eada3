"""evallaunch's math scorer on Math-Verify's own test cases (tests/data/math_verify_cases.json):
at least plain math-verify 0.8.0's agreement and no false accept, in the table that
bench/cpu/math_verify_peer.py prints (docs/math-scoring.md, "Measured on Math-Verify's tests")."""

from __future__ import annotations

import importlib.util
import sys
from importlib.metadata import version
from pathlib import Path
from typing import Any

import pytest

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from bench.cpu import math_verify_peer as peer  # noqa: E402

# One case of each kind the scorer reads beyond plain math-verify 0.5.2, and each of its
# false accepts: the fast check (the whole suite is the slow one).
ONE_OF_EACH = [
    "test_yujianll.py::test_string_extraction[1]",  # n=1, 2, 3 for n=2, 3, 4
    "test_yujianll.py::test_string_extraction[12]",  # 1:00 for 12:00
    "test_yujianll.py::test_string_extraction[7]",  # 21, 36, and 82 for 19, 46, and 82
    "test_yujianll.py::test_string_extraction[10]",  # 2021 for \pm 2021
    "test_yujianll.py::test_string_extraction[11]",  # {-2021, 2021} for \pm 2021
    "test_yujianll.py::test_string_extraction[5]",  # a sum with its factors swapped
    "test_all.py::test_percent_notation[8]",  # 28 percentage
    "test_all.py::test_number_extraction[5]",  # 1000,99
    "test_all.py::test_number_extraction[17]",  # 0.111 for 0,111
    "test_numina_cases.py::test_numina_cases[25]",  # 21,16,11 for "$21,16$ or $11$"
    "test_numina_cases.py::test_numina_cases[24]",  # W(x)=1 or W(x)=-1
    "test_numina_cases.py::test_numina_cases[27]",  # (0,1) for 0<f(x)<1
    "test_open_thoughts.py::test_open_thoughts[12]",  # \boxed{(2, 2)} and \boxed{(6, 2)}
    "test_open_thoughts.py::test_open_thoughts[14]",  # ... for part (a) and \boxed{...}
    "test_open_thoughts.py::test_open_thoughts[9]",  # (x, y) = (5, 8) and (8, 5)
    "test_all.py::test_math_extraction_additional_cases[27]",  # gold \boxed{1}\boxed{2}
    "test_numina_cases.py::test_numina_cases[13]",  # gold \(\boxed{1}\) and \(\boxed{-2}\)
    "test_all.py::test_math_extraction_additional_cases[17]",  # boxed 255, final 10,455
    "test_all.py::test_latex_notation_math[2]",  # a gold solution ending "the final answer is"
    "test_all.py::test_latex_notation_math[25]",  # gold "$125$ miles"
    "test_all.py::test_relations_math[28]",  # 2x+4y-3=0 as y=-x/2+3/4
    "test_all.py::test_complex_math_expressions[0]",  # 0.0833333333333333 for 1/12
    "test_all.py::test_float_precision[0]",  # \sqrt{17} for 4.123105625617661
    "test_all.py::test_sqrt_precision[0]",  # 4\sqrt{2} is not 4
    "test_all.py::test_relations_math[0]",  # prose: Therefore $x \geq 5$ is the solution.
    "test_all.py::test_math_extraction_edge_cases[0]",  # prose ending "is 2/3. <|im_start|>"
    "test_all.py::test_latex_notation[5]",  # "Answer $ \n 9 \n $": no answer
]


@pytest.fixture(scope="module")
def cases() -> list[dict[str, Any]]:
    return peer.load_cases()[1]


def test_the_cases_are_math_verify_s_own_at_a_named_commit(cases: list[dict[str, Any]]) -> None:
    source, _ = peer.load_cases()
    assert source["repository"] == "https://github.com/huggingface/Math-Verify"
    assert len(source["commit"]) == 40
    assert len(cases) == 270 and len({case["id"] for case in cases}) == 270
    assert {case["id"].split("::")[0] for case in cases} == set(source["files"])
    assert {case["form"] for case in cases} == set(peer.FORMS)
    assert all({"0.5.2", "0.8.0"} <= set(case["plain"]) for case in cases)
    assert len(peer.setting_twins(cases)) == 4  # test_strict's pair, one pair of set_rel's


def test_each_completion_is_the_prediction_as_the_generator_writes_it(
    cases: list[dict[str, Any]],
) -> None:
    path = REPO / "tests" / "data" / "make_math_verify_cases.py"
    spec = importlib.util.spec_from_file_location("make_math_verify_cases", path)
    assert spec is not None and spec.loader is not None
    generator = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(generator)
    for case in cases:
        assert generator.completion_for(case["prediction"]) == (case["form"], case["completion"])


def test_the_scorer_agrees_on_one_case_of_each_kind(cases: list[dict[str, Any]]) -> None:
    chosen = [case for case in cases if case["id"] in ONE_OF_EACH]
    assert len(chosen) == len(ONE_OF_EACH)
    verdicts = peer.evallaunch_verdicts(chosen)
    wrong = [
        (c["id"], c["expected"])
        for c, v in zip(chosen, verdicts, strict=True)
        if v != c["expected"]
    ]
    assert wrong == []


@pytest.mark.slow
def test_the_peer_table(cases: list[dict[str, Any]], capsys: pytest.CaptureFixture[str]) -> None:
    rows = peer.tallies(cases)
    shown = peer.table(rows, len(cases))
    with capsys.disabled():
        print("\n" + shown)
    installed, ours = rows[-2], rows[-1]
    recorded = [case["plain"][version("math-verify")] for case in cases]
    recorded_row = peer.Tally.of(installed.grader, cases, recorded)
    assert vars(installed) == vars(recorded_row), (
        "the recorded verdicts are not plain math-verify's"
    )
    assert ours.false_accepts == [], shown
    assert ours.agrees >= peer.TARGET, shown
