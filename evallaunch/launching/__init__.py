"""Hydra's side of evallaunch: the launchers on submitit (Slurm, and jobs run here), the
checkpoint sweeper, each sweep's record for status and cancel, and the callback that checks
the config before any job."""
