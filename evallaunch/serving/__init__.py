"""Inference servers a job starts (`job_servers`), their processes (`servers`), the load
balancer in front of them (`balancer`, `upstream`), Ray clusters of multi-node replicas
(`ray_cluster`, their nodes queried and stopped in `ray_nodes`) and endpoints someone else
serves (`endpoint`)."""
