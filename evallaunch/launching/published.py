"""Jobs already in a published results table (`launch.published`): a table `collect`
wrote, shared by a team on the Hub (`hf://datasets/ORG/NAME`), at a URL, or in a local
parquet or CSV file. A sweep skips every job whose model, revision, step, benchmark,
variant, backend and config fingerprint are in it (`launch.force=true` reruns them)."""

from __future__ import annotations

import logging
import tempfile
import urllib.request
from pathlib import Path
from typing import Any

import pandas as pd
from omegaconf import DictConfig

from evallaunch.collect.results_table import GROUP_PREFIX, HUB_TABLE, read_table, variant_of
from evallaunch.errors import EvallaunchError

log = logging.getLogger(__name__)

HUB_DATASETS = "hf://datasets/"
# What identifies one published result of a job.
JOB_KEY = ("model", "revision", "step", "benchmark", "variant", "backend", "config_fingerprint")


def hub_table(repo_id: str, out_dir: Path, token: str | None = None) -> Path:
    """The table of the Hub dataset `repo_id`, downloaded into `out_dir` (needs the Hub)."""
    from huggingface_hub import hf_hub_download

    try:
        return Path(
            hf_hub_download(repo_id, HUB_TABLE, repo_type="dataset", token=token, local_dir=out_dir)
        )
    except Exception as err:  # offline, no such repo, HTTP errors: one message
        raise EvallaunchError(
            f"launch.published=hf://datasets/{repo_id} is invalid here: cannot read its "
            f"{HUB_TABLE} ({type(err).__name__}: {str(err).splitlines()[0][:200]})",
            hint="check the network, HF_TOKEN and that HF_HUB_OFFLINE is unset, or give a "
            "local copy of the table (launch.published=PATH.parquet)",
        ) from None


def read_published(source: str) -> pd.DataFrame:
    """The published table at `source`: hf://datasets/ORG/NAME, an http(s) URL, or a path."""
    with tempfile.TemporaryDirectory() as tmp:
        if source.startswith(HUB_DATASETS):
            path = hub_table(source[len(HUB_DATASETS) :], Path(tmp))
        elif source.startswith(("http://", "https://")):
            path = Path(tmp) / Path(source.split("?")[0]).name
            try:
                urllib.request.urlretrieve(source, path)  # noqa: S310 (the user's own URL)
            except OSError as err:
                raise EvallaunchError(
                    f"launch.published={source} is invalid here: cannot download it ({err})"
                ) from None
        else:
            path = Path(source).expanduser()
            if not path.is_file():
                raise EvallaunchError(
                    f"launch.published={source} is invalid: no such file",
                    hint="a table `evallaunch collect` wrote (table.parquet), a URL, or "
                    "hf://datasets/ORG/NAME",
                )
        return read_table(path)


def published_jobs(table: pd.DataFrame) -> set[tuple[Any, ...]]:
    """The job keys of a published table; rows without a config fingerprint (written by an
    evallaunch older than fingerprints) identify no job."""
    rows = table[~table["benchmark"].str.startswith(GROUP_PREFIX)]
    rows = rows[rows["config_fingerprint"] != ""]
    return {_key(row) for row in rows[list(JOB_KEY)].itertuples(index=False)}


def job_key(cfg: DictConfig, fingerprint: str) -> tuple[Any, ...]:
    """What a job's rows in a collected table would be keyed by."""
    from evallaunch.job.sampling import adaptive_settings

    bench = cfg.benchmark
    num_samples = 1 if bench.format == "harness" else bench.n
    variant = variant_of(num_samples, bench.limit, adaptive_settings(cfg.sampling))
    model = cfg.model
    return _key(
        (model.name, model.revision, model.step, bench.name, variant, cfg.backend.name,
         fingerprint)
    )  # fmt: skip


def _key(values: Any) -> tuple[Any, ...]:
    model, revision, step, benchmark, variant, backend, fingerprint = values
    step = None if step is None or pd.isna(step) else int(step)
    return (str(model), str(revision or "main"), step, str(benchmark), str(variant),
            str(backend), str(fingerprint))  # fmt: skip


class PublishedResults:
    """The published table of a sweep, read once, on the first job that asks."""

    def __init__(self, source: str | None) -> None:
        self.source = source
        self._jobs: set[tuple[Any, ...]] | None = None

    def has(self, cfg: DictConfig, fingerprint: str) -> bool:
        """Whether the job `cfg` (with this fingerprint) is in the published table."""
        if not self.source:
            return False
        if self._jobs is None:
            table = read_published(self.source)
            self._jobs = published_jobs(table)
            if len(table) and not self._jobs:
                print(
                    f"note: {self.source} has no config fingerprints (an older evallaunch "
                    "wrote it): no job is skipped as published"
                )
            log.info("%s: %d published jobs", self.source, len(self._jobs))
        return job_key(cfg, fingerprint) in self._jobs
