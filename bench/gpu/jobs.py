"""The jobs of the GPU simulation (helper of bench/gpu/schedule.py and suite.py): each
benchmark x model with its plan and drawn samples, the engines of a plan, and the settings
evallaunch's code gives a job (auto units, units in flight)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from bench import common
from bench.gpu import policies as pol
from bench.gpu import workload as wl
from evallaunch.engines import settings as eng
from evallaunch.job.units import resolve_problems_per_unit
from evallaunch.planning import replica_cost as rc
from evallaunch.planning.inputs import Hardware, PlanRequest
from evallaunch.planning.job_plan import hardware_from, plan_request
from evallaunch.planning.model_facts import ModelFacts, load_model_facts
from evallaunch.planning.planner import Plan, open_r1_rule, plan
from evallaunch.planning.sweep_configs import SweepComposer

CONFIGS = common.REPO / "tests" / "data" / "model_configs"
CLUSTER = ["cluster=slurm_h100_example", "parallelism=auto", "backend=lighteval_server"]
OPEN_R1_UTILIZATION = 0.8  # open-r1's Makefile / README model args
LIGHTEVAL_SLOTS = 128  # lighteval's VLLMModelConfig.max_num_seqs default
SAMPLES_PER_UNIT = 16  # conf/evaluate.yaml sampling.samples_per_unit
SETUP_S = 5.0  # client time before a unit's requests go out (problems file, harness setup)
SCORE_S = 5.0  # harness time to score an answered unit


@dataclass
class Pair:
    """One benchmark x model: its facts, plan and drawn samples."""

    model: str
    benchmark: str
    facts: ModelFacts
    hardware: Hardware
    plan: Plan
    request: PlanRequest
    problems: wl.Problems
    correct: np.ndarray
    length: np.ndarray

    @property
    def n(self) -> int:
        return wl.BENCHMARKS[self.benchmark][0]

    def requests(self, counts: np.ndarray | None = None) -> list:
        """Fresh requests: the first n samples of each problem, or `counts[j]` of problem j
        (samples are drawn up to the largest adaptive budget)."""
        if counts is None:
            counts = np.full(self.length.shape[0], self.n)
        length = self.length.copy()
        length[np.arange(length.shape[1])[None, :] >= counts[:, None]] = 0
        return pol.requests_of(self.problems.prompt, length, self.correct)

    def replan(self) -> Plan:
        """The plan again (after a planner constant changed)."""
        return plan(self.facts, self.hardware, self.request)


def load_pairs(models: list[str], benchmarks: list[str]) -> list[Pair]:
    """Plans through `evallaunch plan`'s code; a benchmark's jobs differ only in the
    model's name_or_path (the R1-Distill conf/model files agree on every other key)."""
    composer = SweepComposer()
    pairs = []
    for bench in benchmarks:
        n = wl.BENCHMARKS[bench][0]
        for model in models:
            hub = f"model.name_or_path=deepseek-ai/{wl.MODELS[model][0]}"
            cfg, hw = composer.compose([*CLUSTER, f"model={models[0]}", hub, f"benchmark={bench}"])
            facts = load_model_facts(CONFIGS / wl.MODELS[model][0])
            hardware = hardware_from(hw)
            request = plan_request(cfg, facts)
            probs = wl.problems(model, bench)
            correct, length = wl.draw(probs, 4 * n if n <= 8 else 2 * n, seed=7)
            layout = plan(facts, hardware, request)
            pairs.append(
                Pair(model, bench, facts, hardware, layout, request, probs, correct, length)
            )
    return pairs


def setup(pair: Pair, layout: Plan, slots: int | None, graphs: bool, ray: bool) -> pol.Setup:
    """Engines of `layout` (a Plan) with the given slots (None: the plan's) and mode."""
    gpu = rc.gpu_spec(pair.hardware.gpu_type, pair.hardware.hbm_gbps, pair.hardware.bf16_tflops)
    model = rc.replica_model(pair.facts, gpu, layout.gpus_per_replica, cuda_graphs=graphs)
    capacity = layout.kv_cache_gb_per_gpu * rc.GB * layout.gpus_per_replica
    capacity /= model.kv_bytes_per_token
    return pol.Setup(model, layout.dp, slots or layout.max_num_seqs, capacity, ray)


def forced(pair: Pair, **sizes: object) -> Plan:
    """The plan with some request fields replaced (forced sizes, memory setting)."""
    return plan(pair.facts, pair.hardware, PlanRequest(**{**pair.request.__dict__, **sizes}))


def client(pair: Pair, s: pol.Setup, spu: int, adaptive: bool) -> pol.Client:
    """evallaunch's auto unit sizes and units in flight for these engines
    (evallaunch.engines.settings's resolvers with its constants as they stand)."""
    engine = eng.EngineSettings(replicas=s.replicas, max_num_seqs=s.slots)
    problems = wl.BENCHMARKS[pair.benchmark][1]
    per_unit = resolve_problems_per_unit("auto", engine, spu, problems)
    in_flight = eng.units_to_fill(engine, per_unit * spu)
    return pol.Client(per_unit, spu, in_flight, adaptive, SETUP_S, SCORE_S)


def evallaunch_run(
    pair: Pair, s: pol.Setup, counts: np.ndarray | None = None, spu: int = SAMPLES_PER_UNIT
) -> pol.Outcome:
    """evallaunch's schedule on engines `s`: fixed n, or the adaptive `counts`."""
    spu = min(spu, pair.n if counts is None else int(counts.max()))
    return pol.evallaunch(s, pair.requests(counts), client(pair, s, spu, counts is not None))


def open_r1_layout(pair: Pair) -> Plan:
    """open-r1's GPUs (planner.open_r1_rule) with its memory setting, planned for the KV."""
    rule = open_r1_rule(pair.facts)
    hw = Hardware(**{**pair.hardware.__dict__, "gpus_per_node": rule["gpus"]})
    req = PlanRequest(
        **{
            **pair.request.__dict__,
            "strategy": "auto",
            "tensor_parallel_size": rule["tp"],
            "data_parallel_size": rule["dp"],
            "gpu_memory_utilization": OPEN_R1_UTILIZATION,
        }
    )
    return plan(pair.facts, hw, req)
