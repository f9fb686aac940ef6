"""Published events as reporting receives them: real protobuf payloads inside kernel envelopes."""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from google.protobuf.message import Message

from antt.common.v1 import actor_pb2 as common_pb
from antt.contracts import envelope, subjects, types
from antt.events.v1 import assessment_pb2 as apb
from antt.events.v1 import registry_pb2 as rpb
from antt.messaging.consumer import ReceivedEvent

RECORDED = "2026-11-10T08:00:00+00:00"


def meta(effective: date | None = None, recorded: str = RECORDED, version: int = 1, aggregate: str = "") -> Any:
    """EventMeta with an effective date and recorded time."""
    return common_pb.EventMeta(recorded_at=recorded, effective_date=effective.isoformat() if effective else "",
                               aggregate_id=aggregate, aggregate_version=version)


@dataclass
class Stream:
    """Events of one source in publication order, with positions and recorded times."""

    service: str
    events: list[ReceivedEvent] = field(default_factory=list)
    _positions: Any = field(default_factory=lambda: itertools.count(1))

    def add(self, payload: Message, province: str = "", commune: str = "", recorded: str = RECORDED
            ) -> ReceivedEvent:
        """Append an event (its recorded time is also its ce-time)."""
        if hasattr(payload, "meta"):
            payload.meta.recorded_at = recorded
        position = next(self._positions)
        ce_type = types.ce_type(self.service, payload)
        subject = subjects.for_event(self.service, type(payload).DESCRIPTOR.name, province, commune)
        env = envelope.new(self.service, position, ce_type, recorded, getattr(payload.meta, "aggregate_id", "x"))
        event = ReceivedEvent(env, subjects.parse(subject), payload)
        self.events.append(event)
        return event


@dataclass
class World:
    """A registry stream and an assessment stream built together."""

    registry: Stream = field(default_factory=lambda: Stream("registry"))
    assessment: Stream = field(default_factory=lambda: Stream("assessment"))
    versions: dict[str, int] = field(default_factory=dict)
    types: dict[str, str] = field(default_factory=dict)

    def _v(self, uid: str) -> int:
        self.versions[uid] = self.versions.get(uid, 0) + 1
        return self.versions[uid]

    def unit(self, uid: str, unit_type: str, province: str, commune: str, opened: date, eligible: bool = True,
             recorded: str = RECORDED) -> None:
        """UnitRegistered."""
        self.types[uid] = unit_type
        self.registry.add(rpb.UnitRegistered(
            meta=meta(opened, version=self._v(uid), aggregate=uid), unit_id=uid, code=f"C-{uid}",
            name=f"Đơn vị {uid}", unit_type=unit_type, province_code=province, commune_code=commune,
            eligibility=rpb.Eligibility(eligible=eligible)), province, commune, recorded)

    def move(self, uid: str, frm: tuple[str, str], to: tuple[str, str], on: date) -> None:
        """UnitMoved."""
        self.registry.add(rpb.UnitMoved(meta=meta(on, version=self._v(uid), aggregate=uid), unit_id=uid,
                                        code=f"C-{uid}", from_province_code=frm[0], from_commune_code=frm[1],
                                        province_code=to[0], commune_code=to[1]), *to)

    def close(self, uid: str, where: tuple[str, str], on: date) -> None:
        """UnitClosed."""
        self.registry.add(rpb.UnitClosed(meta=meta(on, version=self._v(uid), aggregate=uid), unit_id=uid,
                                         code=f"C-{uid}", reason="dissolved", province_code=where[0],
                                         commune_code=where[1]), *where)

    def _head(self, uid: str, year: int, where: tuple[str, str], on: date | None) -> dict[str, Any]:
        return dict(meta=meta(on, aggregate=f"case-{uid}"), unit_id=uid, unit_code=f"C-{uid}",
                    unit_type=self.types.get(uid, ""), year=year, province_code=where[0], commune_code=where[1])

    def register(self, uid: str, year: int, where: tuple[str, str], on: date, late: bool = False,
                 recorded: str = RECORDED) -> None:
        """CaseRegistered."""
        self.assessment.add(apb.CaseRegistered(**self._head(uid, year, where, on), late=late), *where, recorded)

    def decide(self, uid: str, year: int, where: tuple[str, str], recognised: bool, on: date, late: bool = False,
               recorded: str = RECORDED) -> None:
        """CaseDecided."""
        self.assessment.add(apb.CaseDecided(**self._head(uid, year, where, on), recognised=recognised,
                                            decision_date=on.isoformat(), late=late, decision_number="QĐ 1"),
                            *where, recorded)

    def revoke(self, uid: str, year: int, where: tuple[str, str], on: date, recorded: str = RECORDED) -> None:
        """RecognitionRevoked."""
        self.assessment.add(apb.RecognitionRevoked(**self._head(uid, year, where, on), reason="vi phạm",
                                                   decision_date=on.isoformat()), *where, recorded)

    def classify(self, uid: str, year: int, where: tuple[str, str], level: str, on: date, points: float = 80,
                 late: bool = False, recorded: str = RECORDED) -> None:
        """ClassificationDecided."""
        self.assessment.add(apb.ClassificationDecided(**self._head(uid, year, where, on), level=level,
                                                      points=points, decision_date=on.isoformat(), late=late),
                            *where, recorded)

    def reclassify(self, uid: str, year: int, where: tuple[str, str], level: str, previous: str, on: date,
                   recorded: str = RECORDED) -> None:
        """Reclassified."""
        self.assessment.add(apb.Reclassified(**self._head(uid, year, where, on), level=level, previous_level=previous,
                                             points=60, decision_date=on.isoformat()), *where, recorded)

    def area(self, level: str, code: str, name: str, parent_level: str = "", parent_code: str = "",
             established: date | None = None) -> None:
        """AreaCreated."""
        province = code if level == "province" else (parent_code if parent_level == "province" else "")
        commune = code if level == "commune" else ""
        self.registry.add(rpb.AreaCreated(meta=meta(established), level=level, code=code, name=name,
                                          parent_level=parent_level, parent_code=parent_code), province, commune)

    def merge(self, level: str, code: str, target: str, on: date) -> None:
        """AreaMergedInto."""
        self.registry.add(rpb.AreaMergedInto(meta=meta(on, version=2), level=level, code=code, target_code=target))
