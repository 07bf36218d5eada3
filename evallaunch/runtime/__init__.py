"""What every process of evallaunch shares: atomic file writes, secret scrubbing, the
terminal, and the offline environment."""
