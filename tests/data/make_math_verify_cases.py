"""Writes tests/data/math_verify_cases.json: the (gold, prediction, expected) cases of
Math-Verify's own tests, with the completion a model would write for each prediction.

    git clone https://github.com/huggingface/Math-Verify /tmp/Math-Verify
    .venv/bin/python tests/data/make_math_verify_cases.py --repo /tmp/Math-Verify/.git \
        --plain .venv/bin/python --plain /tmp/mv080/bin/python

``--plain PYTHON`` (repeatable) records, per case, the verdict of plain math-verify
``verify(parse(gold), parse(prediction))`` in that interpreter, under its math-verify
version: a version evallaunch cannot install beside its pins (0.8.0 needs another
latex2sympy2_extended than lighteval's) is graded in a virtual environment of its own, e.g.
``python -m venv /tmp/mv080 && /tmp/mv080/bin/pip install math-verify[antlr4_13_2]==0.8.0``.

The files are read from the named commit (``git show``) and parsed, not run: every
``@pytest.mark.parametrize`` list of the test files below, plus the one ``compare_strings``
call with literal arguments outside them (test_precision), gives a case. Each case keeps
the settings its test calls the grader with (``match_types``, ``precision``, ``strict``,
``allow_set_relation_comp``; Math-Verify's defaults where the test names none).

The completion is the prediction as a model would write it:

- ``boxed``: a prediction with ``\\boxed`` is kept as it is;
- ``prose``: a prediction that opens with a word, or has two or more words outside its
  ``$...$`` / ``\\(...\\)`` / ``\\[...\\]`` spans, is a sentence and is kept as it is;
- ``bare``: anything else is a bare answer (``1,000.99``, ``$x \\in [-2,7]$``, ``28
  percent``): its outer ``$``/``$$`` are dropped and it is put in ``\\boxed{}``.

The output is deterministic.
"""

from __future__ import annotations

import argparse
import ast
import json
import math
import re
import subprocess
from pathlib import Path
from typing import Any

REPOSITORY = "https://github.com/huggingface/Math-Verify"
COMMIT = "5d148cfaaf99214c2e4ffb4bc497ab042c592a7a"  # main on 2025-07-02, version 0.8.0
FILES = (
    "test_all.py",
    "test_boxed.py",
    "test_numina_cases.py",
    "test_open_thoughts.py",
    "test_strict.py",
    "test_yujianll.py",
)
DEFAULTS: dict[str, Any] = {
    "match_types": ["latex", "expr"],
    "precision": 6,
    "strict": True,
    "allow_set_relation_comp": False,
}
GRADERS = ("compare_strings", "verify")
OUT = Path(__file__).resolve().parent / "math_verify_cases.json"

_MATH_SPAN_RE = re.compile(r"\$\$.*?\$\$|\$.*?\$|\\\(.*?\\\)|\\\[.*?\\\]", re.S)
_DOLLAR_RE = re.compile(r"(?<!\\)\$")
_WORD_RE = re.compile(r"(?<![\\A-Za-z])[A-Za-z]{2,}")


def completion_for(prediction: str) -> tuple[str, str]:
    """(form, completion): how a model would write the test's prediction (module doc)."""
    if "\\boxed" in prediction:
        return "boxed", prediction
    words = _WORD_RE.findall(_MATH_SPAN_RE.sub(" ", prediction))
    if len(words) >= 2 or re.match(r"\s*[A-Za-z]{2,}", prediction):
        return "prose", prediction
    bare = _DOLLAR_RE.sub("", prediction).strip()
    return "bare", "\\boxed{" + bare + "}"


def _literal(node: ast.AST) -> Any:
    return eval(compile(ast.Expression(node), "<test>", "eval"), {"math": math})  # noqa: S307


def _grader_call(function: ast.FunctionDef) -> ast.Call:
    for node in ast.walk(function):
        if isinstance(node, ast.Call) and getattr(node.func, "id", None) in GRADERS:
            return node
    raise SystemExit(f"{function.name}: no call of {' or '.join(GRADERS)}")


def _settings(call: ast.Call, row: dict[str, Any]) -> dict[str, Any]:
    """The grader settings of one case: the call's keywords, read from the row's values
    where the call passes a parameter (``strict=strict``)."""
    settings = dict(DEFAULTS)
    for keyword in call.keywords:
        if isinstance(keyword.value, ast.Name) and keyword.value.id in row:
            settings[keyword.arg or ""] = row[keyword.value.id]
        else:
            settings[keyword.arg or ""] = _literal(keyword.value)
    return settings


def _parametrized(function: ast.FunctionDef) -> list[dict[str, Any]]:
    for decorator in function.decorator_list:
        if isinstance(decorator, ast.Call) and ast.unparse(decorator.func).endswith("parametrize"):
            names = [n.strip() for n in _literal(decorator.args[0]).split(",")]
            return [dict(zip(names, values, strict=True)) for values in _literal(decorator.args[1])]
    return []


def _literal_calls(function: ast.FunctionDef) -> list[dict[str, Any]]:
    """``compare_strings("gold", "pred", ...) == 1`` outside a parametrize list."""
    rows = []
    for node in ast.walk(function):
        if (
            isinstance(node, ast.Compare)
            and isinstance(node.left, ast.Call)
            and getattr(node.left.func, "id", None) == "compare_strings"
        ):
            gold, pred = (_literal(arg) for arg in node.left.args[:2])
            rows.append({"gold": gold, "pred": pred, "expected": _literal(node.comparators[0])})
    return rows


def cases_of(name: str, source: str) -> list[dict[str, Any]]:
    """The cases of one test file, in file order."""
    cases = []
    for function in ast.parse(source).body:
        if not (isinstance(function, ast.FunctionDef) and function.name.startswith("test_")):
            continue
        rows = _parametrized(function)
        if not rows:  # test_precision: a literal call (its keywords are constants)
            rows = _literal_calls(function)
        call = _grader_call(function) if rows else None
        for index, row in enumerate(rows):
            settings = _settings(call, row) if call is not None else dict(DEFAULTS)
            expected = row.get("expected", row.get("result"))
            form, completion = completion_for(row["pred"])
            cases.append(
                {
                    "id": f"{name}::{function.name}[{index}]",
                    "gold": row["gold"],
                    "prediction": row["pred"],
                    "expected": bool(expected),
                    "settings": settings,
                    "form": form,
                    "completion": completion,
                }
            )
    return cases


_PLAIN = """
import json, sys
from importlib.metadata import version
from math_verify import parse, verify
pairs = json.load(sys.stdin)
verdicts = [bool(verify(parse(gold), parse(prediction))) for gold, prediction in pairs]
print(json.dumps({"version": version("math-verify"), "verdicts": verdicts}))
"""


def plain_verdicts(python: str, cases: list[dict[str, Any]]) -> tuple[str, list[bool]]:
    """(math-verify version, verdicts) of plain math-verify in the interpreter `python`."""
    pairs = [(case["gold"], case["prediction"]) for case in cases]
    proc = subprocess.run(
        [python, "-c", _PLAIN], input=json.dumps(pairs), capture_output=True, text=True
    )
    if proc.returncode != 0:
        raise SystemExit(f"{python}: plain math-verify failed:\n{proc.stderr[-2000:]}")
    result = json.loads(proc.stdout.strip().splitlines()[-1])
    return result["version"], result["verdicts"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--repo", required=True, help="git directory of a Math-Verify clone")
    parser.add_argument("--commit", default=COMMIT)
    parser.add_argument("--out", type=Path, default=OUT)
    parser.add_argument("--plain", action="append", default=[], metavar="PYTHON")
    args = parser.parse_args()
    cases = []
    for name in FILES:
        source = subprocess.run(
            ["git", "--git-dir", args.repo, "show", f"{args.commit}:tests/{name}"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout
        cases += cases_of(name, source)
    for python in args.plain:
        version, verdicts = plain_verdicts(python, cases)
        for case, verdict in zip(cases, verdicts, strict=True):
            case.setdefault("plain", {})[version] = verdict
    document = {
        "source": {"repository": REPOSITORY, "commit": args.commit, "files": list(FILES)},
        "defaults": DEFAULTS,
        "cases": cases,
    }
    args.out.write_text(json.dumps(document, indent=1, ensure_ascii=False) + "\n")
    print(f"{len(cases)} cases -> {args.out}")


if __name__ == "__main__":
    main()
