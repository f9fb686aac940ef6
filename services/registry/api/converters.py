"""Protobuf <-> domain values for the registry API."""

from __future__ import annotations

from datetime import date
from uuid import UUID

from antt.errors import InvalidArgumentError
from antt.registry.v1 import registry_service_pb2 as pb
from services.registry.domain.unit import Unit


def parse_date(value: str, field: str) -> date | None:
    """An ISO date, or None when empty."""
    if not value:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise InvalidArgumentError(f"Ngày không hợp lệ: {value!r} (định dạng YYYY-MM-DD)",
                                   f"invalid date {value!r} (expected YYYY-MM-DD)", field=field) from None


def parse_uuid(value: str, field: str) -> UUID:
    """A UUID, or INVALID_ARGUMENT naming the field."""
    try:
        return UUID(value)
    except ValueError:
        raise InvalidArgumentError(f"Mã định danh không hợp lệ: {value!r}", f"invalid id {value!r}",
                                   field=field) from None


def unit_to_pb(unit: Unit) -> pb.Unit:
    """The API form of a unit."""
    return pb.Unit(unit_id=str(unit.id), code=unit.code, name=unit.name, unit_type=unit.unit_type.value,
                   province_code=unit.province_code, commune_code=unit.commune_code, version=unit.version)
