"""Inference servers a job starts (`job_servers`) and a batch of jobs shares
(`batch_servers`), their processes (`servers`), the load balancer in front of them
(`balancer`; its queue for the engines' slots in `slots`, each server's state in
`upstream`), Ray clusters of multi-node replicas (`ray_cluster`, their nodes queried and
stopped in `ray_nodes`) and endpoints someone else serves (`endpoint`)."""
