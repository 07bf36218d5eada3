"""evallaunch: evaluate LLM checkpoints on reasoning benchmarks, from a laptop CPU to Slurm."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("evallaunch")
except PackageNotFoundError:  # running from a source tree that is not installed
    __version__ = "0.0.0+unknown"
