"""Where services run: the ClusterBackend contract and its local and Kubernetes implementations."""
