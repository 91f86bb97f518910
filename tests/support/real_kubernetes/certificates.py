"""What the servers trust, made fresh for each cluster with the openssl CLI: a CA, one serving certificate for
127.0.0.1 (the API server's, the controller-manager's and the stand-in kubelet's), the service-account key pair
and a static token file with two users in system:masters."""

from __future__ import annotations

import secrets
import subprocess
from dataclasses import dataclass
from pathlib import Path

SERVING_NAMES = "IP:127.0.0.1,DNS:localhost,DNS:kubernetes,DNS:kubernetes.default,DNS:kubernetes.default.svc"


@dataclass(frozen=True)
class Credentials:
    folder: Path
    admin_token: str
    controller_manager_token: str

    @property
    def ca(self) -> Path:
        return self.folder / "ca.crt"

    @property
    def serving_certificate(self) -> Path:
        return self.folder / "serving.crt"

    @property
    def serving_key(self) -> Path:
        return self.folder / "serving.key"

    @property
    def service_account_key(self) -> Path:
        """Private: the API server signs tokens with it, the controller-manager's token controller too."""
        return self.folder / "sa.key"

    @property
    def service_account_public_key(self) -> Path:
        return self.folder / "sa.pub"

    @property
    def tokens(self) -> Path:
        return self.folder / "tokens.csv"


def make_credentials(folder: Path) -> Credentials:
    folder.mkdir(parents=True, exist_ok=True)
    found = Credentials(folder, secrets.token_hex(16), secrets.token_hex(16))
    ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes", "-days", "2"]
    _openssl("req", "-x509", *ec, "-keyout", folder / "ca.key", "-out", found.ca, "-subj", "/CN=kanri-test-ca")
    _openssl("req", "-x509", *ec, "-CA", found.ca, "-CAkey", folder / "ca.key", "-keyout", found.serving_key,
             "-out", found.serving_certificate, "-subj", "/CN=127.0.0.1", "-addext", f"subjectAltName={SERVING_NAMES}",
             "-addext", "basicConstraints=critical,CA:FALSE", "-addext", "extendedKeyUsage=serverAuth")
    _openssl("genpkey", "-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:2048", "-out", found.service_account_key)
    _openssl("pkey", "-in", found.service_account_key, "-pubout", "-out", found.service_account_public_key)
    found.tokens.write_text(f'{found.admin_token},admin,admin,"system:masters"\n'
                            f'{found.controller_manager_token},kube-controller-manager,kube-controller-manager,'
                            '"system:masters"\n')
    return found


def _openssl(*args: str | Path) -> None:
    result = subprocess.run(["openssl", *map(str, args)], capture_output=True, text=True, timeout=60)
    if result.returncode != 0:
        raise RuntimeError(f"openssl {' '.join(map(str, args))} failed:\n{result.stderr}")
