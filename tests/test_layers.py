"""evallaunch's packages stand in layers, and every import points down or sideways within
its own package: a lower layer never imports a higher one, not even inside a function.
The layers, from the ground up, are the ones README's "Layout" section draws."""

from __future__ import annotations

import ast
from pathlib import Path

from tests.helpers import REPO

#: From the ground up; packages on one line are one layer (they may not import each other
#: upward either: a package's layer is its line).
LAYERS = (
    ("errors",),  # the one exception type
    ("runtime",),  # atomic files, secrets, the terminal, the offline environment
    ("compat",),  # the one place that reaches into the libraries' internals
    ("scoring",),  # answers and programs checked, pass@k
    ("benchmarks", "models", "checkpoints"),  # data, model paths, training checkpoints
    ("config",),  # the schema, composition, value checks, naming, suites
    ("engines",),  # vLLM engine settings and arguments
    ("backends",),  # lighteval and lm-eval behind one interface
    ("serving",),  # inference servers and the load balancer
    ("harness",),  # the harnesses' own tasks
    ("planning",),  # GPUs, parallelism and time from the model's facts
    ("job",),  # one evaluation: units, samples, grading, results.json
    ("collect",),  # many jobs' results: tables, reports, publishing
    ("launching",),  # Hydra's launchers, sweeper and callbacks: local and Slurm
    ("api", "integrations"),  # the Python faces: a notebook's calls, a trainer's callback
    ("evaluate", "cli"),  # the commands
)
LAYER = {name: level for level, names in enumerate(LAYERS) for name in names}
PACKAGE = REPO / "evallaunch"


def _part(module: str) -> str | None:
    """The layer part of a module `evallaunch.<part>...`; None for the package itself (its
    version)."""
    parts = module.split(".")
    if len(parts) < 2 or parts[0] != "evallaunch" or parts[1] in ("__init__", "__version__"):
        return None
    return parts[1]


def _imports(path: Path) -> list[tuple[int, str]]:
    found = []
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.module == "evallaunch":
            found += [(node.lineno, f"evallaunch.{alias.name}") for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.append((node.lineno, node.module))
        elif isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names]
    return [(line, name) for line, name in found if name.split(".")[0] == "evallaunch"]


def test_every_part_of_the_package_has_a_layer() -> None:
    parts = {
        path.stem if path.is_file() else path.name
        for path in PACKAGE.iterdir()
        if (path.suffix == ".py" and path.stem != "__init__")
        or (path.is_dir() and (path / "__init__.py").exists())
    }
    assert parts - set(LAYER) == set(), "add the new part to LAYERS"
    assert set(LAYER) - parts == set(), "a part in LAYERS that no longer exists"


def test_no_import_climbs_a_layer() -> None:
    climbs = []
    for path in sorted(PACKAGE.rglob("*.py")):
        module = ".".join(path.relative_to(REPO).with_suffix("").parts)
        own = _part(module)
        if own is None:
            continue
        for line, name in _imports(path):
            target = _part(name)
            if target is None or target == own:
                continue
            if LAYER[target] >= LAYER[own]:
                climbs.append(f"{path.relative_to(REPO)}:{line} imports {name}")
    assert climbs == []


def test_at_most_six_modules_stand_flat_in_the_package() -> None:
    flat = sorted(path.name for path in PACKAGE.glob("*.py"))
    assert len(flat) <= 6, flat


#: The entry level: it composes configs with Hydra and builds the job's spec
#: (evallaunch.config.spec.job_spec); below it, modules read the frozen spec, never a
#: DictConfig.
ENTRY_LEVEL = ("evaluate", "cli", "api", "integrations", "launching")
READS_DICTCONFIG = (
    "config/compose.py",  # composes the DictConfig the entry hands to job_spec
    "config/schema.py",  # the schema Hydra composes into; finds keys added with `+`
    "config/spec.py",  # builds the spec from the DictConfig
    # `evallaunch plan` expands a sweep as Hydra does: the cluster's hardware and time
    # limit come from Hydra's own `hydra` node (each job's config is a spec).
    "planning/sweep_configs.py",
)


def test_below_the_entry_no_module_reads_a_dictconfig() -> None:
    found = []
    for path in sorted(PACKAGE.rglob("*.py")):
        relative = path.relative_to(PACKAGE).as_posix()
        if relative.split("/")[0].removesuffix(".py") in ENTRY_LEVEL:
            continue
        if relative in READS_DICTCONFIG:
            continue
        if "DictConfig" in path.read_text():
            found.append(relative)
    assert found == [], "take the job's spec (evallaunch.config.spec) instead"
