"""The operator's runtime: Kubernetes clients, the watched-object store, work queue, leader election, settings."""
