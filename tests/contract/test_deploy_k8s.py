"""deploy/k8s validates offline (kubernetes-validate's bundled JSON schemas, strict) and agrees with antt.

Beyond the schemas: selectors match pod labels, Services point at named container ports, every ANTT_*
variable is one of antt.settings.all_vars() and parses, probes use gRPC health, every container
requests resources, replicated workloads have a disruption budget, the NATS config is accepted by
nats-server, and the network policies allow exactly the flows of ARCHITECTURE.md.
"""

from __future__ import annotations

import copy
import functools
import json
import re
import subprocess
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import kubernetes_validate
import pytest
import yaml

from antt.messaging.natsconfig import deployment_accounts, password_variable
from antt.runtime.nats_server import binary as nats_server_binary
from antt.settings import SERVICES, ServiceSettings, all_vars

pytestmark = pytest.mark.contract

ROOT = Path(__file__).resolve().parents[2]
K8S = ROOT / "deploy" / "k8s"
K8S_VERSION = "1.30"
ANTT_NAME = re.compile(r"\bANTT_[A-Z0-9_]*[A-Z0-9]")
PUBLISHING = ("registry", "assessment", "notifications")
WORKLOADS = ("Deployment", "StatefulSet")


def load() -> list[dict[str, Any]]:
    """Every document of the kustomization's resources, in order."""
    kustomization = yaml.safe_load((K8S / "kustomization.yaml").read_text(encoding="utf-8"))
    docs: list[dict[str, Any]] = []
    for name in kustomization["resources"]:
        docs += [d for d in yaml.safe_load_all((K8S / name).read_text(encoding="utf-8")) if d]
    return docs


def by_kind(docs: list[dict[str, Any]], kind: str) -> dict[str, dict[str, Any]]:
    """Documents of one kind by name."""
    return {d["metadata"]["name"]: d for d in docs if d["kind"] == kind}


def selects(selector: dict[str, Any], labels: dict[str, str]) -> bool:
    """Kubernetes label-selector semantics (matchLabels and In/NotIn/Exists expressions)."""
    for k, v in (selector.get("matchLabels") or {}).items():
        if labels.get(k) != v:
            return False
    for e in selector.get("matchExpressions") or []:
        op, key, values = e["operator"], e["key"], e.get("values", [])
        if (op == "In" and labels.get(key) not in values) or (op == "NotIn" and labels.get(key) in values) \
                or (op == "Exists" and key not in labels) or (op == "DoesNotExist" and key in labels):
            return False
    return True


def pod_templates(docs: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """Pod templates of the workloads by workload name."""
    return {d["metadata"]["name"]: d["spec"]["template"] for d in docs if d["kind"] in WORKLOADS}


def secret_value(docs: list[dict[str, Any]], ref: dict[str, str]) -> str:
    """The value a secretKeyRef points to."""
    secret = by_kind(docs, "Secret").get(ref["name"])
    assert secret is not None, f"secret {ref['name']} is missing"
    return str(secret["stringData"][ref["key"]])


def container_env(docs: list[dict[str, Any]], container: dict[str, Any]) -> dict[str, str]:
    """A container's environment with secret references resolved."""
    env: dict[str, str] = {}
    for e in container.get("env", []):
        if "value" in e:
            env[e["name"]] = str(e["value"])
        elif "secretKeyRef" in e.get("valueFrom", {}):
            env[e["name"]] = secret_value(docs, e["valueFrom"]["secretKeyRef"])
        else:
            env[e["name"]] = ""
    return env


@functools.lru_cache(maxsize=None)
def schema_problem(doc_json: str) -> str:
    """The schema error of one document (as JSON), or "" (cached: the schemas are large)."""
    try:
        kubernetes_validate.validate(json.loads(doc_json), K8S_VERSION, strict=True)
    except kubernetes_validate.ValidationError as exc:
        return str(exc.message)
    return ""


def check_manifests(docs: list[dict[str, Any]]) -> list[str]:
    """Every way the manifests disagree with Kubernetes or with antt; empty when right."""
    problems: list[str] = []
    known = {v.name for v in all_vars()}
    templates = pod_templates(docs)
    services = by_kind(docs, "Service")
    for d in docs:
        where = f"{d['kind']}/{d['metadata']['name']}"
        error = schema_problem(json.dumps(d, sort_keys=True))
        if error:
            problems.append(f"{where}: schema: {error}")
        if d["kind"] != "Namespace" and d["metadata"].get("namespace") != "antt":
            problems.append(f"{where}: not in namespace antt")
        for name in sorted(set(ANTT_NAME.findall(yaml.safe_dump(d))) - known):
            problems.append(f"{where}: {name} is not a variable of antt.settings.all_vars()")
        if d["kind"] in WORKLOADS:
            spec = d["spec"]
            if not selects(spec["selector"], spec["template"]["metadata"]["labels"]):
                problems.append(f"{where}: selector does not match its pod labels")
            if spec.get("replicas", 1) > 1 and not any(
                    selects(p["spec"]["selector"], spec["template"]["metadata"]["labels"])
                    for p in by_kind(docs, "PodDisruptionBudget").values()):
                problems.append(f"{where}: {spec['replicas']} replicas and no PodDisruptionBudget")
            for c in spec["template"]["spec"]["containers"]:
                if not (c.get("resources") or {}).get("requests"):
                    problems.append(f"{where}: container {c['name']} has no resource requests")
                if not c.get("readinessProbe") or not c.get("livenessProbe"):
                    problems.append(f"{where}: container {c['name']} lacks a readiness or liveness probe")
        if d["kind"] == "PodDisruptionBudget" and not any(
                selects(d["spec"]["selector"], t["metadata"]["labels"]) for t in templates.values()):
            problems.append(f"{where}: selects no pod")
        if d["kind"] == "Service":
            pods = [t for t in templates.values() if selects({"matchLabels": d["spec"]["selector"]},
                                                            t["metadata"]["labels"])]
            if not pods:
                problems.append(f"{where}: selects no pod")
            for port in d["spec"]["ports"]:
                target = port.get("targetPort", port["port"])
                if not any(p.get("name") == target or p["containerPort"] == target
                           for t in pods for c in t["spec"]["containers"] for p in c.get("ports", [])):
                    problems.append(f"{where}: targetPort {target} is no container port of its pods")
    problems += check_services(docs, templates, services)
    return problems


def check_services(docs: list[dict[str, Any]], templates: dict[str, dict[str, Any]],
                   services: dict[str, dict[str, Any]]) -> list[str]:
    """The antt containers: arguments, settings, ports, probes, NATS cluster and databases."""
    problems: list[str] = []
    nats = by_kind(docs, "StatefulSet").get("nats")
    nats_hosts = {f"nats-{i}.nats-cluster.antt.svc.cluster.local" for i in range(nats["spec"]["replicas"])} \
        if nats else set()
    for svc in SERVICES:
        api = templates.get(svc)
        if api is None:
            problems.append(f"Deployment/{svc} is missing")
            continue
        workloads = {svc: api}
        if svc in PUBLISHING:
            if f"{svc}-relay" not in templates:
                problems.append(f"Deployment/{svc}-relay is missing")
            else:
                workloads[f"{svc}-relay"] = templates[f"{svc}-relay"]
        for name, template in workloads.items():
            c = template["spec"]["containers"][0]
            env = container_env(docs, c)
            for other in SERVICES:
                if other != svc and any(k.startswith(f"ANTT_{other.upper()}_") for k in env):
                    problems.append(f"{name}: sets variables of {other}")
            try:
                settings = ServiceSettings.from_env(svc, env)
            except (ValueError, StopIteration) as exc:
                problems.append(f"{name}: environment does not parse: {exc}")
                continue
            if c["args"][:2] != ["serve", svc]:
                problems.append(f"{name}: args {c['args']} do not serve {svc}")
            ports = {p["name"]: p["containerPort"] for p in c.get("ports", [])}
            if ports.get("metrics") != settings.metrics_port:
                problems.append(f"{name}: metrics port {ports.get('metrics')} != {settings.metrics_port}")
            if settings.common.nats_replicas != 3:
                problems.append(f"{name}: ANTT_NATS_REPLICAS is {settings.common.nats_replicas}, expected 3")
            if {urlsplit(u).hostname for u in settings.common.nats_servers} != nats_hosts:
                problems.append(f"{name}: ANTT_NATS_URL does not list the {len(nats_hosts)} NATS nodes")
            db = urlsplit(settings.database_url)
            if db.scheme != "postgresql" or db.path != f"/{svc}" or \
                    db.hostname != f"postgres-{svc}.antt.svc.cluster.local" or f"postgres-{svc}" not in services:
                problems.append(f"{name}: database URL {settings.database_url} is not its own PostgreSQL")
            if name == svc:
                if ports.get("grpc") != settings.grpc_port:
                    problems.append(f"{name}: gRPC port {ports.get('grpc')} != {settings.grpc_port}")
                for probe in ("startupProbe", "readinessProbe", "livenessProbe"):
                    if (c.get(probe) or {}).get("grpc", {}).get("port") != settings.grpc_port:
                        problems.append(f"{name}: {probe} is not the gRPC health check on {settings.grpc_port}")
                if svc in PUBLISHING and "--no-relay" not in c["args"]:
                    problems.append(f"{name}: runs a relay beside its replicas (the relay runs alone)")
    return problems


# --- network policies ------------------------------------------------------------------------

def peer_allows(peers: list[dict[str, Any]], labels: dict[str, str]) -> bool:
    """Whether a from/to list admits an in-namespace pod with `labels` (a missing list admits all)."""
    return any("podSelector" in p and "namespaceSelector" not in p and selects(p["podSelector"], labels)
               for p in peers)


def port_allows(ports: list[dict[str, Any]] | None, port: int) -> bool:
    """Whether a rule's port list admits `port` (a missing list admits all)."""
    return not ports or any(p.get("port") == port for p in ports)


def allowed(docs: list[dict[str, Any]], src: dict[str, str], dst: dict[str, str], port: int) -> bool:
    """Whether the policies let a pod labelled `src` open a TCP connection to `dst`:`port`."""
    policies = list(by_kind(docs, "NetworkPolicy").values())

    def side(kind: str, subject: dict[str, str], peer: dict[str, str]) -> bool:
        relevant = [p for p in policies if kind in p["spec"]["policyTypes"]
                    and selects(p["spec"]["podSelector"], subject)]
        if not relevant:
            return True
        key, peers_key = ("egress", "to") if kind == "Egress" else ("ingress", "from")
        return any(peers_key not in r or peer_allows(r[peers_key], peer)  # no from/to: any peer
                   for p in relevant for r in p["spec"].get(key, []) if port_allows(r.get("ports"), port))

    return side("Egress", src, dst) and side("Ingress", dst, src)


def labels_of(docs: list[dict[str, Any]], workload: str) -> dict[str, str]:
    """Pod labels of a workload."""
    return pod_templates(docs)[workload]["metadata"]["labels"]


def test_manifests_validate_and_agree_with_antt() -> None:
    assert check_manifests(load()) == []


def test_kustomization_lists_every_manifest() -> None:
    kustomization = yaml.safe_load((K8S / "kustomization.yaml").read_text(encoding="utf-8"))
    assert sorted(kustomization["resources"]) == sorted(p.name for p in K8S.glob("*.yaml")
                                                        if p.name != "kustomization.yaml")


def test_nats_is_a_three_node_jetstream_cluster_nats_server_accepts(tmp_path: Path) -> None:
    docs = load()
    nats = by_kind(docs, "StatefulSet")["nats"]
    assert nats["spec"]["replicas"] == 3
    config = by_kind(docs, "ConfigMap")["nats-config"]["data"]["nats.conf"]
    assert len(re.findall(r"nats://nats-\d\.nats-cluster\.antt\.svc\.cluster\.local:6222", config)) == 3
    assert "jetstream" in config
    (tmp_path / "nats.conf").write_text(config, encoding="utf-8")
    env = {"POD_NAME": "nats-0", "PATH": "/usr/bin:/bin",
           **{password_variable(svc): f"test-{svc}" for svc in SERVICES}}
    result = subprocess.run([nats_server_binary(), "-c", str(tmp_path / "nats.conf"), "-t"], env=env,
                            capture_output=True, text=True, timeout=60, check=False)
    assert result.returncode == 0, result.stdout + result.stderr
    assert by_kind(docs, "PodDisruptionBudget")["nats"]["spec"]["maxUnavailable"] == 1


def test_every_service_has_its_own_nats_user_with_the_kernel_permissions() -> None:
    docs = load()
    config = by_kind(docs, "ConfigMap")["nats-config"]["data"]["nats.conf"]
    assert deployment_accounts() in config, "regenerate the accounts block from antt.messaging.natsconfig"
    nats_env = {e["name"]: e for e in pod_templates(docs)["nats"]["spec"]["containers"][0]["env"]}
    for svc in SERVICES:
        ref = nats_env[password_variable(svc)]["valueFrom"]["secretKeyRef"]
        assert ref == {"name": "antt-nats", "key": f"{svc}-password"}
    for workload, template in pod_templates(docs).items():
        for container in template["spec"]["containers"]:
            for e in container.get("env", []):
                if e["name"] == "ANTT_NATS_URL":
                    ref = e["valueFrom"]["secretKeyRef"]
                    svc = workload.removesuffix("-relay")
                    assert ref == {"name": "antt-nats", "key": f"{svc}-url"}, workload
                    password = secret_value(docs, {"name": "antt-nats", "key": f"{svc}-password"})
                    urls = [urlsplit(u) for u in secret_value(docs, ref).split(",")]
                    assert len(urls) == 3 and {(u.username, u.password) for u in urls} == {(svc, password)}


def test_network_policies_allow_only_the_architecture_flows() -> None:
    docs = load()
    nats = labels_of(docs, "nats")
    assert allowed(docs, nats, nats, 6222)
    for svc in SERVICES:
        me = labels_of(docs, svc)
        assert allowed(docs, me, nats, 4222), svc
        assert allowed(docs, me, labels_of(docs, f"postgres-{svc}"), 5432), svc
        assert not allowed(docs, me, nats, 6222), svc
        for other in SERVICES:
            if other != svc:
                assert not allowed(docs, me, labels_of(docs, f"postgres-{other}"), 5432), (svc, other)
                grpc_port = ServiceSettings.from_env(other, {}).grpc_port
                assert not allowed(docs, me, labels_of(docs, other), grpc_port), (svc, other)
        assert not allowed(docs, labels_of(docs, f"postgres-{svc}"), nats, 4222)
    if "registry-relay" in pod_templates(docs):
        assert allowed(docs, labels_of(docs, "registry-relay"), nats, 4222)


# --- the checks have teeth -------------------------------------------------------------------

def _find(docs: list[dict[str, Any]], kind: str, name: str) -> dict[str, Any]:
    return next(d for d in docs if d["kind"] == kind and d["metadata"]["name"] == name)


def _bogus_var(docs: list[dict[str, Any]]) -> None:
    c = _find(docs, "Deployment", "registry")["spec"]["template"]["spec"]["containers"][0]
    c["env"].append({"name": "ANTT_BOGUS", "value": "1"})


def _no_grpc_probe(docs: list[dict[str, Any]]) -> None:
    c = _find(docs, "Deployment", "reporting")["spec"]["template"]["spec"]["containers"][0]
    c["readinessProbe"] = {"tcpSocket": {"port": 50053}}


def _selector_mismatch(docs: list[dict[str, Any]]) -> None:
    _find(docs, "Deployment", "assessment")["spec"]["selector"]["matchLabels"]["app.kubernetes.io/name"] = "x"


def _schema_error(docs: list[dict[str, Any]]) -> None:
    _find(docs, "StatefulSet", "nats")["spec"]["replica"] = 3


def _wrong_database(docs: list[dict[str, Any]]) -> None:
    _find(docs, "Secret", "postgres-notifications")["stringData"]["url"] = \
        "postgresql://antt:x@postgres-registry.antt.svc.cluster.local:5432/registry"


def _one_replica_stream(docs: list[dict[str, Any]]) -> None:
    c = _find(docs, "Deployment", "notifications")["spec"]["template"]["spec"]["containers"][0]
    next(e for e in c["env"] if e["name"] == "ANTT_NATS_REPLICAS")["value"] = "1"


def _no_requests(docs: list[dict[str, Any]]) -> None:
    _find(docs, "StatefulSet", "postgres-registry")["spec"]["template"]["spec"]["containers"][0]["resources"] = {}


@pytest.mark.parametrize(("mutate", "expected"), [
    (_bogus_var, "ANTT_BOGUS is not a variable"),
    (_no_grpc_probe, "reporting: readinessProbe is not the gRPC health check"),
    (_selector_mismatch, "Deployment/assessment: selector does not match"),
    (_schema_error, "StatefulSet/nats: schema"),
    (_wrong_database, "notifications: database URL"),
    (_one_replica_stream, "ANTT_NATS_REPLICAS is 1"),
    (_no_requests, "postgres-registry: container postgres has no resource requests"),
])
def test_checker_reports_mutation(mutate: Any, expected: str) -> None:
    docs = copy.deepcopy(load())
    mutate(docs)
    problems = check_manifests(docs)
    assert any(expected in p for p in problems), problems


def test_policy_evaluator_notices_an_opened_flow() -> None:
    docs = copy.deepcopy(load())
    policy = _find(docs, "NetworkPolicy", "postgres-registry-ingress")
    policy["spec"]["ingress"][0]["from"] = [{"podSelector": {}}]
    reporting = labels_of(docs, "reporting")
    assert not allowed(docs, reporting, labels_of(docs, "postgres-registry"), 5432)  # egress still closed
    _find(docs, "NetworkPolicy", "reporting-to-its-database")["spec"]["egress"][0]["to"] = [{"podSelector": {}}]
    assert allowed(docs, reporting, labels_of(docs, "postgres-registry"), 5432)
