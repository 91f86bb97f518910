"""What a service asks of the cluster, checked before anything is written: CPU and memory quantities as the
Kubernetes API server parses them, each request within its limit, min ready seconds below the cluster's
progress deadline. Each refusal is one line that says what to change.
"""

from __future__ import annotations

import dataclasses
import re
from decimal import Decimal
from fractions import Fraction
from pathlib import Path

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from kanri.console.cluster.base import Resources
from kanri.console.cluster.kubernetes import ObjectOptions
from kanri.console.cluster.local import SupervisorSettings
from kanri.console.config import Settings
from kanri.console.errors import Invalid
from kanri.console.ops import applications, models, quantity, services, validation
from kanri.console.ops.context import Context
from kanri.console.ops.services import ServiceSettings
from kanri.console.wiring import progress_deadline
from tests.support.memory_backend import MemoryBackend
from tests.support.servers import PREDICTORS

# Kubernetes' published pattern for a quantity (the one controller-gen writes into CRDs). It also lets an
# exponent have a fraction (1e3.5), which the API server's parser refuses.
KUBERNETES_PATTERN = re.compile(r"(\+|-)?(([0-9]+(\.[0-9]*)?)|(\.[0-9]+))"
                                r"(([KMGTPE]i)|[numkMGTPE]|([eE](\+|-)?(([0-9]+(\.[0-9]*)?)|(\.[0-9]+))))?")
FRACTIONAL_EXPONENT = re.compile(r"[eE][+-]?[0-9]*\.")


@pytest.mark.parametrize(("text", "value"), [
    ("512k", 512_000), ("512Ki", 524_288), ("0.5", Decimal("0.5")), ("500m", Decimal("0.5")), ("1e3", 1000),
    ("1.5Gi", 1_610_612_736), ("1E3", 1000), ("1E", 10**18), ("2n", Decimal("2e-9")), ("3u", Decimal("3e-6")),
    ("+1.", 1), (".5", Decimal("0.5")), ("1e-3", Decimal("0.001")), ("-1", -1), ("0", 0), ("1.5Ei", 3 * 2**59),
])
def test_quantities_read_as_the_api_server_reads_them(text: str, value: Decimal | int) -> None:
    assert quantity.parse(text) == value


@pytest.mark.parametrize("text", ["512K", "1 GB", "1Gb", "", " 1", "1 ", "1.5.2", "e3", "1e", "1e3.5", "1ki",
                                  "Mi", "1mi", "--1", "0x10", "1_000", "١", ".", "+", "1e+", "1Ki1", "1KiB"])
def test_what_is_not_a_quantity_is_refused_saying_how_to_write_one(text: str) -> None:
    with pytest.raises(quantity.QuantityError, match="write a number, optionally followed by one of Ki Mi"):
        quantity.parse(text)


@pytest.mark.parametrize("exponent", ["9" * 20, "1" * 5000])
def test_an_exponent_beyond_any_amount_is_refused(exponent: str) -> None:
    with pytest.raises(quantity.QuantityError, match="its exponent is beyond any amount; write a number"):
        quantity.parse(f"1e{exponent}")


@given(st.text(alphabet="0123456789.+-eEinumkKMGTP ", max_size=8))
@example("1e3.5")
def test_the_grammar_is_kubernetes_pattern_less_fractional_exponents(text: str) -> None:
    expected = bool(KUBERNETES_PATTERN.fullmatch(text)) and not FRACTIONAL_EXPONENT.search(text)
    try:
        quantity.parse(text)
    except quantity.QuantityError:
        assert not expected, text
    else:
        assert expected, text


@given(sign=st.sampled_from(["", "+", "-"]), whole=st.integers(0, 10**30),
       fraction=st.none() | st.text(alphabet="0123456789", max_size=12),
       suffix=st.sampled_from([*quantity.BINARY, *quantity.DECIMAL, ""]) | st.integers(-40, 40).map(lambda e: f"e{e}"))
def test_a_quantity_is_its_number_times_its_suffix(sign: str, whole: int, fraction: str | None, suffix: str) -> None:
    number = f"{whole}" if fraction is None else f"{whole}.{fraction}"
    if suffix in quantity.BINARY:
        factor = Fraction(2) ** quantity.BINARY[suffix]
    else:
        factor = Fraction(10) ** (quantity.DECIMAL[suffix] if suffix in quantity.DECIMAL else int(suffix[1:] or 0))
    expected = Fraction(number) * factor * (-1 if sign == "-" else 1)
    assert Fraction(quantity.parse(f"{sign}{number}{suffix}")) == expected


BYTES = {"": 1, "k": 10**3, "Ki": 2**10, "M": 10**6, "Mi": 2**20, "G": 10**9, "Gi": 2**30}
MILLICORES = {"m": 1, "": 1000}


@given(st.integers(0, 4096), st.sampled_from(list(BYTES)), st.integers(0, 4096), st.sampled_from(list(BYTES)))
@example(2, "Gi", 1, "Gi")
@example(1024, "Mi", 1, "Gi")
def test_a_memory_request_above_its_limit_is_refused(request: int, request_unit: str, limit: int,
                                                     limit_unit: str) -> None:
    wanted = Resources(memory_request=f"{request}{request_unit}", memory_limit=f"{limit}{limit_unit}")
    if request * BYTES[request_unit] <= limit * BYTES[limit_unit]:
        validation.resources(wanted)
        return
    line = (f"memory request {request}{request_unit} is above its limit {limit}{limit_unit}: raise the limit or "
            "lower the request")
    with pytest.raises(Invalid, match=f"^{re.escape(line)}$"):
        validation.resources(wanted)


@given(st.integers(0, 8000), st.sampled_from(list(MILLICORES)), st.integers(0, 8000), st.sampled_from(list(MILLICORES)))
@example(1500, "m", 1, "")
def test_a_cpu_request_above_its_limit_is_refused(request: int, request_unit: str, limit: int,
                                                  limit_unit: str) -> None:
    wanted = Resources(cpu_request=f"{request}{request_unit}", cpu_limit=f"{limit}{limit_unit}")
    if request * MILLICORES[request_unit] <= limit * MILLICORES[limit_unit]:
        validation.resources(wanted)
    else:
        with pytest.raises(Invalid, match=f"^CPU request {request}{request_unit} is above its limit"):
            validation.resources(wanted)


@pytest.fixture
def echo(ops: Context, echo_models: dict) -> Context:
    """Application echo with model version 1, no service yet, on a cluster whose progress deadline is 600 s."""
    applications.create_app(ops, "echo", f"{PREDICTORS}:Echo")
    models.upload_model(ops, "echo", echo_models["v1"])
    return dataclasses.replace(ops, progress_deadline_seconds=600)


@pytest.mark.parametrize(("settings", "line"), [
    (ServiceSettings(memory_request="512K"), "memory request '512K' is not a Kubernetes memory quantity: write a "
                                             "number, optionally followed by one of Ki Mi Gi Ti Pi Ei"),
    (ServiceSettings(cpu_limit="two"), "CPU limit 'two' is not a Kubernetes CPU quantity: write a number"),
    (ServiceSettings(memory_request="2Gi", memory_limit="1Gi"),
     "memory request 2Gi is above its limit 1Gi: raise the limit or lower the request"),
    (ServiceSettings(cpu_request="1500m", cpu_limit="1"),
     "CPU request 1500m is above its limit 1: raise the limit or lower the request"),
    (ServiceSettings(cpu_request="-1"), "CPU request -1 is negative: give an amount of 0 or more"),
    (ServiceSettings(gpus=-1), "GPU count cannot be negative, got -1"),
    (ServiceSettings(min_ready_seconds=600), "min ready seconds 600 is not below the cluster's progress deadline "
                                             "of 600 s, so every rollout would be reported stuck before its new "
                                             "replicas count as available: lower min ready seconds"),
])
def test_a_refused_service_leaves_the_registry_and_the_cluster_untouched(echo: Context, memory_backend: MemoryBackend,
                                                                        settings: ServiceSettings, line: str) -> None:
    with pytest.raises(Invalid, match=re.escape(line)):
        services.create_service(echo, "echo", "echo-dev", "development", 1, settings)
    assert services.list_services(echo) == [] and memory_backend.calls == []


def test_quantities_in_any_of_their_spellings_reach_the_cluster_as_written(echo: Context,
                                                                          memory_backend: MemoryBackend) -> None:
    resources = Resources(cpu_request="0.5", cpu_limit="1e0", memory_request="512k", memory_limit="1.5Gi")
    services.create_service(echo, "echo", "echo-dev", "development", 1, ServiceSettings(
        cpu_request=resources.cpu_request, cpu_limit=resources.cpu_limit, memory_request=resources.memory_request,
        memory_limit=resources.memory_limit, min_ready_seconds=599))
    assert memory_backend.services[("echo", "echo-dev")].resources == resources


def test_the_progress_deadline_is_the_configured_clusters(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    settings = Settings(home=tmp_path, database_url=f"sqlite:///{tmp_path / 'registry.db'}",
                        model_store=str(tmp_path / "models"))
    kubernetes = dataclasses.replace(settings, cluster="kubernetes")
    assert progress_deadline(kubernetes) == ObjectOptions().progress_deadline_seconds
    assert progress_deadline(settings) == SupervisorSettings().progress_deadline_seconds
    monkeypatch.setenv("KANRI_LOCAL_PROGRESS_DEADLINE_SECONDS", "30")
    assert progress_deadline(settings) == 30
