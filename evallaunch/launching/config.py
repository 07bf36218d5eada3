"""Hydra launcher configs `evallaunch_slurm` and `evallaunch_local` (hydra/launcher group).

They extend hydra-submitit-launcher's configs with the cluster's hardware, which the
resource planner uses to give each job of a sweep the GPUs its model needs.
"""

from dataclasses import dataclass, field

from hydra.core.config_store import ConfigStore
from hydra_plugins.hydra_submitit_launcher.config import LocalQueueConf, SlurmQueueConf


@dataclass
class HardwareConf:
    # GPU model name (for reports), e.g. H100-80GB; "none" for CPU-only nodes.
    gpu_type: str = "none"
    # Memory of one GPU in GB (0: no GPUs).
    gpu_memory_gb: float = 0.0
    # GPUs in one node.
    gpus_per_node: int = 0
    # CPUs and host memory to request per GPU used.
    cpus_per_gpu: int = 8
    mem_per_gpu_gb: float = 64.0
    # Unused (time estimates come from evallaunch.planning.throughput); kept so that older
    # cluster files still load.
    tokens_per_second_per_gpu: float = 1500.0
    # HBM bandwidth (GB/s) and dense bf16 TFLOP/s of one GPU for time estimates; null: the
    # figures of gpu_type's family (H100, A100, H200; H100 when unknown).
    hbm_gbps: float | None = None
    bf16_tflops: float | None = None
    # Largest number of nodes one job may span.
    max_nodes: int = 1


@dataclass
class EvallaunchSlurmConf(SlurmQueueConf):
    _target_: str = "evallaunch.launching.launcher.EvallaunchSlurmLauncher"
    hardware: HardwareConf = field(default_factory=HardwareConf)


@dataclass
class EvallaunchLocalConf(LocalQueueConf):
    _target_: str = "evallaunch.launching.launcher.EvallaunchLocalLauncher"
    hardware: HardwareConf = field(default_factory=HardwareConf)


ConfigStore.instance().store(
    group="hydra/launcher", name="evallaunch_slurm", node=EvallaunchSlurmConf, provider="evallaunch"
)
ConfigStore.instance().store(
    group="hydra/launcher", name="evallaunch_local", node=EvallaunchLocalConf, provider="evallaunch"
)
