"""Regenerates the CRD schemas in this folder from npm packages that carry them (GitHub is not reachable here).

    cd /tmp && npm pack @kubernetes-models/istio@2.3.0 @kubernetes-models/prometheus-operator@1.6.3 \
        @kubernetes-models/keda@2.0.0 kubernetes-models@5.1.0 @kubernetes-models/apimachinery@3.0.2
    python manifests/schemas/extract.py /tmp/kubernetes-models-istio-2.3.0.tgz \
        /tmp/kubernetes-models-prometheus-operator-1.6.3.tgz /tmp/kubernetes-models-keda-2.0.0.tgz \
        /tmp/kubernetes-models-5.1.0.tgz /tmp/kubernetes-models-apimachinery-3.0.2.tgz

The Istio and Prometheus Operator packages embed each CRD's openAPIV3Schema (as those projects publish it)
as a JavaScript object literal in JSON syntax. The KEDA package ships its schemas compiled instead, as ajv's
standalone validation code (package/_schemas/*.js, one function per schema node, referring to other modules:
the ScaledObject's HPA behavior is Kubernetes' own, in kubernetes-models, whose quantities are in
@kubernetes-models/apimachinery); `Validators` reads the schema back from that code, following the references
across the packages given. This keeps the `spec` of the kinds kanri writes, drops the packages' `nullable`
additions, and makes every object with declared properties reject others, as `kubectl apply` (strict field
validation) does for structural CRD schemas, so that a misspelt field fails.
"""

from __future__ import annotations

import json
import posixpath
import re
import sys
import tarfile
from pathlib import Path

KINDS = {
    "networking.istio.io/v1beta1": ("Gateway", "VirtualService", "DestinationRule"),
    "security.istio.io/v1beta1": ("RequestAuthentication", "AuthorizationPolicy", "PeerAuthentication"),
    "monitoring.coreos.com/v1": ("ServiceMonitor", "PrometheusRule"),
    "keda.sh/v1alpha1": ("ScaledObject",),
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


class Validators:
    """JSON Schema read back from ajv's standalone validation code, by module ("PACKAGE/_schemas/NAME").

    Each schema node is a function whose errors name the keyword they check (type, enum, format, required,
    oneOf) and which calls a function per property, per item, per map value, or on the whole value (a $ref,
    or a oneOf's choices). Exactly those are read: a module checking any other keyword is refused rather than
    read wrong."""

    _FUNCTION = re.compile(
        r"function (validate\d+)\(data,\{[^}]*\}=\{\}\)\{(.*?)(?:return |,)\1\.errors=vErrors,0===errors\}", re.S)
    _IMPORT = re.compile(r'import\{validate as (validate\d+)\}from"([^"]+)"')
    _ROOT = re.compile(r"export const validate=(validate\d+)")
    _ENUM = re.compile(r"let (schema\d+_enum)=(\[[^\]]*\])")
    _KEYWORD = re.compile(r'schemaPath:"#/\w+",keyword:"(\w+)",params:\{\w+:("[^"]*"|\w+)\}')
    _PROPERTY = re.compile(r'(validate\d+)\(data(?:\.[\w$]+|\["[^"]*"\]),\{instancePath:instancePath\+"/([^"]*)"')
    _ITEMS = re.compile(r"for\(let i0=0;i0<len0;i0\+\+\)(validate\d+)\(data\[i0\]")
    _VALUES = re.compile(r"for\(let key0 in data\)(validate\d+)\(data\[key0\]")
    _WHOLE = re.compile(r"(validate\d+)\(data,\{instancePath,")

    def __init__(self, sources: dict[str, str]) -> None:
        self.sources = sources
        self._reading: set[tuple[str, str]] = set()

    def root(self, module: str) -> dict:
        return self._schema(module, self._root_function(module))

    def property(self, module: str, name: str) -> dict:
        """One property of the module's schema, reading nothing else (a kind's spec, not its metadata)."""
        root = self._body(module, self._root_function(module))
        called = {found: function for function, found in self._PROPERTY.findall(root)}
        return self._schema(module, called[name])

    def _root_function(self, module: str) -> str:
        if module not in self.sources:
            raise ValueError(f"no module {module}: give the tarball of its package too")
        return self._ROOT.search(self.sources[module])[1]

    def _body(self, module: str, function: str) -> str:
        return dict(self._FUNCTION.findall(self.sources[module]))[function]

    def _schema(self, module: str, function: str) -> dict:
        imported = {name: _resolve(module, spec) for name, spec in self._IMPORT.findall(self.sources[module])}
        if function in imported:
            return self.root(imported[function])
        if (module, function) in self._reading:
            raise ValueError(f"{module}: {function} refers to itself; a recursive schema is not read")
        self._reading.add((module, function))
        try:
            return self._node(module, function)
        finally:
            self._reading.discard((module, function))

    def _node(self, module: str, function: str) -> dict:
        body = self._body(module, function)
        enums = {name: json.loads(values) for name, values in self._ENUM.findall(self.sources[module])}
        checks = self._KEYWORD.findall(body)
        if len(checks) != body.count('keyword:"'):
            raise ValueError(f"{module}: {function} checks a keyword in a way this script does not read")
        schema: dict = {}
        whole = self._WHOLE.findall(body)
        for keyword, value in checks:
            if keyword in ("type", "format"):
                schema.setdefault(keyword, json.loads(value))
            elif keyword == "enum":
                schema["enum"] = enums[value]
            elif keyword == "required":
                schema.setdefault("required", []).append(json.loads(value))
            elif keyword == "oneOf":
                schema["oneOf"], whole = [self._schema(module, choice) for choice in whole], []
            else:
                raise ValueError(f"{module}: {function} checks {keyword!r}, which this script does not read")
        if properties := self._PROPERTY.findall(body):
            schema["properties"] = {name.replace("~1", "/").replace("~0", "~"): self._schema(module, called)
                                    for called, name in properties}
        if items := self._ITEMS.search(body):
            schema["items"] = self._schema(module, items[1])
        if values := self._VALUES.search(body):
            schema["additionalProperties"] = self._schema(module, values[1])
        if whole:  # a reference to another schema, and what this node adds to it
            [referred] = whole
            schema = self._schema(module, referred) | schema
        return schema


def _resolve(module: str, spec: str) -> str:
    """An import's module: relative to the importing one's folder, or a package path."""
    path = posixpath.normpath(posixpath.join(posixpath.dirname(module), spec)) if spec.startswith(".") else spec
    return path.removesuffix(".js")


def _modules(packages: list[str]) -> tuple[dict[str, str], dict[str, str]]:
    """Every JavaScript module of the packages by its import path ("@kubernetes-models/keda/keda.sh/v1alpha1/
    ScaledObject"), and where each came from (tarball:member)."""
    sources, origins = {}, {}
    for package in packages:
        with tarfile.open(package) as archive:
            name = json.loads(archive.extractfile("package/package.json").read())["name"]
            for member in archive.getmembers():
                if member.isfile() and member.name.endswith(".js"):
                    path = f"{name}/{member.name.removeprefix('package/').removesuffix('.js')}"
                    sources[path] = archive.extractfile(member).read().decode()
                    origins[path] = f"{Path(package).name}:{member.name}"
    return sources, origins


def main(packages: list[str]) -> None:
    folder = Path(__file__).parent
    sources, origins = _modules(packages)
    validators = Validators(sources)
    for api_version, kinds in KINDS.items():
        for kind in kinds:
            for module in (m for m in sources if m.endswith(f"/{api_version}/{kind}")):
                source = sources[module]
                if "const schema = " in source:
                    spec = _literal(source)["properties"]["spec"]
                else:  # the model imports its compiled validator
                    compiled = re.search(r'import\{validate\}from"([^"]+)"', source)[1]
                    spec = validators.property(_resolve(module, compiled), "spec")
                out = folder / f"{api_version.split('/')[0]}_{api_version.split('/')[1]}_{kind}.json"
                document = {"$comment": f"spec of {kind} {api_version}, from {origins[module]}",
                            "apiVersion": api_version, "kind": kind, "spec": _strict(spec)}
                out.write_text(json.dumps(document, indent=1, sort_keys=True) + "\n")
                print(f"wrote {out.name}")


if __name__ == "__main__":
    main(sys.argv[1:])
