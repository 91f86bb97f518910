"""A wire-level fake of the Kubernetes API server, with a simulated deployment controller and kubelet.

No API server can run here, so the KubernetesBackend is tested through the
official client against this fake: a threaded HTTP server on a loopback port
that speaks the REST API for the kinds kanri manages (Deployments, Services,
Pods, HPAs, PDBs, Istio's and the Prometheus Operator's custom resources) as
a chosen Kubernetes version serves them. Where it and a real server disagree,
the fake is wrong: tests/support/real_kubernetes runs a real one, and
/work/shared/REAL-KUBERNETES.md records what it did. See `FakeKubernetes`
for what the fake covers and what it leaves out.
"""

from __future__ import annotations

import threading
from collections.abc import Callable

from .controller import DeploymentController
from .kubelet import InitFailure, Kubelet
from .resources import KINDS, Obj
from .served import ServedApis, parse_version
from .server import Server
from .store import Store


class FakeKubernetes:
    """A fake Kubernetes API server on a loopback port, for tests of code that uses the official client.

    Covers, as Kubernetes `kubernetes_version` (1.20 to today) serves them:
    - discovery (/version, /api, /api/v1, /apis, /apis/GROUP, /apis/GROUP/VERSION) with the versions each
      Kubernetes serves: autoscaling/v2 from 1.23 and v2beta2 to 1.25, policy/v1 from 1.21 and v1beta1 to 1.24;
      with `istio`, Istio's networking CRDs (v1, v1beta1, v1alpha3) and security CRDs (v1, v1beta1: request
      and peer authentication, authorization policies) and the Prometheus Operator's (v1); with `keda`, KEDA's
      (keda.sh/v1alpha1 ScaledObjects). Any other path is the real 404, whatever the verb;
    - get, list and watch (label and field selectors; one namespace, or all for list and watch), create,
      replace, JSON merge patch, strategic merge patch (built-in kinds; 415 for a custom resource, as for real),
      server-side apply (managedFields in FieldsV1, conflicts and force, removal of what a manager stopped
      applying), delete with propagationPolicy (Foreground waits for the dependents, Orphan leaves them) and
      preconditions, dryRun=All on every write;
    - resourceVersion (409 when stale; a custom resource's PUT needs one), uid, generation where the real
      server tracks it, much of the real defaulting (Deployments, pod templates, Services, HPAs), validation
      worded as the real server words it (names, labels, selectors, probe handlers, tolerations);
    - what older versions do: prune gated fields (gRPC probes before 1.24, PodAffinityTerm.namespaceSelector
      before 1.22, sidecar restartPolicy before 1.29), refuse them in an apply (500) where the schema lacks
      them, refuse an applied port without protocol before 1.21, and a Service PUT without clusterIP before 1.22;
    - watches: ADDED events for what exists for resourceVersion "" and "0", bookmarks (allowWatchBookmarks),
      a bounded history per kind and the 410 Expired ERROR event for a resourceVersion older than it;
    - a deployment controller (rolling updates, progress deadline, garbage collection) and a kubelet for the
      pods it creates (init containers, then containers; `never_ready`, `fail_init`).
    Leaves out: authentication and RBAC, TLS, namespaces as objects (every namespace exists), JSON patch
    (415), subresources (/status, /scale, logs, exec), deletecollection, pagination, ReplicaSets and
    ownerReferences, the scheduler (pods go round-robin to fake nodes), running pods created through the API,
    graceful pod deletion, HPA and PDB controllers, conversion between versions of a kind (only apiVersion
    changes), admission webhooks (Istio's validation), unknown-field warnings, a cap on managedFields entries,
    and managedFields entries for the controllers' status writes.
    """

    def __init__(self, ready_after: float = 0.1, nodes: tuple[str, ...] = ("node-a", "node-b", "node-c"), *,
                 kubernetes_version: str = "1.31", istio: bool = True, keda: bool = False,
                 bookmark_interval: float = 60.0, watch_history: int = 1000) -> None:
        """ready_after: seconds from a pod's creation to Ready; istio: serve Istio's and the Prometheus
        Operator's CRDs; keda: serve KEDA's (no KEDA operator runs: nothing acts on a ScaledObject);
        bookmark_interval: seconds between watch bookmarks (about a minute on a real server); watch_history:
        events each kind keeps for watches to resume from."""
        version = parse_version(kubernetes_version)
        self.store = Store(version[1] if version[0] == 1 else 10_000, watch_history)
        self.kubelet = Kubelet(self.store, ready_after)
        self.controller = DeploymentController(self.store, self.kubelet, nodes)
        addons = frozenset(name for name, installed in (("istio", istio), ("keda", keda)) if installed)
        self._server = Server(self.store, ServedApis(version[:2], addons), version, bookmark_interval)
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
        """Pods for which predicate(pod) holds run but stay unready forever (a model that fails to load)."""
        with self.store.lock:
            self.kubelet.never_ready.append(predicate)

    def fail_init(self, predicate: Callable[[Obj], bool], reason: str = "CrashLoopBackOff",
                  message: str = "fatal: could not read from remote repository") -> None:
        """Pods for which predicate(pod) holds stay Pending, their first init container failing: in a crash loop
        (its last run exited 128 with `message`), or waiting for `reason` (ErrImagePull, ...) with `message`."""
        with self.store.lock:
            self.kubelet.init_failures.append(InitFailure(predicate, reason, message))

    def compact(self) -> None:
        """Forget the watch history, as etcd compaction does: resuming a watch from before now is a 410."""
        self.store.compact()

    def set_status(self, plural: str, namespace: str, name: str, status: Obj, group: str = "") -> None:
        """Write an object's status as its controller would where none runs here (the HPA controller, KEDA)."""
        self.store.update_status(KINDS[group, plural], namespace, name, status)

    def objects(self, plural: str, namespace: str, group: str = "") -> list[Obj]:
        """What the fake holds, read directly: for assertions that should not go through the code under test."""
        return self.store.list(KINDS[group, plural], namespace)
