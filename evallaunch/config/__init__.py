"""Configuration: the schema every config group is checked against, composition, the
checks before a run starts (preflight), output naming and suites."""
