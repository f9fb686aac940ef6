"""A real Prometheus (Debian package) scrapes `antt dev`: targets up, every alert rule loaded and evaluated.

Also: every metric a rule or dashboard panel names is exported by a running service. prometheus_client
(0.26) writes the HELP/TYPE lines of a labelled metric family before its first label set exists, so
the family lines of the scraped /metrics are the evidence; families are compared by name.
"""

from __future__ import annotations

import json
import re
import shutil
import signal
import subprocess
import sys
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from antt.runtime.ports import free_port
from antt.settings import SERVICES
from antt.testing.wait import wait_until
from tests.contract.test_deploy_monitoring import referenced_metrics
from tests.contract.test_deploy_prometheus import PROM_DIR, alerts, require_tool
from tests.e2e.test_dev import dev_env, read_until_ready

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(600)]

FAMILY_LINE = re.compile(r"^# (?:HELP|TYPE) (\S+)", re.MULTILINE)


@pytest.fixture(scope="module")
def dev(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, str]]:
    """`antt dev --demo` on free ports and a temporary data directory; yields its environment."""
    env = dev_env(tmp_path_factory.mktemp("dev"))
    proc = subprocess.Popen([sys.executable, "-m", "antt.cli", "dev", "--demo"], env=env, text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    try:
        read_until_ready(proc, timeout=180)
        yield env
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(60)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def get_json(url: str) -> Any:
    """GET a Prometheus API endpoint and return its `data`."""
    with urllib.request.urlopen(url, timeout=10) as reply:
        body = json.loads(reply.read().decode())
    assert body["status"] == "success", body
    return body["data"]


@pytest.fixture(scope="module")
def prometheus(dev: dict[str, str], tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The Debian `prometheus` binary with the project's rules, scraping the four services every second."""
    binary = require_tool("prometheus")
    work = tmp_path_factory.mktemp("prometheus")
    shutil.copy(PROM_DIR / "rules.yml", work / "rules.yml")
    config = yaml.safe_load((PROM_DIR / "prometheus.yml").read_text(encoding="utf-8"))
    config["global"] = {"scrape_interval": "1s", "evaluation_interval": "1s"}
    job = config["scrape_configs"][0]
    job["static_configs"] = [{"targets": [f"127.0.0.1:{dev[f'ANTT_{s.upper()}_METRICS_PORT']}"],
                              "labels": {"service": s}} for s in SERVICES]
    (work / "prometheus.yml").write_text(yaml.safe_dump(config), encoding="utf-8")
    port = free_port()
    log = open(work / "prometheus.log", "wb")  # noqa: SIM115
    proc = subprocess.Popen([binary, f"--config.file={work / 'prometheus.yml'}",
                             f"--storage.tsdb.path={work / 'data'}", f"--web.listen-address=127.0.0.1:{port}"],
                            stdout=log, stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}"

    def ready() -> bool:
        try:
            with urllib.request.urlopen(f"{base}/-/ready", timeout=2) as reply:
                return reply.status == 200
        except OSError:
            return proc.poll() is not None  # stop waiting if it died; the assertion below says so

    try:
        wait_until(ready, timeout=60, message="prometheus ready")
        assert proc.poll() is None, (work / "prometheus.log").read_text(errors="replace")
        yield base
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        log.close()


def test_prometheus_scrapes_every_service(prometheus: str, dev: dict[str, str]) -> None:
    def all_up() -> bool:
        targets = get_json(f"{prometheus}/api/v1/targets")["activeTargets"]
        return len(targets) == len(SERVICES) and all(t["health"] == "up" for t in targets)

    wait_until(all_up, timeout=60, message="every target up")
    targets = get_json(f"{prometheus}/api/v1/targets")["activeTargets"]
    assert {t["labels"]["service"] for t in targets} == set(SERVICES)
    result = get_json(f"{prometheus}/api/v1/query?query=up")["result"]
    assert {r["metric"]["service"]: r["value"][1] for r in result} == {s: "1" for s in SERVICES}


def test_every_alert_rule_loads_and_evaluates(prometheus: str) -> None:
    expected = set(alerts())

    def evaluated() -> list[dict[str, Any]]:
        groups = get_json(f"{prometheus}/api/v1/rules")["groups"]
        return [r for g in groups for r in g["rules"]]

    def all_evaluated() -> bool:
        rules = evaluated()
        return {r["name"] for r in rules} == expected and all(
            r["health"] == "ok" and not r["lastEvaluation"].startswith("0001") for r in rules)

    wait_until(all_evaluated, timeout=60, message="every rule evaluated")
    for rule in evaluated():
        assert rule["type"] == "alerting"
        assert rule["health"] == "ok", rule
        assert rule.get("lastError", "") == "", rule
    # Nothing is wrong with a fresh `antt dev`: no alert fires.
    assert [a for a in get_json(f"{prometheus}/api/v1/alerts")["alerts"] if a["state"] == "firing"] == []


def test_every_metric_in_rules_and_panels_is_exported(dev: dict[str, str]) -> None:
    exported: set[str] = set()
    for svc in SERVICES:
        url = f"http://127.0.0.1:{dev[f'ANTT_{svc.upper()}_METRICS_PORT']}/metrics"
        with urllib.request.urlopen(url, timeout=10) as reply:
            exported |= set(FAMILY_LINE.findall(reply.read().decode()))
    referenced = referenced_metrics()
    assert referenced, "rules and panels name metrics"
    assert referenced - exported == set()


def test_prometheus_sees_demo_traffic(prometheus: str) -> None:
    # The demo registrations are visible through Prometheus, not only on /metrics.
    def appended() -> float:
        result = get_json(f"{prometheus}/api/v1/query?query=sum(antt_eventstore_events_appended_total)")["result"]
        return float(result[0]["value"][1]) if result else 0.0

    wait_until(lambda: appended() > 0, timeout=30, message="events appended seen by prometheus")
