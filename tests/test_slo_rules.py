"""The rules made from SLOs, checked by promtool on synthetic series: who pages, who gets a ticket, who neither."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import yaml

from kanri.console.slo.objective import Objective
from kanri.console.slo.rules import SRE_WORKBOOK, duration, prometheus_rule, rules_file, scaled
from tests.support.manifests import problems
from tests.support.prometheus import promtool_test_rules
from tests.support.servers import ROOT

OBJECTIVES = [Objective("shop", name, "production", 99.9, 100) for name in ("broken", "leaky", "slow", "healthy")]


def _calls(service: str, faults_per_minute: int, fast_share: float = 1.0) -> list[dict]:
    """Three hours of a service's counters, one sample a minute: 1000 calls a minute, 50 of them the caller's
    mistakes (which count as answered)."""
    labels = f'app="shop", service="{service}", service_level="production", model_version="1", method="Predict"'
    total = 1000
    return [
        {"series": f'kanri_requests_total{{{labels}, code="OK"}}', "values": f"0+{950 - faults_per_minute}x180"},
        {"series": f'kanri_requests_total{{{labels}, code="INTERNAL"}}', "values": f"0+{faults_per_minute}x180"},
        {"series": f'kanri_requests_total{{{labels}, code="INVALID_ARGUMENT"}}', "values": "0+50x180"},
        {"series": f'kanri_request_duration_seconds_bucket{{{labels}, le="0.1"}}',
         "values": f"0+{round(total * fast_share)}x180"},
        {"series": f'kanri_request_duration_seconds_count{{{labels}}}', "values": f"0+{total}x180"},
    ]


def _alert(service: str, severity: str, slo: str, value: str, what: str) -> dict:
    objective = "99.9 % available" if slo == "availability" else "99 % within 100 ms"
    allowed = "0.001" if slo == "availability" else "0.01"
    speed = "fast: page" if severity == "page" else "steadily: ticket"
    return {"exp_labels": {"app": "shop", "service": service, "severity": severity, "slo": slo,
                           "level": "production"},
            "exp_annotations": {"summary": f"shop/{service} is burning its {slo} error budget {speed}",
                                "description": f"Share of {what}: {value} (the objective, {objective} over "
                                               f"28 days, allows {allowed})."}}


def test_promtool_pages_on_a_fast_burn_and_tickets_a_slow_one(tmp_path: Path) -> None:
    (tmp_path / "rules.yml").write_text(rules_file(OBJECTIVES))
    faults = "calls answered with a server fault"
    tests = {
        "rule_files": ["rules.yml"],
        "evaluation_interval": "1m",
        "tests": [{
            "interval": "1m",
            # 2 % errors burn a 0.1 % budget 20x; 0.5 % burn it 5x; 10 % slow calls burn a 1 % budget 10x.
            "input_series": [*_calls("broken", 20), *_calls("leaky", 5), *_calls("slow", 0, fast_share=0.9),
                             *_calls("healthy", 0)],
            "alert_rule_test": [
                {"eval_time": "2h", "alertname": "KanriAvailabilityBudgetBurn", "exp_alerts": [
                    _alert("broken", "page", "availability", "0.02", faults),
                    _alert("broken", "ticket", "availability", "0.02", faults),
                    _alert("leaky", "ticket", "availability", "0.005", faults),
                ]},
                {"eval_time": "2h", "alertname": "KanriLatencyBudgetBurn", "exp_alerts": [
                    _alert("slow", "page", "latency", "0.1", "calls slower than 100 ms"),
                    _alert("slow", "ticket", "latency", "0.1",
                           "calls slower than 100 ms"),
                ]},
            ],
            "promql_expr_test": [
                {"expr": 'kanri:slo_errors:ratio_rate1h{service="healthy"}', "eval_time": "2h",
                 "exp_samples": [{"labels": 'kanri:slo_errors:ratio_rate1h{app="shop", service="healthy"}',
                                  "value": 0}]},
                {"expr": 'kanri:slo_errors:ratio_rate5m{service="broken"}', "eval_time": "2h",
                 "exp_samples": [{"labels": 'kanri:slo_errors:ratio_rate5m{app="shop", service="broken"}',
                                  "value": 0.02}]},
            ],
        }],
    }
    result = promtool_test_rules(tmp_path, tests)
    assert result.returncode == 0, result.stdout + result.stderr


def test_manifests_slo_is_what_the_generator_writes_and_validates() -> None:
    result = subprocess.run([sys.executable, "scripts/slo_manifests.py", "--check"], cwd=ROOT, capture_output=True,
                            text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    rule = yaml.safe_load((ROOT / "manifests" / "slo" / "prometheus-rule.yaml").read_text())
    assert problems(rule) == [] and rule["spec"]["groups"][0]["name"] == "kanri-slo-digits-digits-prod"
    broken = {**rule, "spec": {"groups": [{"name": "x", "rules": [{"alert": "A"}]}]}}
    assert problems(broken)  # the schema does check: a rule needs its expr


def test_the_prometheus_rule_carries_the_same_groups_and_windows_scale() -> None:
    document = yaml.safe_load(prometheus_rule(OBJECTIVES[:1], namespace="ml"))
    assert (document["kind"], document["metadata"]["namespace"]) == ("PrometheusRule", "ml")
    assert document["spec"] == yaml.safe_load(rules_file(OBJECTIVES[:1]))
    assert [(duration(w.long_seconds), duration(w.short_seconds)) for w in scaled(SRE_WORKBOOK, 60)] == [
        ("1m", "5s"), ("6m", "30s"), ("24m", "2m"), ("72m", "6m")]
