"""Resource planning: model facts + cluster hardware -> parallelism plan, estimated time and
Slurm resources (the time from `replica_cost` and `throughput`)."""

from evallaunch.planning.checkpoint_counts import safetensors_numel
from evallaunch.planning.inputs import Hardware, PlanRequest
from evallaunch.planning.layouts import valid_tp
from evallaunch.planning.model_facts import (
    ModelFacts,
    kv_cache_bytes_per_token,
    load_model_facts,
    parse_size_from_name,
)
from evallaunch.planning.plan_table import format_plan_table
from evallaunch.planning.planner import Plan, open_r1_rule, plan

__all__ = [
    "Hardware",
    "ModelFacts",
    "Plan",
    "PlanRequest",
    "format_plan_table",
    "kv_cache_bytes_per_token",
    "load_model_facts",
    "open_r1_rule",
    "parse_size_from_name",
    "plan",
    "safetensors_numel",
    "valid_tp",
]
