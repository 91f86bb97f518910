"""A real Kubernetes API server (v1.20.2) for tests: the control plane (cluster.py), its binaries built once
from Debian's source (binaries.py, build.sh), the CRDs of the kinds kanri writes (crds.py), and a stand-in
kubelet (standin_kubelet.py). Tests take the session fixture `real_kubernetes` (fixture.py)."""
