"""The GPU schedule model (schedule.py and its helpers, no GPU needed) and the checks for a
lent GPU machine (check.py, check_levers.py, check_wheels.sh)."""
