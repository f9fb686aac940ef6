"""A secured nats-server configuration: one account, one user per service, scoped agency users.

Everything lives in one account (ANTT) with JetStream, so agencies read the services' streams
directly; what each user may do is limited by subject permissions:

- a service publishes only `antt.<svc>.>` (its events) and `antt.dlq.>`, uses the JetStream API
  and subscribes to what it consumes and to its inbox `_INBOX.>`;
- an agency publishes nothing but the JetStream API calls of ITS OWN durable consumers, whose names
  are fixed (`<agency>` or `<agency>-<EventType>`) and whose filter subject is part of the permitted
  create subject (`$JS.API.CONSUMER.CREATE.<stream>.<name>.<filter>`), so it cannot widen its
  scope; it subscribes only to its filters and to its own inbox prefix `_INBOX_<agency>.>`.

Passwords are random, kept in `<data_dir>/nats-auth/` (mode 0600), never logged.
"""

from __future__ import annotations

import json
import os
import re
import secrets
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from antt.contracts import subjects, types
from antt.contracts.asyncapi import event_types
from antt.messaging.streams import PUBLISHING_SERVICES, stream_name
from antt.settings import SERVICES

ACCOUNT = "ANTT"
MAX_PAYLOAD_BYTES = 1024 * 1024  # events are small protobufs; refuse anything larger
AGENCY_NAME = re.compile(r"^[a-z0-9][a-z0-9-]{0,40}$")
# Which publishers each service consumes (subscribe permissions; pull consumers use the JS API).
CONSUMES: dict[str, tuple[str, ...]] = {
    "registry": (),
    "assessment": ("registry",),
    "reporting": ("registry", "assessment"),
    "notifications": ("registry", "assessment"),
}


class AgencyError(ValueError):
    """An agency definition is invalid (message in Vietnamese / English)."""


@dataclass(frozen=True)
class ConsumerGrant:
    """One durable consumer an agency may create and read: stream, name and filter subject."""

    stream: str
    durable: str
    filter_subject: str


@dataclass
class Agency:
    """An agency allowed to subscribe to one province's (or every) event of some types."""

    name: str
    province: str  # 2-digit code, or "*" for the whole country
    events: list[str] = field(default_factory=list)  # event names; empty = all
    password: str = ""

    @property
    def user(self) -> str:
        """NATS user name."""
        return f"agency-{self.name}"

    @property
    def inbox_prefix(self) -> str:
        """The only inbox prefix the agency may subscribe to (pass it to nats.connect)."""
        return f"_INBOX_{self.name}"

    def grants(self) -> list[ConsumerGrant]:
        """The durable consumers this agency may create."""
        if not self.events:
            return [ConsumerGrant(stream_name(s), self.name, subjects.filter_for(s, "*", self.province))
                    for s in PUBLISHING_SERVICES]
        by_name = {types.event_name(t): t.split(".")[1] for t in event_types()}
        return [ConsumerGrant(stream_name(by_name[e]), f"{self.name}-{e}",
                              subjects.filter_for(by_name[e], e, self.province)) for e in self.events]


def parse_scope(scope: str) -> str:
    """`province:<2 digits>` -> the code; `national` -> "*"."""
    if scope == "national":
        return "*"
    kind, _, code = scope.partition(":")
    if kind != "province" or not re.fullmatch(r"[0-9]{2}", code):
        raise AgencyError(f"phạm vi không hợp lệ / invalid scope {scope!r} (province:<mã 2 số / 2-digit code> "
                          "hoặc / or national)")
    return code


def new_agency(name: str, scope: str, events: list[str] | None = None) -> Agency:
    """A validated agency with a fresh password."""
    if not AGENCY_NAME.match(name):
        raise AgencyError(f"tên cơ quan không hợp lệ / invalid agency name {name!r} (a-z, 0-9, -)")
    known = {types.event_name(t) for t in event_types()}
    unknown = sorted(set(events or []) - known)
    if unknown:
        raise AgencyError(f"loại sự kiện không tồn tại / unknown event types: {', '.join(unknown)}")
    return Agency(name, parse_scope(scope), sorted(set(events or [])), secrets.token_urlsafe(24))


def service_permissions(service: str) -> dict[str, Any]:
    """Publish/subscribe permissions of a service user."""
    return {
        "publish": {"allow": [subjects.all_of(service), f"{subjects.DLQ_PREFIX}.>", "$JS.API.>", "$JS.ACK.>"]},
        "subscribe": {"allow": ["_INBOX.>", *(subjects.all_of(s) for s in CONSUMES.get(service, ()))]},
    }


def agency_permissions(agency: Agency) -> dict[str, Any]:
    """Publish/subscribe permissions of an agency user: its own consumers only, no event publishing."""
    grants = agency.grants()
    streams = sorted({g.stream for g in grants})
    publish = ["$JS.API.INFO", "$JS.API.STREAM.NAMES", *(f"$JS.API.STREAM.INFO.{s}" for s in streams)]
    for g in grants:
        publish += [f"$JS.API.CONSUMER.CREATE.{g.stream}.{g.durable}.{g.filter_subject}",
                    f"$JS.API.CONSUMER.INFO.{g.stream}.{g.durable}",
                    f"$JS.API.CONSUMER.DELETE.{g.stream}.{g.durable}",
                    f"$JS.API.CONSUMER.MSG.NEXT.{g.stream}.{g.durable}",
                    f"$JS.ACK.{g.stream}.{g.durable}.>"]
    return {
        "publish": {"allow": publish, "deny": [f"{subjects.PREFIX}.>"]},
        "subscribe": {"allow": [f"{agency.inbox_prefix}.>", *(g.filter_subject for g in grants)]},
    }


class NatsAuthStore:
    """Service passwords and agencies, kept as JSON under <data_dir>/nats-auth/."""

    def __init__(self, data_dir: Path) -> None:
        self.dir = Path(data_dir) / "nats-auth"

    def _read(self, name: str) -> dict[str, Any]:
        path = self.dir / name
        return json.loads(path.read_text(encoding="utf-8")) if path.exists() else {}

    def _write(self, name: str, data: dict[str, Any]) -> Path:
        self.dir.mkdir(parents=True, exist_ok=True)
        path = self.dir / name
        tmp = path.with_suffix(".tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            json.dump(data, f, ensure_ascii=False, indent=2)
        os.replace(tmp, path)
        return path

    def service_passwords(self) -> dict[str, str]:
        """Password of every service user (generated once)."""
        data = self._read("services.json")
        if any(s not in data for s in SERVICES):
            data = {s: data.get(s) or secrets.token_urlsafe(24) for s in SERVICES}
            self._write("services.json", data)
        return data

    def agencies(self) -> list[Agency]:
        """Every agency added so far."""
        return [Agency(**a) for a in self._read("agencies.json").get("agencies", [])]

    def add_agency(self, agency: Agency) -> Path:
        """Store (or replace) an agency and write its credentials file; returns that file."""
        rest = [a for a in self.agencies() if a.name != agency.name]
        self._write("agencies.json", {"agencies": [asdict(a) for a in [*rest, agency]]})
        creds = {"user": agency.user, "password": agency.password, "inbox_prefix": agency.inbox_prefix,
                 "consumers": [asdict(g) for g in agency.grants()]}
        return self._write(f"agency-{agency.name}.json", creds)


def render(service_passwords: dict[str, str], agencies: list[Agency]) -> str:
    """The nats-server configuration text (JSON is valid nats-server config syntax)."""
    users = [{"user": s, "password": p, "permissions": service_permissions(s)}
             for s, p in sorted(service_passwords.items())]
    users += [{"user": a.user, "password": a.password, "permissions": agency_permissions(a)} for a in agencies]
    config = {"max_payload": MAX_PAYLOAD_BYTES, "accounts": {ACCOUNT: {"jetstream": "enabled", "users": users}}}
    return "# Generated by antt.messaging.natsconfig; do not edit.\n" + json.dumps(config, indent=2) + "\n"


def password_variable(service: str) -> str:
    """Environment variable holding a service's NATS password in deployments (nats-server expands it)."""
    return f"NATS_{service.upper()}_PASSWORD"


def deployment_accounts(indent: str = "") -> str:
    """The `accounts` block of a deployment's nats-server config (k8s ConfigMap, compose file).

    One user per service with `service_permissions`; passwords come from `password_variable(svc)`, so
    the block holds no secret and every deployment writes the same text (tests compare it).
    """
    users = [f"{{user: {s}, password: ${password_variable(s)}, permissions: {json.dumps(service_permissions(s))}}}"
             for s in SERVICES]
    lines = [f"max_payload: {MAX_PAYLOAD_BYTES}", "accounts {", f"  {ACCOUNT} {{", "    jetstream: enabled",
             "    users: [", *(f"      {u}" for u in users), "    ]", "  }", "}"]
    return "".join(f"{indent}{line}\n" for line in lines)


@dataclass(frozen=True)
class SecuredNats:
    """A written config and the client URL (with credentials) each service should use."""

    config_path: Path
    service_urls: dict[str, str]


def write_config(data_dir: Path, host: str = "127.0.0.1", port: int = 4222) -> SecuredNats:
    """Write <data_dir>/nats-auth/nats-server.conf; `antt dev` can start nats-server with `-c` on it."""
    store = NatsAuthStore(data_dir)
    passwords = store.service_passwords()
    store.dir.mkdir(parents=True, exist_ok=True)
    path = store.dir / "nats-server.conf"
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as f:
        f.write(render(passwords, store.agencies()))
    urls = {s: f"nats://{s}:{p}@{host}:{port}" for s, p in passwords.items()}
    return SecuredNats(path, urls)
