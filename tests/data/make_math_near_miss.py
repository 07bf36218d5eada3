"""Writes tests/data/math_near_miss.jsonl: answers next to each MATH-500 and AIME 2024 gold
answer, labelled by construction.

    .venv/bin/python tests/data/make_math_near_miss.py [--data DIR] [--out FILE]

For every gold answer it writes rewrites that keep its value (spacing, \\left/\\right,
\\dfrac, exact decimals, element order, ``x =`` prefixes, units, thousands separators, the
same set as inequalities, ...) labelled ``equivalent: true``, and changes that keep its
form but not its value (an interval endpoint or bracket, a sign, a swapped or dropped
element, a neighbouring fraction or radical, another variable or coefficient, degrees for
radians, another base, another unit, ...) labelled ``equivalent: false``. ``kind`` names
the change. Each answer is put in a completion (reasoning, then ``\\boxed{}``); some
completions also box the other label's answer inside their <think> block, to check that
only the final answer counts.

Scalar cases are checked as they are made: the value of every near miss differs from the
gold's, and every equivalent scalar has the gold's value (numerically, with latex2sympy,
substituting random values for variables). The output is deterministic.
"""

from __future__ import annotations

import argparse
import json
import random
import re
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

from near_miss_latex import Gold, Variant, braces
from near_miss_scalars import (
    base_variants,
    complex_variants,
    decimal_variants,
    degree_variants,
    fraction_variants,
    integer_variants,
    mixed_variants,
    money_variants,
    radian_variants,
    text_variants,
    thousands_variants,
    unit_variants,
)
from near_miss_structures import (
    equation_variants,
    expression_variants,
    interval_variants,
    matrix_variants,
    pi_variants,
    pm_variants,
    radical_variants,
    set_variants,
    tuple_variants,
)

HERE = Path(__file__).resolve().parent
DEFAULT_DATA = HERE.parents[2] / "shared" / "datasets"
DEFAULT_OUT = HERE / "math_near_miss.jsonl"


# ---------------------------------------------------------------------- classification


def classify(gold: Gold) -> Callable[[Gold, random.Random], Iterator[Variant]]:
    text = braces(gold.answer.strip())
    problem = gold.problem.lower()
    if re.fullmatch(r"-?\d+", text):
        return integer_variants
    if re.fullmatch(r"\d+_\{?\d+\}?", text):
        return base_variants
    if "\\circ" in text or "degrees" in text:
        return degree_variants
    if text.startswith("\\text{"):
        return text_variants
    if text.startswith("\\$"):
        return money_variants
    if re.fullmatch(r"\d{1,3}(,(\\!)? ?\d{3})+", text):
        return thousands_variants
    if "\\mbox" in text or "\\text" in text:
        return unit_variants
    if text.startswith("\\begin{pmatrix}"):
        return matrix_variants
    if (
        "\\infty" in text
        or "\\cup" in text
        or "\\in" in text
        or re.search(r"^(\\left)?[\[(].*[\])]$", text)
        and ("interval" in problem or text[0] + text[-1] in ("(]", "[)", "[]") or "\\left[" in text)
    ):
        return interval_variants
    if "\\pm" in text and not text.startswith("\\{"):
        return pm_variants
    if text.startswith("(") or text.startswith("\\left("):
        return tuple_variants
    if text.startswith("\\{") or "," in text:
        return set_variants
    if "=" in text:
        return equation_variants
    if re.fullmatch(r"-?\d*\.\d+", text):
        return decimal_variants
    if re.fullmatch(r"-?\\[dt]?frac\{\d+\}\{\d+\}", text):
        return fraction_variants
    if re.fullmatch(r"\d+\s*\\frac\{\d+\}\{\d+\}", text):
        return mixed_variants
    if re.fullmatch(r"-?\d+\s*[+-]\s*\d*i", text):
        return complex_variants
    if re.fullmatch(r"(-?)\\frac\{\\pi\}\{(\d+)\}|(-?)\\pi", text) and (
        "radian" in problem or "arc" in problem or text == "\\pi"
    ):
        return radian_variants
    if "\\sqrt" in text:
        return radical_variants
    if "\\pi" in text:
        return pi_variants
    return expression_variants


# ----------------------------------------------------------------------- value check

SCALAR_KINDS_SKIPPED = {
    "clock_time",  # latex2sympy reads 9:00 as 9/0
    "text_unit",
    "unit_form",
    "unit_change",
    "percent_form",
    "percent_value",
    "base_value",
    "pi_dropped",
    "degree_mark",
    "radian_degree",
    "degrees_radians",
    "base_form",
    "base_subscript",
    "base_digits",
}


def _scalar(latex: str):  # noqa: ANN202 - sympy value or None
    import sympy
    from latex2sympy2_extended import latex2sympy

    latex = re.sub(
        r"\\text\{[^{}]*\}|\\mathbf|\\displaystyle|\\!|\\,|[{}](?=,)|(?<=,)[{}]", "", latex
    )
    latex = re.sub(r"(?<=\d)[, ]+(?=\d{3})", "", latex).strip()
    sides = latex.split("=")
    if len(sides) > 2:
        return None
    try:
        values = [latex2sympy(side) for side in sides]
    except Exception:  # noqa: BLE001 - anything latex2sympy cannot read is not checked
        return None
    if not all(isinstance(value, sympy.Expr) for value in values):
        return None
    return (values[0] - values[1], "=") if len(values) == 2 else (values[0], "")


def value_differs(gold: str, answer: str) -> bool | None:
    """Numerically, does the answer's value differ from the gold's? None: not a scalar (or
    an equation against a bare value). Equations compare as lhs - rhs, up to sign."""
    import sympy

    ours, theirs = _scalar(gold), _scalar(answer)
    if ours is None or theirs is None or ours[1] != theirs[1]:
        return None
    symbols = sorted(ours[0].free_symbols | theirs[0].free_symbols, key=str)
    rng = random.Random(0)
    for _ in range(3):
        point = {s: sympy.Rational(rng.randint(3, 97), rng.randint(2, 13)) for s in symbols}
        try:
            a = complex(sympy.N(ours[0].subs(point), 30))
            b = complex(sympy.N(theirs[0].subs(point), 30))
        except (TypeError, ValueError):
            return None
        tolerance = 1e-15 * max(1.0, abs(a))
        if abs(a - b) > tolerance and (not ours[1] or abs(a + b) > tolerance):
            return True
    return False


# ---------------------------------------------------------------------------- output

TEMPLATES = [
    "We need to find the requested quantity. Working through the algebra step by step and "
    "checking each case carefully gives the result below.\n\n"
    "Therefore, the final answer is $\\boxed{{{answer}}}$.",
    "<think>\nLet me set up the problem. {trap}Hmm, let me recompute that more carefully, "
    "term by term, to be sure.\n</think>\n\nThe answer is $\\boxed{{{answer}}}$.",
    "Step 1: restate the conditions.\nStep 2: simplify.\nStep 3: solve and verify.\n\n"
    "**Final Answer**\n\\[\n\\boxed{{{answer}}}\n\\]",
]


def completion(answer: str, trap: str | None, index: int) -> str:
    template = TEMPLATES[index % len(TEMPLATES)]
    trap_text = f"At first I got $\\boxed{{{trap}}}$. " if trap else ""
    return template.format(answer=answer, trap=trap_text)


# Near misses an earlier math-verify accepted: the false accepts of Math-Verify's own test
# cases (tests/data/math_verify_cases.json), a variable's list of values and clock times.
PEER_GOLDS: dict[str, list[Variant]] = {
    "x=3, 4": [("x=1, 2", False, "variable_values"), ("x=4, 3", True, "set_order")],
    "n=2, 3, 4": [("n=1, 2, 3", False, "variable_values"), ("n=4, 3, 2", True, "set_order")],
    "x \\in \\{3,4\\}": [
        ("x \\in \\{1,2\\}", False, "variable_values"),
        ("x \\in \\{4, 3\\}", True, "set_order"),
    ],
    "10:00": [("9:00", False, "clock_time")],
    "12:00": [("1:00", False, "clock_time")],
}


def load_golds(data: Path) -> list[Gold]:
    golds = []
    for row in map(json.loads, (data / "math500.jsonl").read_text().splitlines()):
        golds.append(Gold("math_500", row["unique_id"], row["answer"], row["problem"]))
    for row in map(json.loads, (data / "aime24.jsonl").read_text().splitlines()):
        golds.append(Gold("aime24", str(row["id"]), row["answer"], row["problem"]))
    for index, answer in enumerate(PEER_GOLDS):
        golds.append(Gold("math_verify", f"false_accept_{index}", answer, ""))
    return golds


def cases_for(gold: Gold) -> list[dict]:
    rng = random.Random(f"{gold.source}:{gold.problem_id}")
    variants: list[Variant] = []
    seen = {gold.answer.strip()}
    made = PEER_GOLDS[gold.answer] if gold.source == "math_verify" else classify(gold)(gold, rng)
    for answer, equivalent, kind in made:
        if answer not in seen:
            seen.add(answer)
            variants.append((answer, equivalent, kind))
    near = [a for a, e, _ in variants if not e]
    same = [a for a, e, _ in variants if e]
    out = []
    for index, (answer, equivalent, kind) in enumerate(variants):
        if kind not in SCALAR_KINDS_SKIPPED:
            differs = value_differs(gold.answer, answer)
            if differs is not None and differs == equivalent:
                raise AssertionError(f"mislabelled {kind}: {gold.answer!r} vs {answer!r}")
        pool = same if not equivalent else near
        trap = pool[index % len(pool)] if pool and index % 3 == 1 else None
        if trap is None and not equivalent and index % 3 == 1:
            trap = gold.answer
        out.append(
            {
                "id": f"{gold.source}/{gold.problem_id}/{index}",
                "source": gold.source,
                "problem_id": gold.problem_id,
                "gold": gold.answer,
                "answer": answer,
                "completion": completion(answer, trap, index),
                "equivalent": equivalent,
                "kind": kind,
                "integer_answer": gold.integer_answer,
            }
        )
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT)
    args = parser.parse_args()
    cases = [case for gold in load_golds(args.data) for case in cases_for(gold)]
    with args.out.open("w", encoding="utf-8") as handle:
        for case in cases:
            handle.write(json.dumps(case, ensure_ascii=False) + "\n")
    kinds: dict[tuple[str, bool], int] = {}
    for case in cases:
        key = (case["kind"], case["equivalent"])
        kinds[key] = kinds.get(key, 0) + 1
    print(f"{len(cases)} cases -> {args.out}", file=sys.stderr)
    for (kind, equivalent), count in sorted(kinds.items(), key=lambda kv: (not kv[0][1], kv[0][0])):
        print(
            f"  {'equivalent' if equivalent else 'near miss':<10} {kind:<22} {count}",
            file=sys.stderr,
        )


if __name__ == "__main__":
    main()
