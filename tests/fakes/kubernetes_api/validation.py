"""Validation as the real server words it: field errors aggregated into one 422 per object.

Covers what clients of the fake run into: names, label keys and values (on
the object and a Deployment's template), Deployment selectors, probe
handlers, toleration values, and a Service update without its clusterIP
before 1.22 (see defaults.CARRIES_CLUSTER_IP). Values are printed as Go's
%#v prints them, since that is what the real messages carry.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass

from .defaults import CARRIES_CLUSTER_IP
from .resources import DEPLOYMENTS, SERVICES, ApiError, Kind, Obj
from .schema import PROBES, pod_spec
from .selectors import selector_matches

_REASONS = {"Invalid value": "FieldValueInvalid", "Required value": "FieldValueRequired",
            "Forbidden": "FieldValueForbidden", "Unsupported value": "FieldValueNotSupported"}
_HANDLERS = ("exec", "httpGet", "tcpSocket", "grpc")


@dataclass(frozen=True)
class FieldError:
    field: str
    type: str  # "Invalid value", "Required value", "Forbidden", "Unsupported value"
    detail: str = ""
    value: str | None = None  # as Go prints it; None for the types that print no value

    def body(self) -> str:
        parts = [self.type, *([self.value] if self.value is not None else []), *([self.detail] if self.detail else [])]
        return ": ".join(parts)

    def __str__(self) -> str:
        return f"{self.field}: {self.body()}"


def invalid(qualified: str, name: str, errors: list[FieldError]) -> ApiError:
    """422 Invalid: 'Deployment.apps "web" is invalid: ...', several errors in brackets."""
    listed = list(dict.fromkeys(str(e) for e in errors))
    text = listed[0] if len(listed) == 1 else "[" + ", ".join(listed) + "]"
    kind, _, group = qualified.partition(".")
    causes = [{"reason": _REASONS[e.type], "message": e.body(), "field": e.field} for e in errors]
    found = {"name": name, "group": group, "kind": kind, "causes": causes}
    return ApiError(422, "Invalid", f'{qualified} "{name}" is invalid: {text}', {k: v for k, v in found.items() if v})


def quote(text: str) -> str:
    """Go's %q, for the ASCII text of names and labels."""
    return json.dumps(text)


def _go_map(labels: Obj | None) -> str:
    if labels is None:
        return "map[string]string(nil)"
    return "map[string]string{" + ", ".join(f"{quote(k)}:{quote(v)}" for k, v in sorted(labels.items())) + "}"


def _go_selector(selector: Obj) -> str:
    expressions = selector.get("matchExpressions")
    requirements = ", ".join(
        f'v1.LabelSelectorRequirement{{Key:{quote(e.get("key", ""))}, Operator:{quote(e.get("operator", ""))}, '
        f'Values:[]string{{{", ".join(quote(v) for v in e.get("values") or [])}}}}}' for e in expressions or [])
    listed = ("[]v1.LabelSelectorRequirement(nil)" if expressions is None
              else f"[]v1.LabelSelectorRequirement{{{requirements}}}")
    return f"v1.LabelSelector{{MatchLabels:{_go_map(selector.get('matchLabels'))}, MatchExpressions:{listed}}}"


def _regex_error(what: str, regex: str, *examples: str) -> str:
    """apimachinery's RegexError, double spaces included."""
    return what + " (e.g. " + " or ".join(f"'{e}', " for e in examples) + f"regex used for validation is '{regex}')"


_SUBDOMAIN = r"[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*"
_DNS1035 = r"[a-z]([-a-z0-9]*[a-z0-9])?"
_LABEL_VALUE = r"(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?"
_NAME_PART = r"([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]"
_SUBDOMAIN_ERROR = _regex_error("a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, "
                                "'-' or '.', and must start and end with an alphanumeric character", _SUBDOMAIN,
                                "example.com")
_DNS1035_ERROR = _regex_error("a DNS-1035 label must consist of lower case alphanumeric characters or '-', start "
                              "with an alphabetic character, and end with an alphanumeric character", _DNS1035,
                              "my-name", "abc-123")
_LABEL_VALUE_ERROR = _regex_error("a valid label must be an empty string or consist of alphanumeric characters, "
                                  "'-', '_' or '.', and must start and end with an alphanumeric character",
                                  _LABEL_VALUE, "MyValue", "my_value", "12345")
_NAME_PART_ERROR = _regex_error("name part must consist of alphanumeric characters, '-', '_' or '.', and must "
                                "start and end with an alphanumeric character", _NAME_PART,
                                "MyName", "my.name", "123-abc")


def _name(kind: Kind, meta: Obj) -> list[FieldError]:
    name = meta.get("name", "")
    if not name:
        return [FieldError("metadata.name", "Required value", "name or generateName is required")]
    regex, message, longest = (_DNS1035, _DNS1035_ERROR, 63) if kind is SERVICES else (_SUBDOMAIN, _SUBDOMAIN_ERROR,
                                                                                       253)
    errors = [FieldError("metadata.name", "Invalid value", f"must be no more than {longest} characters", quote(name))
              ] if len(name) > longest else []
    if not re.fullmatch(regex, name):
        errors.append(FieldError("metadata.name", "Invalid value", message, quote(name)))
    return errors


def label_value_errors(value: str) -> list[str]:
    errors = ["must be no more than 63 characters"] if len(value) > 63 else []
    return errors + ([] if re.fullmatch(_LABEL_VALUE, value) else [_LABEL_VALUE_ERROR])


def _qualified_name_errors(key: str) -> list[str]:
    prefix, _, name = key.rpartition("/")
    errors = [] if re.fullmatch(_NAME_PART, name) and len(name) <= 63 else [_NAME_PART_ERROR]
    if prefix and not re.fullmatch(_SUBDOMAIN, prefix):
        errors.append("prefix part " + _SUBDOMAIN_ERROR)
    return errors


def _labels(labels: Obj | None, field: str) -> list[FieldError]:
    errors = []
    for key, value in (labels or {}).items():
        errors += [FieldError(field, "Invalid value", e, quote(key)) for e in _qualified_name_errors(key)]
        errors += [FieldError(field, "Invalid value", e, quote(str(value))) for e in label_value_errors(str(value))]
    return errors


def _deployment(spec: Obj, old: Obj | None) -> list[FieldError]:
    errors = []
    selector, template_labels = spec.get("selector"), spec.get("template", {}).get("metadata", {}).get("labels")
    if old and selector != old["spec"].get("selector"):
        errors.append(FieldError("spec.selector", "Invalid value", "field is immutable", _go_selector(selector or {})))
    if not selector:
        errors.append(FieldError("spec.selector", "Required value"))
    elif not selector_matches(selector, template_labels or {}):
        errors.append(FieldError("spec.template.metadata.labels", "Invalid value",
                                 "`selector` does not match template `labels`", _go_map(template_labels)))
    return errors + _labels(template_labels, "spec.template.labels")


def _probes(path: str, spec: Obj) -> list[FieldError]:
    errors = []
    for i, container in enumerate(spec.get("containers") or []):
        for probe in PROBES:
            handlers = sum(h in container[probe] for h in _HANDLERS) if isinstance(container.get(probe), dict) else 1
            where = f"{path}.containers[{i}].{probe}"
            if handlers == 0:
                errors.append(FieldError(where, "Required value", "must specify a handler type"))
            elif handlers > 1:
                errors.append(FieldError(where, "Forbidden", "may not specify more than 1 handler type"))
    return errors


def _tolerations(path: str, spec: Obj) -> list[FieldError]:
    errors = []
    for i, toleration in enumerate(spec.get("tolerations") or []):
        where, operator, value = f"{path}.tolerations[{i}]", toleration.get("operator", ""), toleration.get("value", "")
        if toleration.get("key"):
            errors += [FieldError(f"{where}.key", "Invalid value", e, quote(toleration["key"]))
                       for e in _qualified_name_errors(toleration["key"])]
        if operator in ("", "Equal"):  # the value's errors name the operator field, as the real server does
            errors += [FieldError(f"{where}.operator", "Invalid value", e, quote(value))
                       for e in label_value_errors(value)]
        elif operator == "Exists" and value:
            errors.append(FieldError(f"{where}.operator", "Invalid value",
                                     "value must be empty when `operator` is 'Exists'", quote(value)))
        elif operator != "Exists":
            errors.append(FieldError(f"{where}.operator", "Unsupported value", 'supported values: "Equal", "Exists"',
                                     quote(operator)))
    return errors


def _service(spec: Obj, old: Obj | None, minor: int) -> list[FieldError]:
    if old and minor < CARRIES_CLUSTER_IP and old["spec"].get("clusterIPs") and not spec.get("clusterIPs"):
        return [FieldError("spec.clusterIPs[0]", "Invalid value", "primary clusterIP can not be unset",
                           "[]string(nil)")]
    return []


def validate(kind: Kind, obj: Obj, old: Obj | None, minor: int) -> None:
    """Raise the 422 the real server answers for this object (old: the live one, on an update)."""
    meta, spec = obj.get("metadata", {}), obj.get("spec") or {}
    errors = _name(kind, meta) + _labels(meta.get("labels"), "metadata.labels")
    if kind is DEPLOYMENTS:
        errors += _deployment(spec, old)
    elif kind is SERVICES:
        errors += _service(spec, old, minor)
    if found := pod_spec(kind, obj):
        path = found[0].lstrip(".")
        errors += _probes(path, found[1]) + _tolerations(path, found[1])
    if errors:
        raise invalid(kind.qualified, meta.get("name", ""), errors)
