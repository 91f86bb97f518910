"""A real Kubernetes control plane on loopback: Debian's etcd, kube-apiserver and kube-controller-manager v1.20.2
(the real deployment, replica-set, garbage-collector and token controllers), the CRDs of the kinds kanri writes,
and the stand-in kubelet in place of nodes.

Every process listens on 127.0.0.1 only, on free ports, in a state folder of its own, and logs to a file there;
`stop()` ends them by PID and removes the folder. Connect through `kubeconfig`, context `real-1.20`, as admin.
Starting takes about 5-10 s once the binaries are built (binaries.py).
"""

from __future__ import annotations

import shutil
import ssl
import subprocess
import tempfile
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

import yaml
from kubernetes import client, config

from tests.support.prometheus import stop_server, wait_until
from tests.support.real_kubernetes import crds
from tests.support.real_kubernetes.binaries import etcd_binary, kube_binary
from tests.support.real_kubernetes.certificates import Credentials, make_credentials
from tests.support.real_kubernetes.namespaces import prepare_namespace
from tests.support.real_kubernetes.standin_kubelet import StandinKubelet
from tests.support.servers import free_port

CONTEXT = "real-1.20"
READY_SECONDS = 60
STOP_GRACE_SECONDS = 1.0


@dataclass
class Process:
    name: str
    process: subprocess.Popen
    folder: Path

    @property
    def log(self) -> Path:
        return self.folder / f"{self.name}.log"

    def check(self) -> None:
        """Raises with the end of its log once it exited."""
        if self.process.poll() is not None:
            raise RuntimeError(f"{self.name} exited with {self.process.returncode}; its log ends:\n"
                               f"{self.log.read_text()[-3000:]}")


@dataclass
class RealKubernetes:
    folder: Path
    credentials: Credentials
    url: str = ""
    processes: list[Process] = field(default_factory=list)
    kubelet: StandinKubelet | None = None
    context: str = CONTEXT
    """The kubeconfig's one context, as admin."""

    @property
    def kubeconfig(self) -> Path:
        return self.folder / "kubeconfig"

    @classmethod
    def start(cls) -> RealKubernetes:
        """Start everything and wait until it serves; on failure nothing is left running."""
        folder = Path(tempfile.mkdtemp(prefix="kanri-kubernetes-"))
        cluster = cls(folder, make_credentials(folder / "pki"))
        try:
            cluster._start()
        except BaseException:
            cluster.stop()
            raise
        return cluster

    def api_client(self) -> client.ApiClient:
        """A new client as admin (system:masters)."""
        return config.new_client_from_config(str(self.kubeconfig), context=self.context, persist_config=False)

    def namespace(self, name: str) -> str:
        """A namespace ready for kanri's pods (namespaces.prepare_namespace)."""
        with self.api_client() as api:
            return prepare_namespace(api, name)

    def stop(self) -> None:
        """Stop the kubelet, then every process by PID, and remove the folder. On SIGTERM the API server waits
        for the watches still open before it exits (10 s at the end of a session); its state is thrown away with
        the folder, so it is killed after STOP_GRACE_SECONDS."""
        if self.kubelet is not None:
            self.kubelet.stop()
        for process in reversed(self.processes):
            stop_server(process.process, process.folder, STOP_GRACE_SECONDS)
        shutil.rmtree(self.folder, ignore_errors=True)

    def _start(self) -> None:
        etcd_url = f"http://127.0.0.1:{free_port()}"
        etcd = self._launch("etcd", [
            etcd_binary(), "--name", "kanri", "--data-dir", str(self.folder / "etcd" / "data"), "--logger", "zap",
            "--listen-client-urls", etcd_url, "--advertise-client-urls", etcd_url,
            "--listen-peer-urls", (peer := f"http://127.0.0.1:{free_port()}"),
            "--initial-advertise-peer-urls", peer, "--initial-cluster", f"kanri={peer}",
            "--listen-metrics-urls", f"http://127.0.0.1:{free_port()}"])
        wait_until(lambda: self._answers(etcd, f"{etcd_url}/health", b'"health":"true"'), READY_SECONDS,
                   f"etcd healthy (log: {etcd.log})", interval=0.1)
        self.url = f"https://127.0.0.1:{free_port()}"
        apiserver = self._launch("kube-apiserver", [*self._apiserver_args(etcd_url)])
        wait_until(lambda: self._answers(apiserver, f"{self.url}/readyz", b"ok"), READY_SECONDS,
                   f"kube-apiserver ready (log: {apiserver.log})", interval=0.2)
        self._write_kubeconfig(self.kubeconfig, self.credentials.admin_token, "admin")
        manager_config = self._write_kubeconfig(self.folder / "controller-manager.kubeconfig",
                                                self.credentials.controller_manager_token, "kube-controller-manager")
        manager_url = f"https://127.0.0.1:{free_port()}"
        c = self.credentials
        manager = self._launch("kube-controller-manager", [
            str(kube_binary("kube-controller-manager")), "--kubeconfig", str(manager_config),
            "--authentication-kubeconfig", str(manager_config), "--authorization-kubeconfig", str(manager_config),
            "--bind-address", "127.0.0.1", "--secure-port", manager_url.rsplit(":", 1)[1], "--port", "0",
            "--tls-cert-file", str(c.serving_certificate), "--tls-private-key-file", str(c.serving_key),
            "--leader-elect=false", "--use-service-account-credentials=false", "--controllers", "*",
            # The HPA controller looks every second, not every 15: tests read what it says of kanri's HPAs.
            "--horizontal-pod-autoscaler-sync-period", "1s",
            "--service-account-private-key-file", str(c.service_account_key), "--root-ca-file", str(c.ca)])
        with self.api_client() as api:
            crds.register(api, READY_SECONDS)
        wait_until(lambda: self._answers(manager, f"{manager_url}/healthz", b"ok"), READY_SECONDS,
                   f"kube-controller-manager healthy (log: {manager.log})", interval=0.2)
        self.kubelet = StandinKubelet(self.api_client(), self.credentials)
        self.kubelet.start()

    def _apiserver_args(self, etcd_url: str) -> list[str]:
        c = self.credentials
        return [
            str(kube_binary("kube-apiserver")), "--etcd-servers", etcd_url,
            "--bind-address", "127.0.0.1", "--advertise-address", "127.0.0.1",
            "--secure-port", self.url.rsplit(":", 1)[1], "--insecure-port", "0",
            # An Endpoints object may not hold a loopback address, so the `kubernetes` Service gets none.
            "--endpoint-reconciler-type", "none",
            "--tls-cert-file", str(c.serving_certificate), "--tls-private-key-file", str(c.serving_key),
            "--client-ca-file", str(c.ca), "--token-auth-file", str(c.tokens),
            "--kubelet-certificate-authority", str(c.ca),
            # Without these the controller-manager logs a missing requestheader CA bundle again and again.
            "--requestheader-client-ca-file", str(c.ca), "--requestheader-allowed-names", "front-proxy-client",
            "--requestheader-username-headers", "X-Remote-User", "--requestheader-group-headers", "X-Remote-Group",
            "--requestheader-extra-headers-prefix", "X-Remote-Extra-",
            "--service-account-key-file", str(c.service_account_public_key),
            "--service-account-signing-key-file", str(c.service_account_key),
            "--service-account-issuer", "https://kubernetes.default.svc.cluster.local",
            "--service-cluster-ip-range", "10.96.0.0/16", "--authorization-mode", "RBAC", "--allow-privileged",
            "--profiling=false"]

    def _launch(self, name: str, args: list[str]) -> Process:
        folder = self.folder / name
        folder.mkdir()
        with (folder / f"{name}.log").open("w") as log:
            process = Process(name, subprocess.Popen(args, stdout=log, stderr=subprocess.STDOUT), folder)
        self.processes.append(process)
        return process

    def _answers(self, process: Process, url: str, expected: bytes) -> bool:
        """Whether `url` answers 200 with `expected` in its body; raises once the process exited."""
        process.check()
        context = ssl.create_default_context(cafile=str(self.credentials.ca))
        request = urllib.request.Request(url, headers={"Authorization": f"Bearer {self.credentials.admin_token}"})
        try:
            with urllib.request.urlopen(request, timeout=2, context=context) as response:
                return response.status == 200 and expected in response.read()
        except OSError:
            return False

    def _write_kubeconfig(self, path: Path, token: str, user: str) -> Path:
        path.write_text(yaml.safe_dump({
            "apiVersion": "v1", "kind": "Config", "current-context": CONTEXT,
            "clusters": [{"name": CONTEXT, "cluster": {"server": self.url,
                                                      "certificate-authority": str(self.credentials.ca)}}],
            "users": [{"name": user, "user": {"token": token}}],
            "contexts": [{"name": CONTEXT, "context": {"cluster": CONTEXT, "user": user}}]}))
        return path
