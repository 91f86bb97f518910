"""Regenerates the CRD schemas in this folder from npm packages that carry them (GitHub is not reachable here).

    cd /tmp && npm pack @kubernetes-models/istio@2.3.0 @kubernetes-models/prometheus-operator@1.6.3
    python manifests/schemas/extract.py /tmp/kubernetes-models-istio-2.3.0.tgz \
        /tmp/kubernetes-models-prometheus-operator-1.6.3.tgz

Those packages embed each CRD's openAPIV3Schema (as published by Istio and the Prometheus Operator) as a
JavaScript object literal in JSON syntax. This keeps the `spec` of the kinds kanri writes, drops the
packages' `nullable` additions, and makes every object with declared properties reject others, as
`kubectl apply` (strict field validation) does for structural CRD schemas, so that a misspelt field fails.
"""

from __future__ import annotations

import json
import sys
import tarfile
from pathlib import Path

KINDS = {
    "networking.istio.io/v1beta1": ("Gateway", "VirtualService", "DestinationRule"),
    "security.istio.io/v1beta1": ("RequestAuthentication", "AuthorizationPolicy", "PeerAuthentication"),
    "monitoring.coreos.com/v1": ("ServiceMonitor", "PrometheusRule"),
}


def _strict(schema: object) -> object:
    if isinstance(schema, list):
        return [_strict(item) for item in schema]
    if not isinstance(schema, dict):
        return schema
    strict = {key: _strict(value) for key, value in schema.items() if key != "nullable"}
    if "properties" in strict and "additionalProperties" not in strict:
        strict["additionalProperties"] = False
    return strict


def _literal(source: str) -> dict:
    start = source.index("const schema = ") + len("const schema = ")
    end = source.index("\n};\n", start) + 2
    return json.loads(source[start:end])


def main(packages: list[str]) -> None:
    folder = Path(__file__).parent
    for package in packages:
        with tarfile.open(package) as archive:
            for api_version, kinds in KINDS.items():
                for kind in kinds:
                    member = f"package/{api_version}/{kind}.js"
                    try:
                        source = archive.extractfile(member).read().decode()
                    except KeyError:
                        continue
                    spec = _literal(source)["properties"]["spec"]
                    out = folder / f"{api_version.split('/')[0]}_{api_version.split('/')[1]}_{kind}.json"
                    document = {"$comment": f"spec of {kind} {api_version}, from {Path(package).name}:{member}",
                                "apiVersion": api_version, "kind": kind, "spec": _strict(spec)}
                    out.write_text(json.dumps(document, indent=1, sort_keys=True) + "\n")
                    print(f"wrote {out.name}")


if __name__ == "__main__":
    main(sys.argv[1:])
