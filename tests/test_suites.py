"""Suites (conf/suite/): named lists of benchmarks and harness tasks that one sweep runs
(`--multirun suite=NAME`), and that `collect` aggregates as the suite says."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest

from evallaunch.collect.results_table import normalize
from evallaunch.collect.suite_groups import group_rows
from evallaunch.config.compose import group_options
from evallaunch.config.suites import member_name, suite_argument_sets, suite_groups
from evallaunch.errors import EvallaunchError
from tests.harness_jobs import run
from tests.helpers import compose_spec

SUITES = group_options("suite")


@pytest.mark.parametrize("suite", SUITES)
def test_every_suite_s_members_compose(suite: str) -> None:
    """Each member of each suite is a job that composes, named as the suite names it."""
    cfg = compose_spec([f"suite={suite}"])
    assert cfg.suite is not None
    members = list(cfg.suite.members)
    argument_sets = suite_argument_sets(cfg.suite, ["model=smollm2_135m"])
    assert len(argument_sets) == len(members) > 1
    for member, arguments in zip(members, argument_sets, strict=True):
        job = compose_spec(arguments)
        assert job.benchmark.name == member_name(member)


def test_a_suite_sets_each_job_s_benchmark_itself() -> None:
    suite = compose_spec(["suite=r1_and_gsm8k"]).suite
    assert suite is not None
    with pytest.raises(EvallaunchError, match="benchmark=aime24 is invalid with it"):
        suite_argument_sets(suite, ["benchmark=aime24"])
    gsm8k = suite_argument_sets(suite, ["generation.max_new_tokens=64"])[-1]
    assert gsm8k == [
        "generation.max_new_tokens=64",
        "benchmark=harness",
        "benchmark.task=gsm8k",
        "benchmark.num_fewshot=5",
    ]


def test_collect_aggregates_a_suite_as_it_says() -> None:
    """A suite whose aggregate is [macro] gets the macro row only; the newest results name
    the suite's members."""
    unit = {"model": "m", "revision": "main", "step": None, "backend": "lighteval"}
    rows = [
        {**unit, "benchmark": "math_500", "metric": "pass@1", "value": 0.5, "stderr": 0.1,
         "num_problems": 10, "variant": "n=1"},
        {**unit, "benchmark": "gsm8k", "metric": "extractive_match", "value": 0.25,
         "stderr": 0.05, "num_problems": 30, "variant": "n=1"},
    ]  # fmt: skip
    old = {"suite": {"name": "mix", "members": ["math_500"], "aggregate": ["weighted"]}}
    new = {"suite": {"name": "mix", "members": ["math_500", "gsm8k"], "aggregate": ["macro"]}}
    suites = suite_groups([{**old, "finished_at": "1"}, {**new, "finished_at": "2"}, {}])
    assert suites == {"mix": {"members": ["math_500", "gsm8k"], "aggregate": ["macro"]}}
    groups = {"mix": suites["mix"]["members"]}
    extra, _ = group_rows(normalize(pd.DataFrame(rows)), groups, {"mix": ["macro"]})
    assert list(zip(extra["benchmark"], extra["variant"], strict=True)) == [("group:mix", "macro")]
    assert extra["value"].iloc[0] == pytest.approx((0.5 + 0.25) / 2)


@pytest.mark.slow
def test_a_suite_sweep_of_math_500_and_gsm8k_collects_into_its_group(
    tmp_path: Path, mirror: Path
) -> None:
    """`--multirun suite=NAME` (a suite of the user's own, on Hydra's search path) runs
    evallaunch's math_500 and lighteval's gsm8k; collect reports the suite's macro score
    from both members' headline scores."""
    suites = tmp_path / "my_conf" / "suite"
    suites.mkdir(parents=True)
    (suites / "mini.yaml").write_text(
        "name: mini\n"
        "members:\n  - benchmark: math_500\n  - benchmark: harness\n    task: gsm8k\n"
        "aggregate: [macro]\n"
    )
    run(
        "-m",
        "evallaunch.evaluate",
        "--multirun",
        f"hydra.searchpath=[file://{tmp_path / 'my_conf'}]",
        "suite=mini",
        f"paths.output_root={tmp_path / 'outputs'}",
        f"paths.data_dir={mirror}",
        *("benchmark.limit=2", "benchmark.n=1", "backend.batch_size=2"),
        "generation.max_new_tokens=24",
        "benchmark.gen_kwargs='max_new_tokens=24'",
        cwd=tmp_path,
    )
    results = [json.loads(p.read_text()) for p in (tmp_path / "outputs").rglob("results.json")]
    assert sorted(r["benchmark"]["name"] for r in results) == ["gsm8k", "math_500"]
    assert all(r["suite"]["name"] == "mini" for r in results)
    run(
        *("-m", "evallaunch.cli", "collect", str(tmp_path / "outputs")),
        *("--output", str(tmp_path / "collected"), "--no-wandb"),
        cwd=tmp_path,
    )
    table = pd.read_parquet(tmp_path / "collected" / "table.parquet")
    group = table[table["benchmark"] == "group:mini"]
    assert list(group["variant"]) == ["macro"]
    headline = {
        "math_500": table.loc[
            (table["benchmark"] == "math_500") & (table["metric"] == "pass@1"), "value"
        ].iloc[0],
        "gsm8k": table.loc[
            (table["benchmark"] == "gsm8k") & (table["metric"] == "extractive_match"), "value"
        ].iloc[0],
    }
    assert group["value"].iloc[0] == pytest.approx(sum(headline.values()) / 2)


def test_plan_lists_every_member_of_a_suite() -> None:
    from evallaunch.planning.sweep_configs import plan_sweep

    rows = plan_sweep(
        ["experiment=open_r1", "cluster=slurm_h100_example", "suite=r1_and_gsm8k",
         "model=r1_distill_qwen_7b"],
        multirun=True,
    )  # fmt: skip
    names = [label.split()[-1] for label, _ in rows]
    assert names == ["aime24", "math_500", "gpqa_diamond", "gsm8k"]
    assert all(plan is not None and plan.total_gpus >= 1 for _, plan in rows)
