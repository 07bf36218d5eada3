"""lighteval's code task (LiveCodeBench, `lcb:codegeneration`), offline, its programs checked
by lighteval's own `run_test` inside evallaunch's sandbox: the same results as lighteval's own
checks on the same programs, and a job on the embedded model with consent.

The mirror holds two LiveCodeBench v5 problems (../shared/datasets/lcb_v5.jsonl) in
lighteval's `code_generation_lite` layout, their sample tests as the public tests."""

from __future__ import annotations

import base64
import json
import pickle
import zlib
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from evallaunch.compat.lighteval import sandboxed_codegen_checks
from evallaunch.scoring.code import parse_sample_tests
from evallaunch.scoring.code_eval import run_checker
from evallaunch.scoring.sandbox import sandbox_available
from tests.harness_jobs import evaluate, run

REFERENCE = Path(__file__).parent / "data" / "lcb_reference"
PROBLEMS = ["abc365_a", "abc365_b"]

pytestmark = pytest.mark.skipif(not sandbox_available(), reason="no namespace sandbox here")


def lighteval_rows(shared_datasets: Path) -> list[dict[str, Any]]:
    """The problems as lighteval's code_generation_lite rows (no private tests)."""
    lines = (shared_datasets / "lcb_v5.jsonl").read_text().splitlines()
    by_id = {row["question_id"]: row for row in map(json.loads, lines)}
    no_private = base64.b64encode(zlib.compress(pickle.dumps(json.dumps([])))).decode()
    rows = []
    for qid in PROBLEMS:
        row = by_id[qid]
        tests = [
            {"input": test.input, "output": test.output, "testtype": "stdin"}
            for test in parse_sample_tests(row["prompt"])
        ]
        rows.append(
            {
                "question_id": qid,
                "question_title": qid,
                "question_content": row["prompt"],
                "platform": "atcoder",
                "contest_date": row["contest_date"],
                "starter_code": "",
                "difficulty": "easy",
                "public_test_cases": json.dumps(tests),
                "private_test_cases": no_private,
                "metadata": "{}",
            }
        )
    return rows


def test_livecodebench_checks_in_the_sandbox_equal_lighteval_s_own(
    shared_datasets: Path,
) -> None:
    """lighteval's metric on the same programs, its checks in the sandbox or its own: the
    same result per test and the same pass@1 (stdin problems with the reference solutions,
    wrong and guarded programs; a call-based problem, right and wrong)."""
    from lighteval.tasks.tasks.lcb import codegen_metrics
    from lighteval.tasks.tasks.lcb.main import lcb_codegeneration_prompt_fn

    docs = [lcb_codegeneration_prompt_fn(row) for row in lighteval_rows(shared_datasets)]
    samples = [{"input_output": json.dumps(doc.specific)} for doc in docs]
    samples.append(
        {"input_output": json.dumps({"inputs": ["1\n2"], "outputs": ["3"]} | {"fn_name": "add"})}
    )
    programs = [
        [(REFERENCE / f"{qid}.py").read_text(), "print(0)\n", "import os\nprint(os.getcwd())\n"]
        for qid in PROBLEMS
    ]
    method = "class Solution:\n    def add(self, a, b):\n        return a {} b\n"
    programs.append([method.format("+"), method.format("-")])
    own = codegen_metrics.codegen_metrics(samples, programs, k_list=[1], num_process_evaluate=2)
    with sandboxed_codegen_checks(run_checker):
        ours = codegen_metrics.codegen_metrics(
            samples, programs, k_list=[1], num_process_evaluate=2
        )
    assert ours[1] == own[1]
    assert [[all(r is True for r in checks) for checks in own[1][i]] for i in range(3)] == [
        [True, False, False],
        [True, False, False],
        [True, False],
    ]
    assert ours[0]["pass@1"] == own[0]["pass@1"] == pytest.approx((1 / 3 + 1 / 3 + 1 / 2) / 3)


@pytest.mark.slow
def test_lighteval_s_livecodebench_runs_offline_with_consent(
    tmp_path: Path, shared_datasets: Path
) -> None:
    """lighteval's lcb:codegeneration on the embedded model, offline from the mirror, with
    consent: results.json records the sandbox, and pass@1 is what lighteval's own metric
    gives on the completions in details.parquet."""
    from lighteval.tasks.tasks.lcb import codegen_metrics

    source = tmp_path / "lcb"
    source.mkdir()
    rows = lighteval_rows(shared_datasets)
    (source / "test.jsonl").write_text("".join(json.dumps(row) + "\n" for row in rows))
    run(
        *("-m", "evallaunch.cli", "prepare", "--task", "lcb:codegeneration"),
        *("--backend", "lighteval", "--source", str(source)),
        *("--data-dir", str(tmp_path / "mirror")),
        cwd=tmp_path,
        forked=True,
    )
    evaluate(
        tmp_path,
        tmp_path / "mirror",
        "backend=lighteval",
        "benchmark.task=lcb:codegeneration",
        "benchmark.limit=1",
        "benchmark.allow_code_execution=true",
        "benchmark.gen_kwargs='max_new_tokens=16'",
    )
    out = tmp_path / "outputs" / "default" / "smollm2-135m-instruct" / "main"
    job = out / "lcb:codegeneration" / "lighteval"
    results = json.loads((job / "results.json").read_text())
    assert results["benchmark"]["code_execution"]["sandbox"] == {"lcb:codegeneration": "namespaces"}
    details = pd.read_parquet(job / "details.parquet")
    from lighteval.tasks.tasks.lcb.main import lcb_codegeneration_prompt_fn

    doc = lcb_codegeneration_prompt_fn(rows[0])
    programs = [[codegen_metrics.extract_code(text) for text in details["completion"]]]
    own = codegen_metrics.codegen_metrics(
        [{"input_output": json.dumps(doc.specific)}], programs, k_list=[1]
    )
    assert results["metrics"]["codegen_pass@1:16"]["value"] == own[0]["pass@1"]
