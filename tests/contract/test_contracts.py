"""Wire contracts: subjects, envelope, the ce-type registry and generated stubs that match proto/."""

from __future__ import annotations

import filecmp
from pathlib import Path

import pytest

from antt.contracts import envelope, gen, subjects, types
from antt.events.v1 import registry_pb2

pytestmark = pytest.mark.contract

ROOT = Path(__file__).resolve().parents[2]


def test_subject_round_trip() -> None:
    s = subjects.for_event("registry", "UnitRegistered", "31", "11948")
    assert s == "antt.registry.v1.UnitRegistered.31.11948"
    assert subjects.parse(s) == subjects.Subject("registry", "UnitRegistered", "31", "11948")
    national = subjects.parse(subjects.for_event("assessment", "RuleSetPublished"))
    assert subjects.area_codes(national) == ("", "")


@pytest.mark.parametrize("bad", ["antt.registry.v1.UnitRegistered.31", "nats.registry.v1.X.01.00001",
                                 "antt.registry.v1.Unit Registered.01.00001", "antt.registry.v1.X.01.0*"])
def test_malformed_subjects_are_rejected(bad: str) -> None:
    with pytest.raises(subjects.SubjectError):
        subjects.parse(bad)


def test_filters_and_dlq_subjects() -> None:
    assert subjects.filter_for("registry", province_code="31") == "antt.registry.v1.*.31.*"
    assert subjects.all_of("registry") == "antt.registry.>"
    assert subjects.dlq("reporting-from-registry") == "antt.dlq.reporting-from-registry"


def test_envelope_round_trip() -> None:
    env = envelope.new("registry", 42, "antt.registry.v1.UnitRegistered", "2026-11-22T00:00:00+00:00",
                       "3f2a…", actor="u:1", hash="ab", prev_hash="cd")
    headers = envelope.headers_for(env)
    assert headers["Nats-Msg-Id"] == headers["ce-id"] == "registry:42"
    assert headers["ce-specversion"] == "1.0" and headers["ce-source"] == "antt/registry"
    assert envelope.from_headers(headers) == env
    assert env.service == "registry"


def test_envelope_without_required_headers_is_rejected() -> None:
    headers = envelope.headers_for(envelope.new("registry", 1, "t", "now", "s"))
    del headers["ce-type"]
    with pytest.raises(envelope.EnvelopeError):
        envelope.from_headers(headers)


def test_every_ce_type_resolves_to_its_message() -> None:
    registry = types.registry()
    assert registry["antt.registry.v1.UnitRegistered"] is registry_pb2.UnitRegistered
    for name, cls in registry.items():
        assert name.startswith("antt.") and name.endswith("." + cls.DESCRIPTOR.name)
        assert types.decode(name, cls().SerializeToString()) == cls()
    with pytest.raises(types.UnknownEventTypeError):
        types.decode("antt.registry.v1.Nope", b"")


def test_golden_encoding_of_unit_registered() -> None:
    message = registry_pb2.UnitRegistered(unit_id="u", code="c", name="Thôn Đông", unit_type="khu_dan_cu",
                                          province_code="31", commune_code="11948")
    # Field numbers are the contract: this encoding must never change.
    assert message.SerializeToString().hex() == (
        "1201751a0163220c5468c3b46e20c490c3b46e672a0a6b68755f64616e5f6375320233313a053131393438")


def test_generated_stubs_match_proto(tmp_path: Path) -> None:
    gen.generate(tmp_path)
    generated = sorted(p.relative_to(tmp_path) for p in tmp_path.rglob("*_pb2*.py*"))
    assert generated, "protoc generated nothing"
    stale = [str(p) for p in generated if not (ROOT / p).exists() or not filecmp.cmp(tmp_path / p, ROOT / p, shallow=False)]
    assert not stale, f"generated code is stale; run `make proto`: {stale}"
