"""Every registry event has a published form whose subject names its province and commune."""

from __future__ import annotations

from datetime import date

import pytest

from antt.contracts import subjects, types
from antt.events.v1 import registry_pb2 as pb
from services.registry.application import Registry
from services.registry.domain.facts import EligibilityFacts, SizeClass
from services.registry.published import RegistryPublisher
from tests.unit.registry.conftest import OFFICER

pytestmark = pytest.mark.unit


def published(app: Registry) -> list[tuple[str, object]]:
    """(subject, payload) of every stored event, as the relay would publish them."""
    publisher = RegistryPublisher(app)
    out = []
    for n in app.iter_notifications():
        message = publisher.to_message(app.mapper.to_domain_event(n))
        if message is not None:
            ce = types.ce_type("registry", message.payload)
            out.append((subjects.for_event("registry", types.event_name(ce), message.province_code,
                                           message.commune_code), message.payload))
    return out


def test_unit_lifecycle_is_published_with_its_place_and_eligibility() -> None:
    app = Registry()
    unit = app.register_unit("DN-1", "Công ty TNHH Minh Phát", "doanh_nghiep", "31", "11948", OFFICER,
                             date(2025, 8, 1))
    app.declare_eligibility_facts(unit.id, EligibilityFacts(size_class=SizeClass.NHO,
                                                            size_declared_on=date(2025, 8, 1)),
                                  date(2025, 8, 2), OFFICER)
    app.update_unit(unit.id, OFFICER, contact_email="minhphat@example.vn")
    app.move_unit(unit.id, "01", "00145", date(2025, 9, 1), OFFICER)
    app.close_unit(unit.id, "dissolved", date(2025, 10, 1), OFFICER)
    messages = published(app)
    assert [s for s, _ in messages] == [
        "antt.registry.v1.UnitRegistered.31.11948",
        "antt.registry.v1.UnitEligibilityFactsDeclared.31.11948",
        "antt.registry.v1.UnitUpdated.31.11948",
        "antt.registry.v1.UnitMoved.01.00145",
        "antt.registry.v1.UnitClosed.01.00145",
    ]
    registered, facts, updated, moved, closed = (p for _, p in messages)
    assert isinstance(registered, pb.UnitRegistered) and registered.meta.actor.id == OFFICER.id
    assert not registered.eligibility.eligible  # no size class declared yet
    assert facts.size_class == "nho" and not facts.eligibility.eligible
    assert facts.eligibility.reason_code == "OUT_OF_SCOPE_SMALL_ENTERPRISE"
    assert updated.contact_email == "minhphat@example.vn"
    assert (moved.from_commune_code, moved.commune_code, moved.meta.effective_date) == ("11948", "00145",
                                                                                         "2025-09-01")
    assert closed.reason == "dissolved" and closed.meta.aggregate_version == 5


def test_area_changes_are_published_with_province_codes() -> None:
    app = Registry()
    app.load_reference_tree(OFFICER, commune_provinces={"31"})
    app.rename_area("commune", "11948", "Đặc khu Bạch Long Vĩ mới", date(2026, 1, 1), "NQ thử nghiệm", OFFICER)
    messages = published(app)
    created = [(s, p) for s, p in messages if isinstance(p, pb.AreaCreated)]
    assert any(s == "antt.registry.v1.AreaCreated.31._" for s, _ in created)
    assert any(s == "antt.registry.v1.AreaCreated.31.11948" and p.parent_code == "31" for s, p in created)
    subject, renamed = messages[-1]
    assert subject == "antt.registry.v1.AreaRenamed.31.11948"
    assert renamed.name == "Đặc khu Bạch Long Vĩ mới" and renamed.legal_basis == "NQ thử nghiệm"
    merged = [p for _, p in messages if isinstance(p, pb.AreaMergedInto)]
    assert {p.code for p in merged} >= {"30"} and all(p.target_code for p in merged)
