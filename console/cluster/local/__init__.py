"""The embedded cluster: replicas as local `kanri serve` processes, kept by a supervisor, behind routers
that proxy gRPC and HTTP.

Modules, one job each: backend (the ClusterBackend, a client of the state
files), state/files/paths (what is shared and where), supervisor (the
reconcile loop), service (one service: healing, rolling, scaling), replica
(one process and its probes), rolling (the Deployment controller's
arithmetic), autoscaler (the HPA's), router (the proxy process), routing
(what its two sides share: table, balancer, pinning, mirroring), grpc_proxy
and http_proxy (its two sides), http_upstream (its HTTP client), balancer,
router_table and router_manager (feeding it), control (starting and stopping
the supervisor).
"""

from .backend import LocalBackend
from .settings import SupervisorSettings

__all__ = ["LocalBackend", "SupervisorSettings"]
