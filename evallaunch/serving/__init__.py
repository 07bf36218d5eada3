"""Inference servers a job starts (`job_servers`), their processes (`servers`) and the
load balancer in front of them (`balancer`)."""
