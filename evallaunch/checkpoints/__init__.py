"""Training checkpoints: discovery and selection (the Trainer callback that evaluates them
while training runs is `evallaunch.integrations`)."""
