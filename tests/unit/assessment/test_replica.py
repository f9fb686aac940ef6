"""The unit replica: every registry unit event lands in one row; the directory reads profiles from it."""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest
import sqlalchemy as sa

from antt.common.v1 import actor_pb2 as common_pb
from antt.contracts import envelope, subjects, types
from antt.eventstore.persistence import create_engine
from antt.events.v1 import registry_pb2 as reg
from antt.messaging.consumer import ReceivedEvent
from services.assessment.projections import ensure_schema, on_registry_event, unit_replica
from services.assessment.rules import Tier, UnitType
from services.assessment.unit_directory import ReplicaUnitDirectory, managing_tier

pytestmark = pytest.mark.unit

UNIT = str(uuid.uuid5(uuid.NAMESPACE_URL, "DN-01"))


def received(payload: object, position: int, effective: str = "2026-01-10") -> ReceivedEvent:
    """A registry event as the consumer would hand it to the projection."""
    payload.meta.CopyFrom(common_pb.EventMeta(effective_date=effective))  # type: ignore[attr-defined]
    ce = types.ce_type("registry", payload)  # type: ignore[arg-type]
    env = envelope.new("registry", position, ce, "2026-01-10T00:00:00+00:00", UNIT)
    subject = subjects.parse(subjects.for_event("registry", types.event_name(ce), "01", "00004"))
    return ReceivedEvent(env, subject, payload)  # type: ignore[arg-type]


def apply(engine: sa.Engine, *events: ReceivedEvent) -> None:
    with engine.begin() as conn:
        for e in events:
            on_registry_event(conn, e)


def test_every_unit_event_updates_the_replica(tmp_path: Path) -> None:
    engine = create_engine(f"sqlite:///{tmp_path / 'assessment.db'}")
    directory = ReplicaUnitDirectory(engine)
    eligibility = reg.Eligibility(eligible=False, reason_code="OUT_OF_SCOPE_SMALL_ENTERPRISE",
                                  explanation_vi="Doanh nghiệp nhỏ")
    apply(engine, received(reg.UnitRegistered(unit_id=UNIT, code="DN-01", name="Công ty A", unit_type="doanh_nghiep",
                                              province_code="01", commune_code="00004", eligibility=eligibility), 1))
    p = directory.get(uuid.UUID(UNIT))
    assert p is not None and not p.eligible and p.ineligible_reason == "Doanh nghiệp nhỏ" and p.managed_by is Tier.XA
    apply(engine, received(reg.UnitEligibilityFactsDeclared(
        unit_id=UNIT, size_class="vua", eligibility=reg.Eligibility(eligible=True)), 2))
    apply(engine, received(reg.UnitUpdated(unit_id=UNIT, name="Công ty cổ phần A", managing_authority="01"), 3))
    p = directory.get(uuid.UUID(UNIT))
    assert p is not None and p.eligible and p.name == "Công ty cổ phần A" and p.managed_by is Tier.TINH
    apply(engine, received(reg.UnitMoved(unit_id=UNIT, from_province_code="01", from_commune_code="00004",
                                         province_code="01", commune_code="00007"), 4, "2026-03-01"))
    assert [u.code for u in directory.in_commune("00007")] == ["DN-01"] and not directory.in_commune("00004")
    apply(engine, received(reg.UnitClosed(unit_id=UNIT, reason="dissolved", province_code="01",
                                          commune_code="00007"), 5, "2026-06-30"))
    p = directory.get(uuid.UUID(UNIT))
    assert p is not None and not p.eligible and "2026-06-30" in p.ineligible_reason
    with engine.connect() as conn:
        row = conn.execute(sa.select(unit_replica)).mappings().one()
    assert (row["closed_on"], row["closure_reason"], row["managing_authority"]) == ("2026-06-30", "dissolved", "01")
    # an event about a unit never registered here changes nothing
    apply(engine, received(reg.UnitUpdated(unit_id=str(uuid.uuid4()), name="X"), 6))
    assert directory.count() == 1


def test_an_older_replica_gets_the_new_columns(tmp_path: Path) -> None:
    engine = create_engine(f"sqlite:///{tmp_path / 'old.db'}")
    with engine.begin() as conn:
        conn.execute(sa.text("CREATE TABLE assessment_unit_replica (unit_id VARCHAR(36) PRIMARY KEY, code VARCHAR(50) "
                             "NOT NULL, name VARCHAR(200) NOT NULL, unit_type VARCHAR(30) NOT NULL, province_code "
                             "VARCHAR(2) NOT NULL, commune_code VARCHAR(5) NOT NULL)"))
        conn.execute(sa.text(f"INSERT INTO assessment_unit_replica VALUES ('{UNIT}', 'KDC-1', 'Thôn 1', "
                             "'khu_dan_cu', '01', '00004')"))
    ensure_schema(engine)
    p = ReplicaUnitDirectory(engine).get(uuid.UUID(UNIT))
    assert p is not None and p.eligible and p.unit_type is UnitType.KHU_DAN_CU and p.managed_by is Tier.XA


@pytest.mark.parametrize(("code", "unit_type", "tier"), [
    ("", UnitType.KHU_DAN_CU, Tier.XA), ("", UnitType.XA_PHUONG, Tier.TINH), ("01", UnitType.CO_QUAN, Tier.TINH),
    ("00004", UnitType.CO_QUAN, Tier.XA), ("BCA", UnitType.DOANH_NGHIEP, Tier.BO),
    ("tinh", UnitType.CO_QUAN, Tier.TINH),
])
def test_the_managing_tier_is_derived_from_the_authority_code(code: str, unit_type: UnitType, tier: Tier) -> None:
    assert managing_tier(code, unit_type) is tier
