"""Training checkpoints: discovery and selection, and the Trainer callback."""
