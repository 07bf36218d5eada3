"""The CPU benches: planning, collecting, scoring, the code sandbox, generation throughput,
resuming (probe.py times a module's functions for throughput.py and others)."""
