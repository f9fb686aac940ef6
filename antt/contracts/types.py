"""ce-type <-> protobuf message class, built from the generated antt.events.v1 modules."""

from __future__ import annotations

import importlib
import pkgutil
from functools import lru_cache

from google.protobuf.message import Message

EVENTS_PACKAGE = "antt.events.v1"


class UnknownEventTypeError(LookupError):
    """No published event type has this name."""


@lru_cache(maxsize=1)
def registry() -> dict[str, type[Message]]:
    """Map of ce-type ("antt.<service>.v1.<Message>") to its message class."""
    package = importlib.import_module(EVENTS_PACKAGE)
    found: dict[str, type[Message]] = {}
    for info in pkgutil.iter_modules(package.__path__):
        if not info.name.endswith("_pb2"):
            continue
        service = info.name.removesuffix("_pb2")
        module = importlib.import_module(f"{EVENTS_PACKAGE}.{info.name}")
        for name in module.DESCRIPTOR.message_types_by_name:
            found[f"antt.{service}.v1.{name}"] = getattr(module, name)
    return found


def ce_type(service: str, message: Message) -> str:
    """The ce-type of a published message from `service`; it must be registered."""
    name = f"antt.{service}.v1.{type(message).DESCRIPTOR.name}"
    if name not in registry():
        raise UnknownEventTypeError(name)
    return name


def event_name(ce_type_value: str) -> str:
    """The last part of a ce-type, e.g. "UnitRegistered"."""
    return ce_type_value.rsplit(".", 1)[-1]


def decode(ce_type_value: str, data: bytes) -> Message:
    """Parse a payload of the given ce-type."""
    try:
        cls = registry()[ce_type_value]
    except KeyError:
        raise UnknownEventTypeError(ce_type_value) from None
    message = cls()
    message.ParseFromString(data)
    return message
