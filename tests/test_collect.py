"""`evallaunch collect / compare / diff`: job dirs written by evallaunch's own writers."""

from __future__ import annotations

import argparse
import json
import os
import shutil
import socket
import struct
import time
import zlib
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
import yaml

from evallaunch.cli import results_commands
from evallaunch.collect import compare, plots, publish, references, report
from evallaunch.collect.collection import Collection, collect
from evallaunch.collect.results_table import KEY, merge_tables, normalize, read_table
from evallaunch.collect.suite_groups import group_rows
from evallaunch.errors import EvallaunchError
from evallaunch.job.results import JobResults, validate_results, write_outcome
from evallaunch.job.runner import archive_previous
from evallaunch.runtime.files import write_json

QWEN7B = "deepseek-ai/DeepSeek-R1-Distill-Qwen-7B"
PNG = b"\x89PNG\r\n\x1a\n"


# ----------------------------------------------------------------------------- helpers


def cli(*argv: str) -> int:
    """Run a collect sub-command the way `evallaunch` does (errors -> exit status 2)."""
    parser = argparse.ArgumentParser(prog="evallaunch")
    results_commands.register_collect_commands(parser.add_subparsers(dest="command"))
    args = parser.parse_args(argv)
    try:
        return int(args.func(args))
    except EvallaunchError as err:
        print(f"evallaunch: error: {err}")
        return 2


def details_rows(correct: list[list[bool]]) -> list[dict[str, Any]]:
    """Per-sample rows in evallaunch's details format."""
    return [
        {
            "problem_id": f"p{i:04d}",
            "sample_index": j,
            "prompt": f"Problem {i}\nPlease reason step by step.",
            "completion": f"... \\boxed{{{1 if ok else 0}}}",
            "extracted_answer": "1" if ok else "0",
            "gold": "1",
            "correct": ok,
            "finish_reason": "stop",
            "truncated": False,
            "num_tokens": 100 + j,
        }
        for i, samples in enumerate(correct)
        for j, ok in enumerate(samples)
    ]


def make_job(
    root: Path,
    correct: list[list[bool]],
    *,
    model: str = "org--tiny",
    name_or_path: str | None = None,
    revision: str = "main",
    step: int | None = None,
    tokens: int | None = None,
    benchmark: str = "math_500",
    backend: str = "lighteval",
    experiment: str = "exp",
    finished_at: str = "2026-01-01T00:00:00+00:00",
    temperature: float = 0.6,
    packages: dict[str, str] | None = None,
    limit: int | None = None,
) -> Path:
    """A job directory as `run_job` writes it: status, details, config, results (last)."""
    job = root / experiment / model / revision / benchmark / backend
    archive_previous(job)
    write_json(job / "status.json", {"status": "running", "started_at": finished_at})
    n = len(correct[0])
    generation = {"temperature": temperature, "top_p": 0.95, "max_new_tokens": 512, "seed": 1234}
    config = {
        "model": {
            "name_or_path": name_or_path or model,
            "name": model,
            "revision": revision,
            "dtype": "auto",
            "chat_template": True,
            "step": step,
            "tokens_trained": tokens,
        },
        "benchmark": {
            "name": benchmark,
            "prompt_template": "{problem}\nPlease reason step by step.",
            "scorer": "math",
            "n": n,
            "limit": limit,
        },
        "backend": {"name": backend, "model_type": "transformers", "model_args": {}},
        "generation": generation,
        "paths": {"output_root": str(root)},
    }
    job.mkdir(parents=True, exist_ok=True)
    (job / "config.yaml").write_text(yaml.safe_dump(config))
    fields: dict[str, Any] = {
        "experiment": experiment,
        "model": {
            "name": model,
            "name_or_path": name_or_path or model,
            "revision": revision,
            "step": step,
            "tokens_trained": tokens,
            "resolved_path": f"/cache/{model}",
            "dtype": "float32",
            "device": "cpu",
        },
        "benchmark": {
            "name": benchmark,
            "data_file": f"{benchmark}.jsonl",
            "data_sha256": "ab" * 32,
            "limit": limit,
            "scorer": "math",
        },
        "backend": {"name": backend, "model_type": "transformers"},
        "backend_metrics": {},
        "num_problems": len(correct),
        "num_samples": n,
        "sampling": None,
        "generation": generation,
        "seed": 1234,
        "packages": packages
        or {"evallaunch": "0.1.0", "lighteval": "0.13.0", "transformers": "5.23.0"},
        "config_fingerprint": f"fp-{model}-{benchmark}-{temperature}",
        "started_at": finished_at,
        "finished_at": finished_at,
        "duration_s": 1.0,
    }
    write_outcome(job, JobResults(**fields), details_rows(correct))
    write_json(job / "status.json", {"status": "completed", "finished_at": finished_at})
    return job


def outcomes(num: int, rate: float, n: int = 1, seed: int = 0) -> list[list[bool]]:
    rng = np.random.default_rng(seed)
    return (rng.random((num, n)) < rate).tolist()


def check_collect(root: Path, out: Path, *extra: str) -> pd.DataFrame:
    """Collect any outputs root through the CLI and check the table's invariants.

    Usable on outputs of real `evallaunch-evaluate` runs as well as on synthetic ones.
    """
    assert cli("collect", str(root), "--output", str(out), "--no-wandb", *extra) == 0
    table = read_table(out / "table.parquet")
    assert not table.duplicated(KEY).any()
    assert table["value"].between(0, 1).all()
    plain = table[~table["benchmark"].str.startswith("group:")]
    for job_dir in set(plain["job_dir"]):
        results = json.loads((Path(job_dir) / "results.json").read_text())
        assert validate_results(results) == []
        rows = plain[plain["job_dir"] == job_dir].set_index("metric")
        assert set(rows.index) == set(results["metrics"])
        for name, metric in results["metrics"].items():
            assert rows.loc[name, "value"] == pytest.approx(metric["value"])
    assert (out / "report.html").is_file() and (out / "report.md").is_file()
    return table


def read_wandb_log(path: Path) -> list[Any]:
    """Records of a `run-*.wandb` transaction log (W&B's leveldb-style record format)."""
    from wandb.proto import wandb_internal_pb2

    data, records, pos, pending = path.read_bytes(), [], 7, b""
    if len(data) < 7:  # not written yet
        return []
    ident, magic, version = struct.unpack("<4sHB", data[:7])
    assert (ident, magic, version) == (b":W&B", 0xBEE1, 0)
    while pos + 7 <= len(data):
        if 32768 - pos % 32768 < 7:  # block trailer padding
            pos += 32768 - pos % 32768
            continue
        checksum, length, kind = struct.unpack("<IHB", data[pos : pos + 7])
        chunk, pos = data[pos + 7 : pos + 7 + length], pos + 7 + length
        if pos > len(data):  # a record still being written
            break
        if kind == 0:
            continue
        assert zlib.crc32(chunk, zlib.crc32(bytes([kind]))) & 0xFFFFFFFF == checksum
        pending = chunk if kind in (1, 2) else pending + chunk
        if kind in (1, 4):  # full or last fragment
            record = wandb_internal_pb2.Record()  # type: ignore[attr-defined]
            record.ParseFromString(pending)
            records.append(record)
    return records


def run_records(run_dir: Path, timeout: float = 60.0) -> list[Any]:
    """The records of an offline run, once W&B's writer has flushed its exit record."""
    deadline = time.monotonic() + timeout
    while True:
        paths = list(run_dir.glob("run-*.wandb"))
        records = read_wandb_log(paths[0]) if paths else []
        if records and records[-1].WhichOneof("record_type") == "exit":
            return records
        assert time.monotonic() < deadline, f"{run_dir}: no complete transaction log"
        time.sleep(0.2)


def _items(items: Any) -> dict[str, Any]:
    return {"/".join(i.nested_key) or i.key: json.loads(i.value_json) for i in items}


# ----------------------------------------------------------------------------- fixtures


@pytest.fixture(scope="module")
def pristine(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Two checkpoints of a small model (with steps), the R1-Distill-7B, two backends."""
    root = tmp_path_factory.mktemp("pristine") / "outputs"
    for i, (step, rate) in enumerate([(100, 0.2), (200, 0.5), (300, 0.7)]):
        for bench, num in [("math_500", 40), ("aime24", 30)]:
            make_job(
                root,
                outcomes(num, rate, n=4, seed=i),
                model="org--tiny-sft",
                revision=f"step-{step}",
                step=step,
                tokens=step * 1_000_000,
                benchmark=bench,
                finished_at=f"2026-01-0{i + 1}T00:00:00+00:00",
            )
    model = QWEN7B.replace("/", "--")
    make_job(root, outcomes(30, 0.0, n=4), model=model, name_or_path=QWEN7B, benchmark="aime24")
    make_job(root, [[True] * 4] * 9 + [[False] * 4], model=model, name_or_path=QWEN7B)
    make_job(
        root,
        outcomes(40, 0.5, n=4),
        model="org--tiny-sft",
        revision="step-300",
        step=300,
        backend="lmeval",
    )
    return root


@pytest.fixture
def outputs(pristine: Path, tmp_path: Path) -> Path:
    """A fresh copy of the pristine outputs tree (tests add and break jobs in it)."""
    return Path(shutil.copytree(pristine, tmp_path / "outputs"))


# ----------------------------------------------------------------------------- table


def test_collect_builds_the_long_table(outputs: Path, tmp_path: Path) -> None:
    table = check_collect(outputs, tmp_path / "collect", "--csv")
    assert (tmp_path / "collect" / "table.csv").is_file()
    assert list(table.columns[: len(KEY)]) == KEY
    row = table[
        (table["model"] == "org--tiny-sft")
        & (table["step"] == 200)
        & (table["benchmark"] == "math_500")
        & (table["metric"] == "pass@1")
    ].iloc[0]
    details = pd.read_parquet(Path(row["job_dir"]) / "details.parquet")
    assert row["value"] == pytest.approx(details.groupby("problem_id")["correct"].mean().mean())
    assert row["variant"] == "n=4" and row["num_samples"] == 4 and row["num_problems"] == 40
    assert row["seed"] == 1234  # what drew the samples, beside n and the variant
    assert row["packages"] == "evallaunch=0.1.0;lighteval=0.13.0;transformers=5.23.0"
    assert row["tokens_trained"] == 200_000_000 and row["revision"] == "step-200"
    assert row["eval_date"] == pd.Timestamp("2026-01-02T00:00:00Z")
    assert {"pass@1", "pass@2", "pass@4", "maj@4"} <= set(table["metric"])
    assert set(table["backend"]) == {"lighteval", "lmeval"}


def test_bad_runs_are_skipped_with_one_warning_each(
    outputs: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    good = make_job(outputs, outcomes(10, 0.5), model="org--good")
    bad_json = make_job(outputs, outcomes(10, 0.5), model="org--badjson")
    (bad_json / "results.json").write_text('{"schema_version": 1, "status": ')
    old_schema = make_job(outputs, outcomes(10, 0.5), model="org--oldschema")
    data = json.loads((old_schema / "results.json").read_text())
    write_json(old_schema / "results.json", {**data, "schema_version": 0})
    running = outputs / "exp" / "org--running" / "main" / "math_500" / "lighteval"
    write_json(running / "status.json", {"status": "running"})
    failed = outputs / "exp" / "org--failed" / "main" / "math_500" / "lighteval"
    write_json(failed / "status.json", {"status": "failed", "error": "CUDA out of memory\n..."})
    lost = make_job(outputs, outcomes(10, 0.5), model="org--lost")
    (lost / "results.json").unlink()
    # An older run kept in history/ is not a job of its own.
    archive_previous(make_job(outputs, outcomes(10, 0.5), model="org--rerun"))
    make_job(outputs, outcomes(10, 0.5), model="org--rerun", finished_at="2026-02-01T00:00:00Z")
    capsys.readouterr()
    table = check_collect(outputs, tmp_path / "collect")
    warnings = [x for x in capsys.readouterr().err.splitlines() if "warning" in x]
    expected = {
        bad_json / "results.json": "invalid JSON",
        old_schema / "results.json": "schema_version 0 (expected 1)",
        running / "status.json": "still running",
        failed / "status.json": "job failed: CUDA out of memory",
        lost / "results.json": "missing although status.json says completed",
    }
    assert len(warnings) == len(expected)
    for path, why in expected.items():
        assert sum(str(path) in line and why in line for line in warnings) == 1, (path, warnings)
    assert {"org--good", "org--rerun"} <= set(table["model"])
    assert not {"org--badjson", "org--oldschema", "org--running"} & set(table["model"])
    assert (table["model"] == "org--rerun").sum() == 1  # n=1: pass@1 only; history ignored
    assert str(good) in set(table["job_dir"])


def test_recollect_is_idempotent_and_merge_keeps_the_latest(outputs: Path, tmp_path: Path) -> None:
    merged = tmp_path / "all.parquet"
    first = check_collect(outputs, tmp_path / "c1", "--merge", str(merged))
    again = check_collect(outputs, tmp_path / "c2", "--merge", str(merged))
    pd.testing.assert_frame_equal(first, again)
    pd.testing.assert_frame_equal(first, read_table(merged))
    # Re-run one job later with better results: the merge keeps the newer evaluation.
    make_job(
        outputs,
        [[True] * 4] * 40,
        model="org--tiny-sft",
        revision="step-100",
        step=100,
        tokens=100_000_000,
        finished_at="2026-03-01T00:00:00+00:00",
    )
    third = check_collect(outputs, tmp_path / "c3", "--merge", str(merged))
    assert len(third) == len(first)
    key = (
        (third["step"] == 100) & (third["benchmark"] == "math_500") & (third["metric"] == "pass@1")
    )
    assert third.loc[key & (third["backend"] == "lighteval"), "value"].item() == 1.0
    # An older table merged after a newer one never overrides it.
    older = first.assign(value=0.0, eval_date=first["eval_date"] - pd.Timedelta(days=365))
    assert merge_tables([third, older])["value"].equals(merge_tables([older, third])["value"])
    # Rows only in the merge file survive a collect of another root.
    other = tmp_path / "other"
    make_job(other, outcomes(10, 0.5), model="org--elsewhere")
    fourth = check_collect(other, tmp_path / "c4", "--merge", str(merged))
    assert {"org--elsewhere", "org--tiny-sft"} <= set(fourth["model"])


def test_thousands_of_job_dirs(tmp_path: Path) -> None:
    # Copies of one real job's results (plain writes: fsync-ing 4,000 files is slow here).
    template = make_job(tmp_path / "seed", outcomes(20, 0.5, n=2))
    results = json.loads((template / "results.json").read_text())
    root = tmp_path / "outputs"
    for i in range(2000):
        job = root / "sweep" / f"org--m{i // 40}" / f"step-{i % 8}" / f"b{i % 5}" / "lighteval"
        data = {
            **results,
            "model": {
                **results["model"],
                "name": f"org--m{i // 40}",
                "step": i % 8,
                "revision": f"step-{i % 8}",
            },
            "benchmark": {**results["benchmark"], "name": f"b{i % 5}"},
        }
        job.mkdir(parents=True)
        (job / "results.json").write_text(json.dumps(data))
        (job / "status.json").write_text('{"status": "completed"}')
        (job / "history" / "old").mkdir(parents=True)  # never entered
    clock = time.monotonic()
    result = collect([root])
    assert time.monotonic() - clock < 15
    assert len(result.new_rows) == 2000 * len(results["metrics"]) and not result.skipped
    assert result.table["model"].nunique() == 50 and result.coverage.empty


def test_merge_and_dedup_of_many_rows_is_fast() -> None:
    rng = np.random.default_rng(0)
    size = 300_000
    frame = normalize(
        pd.DataFrame(
            {
                "model": np.array([f"org--m{i}" for i in range(300)])[rng.integers(0, 300, size)],
                "revision": "main",
                "step": rng.integers(0, 100, size) * 100,
                "benchmark": np.array(["aime24", "math_500", "gpqa_diamond"])[
                    rng.integers(0, 3, size)
                ],
                "metric": np.array(["pass@1", "pass@4", "maj@4"])[rng.integers(0, 3, size)],
                "variant": "n=4",
                "backend": "lighteval",
                "value": rng.random(size),
                "eval_date": pd.to_datetime(
                    rng.integers(1_700_000_000, 1_800_000_000, size), unit="s", utc=True
                ),
            }
        )
    )
    clock = time.monotonic()
    merged = merge_tables([frame, frame.iloc[: size // 3]])
    assert time.monotonic() - clock < 10
    latest = frame.groupby(KEY)["eval_date"].max()
    assert len(merged) == len(latest)
    assert merged.set_index(KEY)["eval_date"].sort_index().equals(latest.sort_index())


def test_group_averages_hand_checked() -> None:
    members = {
        "aime24": (30, 0.5),
        "aime25": (30, 0.3),
        "math_500": (500, 0.8),
        "gpqa_diamond": (198, 0.4),
        "lcb_codegen": (100, 0.2),
    }
    base = {
        "revision": "main",
        "metric": "pass@1",
        "variant": "n=1",
        "backend": "lighteval",
        "stderr": 0.01,
        "eval_date": "2026-01-01T00:00:00Z",
    }
    rows = [
        {**base, "model": "full", "benchmark": b, "num_problems": n, "value": v}
        for b, (n, v) in members.items()
    ]
    rows += [
        {**base, "model": "partial", "benchmark": b, "num_problems": 10, "value": 0.5}
        for b in ("aime24", "math_500")
    ]
    extra, coverage = group_rows(normalize(pd.DataFrame(rows)), {"reasoning": list(members)})
    got = extra.set_index("variant")["value"]
    assert got["macro"] == pytest.approx((0.5 + 0.3 + 0.8 + 0.4 + 0.2) / 5)
    weighted = (30 * 0.5 + 30 * 0.3 + 500 * 0.8 + 198 * 0.4 + 100 * 0.2) / 858
    assert got["weighted"] == pytest.approx(weighted)
    assert set(extra["model"]) == {"full"} and set(extra["benchmark"]) == {"group:reasoning"}
    assert extra.set_index("variant")["stderr"]["macro"] == pytest.approx(0.01 / 5**0.5)
    partial = coverage.set_index("model").loc["partial"]
    assert partial["found"] == 2 and partial["missing"] == ["aime25", "gpqa_diamond", "lcb_codegen"]


# ----------------------------------------------------------------------------- reports


def test_reports_plots_and_references(outputs: Path, tmp_path: Path) -> None:
    out = tmp_path / "collect"
    table = check_collect(outputs, out)
    pngs = sorted((out / "plots").glob("*.png"))
    names = {p.name for p in pngs}
    assert "curve_org--tiny-sft_lighteval.png" in names  # three steps
    assert "curve_org--tiny-sft_lmeval.png" not in names  # one step only
    assert any(name.startswith("bars_deepseek-ai--DeepSeek-R1-Distill-Qwen-7B") for name in names)
    for png in pngs:
        assert png.read_bytes()[:8] == PNG and png.stat().st_size > 5000
    page = (out / "report.html").read_text()
    assert page.count("data:image/png;base64,") == len(pngs)
    assert "<link" not in page and "<script" not in page and "src='http" not in page
    assert "55.5" in page and "outside 95% CI" in page  # R1 paper's AIME24 vs our 0%
    comparison = references.compare_to_references(table, references.load_references())
    flags = comparison.set_index(["benchmark", "reference"])["outside_ci"]
    assert flags["aime24", "deepseek_r1"] and not flags["math_500", "deepseek_r1"]
    delta = comparison.set_index(["benchmark", "reference"])["delta"]["math_500", "deepseek_r1"]
    assert delta == pytest.approx(0.9 - 0.928)
    text = report.terminal_table(table)
    assert "org--tiny-sft@step-200:200 [lighteval]" in text and "±" in text
    assert "| model |" in (out / "report.md").read_text()


def test_a_report_of_one_run_shows_its_problems_and_lengths(tmp_path: Path) -> None:
    """A single run's report: its per-problem outcomes, a plot of its completion lengths,
    and, for a run limited to its first problems, a line saying it is a smoke test."""
    root, out = tmp_path / "outputs", tmp_path / "collect"
    make_job(root, [[True, False], [False, False], [True, True]], benchmark="aime24", limit=3)
    check_collect(root, out)
    page = (out / "report.html").read_text()
    assert "<h2>Problems</h2>" in page
    assert "<td class='l'>p0000</td><td class='l'>1</td><td>1</td><td>1/2</td>" in page
    assert "aime24 (n=2,limit=3): limited to its first 3 problems, a smoke test" in page
    (lengths,) = (out / "plots").glob("lengths_*.png")
    assert lengths.read_bytes()[:8] == PNG and "data:image/png;base64," in page


def test_partial_suite_groups_are_folded_away(outputs: Path, tmp_path: Path) -> None:
    out = tmp_path / "collect"
    table = check_collect(outputs, out)
    page = (out / "report.html").read_text()
    partial = page.count("partial (")
    assert partial and f"<details><summary>{partial} suite group(s) partial</summary>" in page
    assert "<h2>Problems</h2>" not in page and len(set(table["job_dir"]) - {""}) > 1


def test_reference_files_are_complete() -> None:
    refs = {ref.name: ref for ref in references.load_references()}
    assert set(refs) == {"deepseek_r1", "open_r1"}
    models = [
        f"deepseek-ai/DeepSeek-R1-Distill-{m}"
        for m in ("Qwen-1.5B", "Qwen-7B", "Qwen-14B", "Qwen-32B", "Llama-8B", "Llama-70B")
    ]
    for ref in refs.values():
        assert ref.source.startswith("https://github.com/")
        assert {
            (m, b) for m in models for b in ("aime24", "math_500", "gpqa_diamond", "lcb_codegen")
        } == set(ref.values)
    assert refs["deepseek_r1"].values[QWEN7B, "aime24"] == pytest.approx(0.555)
    assert refs["open_r1"].values[QWEN7B, "math_500"] == pytest.approx(0.945)


def test_wandb_offline_run_contents(
    outputs: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("WANDB_MODE", raising=False)
    for name in ("WANDB_CACHE_DIR", "WANDB_CONFIG_DIR", "WANDB_DATA_DIR", "WANDB_ARTIFACT_DIR"):
        monkeypatch.setenv(name, str(tmp_path / "wandb-home" / name.lower()))
    out = tmp_path / "collect"
    assert cli("collect", str(outputs), "--output", str(out), "--wandb") == 0
    assert os.environ["WANDB_MODE"] == "offline"
    table = read_table(out / "table.parquet")
    (run_dir,) = (out / "wandb").glob("offline-run-*")
    records = run_records(run_dir)
    kinds = [r.WhichOneof("record_type") for r in records]
    assert kinds[-1] == "exit"
    metrics = {
        r.metric.glob_name or r.metric.name: r.metric for r in records if r.HasField("metric")
    }
    assert metrics["pass@1/*"].step_metric == "step"
    history = [_items(r.history.item) for r in records if r.HasField("history")]
    curve = [h for h in history if "step" in h]
    assert [h["step"] for h in curve] == [100, 200, 300]
    expected = table[
        (table["model"] == "org--tiny-sft")
        & (table["benchmark"] == "math_500")
        & (table["metric"] == "pass@1")
        & (table["backend"] == "lighteval")
    ]
    logged = [h["pass@1/org--tiny-sft/math_500/lighteval"] for h in curve]
    assert logged == pytest.approx(list(expected.sort_values("step")["value"]))
    summary: dict[str, Any] = {}
    for r in records:
        if r.HasField("summary"):
            summary.update(_items(r.summary.update))
    if (run_dir / "files" / "wandb-summary.json").is_file():  # written by online runs only
        summary.update(json.loads((run_dir / "files" / "wandb-summary.json").read_text()))
    assert summary["pass@1/org--tiny-sft/math_500/lighteval"] == pytest.approx(
        expected[expected["step"] == 300]["value"].item()
    )
    logged_table = json.loads((run_dir / "files" / summary["results/path"]).read_text())
    assert logged_table["columns"][:3] == ["model", "revision", "step"]
    assert len(logged_table["data"]) == (table["metric"] == "pass@1").sum()
    images = sorted((run_dir / "files" / "media" / "images").rglob("*.png"))
    assert len(images) == len(list((out / "plots").glob("*.png"))) > 0
    artifacts = [r.artifact for r in records if r.HasField("artifact")]
    (artifact,) = [a for a in artifacts if a.type == "eval-details"]
    paths = {entry.path for entry in artifact.manifest.contents}
    assert "org--tiny-sft/step-200/step-200/math_500/lighteval/n_4/details.parquet" in paths
    assert len(paths) == table.loc[table["job_dir"] != "", "job_dir"].nunique()


def test_wandb_one_run_per_model(
    outputs: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("WANDB_MODE", "offline")
    collection = collect([outputs])
    runs = publish.publish_wandb(collection.table, tmp_path, per_model=True, name="t")
    assert len(runs) == collection.table["model"].nunique() == 2
    for run_dir in runs:
        records = run_records(run_dir)
        (run,) = [r.run for r in records if r.HasField("run")]
        assert run.display_name.startswith("t-")
        summary = {k for r in records if r.HasField("summary") for k in _items(r.summary.update)}
        keys = {k for k in summary if k.startswith("pass@1/")}
        assert keys and all(k.count("/") == 2 for k in keys)  # pass@1/<benchmark>/<backend>


# ----------------------------------------------------------------------------- Hub


def test_hub_commit_plan_on_local_data(outputs: Path, tmp_path: Path) -> None:
    from huggingface_hub import CommitOperationAdd

    groups = {"r1": ["aime24", "math_500"]}
    table = collect([outputs], groups=groups).table
    plan = publish.plan_hub_commit(table, None, "org/evals", tmp_path / "s1", groups)
    assert plan.added == (~table["benchmark"].str.startswith("group:")).sum() and not plan.updated
    assert all(isinstance(op, CommitOperationAdd) for op in plan.operations)
    assert plan.files[-1] == "table.parquet"
    jobs = table.loc[table["job_dir"] != "", "job_dir"].nunique()
    assert len([f for f in plan.files if f.startswith("details/")]) == jobs
    assert "rows added" in plan.message and "org/evals" in plan.describe()
    pd.testing.assert_frame_equal(read_table(tmp_path / "s1" / "table.parquet"), plan.table)
    # The repo already holds this table: nothing to commit.
    again = publish.plan_hub_commit(table, plan.table, "org/evals", tmp_path / "s2", groups)
    assert (again.added, again.updated, again.operations) == (0, 0, [])
    pd.testing.assert_frame_equal(again.table, plan.table)
    # One job re-evaluated later: its rows are updates, only its details file is uploaded.
    job = make_job(
        outputs,
        [[True] * 4] * 40,
        model="org--tiny-sft",
        revision="step-100",
        step=100,
        tokens=100_000_000,
        finished_at="2026-05-01T00:00:00+00:00",
    )
    newer = collect([outputs], groups=groups).table
    third = publish.plan_hub_commit(newer, plan.table, "org/evals", tmp_path / "s3", groups)
    metrics = json.loads((job / "results.json").read_text())["metrics"]
    assert (third.added, third.updated) == (0, len(metrics))
    assert third.files == [
        "details/org--tiny-sft/step-100/step-100/math_500/lighteval/n_4/details.parquet",
        "table.parquet",
    ]


def test_a_limited_run_is_not_published_unless_asked(
    outputs: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A run on the first problems only (benchmark.limit, a smoke test) is marked in the
    table's variant and refused by the Hub publication, before any network access, unless
    --include-limited says so."""
    make_job(outputs, [[True]] * 2, model="org--smoke", benchmark="aime24", limit=2)
    table = collect([outputs]).table
    assert set(table.loc[table["model"] == "org--smoke", "variant"]) == {"n=1,limit=2"}
    assert cli("collect", str(outputs), "--output", str(tmp_path / "c"), "--hub-repo", "o/x") == 2
    out = capsys.readouterr().out
    assert "ran on their first problems only (benchmark.limit): org--smoke@main aime24" in out
    with pytest.raises(EvallaunchError, match="--include-limited"):
        publish.plan_hub_commit(table, None, "o/x", tmp_path / "s", {})
    plan = publish.plan_hub_commit(table, None, "o/x", tmp_path / "s", {}, include_limited=True)
    assert "org--smoke" in set(plan.table["model"])


def _hub_reachable() -> bool:
    if not os.environ.get("HF_TOKEN"):
        return False
    try:
        socket.create_connection(("huggingface.co", 443), timeout=3).close()
        return True
    except OSError:
        return False


@pytest.mark.skipif(not _hub_reachable(), reason="needs HF_TOKEN and a reachable Hub")
def test_real_hub_upload(outputs: Path, tmp_path: Path) -> None:
    from huggingface_hub import HfApi

    repo = os.environ.get("EVALLAUNCH_TEST_HUB_REPO") or (
        f"{HfApi().whoami()['name']}/evallaunch-collect-test"
    )
    table = collect([outputs], groups={}).table
    first = publish.sync_hub(repo, table, tmp_path / "h1", {})
    second = publish.sync_hub(repo, table, tmp_path / "h2", {}, dry_run=True)
    assert second.added == 0 and second.updated == 0 and not second.operations
    assert len(second.table) >= len(first.table) - first.added


# ----------------------------------------------------------------------------- compare/diff


def test_mcnemar_exact_hand_checked() -> None:
    assert compare.mcnemar_exact(1, 9) == pytest.approx(2 * (1 + 10) / 2**10)
    assert compare.mcnemar_exact(0, 6) == pytest.approx(2 / 64)
    assert compare.mcnemar_exact(5, 5) == 1.0 and compare.mcnemar_exact(0, 0) == 1.0
    assert compare.mcnemar_exact(3, 1) == compare.mcnemar_exact(1, 3) == pytest.approx(0.625)


def test_compare_two_checkpoints(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    root = tmp_path / "outputs"
    base = outcomes(200, 0.3, seed=1)
    flips = np.random.default_rng(2).random(200) < 0.5
    better = [[bool(ok or flip)] for [ok], flip in zip(base, flips, strict=True)]
    a = make_job(root, base, model="org--ckpt", revision="step-1", step=1)
    b = make_job(root, better, model="org--ckpt", revision="step-2", step=2)
    make_job(root, base, model="org--ckpt", revision="step-1", step=1, benchmark="aime24")
    make_job(root, base, model="org--ckpt", revision="step-2", step=2, benchmark="aime24")
    (math, aime) = sorted(
        compare.compare("org--ckpt:1", "org--ckpt@step-2", [root]),
        key=lambda r: r.benchmark != "math_500",
    )
    assert math.benchmark == "math_500" and math.diff > 0.2 and math.significant
    assert math.p_mcnemar is not None and math.p_mcnemar < 1e-6
    assert math.ci_low > 0 and math.p_bootstrap < 0.001
    assert aime.diff == 0 and not aime.significant and aime.p_value == 1.0
    assert cli("compare", str(a), str(b)) == 0
    shown = capsys.readouterr().out
    assert "math_500" in shown and "significant at 0.05" in shown and "aime24" not in shown
    assert f"math_500: A {a}\n          B {b}" in shown  # the directories it resolved
    assert cli("compare", "org--ckpt@step-1", "org--ckpt:1", "--root", str(root)) == 0
    warned = capsys.readouterr().err
    assert "A and B are the same job directory on aime24, math_500" in warned
    # With several samples per problem only the bootstrap applies.
    c = make_job(root, outcomes(50, 0.5, n=4, seed=3), model="org--multi", revision="a")
    d = make_job(root, outcomes(50, 0.5, n=4, seed=3), model="org--multi", revision="b")
    (same,) = compare.compare(str(c), str(d), [root])
    assert same.p_mcnemar is None and same.diff == 0 and not same.significant
    with pytest.raises(EvallaunchError, match="no completed run matches"):
        compare.compare("org--nothing@main", str(d), [root])


def test_diff_reports_what_moves_the_numbers(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    runs = tmp_path / "runs"
    base = outcomes(10, 0.5)
    one = make_job(runs / "1", base)
    two = make_job(
        runs / "2",
        base,
        temperature=0.7,
        packages={"evallaunch": "0.1.0", "lighteval": "0.12.0", "transformers": "5.23.0"},
    )
    same = make_job(runs / "3", base, experiment="other")
    assert cli("diff", str(one), str(same)) == 0
    assert capsys.readouterr().out.strip() == "no differences that affect the numbers"
    differences = {key: (a, b) for key, a, b in compare.diff_runs(one, two)}
    assert differences == {
        "generation.temperature": (0.6, 0.7),
        "packages.lighteval": ("0.13.0", "0.12.0"),
    }
    assert cli("diff", str(one), str(two)) == 1
    shown = capsys.readouterr().out
    assert "generation.temperature  0.6 -> 0.7" in shown and "packages.lighteval" in shown


def test_plots_skip_models_with_one_step(tmp_path: Path) -> None:
    frame = normalize(
        pd.DataFrame(
            {
                "model": ["m"],
                "revision": ["main"],
                "step": [1],
                "benchmark": ["aime24"],
                "metric": ["pass@1"],
                "variant": ["n=1"],
                "backend": ["x"],
                "value": [0.5],
            }
        )
    )
    assert plots.learning_curves(frame, tmp_path) == []
    assert isinstance(collect([tmp_path], groups={}), Collection)


def test_one_reader_of_a_job_directory_and_one_rule_for_finished(tmp_path: Path) -> None:
    """Every reader (skipping finished work, status, collect, compare) goes through
    evallaunch.job.record: finished = completed status, valid results, same fingerprint;
    results.json from a newer evallaunch is refused, not misread."""
    from evallaunch.collect.results_table import Skipped, load_job
    from evallaunch.job.record import finished_results, read_job, read_results

    job = make_job(tmp_path, [[True], [False]])
    fingerprint = read_results(job)["config_fingerprint"]
    assert finished_results(job, fingerprint) == read_results(job) == load_job(job)
    assert finished_results(job, "another-fingerprint") is None
    write_json(job / "status.json", {"status": "failed", "error": "boom"})
    assert finished_results(job) is None and isinstance(load_job(job), Skipped)
    write_json(job / "status.json", {"status": "completed"})

    newer = {**read_results(job), "schema_version": 99}
    write_json(job / "results.json", newer)
    with pytest.raises(EvallaunchError, match="schema_version 99, newer than this evallaunch"):
        read_results(job)
    record = read_job(job)
    assert not record.finished and "newer than this evallaunch reads" in str(record.problem)
    skipped = load_job(job)
    assert isinstance(skipped, Skipped) and "newer than this evallaunch" in skipped.reason
