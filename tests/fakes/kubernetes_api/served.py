"""Which group/versions a Kubernetes minor version serves, for the kinds the fake stores.

A client that discovers APIs must meet the same gaps as on a real cluster:
autoscaling/v2 only from 1.23 (v2beta2 until 1.25), policy/v1 only from 1.21
(v1beta1 until 1.24), and no Istio or Prometheus Operator CRDs on a cluster
without them, nor KEDA's on a cluster without KEDA.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from .resources import DEPLOYMENTS, HPAS, ISTIO, ISTIO_SECURITY, KEDA, PDBS, PODS, PROMETHEUS_OPERATOR, SERVICES, Kind

Version = tuple[int, int]
_LATEST = 10_000


@dataclass(frozen=True)
class GroupVersion:
    group: str
    version: str
    kinds: tuple[Kind, ...]
    first: int = 0  # the first Kubernetes 1.x minor serving it
    last: int = _LATEST  # the last one
    addon: str = ""  # "istio" (with the Prometheus Operator) or "keda": served by their CRDs, not by Kubernetes

    @property
    def name(self) -> str:
        return f"{self.group}/{self.version}" if self.group else self.version


# In each group, the order of preference the real server reports (its version priority).
_GROUP_VERSIONS = (
    GroupVersion("", "v1", (PODS, SERVICES)),
    GroupVersion("apps", "v1", (DEPLOYMENTS,), first=9),
    GroupVersion("autoscaling", "v1", (HPAS,)),
    GroupVersion("autoscaling", "v2", (HPAS,), first=23),
    GroupVersion("autoscaling", "v2beta1", (HPAS,), first=8, last=24),
    GroupVersion("autoscaling", "v2beta2", (HPAS,), first=12, last=25),
    GroupVersion("policy", "v1", (PDBS,), first=21),
    GroupVersion("policy", "v1beta1", (PDBS,), first=5, last=24),
    *(GroupVersion("networking.istio.io", version, ISTIO, addon="istio") for version in ("v1", "v1beta1", "v1alpha3")),
    *(GroupVersion("security.istio.io", version, ISTIO_SECURITY, addon="istio") for version in ("v1", "v1beta1")),
    GroupVersion("monitoring.coreos.com", "v1", PROMETHEUS_OPERATOR, addon="istio"),
    GroupVersion("keda.sh", "v1alpha1", KEDA, addon="keda"),
)
# autoscaling/v2 went to the front of the priority list only after v2beta2 was gone: 1.23 still lists v1 first
# ("TODO: move v2 to the front of the list in 1.24" in pkg/apis/autoscaling/install); 1.26 is when v2 leads here.
_AUTOSCALING_V2_PREFERRED = 26


def parse_version(text: str) -> tuple[int, int, int]:
    """"1.31", "1.20.2" or "v1.20.2" → (1, 31, 0), (1, 20, 2)."""
    found = re.fullmatch(r"v?(\d+)\.(\d+)(?:\.(\d+))?", text.strip())
    if not found:
        raise ValueError(f"{text!r} is not a Kubernetes version such as 1.31 or 1.20.2")
    return int(found[1]), int(found[2]), int(found[3] or 0)


class ServedApis:
    """The group/versions a cluster of one Kubernetes version serves, and the kinds in each."""

    def __init__(self, version: Version, addons: frozenset[str]) -> None:
        """addons: those installed ("istio", "keda"), whose CRDs serve their kinds."""
        minor = version[1] if version[0] == 1 else _LATEST
        served = [gv for gv in _GROUP_VERSIONS if gv.first <= minor <= gv.last and gv.addon in {"", *addons}]
        preferred = "autoscaling/v2" if minor >= _AUTOSCALING_V2_PREFERRED else "autoscaling/v1"
        group_order = {group: i for i, group in enumerate(dict.fromkeys(gv.group for gv in served))}
        self.served = sorted(served, key=lambda gv: (group_order[gv.group], gv.group == "autoscaling"
                                                     and gv.name != preferred))

    def groups(self) -> dict[str, list[GroupVersion]]:
        """Each named group's served versions, the preferred first (the core group, "", left out)."""
        found: dict[str, list[GroupVersion]] = {}
        for gv in self.served:
            if gv.group:
                found.setdefault(gv.group, []).append(gv)
        return found

    def group_version(self, group: str, version: str) -> GroupVersion | None:
        return next((gv for gv in self.served if (gv.group, gv.version) == (group, version)), None)

    def kind(self, group: str, version: str, plural: str) -> Kind | None:
        gv = self.group_version(group, version)
        return next((k for k in gv.kinds if k.plural == plural), None) if gv else None
