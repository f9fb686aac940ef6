"""docker-compose.yml agrees with antt.settings: services, ANTT_* variables, databases, ports, image."""

from __future__ import annotations

import copy
import re
import shlex
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
import yaml

from antt.eventstore.persistence import eventsourcing_env
from antt.settings import SERVICES, ServiceSettings, all_vars

pytestmark = pytest.mark.contract

ROOT = Path(__file__).resolve().parents[2]
COMPOSE_FILE = ROOT / "docker-compose.yml"
INITDB_DIR = ROOT / "deploy" / "compose" / "initdb"
DEPENDENCIES = ("nats", "postgres")
# ANTT_ followed by at least one name character, so prose like "ANTT_<SVC>_…" is not a name.
ANTT_NAME = re.compile(r"\bANTT_[A-Z0-9_]*[A-Z0-9]")
CREATE_DATABASE = re.compile(r"\bCREATE\s+DATABASE\s+\"?([A-Za-z0-9_]+)\"?", re.IGNORECASE)


# --- the checker -------------------------------------------------------------------------------

def nats_config_text(nats: dict[str, Any]) -> str:
    """The text of the config file the nats service starts with (`-c <path>`, bind-mounted), or ""."""
    cmd = command(nats)
    if "-c" not in cmd:
        return ""
    target = cmd[cmd.index("-c") + 1]
    for volume in nats.get("volumes") or []:
        source, _, rest = str(volume).partition(":")
        if rest.split(":")[0] == target and source.startswith("./"):
            return (ROOT / source).read_text(encoding="utf-8")
    return ""


def load_compose(path: Path = COMPOSE_FILE) -> dict[str, Any]:
    """The compose file as plain data (YAML anchors and `<<` merges resolved)."""
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    assert isinstance(data, dict), f"{path} is not a mapping"
    return data


def initdb_databases(directory: Path = INITDB_DIR) -> set[str]:
    """Databases created by the postgres init scripts."""
    names: set[str] = set()
    for script in sorted(directory.glob("*")):
        if script.suffix in {".sql", ".sh"}:
            names.update(m.group(1) for m in CREATE_DATABASE.finditer(script.read_text(encoding="utf-8")))
    return names


def antt_names(node: Any) -> set[str]:
    """Every ANTT_* name appearing in a key or a string anywhere in `node`."""
    if isinstance(node, dict):
        return set().union(*(antt_names(k) | antt_names(v) for k, v in node.items())) if node else set()
    if isinstance(node, list):
        return set().union(*(antt_names(v) for v in node)) if node else set()
    if isinstance(node, str):
        return set(ANTT_NAME.findall(node))
    return set()


def environment(service: dict[str, Any]) -> dict[str, str]:
    """A service's environment, from either the mapping or the `KEY=value` list form."""
    env = service.get("environment") or {}
    if isinstance(env, list):
        return dict(item.split("=", 1) if "=" in item else (item, "") for item in env)
    return {str(k): "" if v is None else str(v) for k, v in env.items()}


def command(service: dict[str, Any]) -> list[str]:
    """A service's command as a list of words."""
    cmd = service.get("command")
    if cmd is None:
        return []
    return shlex.split(cmd) if isinstance(cmd, str) else [str(c) for c in cmd]


def _port_numbers(spec: str) -> list[int]:
    start, _, end = spec.partition("-")
    return list(range(int(start), int(end or start) + 1))


def published_ports(service: dict[str, Any]) -> tuple[set[int], set[int]]:
    """(container ports, host ports) of a service's `ports`, short or long syntax."""
    container: set[int] = set()
    host: set[int] = set()
    for entry in service.get("ports") or []:
        if isinstance(entry, dict):
            container.update(_port_numbers(str(entry["target"])))
            if entry.get("published") is not None:
                host.update(_port_numbers(str(entry["published"])))
            continue
        parts = str(entry).split("/", 1)[0].rsplit(":", 2)
        container.update(_port_numbers(parts[-1]))
        if len(parts) >= 2 and parts[-2]:
            host.update(_port_numbers(parts[-2]))
    return container, host


def dependencies(service: dict[str, Any]) -> dict[str, str]:
    """depends_on as {service: condition}; the list form means service_started."""
    deps = service.get("depends_on") or {}
    if isinstance(deps, list):
        return {d: "service_started" for d in deps}
    return {k: (v or {}).get("condition", "service_started") for k, v in deps.items()}


def check_compose(compose: dict[str, Any], created_databases: set[str] | None = None) -> list[str]:
    """Every way `compose` disagrees with antt.settings; empty when it is right."""
    problems: list[str] = []
    known = {v.name for v in all_vars()}
    services: dict[str, Any] = compose.get("services") or {}

    for name in sorted(antt_names(compose) - known):
        problems.append(f"{name} is not a variable of antt.settings.all_vars()")

    for dep in DEPENDENCIES:
        if dep not in services:
            problems.append(f"service {dep} is missing")
        elif not services[dep].get("healthcheck"):
            problems.append(f"service {dep} has no healthcheck, so depends_on cannot wait for it")
    nats_cmd = command(services.get("nats") or {})
    if services.get("nats") and not ({"-js", "--jetstream"} & set(nats_cmd) or "jetstream" in nats_config_text(
            services["nats"])):
        problems.append("nats does not enable JetStream (-js or a jetstream block in its -c config)")

    images: dict[str, str] = {}
    host_ports: dict[int, str] = {}
    databases: dict[str, str] = {}
    for name in SERVICES:
        if name not in services:
            problems.append(f"service {name} is missing")
            continue
        svc = services[name]
        upper = name.upper()

        if command(svc) != ["serve", name]:
            problems.append(f"{name}: command is {command(svc)}, expected ['serve', '{name}']")
        if svc.get("entrypoint") not in (None, "antt", ["antt"]):
            problems.append(f"{name}: entrypoint {svc.get('entrypoint')!r} is not the image's `antt`")
        if "build" not in svc and "image" not in svc:
            problems.append(f"{name}: neither build nor image")
        images[name] = repr((svc.get("build"), svc.get("image")))

        nats_user = urlsplit(environment(svc).get("ANTT_NATS_URL", "")).username
        if nats_user != name:
            problems.append(f"{name}: connects to NATS as {nats_user!r}, not as its own user {name!r}")

        deps = dependencies(svc)
        for dep in DEPENDENCIES:
            if dep not in deps:
                problems.append(f"{name}: does not depend on {dep}")
            elif deps[dep] != "service_healthy":
                problems.append(f"{name}: depends on {dep} with {deps[dep]}, expected service_healthy")

        env = environment(svc)
        for other in SERVICES:
            if other != name:
                stray = sorted(k for k in env if k.startswith(f"ANTT_{other.upper()}_"))
                if stray:
                    problems.append(f"{name}: sets {', '.join(stray)}, which only {other} reads")

        try:
            settings = ServiceSettings.from_env(name, env)
        except (ValueError, StopIteration) as exc:
            problems.append(f"{name}: environment does not parse with antt.settings: {exc}")
            continue

        url_var = f"ANTT_{upper}_DATABASE_URL"
        if url_var not in env:
            problems.append(f"{name}: {url_var} is not set (it would use SQLite inside the container)")
        else:
            try:
                es = eventsourcing_env(env[url_var])
            except ValueError as exc:
                problems.append(f"{name}: {url_var} is not usable: {exc}")
            else:
                if es["PERSISTENCE_MODULE"] != "eventsourcing.postgres":
                    problems.append(f"{name}: {url_var} is not a PostgreSQL URL")
                else:
                    db = es["POSTGRES_DBNAME"]
                    if db != name:
                        problems.append(f"{name}: {url_var} points to database {db!r}, not {name!r}")
                    if db in databases:
                        problems.append(f"{name}: shares database {db!r} with {databases[db]}")
                    databases.setdefault(db, name)
                    if created_databases is not None and db not in created_databases:
                        problems.append(f"{name}: database {db!r} is not created by {INITDB_DIR.name}/")
                    if es["POSTGRES_HOST"] not in services:
                        problems.append(f"{name}: database host {es['POSTGRES_HOST']!r} is not a compose service")
                    elif es["POSTGRES_HOST"] not in deps:
                        problems.append(f"{name}: does not depend on its database host {es['POSTGRES_HOST']}")

        for server in settings.common.nats_servers:
            host = urlsplit(server).hostname
            if host not in services:
                problems.append(f"{name}: ANTT_NATS_URL host {host!r} is not a compose service")
            elif host not in deps:
                problems.append(f"{name}: does not depend on its NATS server {host}")

        if settings.common.bind_host not in {"0.0.0.0", "::"}:
            problems.append(f"{name}: ANTT_BIND_HOST={settings.common.bind_host} is unreachable from outside "
                            "the container; use 0.0.0.0")

        container, host = published_ports(svc)
        for label, port in (("GRPC", settings.grpc_port), ("METRICS", settings.metrics_port)):
            if port not in container:
                problems.append(f"{name}: ANTT_{upper}_{label}_PORT={port} is not a published container port "
                                f"(published: {sorted(container)})")
        for port in sorted(host):
            if port in host_ports:
                problems.append(f"{name}: host port {port} is also published by {host_ports[port]}")
            host_ports.setdefault(port, name)

        check = svc.get("healthcheck")
        if check and not check.get("disable"):
            text = " ".join(check["test"]) if isinstance(check.get("test"), list) else str(check.get("test"))
            if not re.search(rf"\b({settings.grpc_port}|{settings.metrics_port})\b", text):
                problems.append(f"{name}: healthcheck probes neither port {settings.grpc_port} "
                                f"nor {settings.metrics_port}")

    if len(set(images.values())) > 1:
        detail = "; ".join(f"{n}: {i}" for n, i in images.items())
        problems.append(f"the services are not built from one image ({detail})")
    return problems


# --- the compose file --------------------------------------------------------------------------

@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    return load_compose()


def test_compose_agrees_with_settings(compose: dict[str, Any]) -> None:
    assert check_compose(compose, initdb_databases()) == []


def test_compose_text_names_only_known_variables() -> None:
    # Also catches names in comments and in keys the parsed data would lose.
    unknown = set(ANTT_NAME.findall(COMPOSE_FILE.read_text(encoding="utf-8"))) - {v.name for v in all_vars()}
    assert unknown == set()


def test_initdb_creates_one_database_per_service() -> None:
    assert initdb_databases() >= set(SERVICES)


def test_compose_services_and_commands(compose: dict[str, Any]) -> None:
    services = compose["services"]
    assert set(SERVICES) | {"nats", "postgres"} <= set(services)
    for name in SERVICES:
        assert command(services[name]) == ["serve", name]
        assert services[name].get("restart") in {"always", "unless-stopped", "on-failure"}
    assert services["postgres"]["image"].startswith("postgres:16")
    assert "store_dir: /data" in nats_config_text(services["nats"])
    assert "nats-data:/data" in services["nats"]["volumes"]


def test_dockerfile_builds_the_one_image() -> None:
    text = (ROOT / "Dockerfile").read_text(encoding="utf-8")
    assert re.search(r"^FROM python:3\.11-slim\b", text, re.MULTILINE)
    assert "pip install ." in text
    assert "python -m antt.contracts.gen" in text
    assert re.search(r'^ENTRYPOINT \["antt"\]', text, re.MULTILINE)
    assert set(ANTT_NAME.findall(text)) <= {v.name for v in all_vars()}
    ignored = (ROOT / ".dockerignore").read_text(encoding="utf-8").split()
    assert ".venv" in ignored and ".git" in ignored


# --- the checker catches mistakes --------------------------------------------------------------

def _add_bogus_var(c: dict[str, Any]) -> None:
    c["services"]["registry"]["environment"]["ANTT_BOGUS_VAR"] = "1"


def _drop_service(c: dict[str, Any]) -> None:
    del c["services"]["notifications"]


def _wrong_command(c: dict[str, Any]) -> None:
    c["services"]["reporting"]["command"] = ["serve", "registry"]


def _shared_database(c: dict[str, Any]) -> None:
    c["services"]["assessment"]["environment"]["ANTT_ASSESSMENT_DATABASE_URL"] = \
        "postgresql://antt:antt@postgres:5432/registry"


def _unparseable_database(c: dict[str, Any]) -> None:
    c["services"]["registry"]["environment"]["ANTT_REGISTRY_DATABASE_URL"] = "mysql://antt@db/registry"


def _port_not_published(c: dict[str, Any]) -> None:
    c["services"]["registry"]["environment"]["ANTT_REGISTRY_GRPC_PORT"] = "60051"


def _other_image(c: dict[str, Any]) -> None:
    c["services"]["notifications"]["image"] = "antt:other"


def _no_postgres_dependency(c: dict[str, Any]) -> None:
    svc = c["services"]["assessment"]
    svc["depends_on"] = {k: v for k, v in svc["depends_on"].items() if k != "postgres"}


def _shared_nats_user(c: dict[str, Any]) -> None:
    c["services"]["reporting"]["environment"]["ANTT_NATS_URL"] = "nats://registry:x@nats:4222"


def _localhost_bind(c: dict[str, Any]) -> None:
    c["services"]["reporting"]["environment"]["ANTT_BIND_HOST"] = "127.0.0.1"


@pytest.mark.parametrize(("mutate", "expected"), [
    (_add_bogus_var, "ANTT_BOGUS_VAR is not a variable"),
    (_drop_service, "service notifications is missing"),
    (_wrong_command, "reporting: command is ['serve', 'registry']"),
    (_shared_database, "assessment: ANTT_ASSESSMENT_DATABASE_URL points to database 'registry'"),
    (_unparseable_database, "registry: ANTT_REGISTRY_DATABASE_URL is not usable"),
    (_port_not_published, "registry: ANTT_REGISTRY_GRPC_PORT=60051 is not a published container port"),
    (_other_image, "not built from one image"),
    (_no_postgres_dependency, "assessment: does not depend on postgres"),
    (_localhost_bind, "reporting: ANTT_BIND_HOST=127.0.0.1"),
    (_shared_nats_user, "reporting: connects to NATS as 'registry'"),
])
def test_checker_reports_mutation(compose: dict[str, Any], mutate: Any, expected: str) -> None:
    broken = copy.deepcopy(compose)
    mutate(broken)
    problems = check_compose(broken, initdb_databases())
    assert any(expected in p for p in problems), problems
    # The untouched file stays clean: the problem comes from the mutation alone.
    assert check_compose(compose, initdb_databases()) == []


def test_compose_console_calls_the_four_services(compose: dict[str, Any]) -> None:
    from services.console.config import ConsoleSettings

    console = compose["services"]["console"]
    assert command(console) == ["console"]
    assert console.get("image") == compose["services"]["registry"].get("image")
    settings = ConsoleSettings.from_env(environment(console))
    assert settings.host == "0.0.0.0" and settings.port in published_ports(console)[0]
    deps = dependencies(console)
    for name in SERVICES:
        host, _, port = settings.targets[name].rpartition(":")
        assert host == name and deps.get(name) == "service_healthy", name
        assert int(port) == ServiceSettings.from_env(name, environment(compose["services"][name])).grpc_port
    assert str(settings.port) in " ".join(console["healthcheck"]["test"])


def test_compose_nats_has_one_user_per_service_and_starts(compose: dict[str, Any], tmp_path: Path) -> None:
    import subprocess

    from antt.messaging.natsconfig import deployment_accounts, password_variable
    from antt.runtime.nats_server import binary

    nats = compose["services"]["nats"]
    config = nats_config_text(nats)
    assert deployment_accounts() in config, "regenerate deploy/compose/nats.conf's accounts block"
    for svc in SERVICES:  # the password the server expects is the one the service sends
        variable = password_variable(svc)
        assert urlsplit(environment(compose["services"][svc])["ANTT_NATS_URL"]).password == environment(nats)[variable]
    (tmp_path / "nats.conf").write_text(config, encoding="utf-8")
    env = {"PATH": "/usr/bin:/bin", **{password_variable(svc): f"test-{svc}" for svc in SERVICES}}
    result = subprocess.run([binary(), "-c", str(tmp_path / "nats.conf"), "-t"], env=env, capture_output=True,
                            text=True, timeout=60, check=False)
    assert result.returncode == 0, result.stdout + result.stderr


def test_every_antt_container_shares_the_token_keys(compose: dict[str, Any]) -> None:
    keys = compose["services"]["keys"]
    assert command(keys)[:2] == ["token", "keygen"] and "--if-missing" in command(keys)
    directory = environment(keys)["ANTT_AUTH_KEYS_DIR"]
    assert f"antt-keys:{directory}" in keys["volumes"]
    for name in [*SERVICES, "console"]:
        svc = compose["services"][name]
        assert environment(svc)["ANTT_AUTH_KEYS_DIR"] == directory, name
        assert f"antt-keys:{directory}:ro" in svc["volumes"], name
        if name != "console":
            assert dependencies(svc)["keys"] == "service_completed_successfully", name
