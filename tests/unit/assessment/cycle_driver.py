"""Drives the registry and assessment gRPC APIs for the yearly-cycle tests (integration and e2e)."""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
from collections.abc import Awaitable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import grpc
import pytest
import yaml

from antt.assessment.v1 import assessment_service_pb2 as pb
from antt.assessment.v1 import assessment_service_pb2_grpc as pb_grpc
from antt.grpcx.errors import error_info
from antt.registry.v1 import registry_service_pb2 as reg_pb
from antt.registry.v1 import registry_service_pb2_grpc as reg_grpc
from antt.testing.wait import async_wait_until
from services.assessment.rules import RuleSet, UnitType
from services.assessment.rules.loader import read_documents

from .grpc_builders import COMMUNE, OPERATOR, PROVINCE, evidence, results


async def fails(call: Awaitable[Any]) -> tuple[grpc.StatusCode, str]:
    """Status code and reason code of a call that must fail (with Vietnamese and English text)."""
    with pytest.raises(grpc.aio.AioRpcError) as exc:
        await call
    info = error_info(exc.value)
    assert info is not None and info.metadata["vi"] and info.metadata["en"]
    return exc.value.code(), info.reason


@dataclass
class Cycle:
    """The two APIs and the unit types of the units registered so far."""

    registry: reg_grpc.RegistryServiceStub
    assessment: pb_grpc.AssessmentServiceStub
    rules: RuleSet
    year: int
    types: dict[str, UnitType] = field(default_factory=dict)

    async def register_unit(self, code: str, unit_type: UnitType, managing_authority: str = "",
                            **facts: Any) -> str:
        """Register a unit in the REGISTRY (see `replicated` to wait for assessment's replica)."""
        reply = await self.registry.RegisterUnit(reg_pb.RegisterUnitRequest(
            code=code, name=f"Đơn vị {code}", unit_type=unit_type.value, province_code=PROVINCE,
            commune_code=COMMUNE, effective_date=f"{self.year - 1}-10-01", actor=OPERATOR,
            facts=reg_pb.EligibilityFacts(**facts) if facts else None))
        if managing_authority:
            await self.registry.UpdateUnit(reg_pb.UpdateUnitRequest(
                unit_id=reply.unit_id, managing_authority=managing_authority, actor=OPERATOR))
        self.types[str(reply.unit_id)] = unit_type
        return str(reply.unit_id)

    async def replicated(self) -> None:
        """Wait until assessment's replica shows every registered unit with the registry's eligibility."""
        expected = {}
        for unit_id in self.types:
            unit = await self.registry.GetUnit(reg_pb.GetUnitRequest(unit_id=unit_id))
            expected[unit_id] = (unit.eligibility.reason_code, unit.managing_authority)

        async def all_there() -> bool:
            for unit_id, want in expected.items():
                try:
                    got = await self.assessment.GetReplicatedUnit(pb.GetReplicatedUnitRequest(unit_id=unit_id))
                except grpc.aio.AioRpcError:
                    return False
                if (got.eligibility_reason, got.managing_authority) != want:
                    return False
            return True
        await async_wait_until(all_there, timeout=60, message="every unit in assessment's replica")

    async def open_case(self, unit_id: str) -> str:
        """Register the unit's case for the year (mid-January, with its registration form)."""
        case = await self.assessment.RegisterCase(pb.RegisterCaseRequest(
            unit_id=unit_id, year=self.year, dossier=[evidence("REG-FORM", f"dk-{unit_id}")],
            effective_date=f"{self.year}-01-15", actor=OPERATOR))
        return str(case.case_id)

    async def self_assess(self, case_id: str, unit_id: str, failing: frozenset[str] = frozenset()) -> pb.Case:
        """Record a self-assessment (every criterion met except `failing`) and submit it."""
        await self.assessment.RecordSelfAssessment(pb.RecordSelfAssessmentRequest(
            case_id=case_id, results=results(self.rules, self.types[unit_id], failing),
            effective_date=f"{self.year}-10-01", actor=OPERATOR))
        return await self.assessment.SubmitCase(pb.SubmitCaseRequest(
            case_id=case_id, dossier=[evidence("REC-REQUEST", f"de-nghi-{case_id}")],
            effective_date=f"{self.year}-10-05", actor=OPERATOR))

    async def appraise(self, case_id: str, return_reason: str = "") -> pb.Case:
        """Appraise (or, with a reason, return the dossier for completion)."""
        return await self.assessment.AppraiseCase(pb.AppraiseCaseRequest(
            case_id=case_id, return_reason=return_reason, effective_date=f"{self.year}-10-20", actor=OPERATOR))

    async def decide(self, outcomes: dict[str, bool], d: pb.Decision) -> list[pb.Case]:
        """One decision document for several cases."""
        reply = await self.assessment.DecideCases(pb.DecideCasesRequest(
            cases=[pb.CaseOutcome(case_id=c, recognised=r) for c, r in outcomes.items()], decision=d, actor=OPERATOR))
        return list(reply.cases)

    async def state(self, case_id: str) -> str:
        """The case's current state."""
        return str((await self.assessment.GetCase(pb.GetCaseRequest(case_id=case_id))).state)


def write_next_year_rules(folder: Path, current_id: str, next_year: int, xuat_sac_min: float) -> str:
    """Copy the packaged rule sets, end the current one on 31/12 and add one in force from next year.

    The new set differs in its classification thresholds; returns its id.
    """
    documents, settings = read_documents()
    folder.mkdir(parents=True)
    (folder / "catalogue.yaml").write_text(yaml.safe_dump(settings, allow_unicode=True), encoding="utf-8")
    for doc_id, doc in documents.items():
        if doc_id == current_id:
            doc = {**doc, "in_force": {**doc["in_force"], "to": f"{next_year - 1}-12-31"}}
        (folder / f"{doc_id}.yaml").write_text(yaml.safe_dump(doc, allow_unicode=True), encoding="utf-8")
    base_classification = documents[current_id].get("classification") or documents["tt124-2021"]["classification"]
    classification = yaml.safe_load(yaml.safe_dump(base_classification))
    levels = classification["levels"]["value"] if "value" in classification["levels"] else classification["levels"]
    for level in levels:
        if level["id"] == "xuat_sac":
            level["min_points"] = xuat_sac_min
    new_id = f"tt124-{next_year}"
    new = {"base": current_id, "id": new_id, "title": f"Bộ quy tắc thử nghiệm áp dụng từ năm {next_year}",
           "in_force": {"from": f"{next_year}-01-01", "to": None}, "classification": classification}
    (folder / f"{new_id}.yaml").write_text(yaml.safe_dump(new, allow_unicode=True), encoding="utf-8")
    return new_id


def verify(database: Path, data_dir: Path) -> subprocess.CompletedProcess[str]:
    """`antt verify assessment` over a SQLite store, as an operator would run it."""
    env = {**os.environ, "ANTT_ASSESSMENT_DATABASE_URL": f"sqlite:///{database}", "ANTT_DATA_DIR": str(data_dir)}
    return subprocess.run([sys.executable, "-m", "antt.cli", "verify", "assessment"], env=env, capture_output=True,
                          text=True, timeout=120)


def tamper(database: Path, aggregate_id: str, version: int, old: bytes, new: bytes) -> None:
    """Change bytes of one stored event in place (as an attacker with database access would)."""
    with sqlite3.connect(database) as conn:
        rows = conn.execute("SELECT originator_id, state FROM stored_events WHERE originator_version = ?",
                            (version,)).fetchall()
        matches = [(oid, state) for oid, state in rows if str(oid).replace("-", "") == aggregate_id.replace("-", "")]
        assert len(matches) == 1
        oid, state = matches[0]
        changed = bytes(state).replace(old, new, 1)
        assert changed != bytes(state) and len(changed) == len(bytes(state))
        conn.execute("UPDATE stored_events SET state = ? WHERE originator_id = ? AND originator_version = ?",
                     (changed, oid, version))
