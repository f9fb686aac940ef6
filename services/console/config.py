"""Console settings (ANTT_CONSOLE_*, declared in antt.settings) and the demo users of development setups."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from antt.settings import SERVICES, CommonSettings, ServiceSettings, env_value

DEMO_PASSWORD = "demo"
# The built-in demo users (ANTT_CONSOLE_DEMO_USERS=demo): the demo data's places (services/registry/demo.py).
BUILTIN_DEMO = ("bo=ministry_operator@,kiemtoan=auditor@,tinh-31=province_operator@31,xa-11948=commune_operator@11948,"
                "tinh-01=province_operator@01,xa-00145=commune_operator@00145,tinh-68=province_operator@68,"
                "xa-24781=commune_operator@24781,xa-24787=commune_operator@24787")
ROLE_TIER = {"ministry_operator": "bo", "province_operator": "tinh", "commune_operator": "xa"}


@dataclass(frozen=True)
class DemoUser:
    """A development user: name, role, tier and jurisdiction code ("" national)."""

    username: str
    role: str
    tier: str
    jurisdiction: str


def parse_demo_users(text: str) -> dict[str, DemoUser]:
    """`demo` or `user=role@jurisdiction,…` into users by name (auditors take the tier of their area)."""
    text = BUILTIN_DEMO if text.strip() == "demo" else text
    users: dict[str, DemoUser] = {}
    for item in filter(None, (p.strip() for p in text.split(","))):
        name, _, rest = item.partition("=")
        role, _, jurisdiction = rest.partition("@")
        tier = ROLE_TIER.get(role) or {0: "bo", 2: "tinh", 5: "xa"}.get(len(jurisdiction), "bo")
        users[name.strip()] = DemoUser(name.strip(), role.strip(), tier, jurisdiction.strip())
    return users


@dataclass(frozen=True)
class ConsoleSettings:
    """Where the console listens, which services it calls, and its data directory."""

    host: str
    port: int
    targets: dict[str, str]
    data_dir: Path
    keys_dir: Path
    demo_users: dict[str, DemoUser] = field(default_factory=dict)

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> ConsoleSettings:
        """Read ANTT_CONSOLE_* and the services' ports from `env` (default: the process environment)."""
        e = os.environ if env is None else env
        common = CommonSettings.from_env(e)
        targets = {s: f"127.0.0.1:{ServiceSettings.from_env(s, e).grpc_port}" for s in SERVICES}
        for item in filter(None, (p.strip() for p in env_value(e, "ANTT_CONSOLE_TARGETS").split(","))):
            name, _, address = item.partition("=")
            if name.strip() not in SERVICES or not address.strip():
                raise ValueError(f"ANTT_CONSOLE_TARGETS: {item!r} is not <service>=<host:port>")
            targets[name.strip()] = address.strip()
        keys = env_value(e, "ANTT_AUTH_KEYS_DIR") or str(common.data_dir / "keys")
        return cls(host=common.bind_host, port=int(env_value(e, "ANTT_CONSOLE_PORT")), targets=targets,
                   data_dir=common.data_dir, keys_dir=Path(keys),
                   demo_users=parse_demo_users(env_value(e, "ANTT_CONSOLE_DEMO_USERS")))
