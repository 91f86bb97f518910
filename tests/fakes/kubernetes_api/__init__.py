"""A wire-level fake of the Kubernetes API server, with a simulated deployment controller.

No API server can run here, so the KubernetesBackend is tested through the
official client against this fake: a threaded HTTP server on a loopback port
that speaks the REST API the client uses for the kinds kanri manages
(Deployments, Services, Pods, HPAs, PDBs, Istio VirtualServices and
DestinationRules). It keeps what makes the real server's behaviour matter to a
client: resourceVersion and 409 on a stale replace, uid, generation bumped on
spec changes, defaulting, label and field selectors, watch streams, and a
controller that rolls Deployments out pod by pod so progress and stuck
rollouts can be observed. It is a fake: see `FakeKubernetes` for what it leaves out.
"""

from __future__ import annotations

import threading
from collections.abc import Callable

from .controller import DeploymentController
from .resources import KINDS, Obj
from .server import Server
from .store import Store


class FakeKubernetes:
    """A fake Kubernetes API server on a loopback port, for tests of code that uses the official client.

    Covers: the kinds in KINDS in any namespace; get, list (label and field selectors), create (201,
    409 AlreadyExists), replace (409 on a stale resourceVersion), JSON merge and simple strategic merge
    patch, delete, watch; uid, resourceVersion, generation, defaulting of Deployments and Services,
    validation of names, label values and Deployment selectors; /version; a deployment controller.
    Leaves out: authentication and RBAC, TLS, namespaces as objects, server-side apply and JSON patch
    (415), subresources (/status, /scale, logs, exec), ReplicaSet objects, the scheduler (pods go
    round-robin to fake nodes, affinity and resources are ignored), HPA and PDB controllers, Istio's
    admission validation, watch bookmarks and 410 Gone, pagination, finalizers and graceful deletion.
    """

    def __init__(self, ready_after: float = 0.1, nodes: tuple[str, ...] = ("node-a", "node-b", "node-c")) -> None:
        self.store = Store()
        self.controller = DeploymentController(self.store, ready_after, nodes)
        self._server = Server(self.store)
        self._thread = threading.Thread(target=self._server.serve_forever, args=(0.05,), name="fake-kubernetes-api",
                                        daemon=True)

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    def start(self) -> FakeKubernetes:
        self._thread.start()
        self.controller.start()
        return self

    def stop(self) -> None:
        self.store.close()
        self._server.close()
        self.controller.join()

    def never_ready(self, predicate: Callable[[Obj], bool]) -> None:
        """Pods for which predicate(pod) holds stay unready forever (a model that fails to load)."""
        with self.store.lock:
            self.controller.never_ready.append(predicate)

    def objects(self, plural: str, namespace: str, group: str = "") -> list[Obj]:
        """What the fake holds, read directly: for assertions that should not go through the code under test."""
        return self.store.list(KINDS[group, plural], namespace)
