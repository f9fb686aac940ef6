"""Configuration from ANTT_* environment variables: the one table of every variable and default."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

SERVICES: tuple[str, ...] = ("registry", "assessment", "reporting", "notifications")
DEFAULT_GRPC_PORTS = {"registry": 50051, "assessment": 50052, "reporting": 50053, "notifications": 50054}
DEFAULT_METRICS_PORTS = {"registry": 9101, "assessment": 9102, "reporting": 9103, "notifications": 9104}
DEFAULT_NATS_URL = "nats://127.0.0.1:4222"


@dataclass(frozen=True)
class EnvVar:
    """One documented environment variable."""

    name: str
    default: str
    description: str


COMMON_VARS: tuple[EnvVar, ...] = (
    EnvVar("ANTT_DATA_DIR", "./var", "Directory for SQLite files, the embedded NATS store and logs"),
    EnvVar("ANTT_NATS_URL", "", "NATS server(s) to use (comma-separated). Empty: `antt dev` starts an "
           f"embedded nats-server; `antt serve` uses {DEFAULT_NATS_URL}"),
    EnvVar("ANTT_NATS_PORT", "4222", "Client port of the embedded nats-server (a free port is chosen "
           "and printed when the default is busy)"),
    EnvVar("ANTT_NATS_REPLICAS", "1", "Replicas of each JetStream stream (3 in a cluster)"),
    EnvVar("ANTT_BIND_HOST", "127.0.0.1", "Address the gRPC and metrics servers listen on"),
    EnvVar("ANTT_CONSUMER_MAX_DELIVER", "5", "Deliveries of a failing message before it goes to antt.dlq.<consumer>"),
    EnvVar("ANTT_CONSUMER_ACK_WAIT", "30", "Seconds before an unacknowledged message is redelivered"),
    EnvVar("ANTT_CONSUMER_BATCH", "1000", "Messages fetched per pull by a consumer (at most one transaction)"),
    EnvVar("ANTT_CONSUMER_LINGER", "0.02", "Seconds a consumer waits after a partial batch so that the next one "
           "gathers more events (less CPU per event under a trickle, at most this much more lag)"),
    EnvVar("ANTT_RELAY_BATCH", "200", "Notifications read and published per relay batch"),
    EnvVar("ANTT_SQLITE_CACHE_MB", "32", "Page cache of each SQLite connection of the read models and tracking "
           "tables (MB; SQLite's own default is 2): a projection catching up writes several B-trees per event"),
    EnvVar("ANTT_SQLITE_WAL_PAGES", "20000", "Pages the SQLite write-ahead log grows to before it is checkpointed "
           "into the database (SQLite's own default is 1000): fewer, larger checkpoints while catching up"),
    EnvVar("ANTT_REPORTING_DEFER_INDEXES", "10000", "Messages pending on reporting's registry consumer from which "
           "the unit read models' secondary indexes are dropped, to be built again below a tenth of it (0: never)"),
    EnvVar("ANTT_RELAY_POLL_INTERVAL", "0.2", "Seconds the relay waits when the event store has nothing new"),
    EnvVar("ANTT_GC_YOUNG_THRESHOLD", "20000", "Allocations between two collections of Python's youngest generation in a "
           "service process (0: Python's default, 700); the objects alive once a service has started are frozen"),
    EnvVar("ANTT_LOG_LEVEL", "INFO", "Python logging level"),
    EnvVar("ANTT_REGISTRY_REFERENCE_TREE", "none", "Official areas the registry loads when its store has none: "
           "all, none, or province codes (31,01); `antt dev` sets all"),
    EnvVar("ANTT_ASSESSMENT_RULES_DIR", "", "Folder of rule-set YAML files (catalogue.yaml + one file per rule "
           "set) used instead of the packaged ones; empty: the packaged TT124/TT48 rule sets"),
    EnvVar("ANTT_ASSESSMENT_COMMAND_THREADS", "14", "Threads that run assessment's commands: the most commands "
           "that can share one event-store transaction (asyncio's default would be 6 on two cores); keep it under "
           "the event store's connection pool (15)"),
    EnvVar("ANTT_NOTIFICATIONS_SCAN_INTERVAL", "60", "Seconds between two scans for due reminders"),
    EnvVar("ANTT_NOTIFICATIONS_CLAIM_LEASE", "120", "Seconds after which a reminder claimed by a vanished "
           "worker (and never handed over) is taken over and sent"),
    EnvVar("ANTT_NOTIFICATIONS_CLOCK_START", "", "Empty: real time. An ISO date-time: the reminder "
           "scheduler's clock starts there and runs at real speed (rehearsals, tests)"),
    EnvVar("ANTT_SMTP_HOST", "127.0.0.1", "SMTP server for reminder emails"),
    EnvVar("ANTT_SMTP_PORT", "25", "Port of the SMTP server"),
    EnvVar("ANTT_SMTP_SENDER", "antt-noreply@localhost", "From address of reminder emails"),
    EnvVar("ANTT_WEBHOOK_SECRET", "", "Secret of this deployment for the HMAC-SHA256 signature of webhooks "
           "(header X-Antt-Signature: sha256=<hex>)"),
    EnvVar("ANTT_AUTH_REQUIRED", "true", "true: every gRPC call needs a valid bearer token; false: calls "
           "without a token act as the system actor (a token, when sent, is still verified)"),
    EnvVar("ANTT_AUTH_KEYS_DIR", "", "Directory of the Ed25519 token keys (<kid>.key, <kid>.pub, active). "
           "Empty: $ANTT_DATA_DIR/keys, where a development key is generated on first use"),
    EnvVar("ANTT_TOKEN", "", "Bearer token that command-line clients (antt import) send. Empty: a service "
           "token signed with the active key of ANTT_AUTH_KEYS_DIR"),
    EnvVar("ANTT_GRPC_MAX_MESSAGE_BYTES", str(16 * 1024 * 1024), "Largest gRPC message a server receives or "
           "sends (bytes); larger ones fail with RESOURCE_EXHAUSTED"),
    EnvVar("ANTT_GRPC_MAX_UNARY_BYTES", str(512 * 1024), "Largest single (not streamed) gRPC request (bytes); "
           "kept well under NATS's 1 MiB max_payload so the events a command records can always be published; "
           "larger ones fail with RESOURCE_EXHAUSTED"),
    EnvVar("ANTT_MAX_STRING_LENGTH", "4096", "Longest text field (characters, after NFC normalisation) a gRPC "
           "request may carry; longer ones fail with INVALID_ARGUMENT"),
    EnvVar("ANTT_MAX_REPEATED", "1000", "Most elements a repeated or map field of a gRPC request may carry "
           "(an import chunk holds at most this many rows)"),
    EnvVar("ANTT_CONSOLE_PORT", "8080", "HTTP port of the operator console (`antt console`)"),
    EnvVar("ANTT_CONSOLE_TARGETS", "", "gRPC addresses the console calls, e.g. registry=registry:50051,"
           "assessment=assessment:50052,…; empty: 127.0.0.1 with each ANTT_<SERVICE>_GRPC_PORT"),
    EnvVar("ANTT_CONSOLE_DEMO_USERS", "", "Development only: `demo` (the built-in demo users) or "
           "user=role@jurisdiction,… that sign in with the password `demo`; the console signs their tokens "
           "with the key in ANTT_AUTH_KEYS_DIR. Empty: sign-in with a bearer token only"),
)


def service_vars(service: str) -> tuple[EnvVar, ...]:
    """The per-service variables of one service."""
    upper = service.upper()
    return (
        EnvVar(f"ANTT_{upper}_GRPC_PORT", str(DEFAULT_GRPC_PORTS[service]), f"gRPC port of {service}"),
        EnvVar(f"ANTT_{upper}_METRICS_PORT", str(DEFAULT_METRICS_PORTS[service]),
               f"Prometheus /metrics port of {service}"),
        EnvVar(f"ANTT_{upper}_DATABASE_URL", f"sqlite:///$ANTT_DATA_DIR/{service}.db",
               f"Database of {service}: sqlite:///path or postgresql://user:pass@host:port/db"),
    )


def all_vars() -> tuple[EnvVar, ...]:
    """Every variable the code reads, in README order."""
    return COMMON_VARS + tuple(v for s in SERVICES for v in service_vars(s))


def env_value(env: Mapping[str, str], name: str) -> str:
    """The value of a declared ANTT_* variable in `env`, or its declared default when unset or empty."""
    default = next(v.default for v in all_vars() if v.name == name)
    return env.get(name, "") or default


@dataclass(frozen=True)
class CommonSettings:
    """Settings shared by every process."""

    data_dir: Path
    nats_url: str
    nats_port: int
    nats_replicas: int
    bind_host: str
    consumer_max_deliver: int
    consumer_ack_wait: float
    consumer_batch: int
    consumer_linger: float
    relay_batch: int
    relay_poll_interval: float
    log_level: str
    gc_young_threshold: int = 20000
    auth_required: bool = True
    auth_keys_dir: Path = Path("var/keys")
    auth_keys_configured: bool = False  # ANTT_AUTH_KEYS_DIR set, rather than the default under the data dir

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> CommonSettings:
        """Read the common settings from `env` (default: the process environment)."""
        e = os.environ if env is None else env
        return cls(
            data_dir=Path(env_value(e, "ANTT_DATA_DIR")),
            nats_url=e.get("ANTT_NATS_URL", ""),
            nats_port=int(env_value(e, "ANTT_NATS_PORT")),
            nats_replicas=int(env_value(e, "ANTT_NATS_REPLICAS")),
            bind_host=env_value(e, "ANTT_BIND_HOST"),
            consumer_max_deliver=int(env_value(e, "ANTT_CONSUMER_MAX_DELIVER")),
            consumer_ack_wait=float(env_value(e, "ANTT_CONSUMER_ACK_WAIT")),
            consumer_batch=int(env_value(e, "ANTT_CONSUMER_BATCH")),
            consumer_linger=float(env_value(e, "ANTT_CONSUMER_LINGER")),
            relay_batch=int(env_value(e, "ANTT_RELAY_BATCH")),
            relay_poll_interval=float(env_value(e, "ANTT_RELAY_POLL_INTERVAL")),
            log_level=env_value(e, "ANTT_LOG_LEVEL"),
            gc_young_threshold=int(env_value(e, "ANTT_GC_YOUNG_THRESHOLD")),
            auth_required=env_value(e, "ANTT_AUTH_REQUIRED").strip().lower() in {"1", "true", "yes", "on"},
            auth_keys_dir=Path(env_value(e, "ANTT_AUTH_KEYS_DIR") or Path(env_value(e, "ANTT_DATA_DIR")) / "keys"),
            auth_keys_configured=bool(env_value(e, "ANTT_AUTH_KEYS_DIR")),
        )

    @property
    def nats_servers(self) -> list[str]:
        """NATS URLs for clients (services fall back to the default local server)."""
        return [u.strip() for u in (self.nats_url or DEFAULT_NATS_URL).split(",") if u.strip()]


@dataclass(frozen=True)
class RequestLimits:
    """Limits every gRPC server enforces on incoming requests (antt.grpcx.validation)."""

    max_message_bytes: int
    max_unary_bytes: int
    max_string_length: int
    max_repeated: int

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> RequestLimits:
        """Read the limits from `env` (default: the process environment)."""
        e = os.environ if env is None else env
        return cls(max_message_bytes=int(env_value(e, "ANTT_GRPC_MAX_MESSAGE_BYTES")),
                   max_unary_bytes=int(env_value(e, "ANTT_GRPC_MAX_UNARY_BYTES")),
                   max_string_length=int(env_value(e, "ANTT_MAX_STRING_LENGTH")),
                   max_repeated=int(env_value(e, "ANTT_MAX_REPEATED")))


@dataclass(frozen=True)
class ServiceSettings:
    """Settings of one service process."""

    name: str
    grpc_port: int
    metrics_port: int
    database_url: str
    common: CommonSettings

    @classmethod
    def from_env(cls, name: str, env: Mapping[str, str] | None = None) -> ServiceSettings:
        """Read the settings of service `name` from `env` (default: the process environment)."""
        if name not in SERVICES:
            raise ValueError(f"unknown service {name!r}; one of {', '.join(SERVICES)}")
        e = os.environ if env is None else env
        common = CommonSettings.from_env(e)
        upper = name.upper()
        url = e.get(f"ANTT_{upper}_DATABASE_URL", "") or f"sqlite:///{common.data_dir / f'{name}.db'}"
        return cls(
            name=name,
            grpc_port=int(env_value(e, f"ANTT_{upper}_GRPC_PORT")),
            metrics_port=int(env_value(e, f"ANTT_{upper}_METRICS_PORT")),
            database_url=url,
            common=common,
        )
