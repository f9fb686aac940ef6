"""Monitoring files: the Grafana dashboard and provisioning, and the compose services that load them."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
import yaml

pytestmark = pytest.mark.contract

ROOT = Path(__file__).resolve().parents[2]
DASHBOARD = ROOT / "deploy" / "grafana" / "dashboards" / "antt.json"
PROVISIONING = ROOT / "deploy" / "grafana" / "provisioning"
RULES = ROOT / "deploy" / "prometheus" / "rules.yml"
METRIC = re.compile(r"\b(antt_[a-z0-9_]+)")
HISTOGRAM_SUFFIXES = ("_bucket", "_sum", "_count")


def family(name: str) -> str:
    """The metric family of a sample name (histogram series carry a suffix)."""
    for suffix in HISTOGRAM_SUFFIXES:
        if name.endswith(suffix) and not name.endswith("_total"):
            return name.removesuffix(suffix)
    return name


def dashboard_exprs() -> list[str]:
    """Every PromQL expression of the dashboard's panels."""
    doc = json.loads(DASHBOARD.read_text(encoding="utf-8"))
    return [t["expr"] for p in doc["panels"] for t in p.get("targets", [])]


def rule_exprs() -> list[str]:
    """Every PromQL expression of the alert rules."""
    doc = yaml.safe_load(RULES.read_text(encoding="utf-8"))
    return [r["expr"] for g in doc["groups"] for r in g["rules"]]


def referenced_metrics() -> set[str]:
    """Every antt_* metric family a rule or panel names."""
    return {family(m) for expr in dashboard_exprs() + rule_exprs() for m in METRIC.findall(expr)}


def test_dashboard_is_well_formed() -> None:
    doc = json.loads(DASHBOARD.read_text(encoding="utf-8"))
    ids = [p["id"] for p in doc["panels"]]
    assert len(ids) == len(set(ids)) and doc["uid"] == "antt-overview"
    datasource = yaml.safe_load((PROVISIONING / "datasources" / "prometheus.yml").read_text(encoding="utf-8"))
    uid = datasource["datasources"][0]["uid"]
    for p in doc["panels"]:
        if p["type"] == "row":
            continue
        assert p["targets"], p["title"]
        assert p["datasource"]["uid"] == uid
        assert all(t["datasource"]["uid"] == uid and t["expr"].strip() for t in p["targets"])
        assert " / " in p["title"], f"panel title in Vietnamese and English: {p['title']}"


def test_every_metric_of_antt_metrics_has_a_panel() -> None:
    from prometheus_client import REGISTRY

    import antt.metrics  # noqa: F401 (registers the metrics)

    defined = {m.name + ("_total" if m.type == "counter" else "") for m in REGISTRY.collect()
               if m.name.startswith("antt_")}
    on_dashboard = {family(m) for expr in dashboard_exprs() for m in METRIC.findall(expr)}
    assert defined - on_dashboard == set()


def test_rules_and_panels_name_only_metrics_antt_defines() -> None:
    # Static half of the check; tests/e2e/test_prometheus_dev.py scrapes running services.
    from prometheus_client import REGISTRY

    import antt.metrics  # noqa: F401

    defined = {m.name + ("_total" if m.type == "counter" else "") for m in REGISTRY.collect()}
    assert referenced_metrics() - defined == set()


def test_grafana_provisioning_loads_the_dashboard_folder() -> None:
    providers = yaml.safe_load((PROVISIONING / "dashboards" / "antt.yml").read_text(encoding="utf-8"))
    assert providers["providers"][0]["options"]["path"] == "/var/lib/grafana/dashboards"


def compose() -> dict[str, Any]:
    return yaml.safe_load((ROOT / "docker-compose.yml").read_text(encoding="utf-8"))


def mounts(service: dict[str, Any]) -> dict[str, str]:
    """{container path: host path} of a service's bind mounts (short syntax)."""
    out = {}
    for v in service.get("volumes", []):
        host, container = str(v).split(":")[:2]
        out[container] = host
    return out


def test_compose_runs_prometheus_with_the_project_rules() -> None:
    services = compose()["services"]
    m = mounts(services["prometheus"])
    assert m["/etc/prometheus/prometheus.yml"] == "./deploy/prometheus/prometheus.yml"
    assert m["/etc/prometheus/rules.yml"] == "./deploy/prometheus/rules.yml"
    assert services["prometheus"]["healthcheck"]
    for host in m.values():
        if host.startswith("./"):
            assert (ROOT / host).exists(), host
    config = yaml.safe_load((ROOT / "deploy" / "prometheus" / "prometheus.yml").read_text(encoding="utf-8"))
    hosts = {t.split(":")[0] for job in config["scrape_configs"] for sc in job["static_configs"]
             for t in sc["targets"]}
    assert hosts <= set(services)


def test_compose_runs_grafana_with_the_dashboard_provisioned() -> None:
    services = compose()["services"]
    m = mounts(services["grafana"])
    assert m["/etc/grafana/provisioning"] == "./deploy/grafana/provisioning"
    assert m["/var/lib/grafana/dashboards"] == "./deploy/grafana/dashboards"
    assert services["grafana"]["depends_on"]["prometheus"]["condition"] == "service_healthy"
    datasource = yaml.safe_load((PROVISIONING / "datasources" / "prometheus.yml").read_text(encoding="utf-8"))
    assert datasource["datasources"][0]["url"] == "http://prometheus:9090"
