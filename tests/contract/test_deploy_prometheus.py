"""deploy/prometheus: promtool accepts the config and rules, and the rule tests exercise every alert."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

pytestmark = pytest.mark.contract

ROOT = Path(__file__).resolve().parents[2]
PROM_DIR = ROOT / "deploy" / "prometheus"
REQUIRED_ALERTS = {"AnttRelayLagGrowing", "AnttConsumerLag", "AnttDeadLetter", "AnttReminderFailures",
                   "AnttGrpcErrorRatio", "AnttServiceDown"}


def require_tool(name: str) -> str:
    """Path of a Debian `prometheus` package binary; skip without it, but fail under CI=true."""
    path = shutil.which(name)
    if path is None:
        message = f"{name} not found: apt-get install prometheus (.ci/run installs it)"
        if os.environ.get("CI") == "true":
            pytest.fail(f"CI=true but {message}")
        pytest.skip(message)
    return path


def promtool(*args: str) -> subprocess.CompletedProcess[str]:
    """Run promtool in deploy/prometheus."""
    return subprocess.run([require_tool("promtool"), *args], cwd=PROM_DIR, capture_output=True, text=True,
                          timeout=120, check=False)


def alerts() -> dict[str, dict]:
    """Every alerting rule of rules.yml by name."""
    doc = yaml.safe_load((PROM_DIR / "rules.yml").read_text(encoding="utf-8"))
    return {r["alert"]: r for g in doc["groups"] for r in g["rules"] if "alert" in r}


def test_promtool_checks_rules() -> None:
    result = promtool("check", "rules", "rules.yml")
    assert result.returncode == 0, result.stdout + result.stderr


def test_promtool_checks_config() -> None:
    result = promtool("check", "config", "prometheus.yml")
    assert result.returncode == 0, result.stdout + result.stderr


def test_promtool_rule_tests_pass() -> None:
    result = promtool("test", "rules", "rules_test.yml")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "SUCCESS" in result.stdout + result.stderr


def test_rule_tests_fail_when_an_alert_is_wrong(tmp_path: Path) -> None:
    # The rule tests have teeth: a threshold raised out of reach makes them fail.
    broken = (PROM_DIR / "rules.yml").read_text(encoding="utf-8").replace("> 0.05", "> 0.5")
    (tmp_path / "rules.yml").write_text(broken, encoding="utf-8")
    shutil.copy(PROM_DIR / "rules_test.yml", tmp_path / "rules_test.yml")
    result = subprocess.run([require_tool("promtool"), "test", "rules", "rules_test.yml"], cwd=tmp_path,
                            capture_output=True, text=True, timeout=120, check=False)
    assert result.returncode != 0
    assert "AnttGrpcErrorRatio" in result.stdout + result.stderr


def test_every_required_alert_exists_with_a_runbook_entry() -> None:
    rules = alerts()
    assert REQUIRED_ALERTS <= set(rules)
    runbook = (ROOT / "docs" / "runbook.md").read_text(encoding="utf-8")
    # Markdown heading anchors: lower case, punctuation dropped, spaces to hyphens.
    anchors = {re.sub(r"[^a-z0-9 -]", "", h.strip().lower()).replace(" ", "-")
               for h in re.findall(r"^#+ (.+)$", runbook, re.MULTILINE)}
    for name, rule in rules.items():
        path, anchor = rule["annotations"]["runbook"].split("#", 1)
        assert path == "docs/runbook.md" and anchor in anchors, name
        assert f"`{name}`" in runbook, name
        assert rule["labels"]["severity"] in {"warning", "critical"}


def test_every_alert_is_exercised_by_a_firing_rule_test() -> None:
    doc = yaml.safe_load((PROM_DIR / "rules_test.yml").read_text(encoding="utf-8"))
    fired = {t["alertname"] for case in doc["tests"] for t in case.get("alert_rule_test", []) if t["exp_alerts"]}
    assert set(alerts()) == fired


def test_prometheus_scrapes_the_four_services_on_their_compose_ports() -> None:
    from antt.settings import DEFAULT_METRICS_PORTS

    config = yaml.safe_load((PROM_DIR / "prometheus.yml").read_text(encoding="utf-8"))
    assert config["rule_files"] == ["rules.yml"]
    targets = {t for job in config["scrape_configs"] for sc in job["static_configs"] for t in sc["targets"]}
    assert targets == {f"{svc}:{port}" for svc, port in DEFAULT_METRICS_PORTS.items()}
