"""Build and parse NATS subjects: antt.<service>.v1.<EventType>.<province_code>.<commune_code>.

This is the only module that knows the subject layout; services, permissions and tests call it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

PREFIX = "antt"
VERSION = "v1"
NO_AREA = "_"  # token used when an event has no province or commune (national facts)
DLQ_PREFIX = f"{PREFIX}.dlq"

_TOKEN = re.compile(r"^[A-Za-z0-9_-]+$")


class SubjectError(ValueError):
    """A subject or one of its tokens does not follow the antt layout."""


@dataclass(frozen=True)
class Subject:
    """The parts of an event subject."""

    service: str
    event_type: str
    province_code: str
    commune_code: str
    version: str = VERSION

    def __str__(self) -> str:
        return ".".join(
            [PREFIX, self.service, self.version, self.event_type, self.province_code, self.commune_code]
        )


def _token(value: str, what: str) -> str:
    if not _TOKEN.match(value):
        raise SubjectError(f"invalid {what} token {value!r} in subject")
    return value


def for_event(service: str, event_type: str, province_code: str = "", commune_code: str = "") -> str:
    """Subject on which `service` publishes an event of `event_type` for the given area."""
    return str(
        Subject(
            service=_token(service, "service"),
            event_type=_token(event_type, "event type"),
            province_code=_token(province_code or NO_AREA, "province"),
            commune_code=_token(commune_code or NO_AREA, "commune"),
        )
    )


def parse(subject: str) -> Subject:
    """Split an event subject into its parts; raise SubjectError if it is not one."""
    parts = subject.split(".")
    if len(parts) != 6 or parts[0] != PREFIX:
        raise SubjectError(f"not an antt event subject: {subject!r}")
    _, service, version, event_type, province, commune = parts
    for value, what in ((service, "service"), (version, "version"), (event_type, "event type"),
                        (province, "province"), (commune, "commune")):
        _token(value, what)
    return Subject(service, event_type, province, commune, version)


def area_codes(subject: Subject) -> tuple[str, str]:
    """(province_code, commune_code) of a parsed subject, with the no-area token as ""."""
    return (
        "" if subject.province_code == NO_AREA else subject.province_code,
        "" if subject.commune_code == NO_AREA else subject.commune_code,
    )


def filter_for(service: str, event_type: str = "*", province_code: str = "*", commune_code: str = "*") -> str:
    """A NATS filter (wildcards allowed) over one service's events."""
    return ".".join([PREFIX, service, VERSION, event_type, province_code, commune_code])


def all_of(service: str) -> str:
    """Every subject a service publishes on, all versions: the stream's subject."""
    return f"{PREFIX}.{_token(service, 'service')}.>"


def dlq(consumer: str) -> str:
    """Dead-letter subject of a durable consumer."""
    return f"{DLQ_PREFIX}.{_token(consumer, 'consumer')}"
