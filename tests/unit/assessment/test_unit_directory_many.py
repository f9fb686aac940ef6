"""`get_many` of the unit directories gives what `get` gives one unit at a time (units missing left out), for any
replica rows and across the chunks of its IN lists; on SQLite and PostgreSQL."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest
import sqlalchemy as sa
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from antt.eventstore.persistence import create_engine
from antt.eventstore.application import IDS_PER_QUERY
from antt.testing import postgres
from services.assessment.domain.units import StaticUnitDirectory
from services.assessment.projections import unit_replica
from services.assessment.rules import UnitType
from services.assessment.unit_directory import ReplicaUnitDirectory
from tests.conftest import postgres_server_url

pytestmark = pytest.mark.unit

ids = st.integers(0, 40).map(lambda n: uuid.uuid5(uuid.NAMESPACE_URL, f"unit-{n}"))
rows = st.fixed_dictionaries({
    "code": st.text("ABC-0123", min_size=1, max_size=8), "name": st.text(max_size=12).filter(lambda t: "\x00" not in t),
    "unit_type": st.sampled_from([t.value for t in UnitType]), "province_code": st.sampled_from(["01", "79"]),
    "commune_code": st.sampled_from(["00004", "26734"]), "eligible": st.booleans(),
    "eligibility_reason": st.sampled_from(["", "OUT_OF_SCOPE_SMALL_ENTERPRISE"]),
    "eligibility_explanation_vi": st.sampled_from(["", "Doanh nghiệp nhỏ"]),
    "managing_authority": st.sampled_from(["", "01", "bo", "xa", "123", "00004"]),
    "closed_on": st.sampled_from([None, "2026-06-30"]), "closure_reason": st.sampled_from(["", "dissolved"])})


@pytest.fixture(scope="module", params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def directory(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
              ) -> Iterator[ReplicaUnitDirectory]:
    if request.param == "sqlite":
        engine = create_engine(f"sqlite:///{tmp_path_factory.mktemp('replica') / 'assessment.db'}")
        yield ReplicaUnitDirectory(engine)
        engine.dispose()
        return
    with postgres.temporary_databases(postgres_server_url(), 1) as (url,):
        engine = create_engine(url)
        yield ReplicaUnitDirectory(engine)
        engine.dispose()


def _store(directory: ReplicaUnitDirectory, stored: dict[uuid.UUID, dict[str, object]]) -> None:
    with directory.engine.begin() as conn:
        conn.execute(unit_replica.delete())
        if stored:
            conn.execute(unit_replica.insert(), [{"unit_id": str(i), **row} for i, row in stored.items()])


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(stored=st.dictionaries(ids, rows, max_size=12), asked=st.lists(ids, max_size=15))
def test_get_many_is_get_one_at_a_time(directory: ReplicaUnitDirectory, stored: dict[uuid.UUID, dict[str, object]],
                                       asked: list[uuid.UUID]) -> None:
    _store(directory, stored)
    one_by_one = {i: p for i in asked if (p := directory.get(i)) is not None}
    assert directory.get_many(asked) == one_by_one
    assert StaticUnitDirectory(one_by_one.values()).get_many(asked) == one_by_one
    assert set(one_by_one) == set(asked) & set(stored)


def test_get_many_across_in_list_chunks(directory: ReplicaUnitDirectory) -> None:
    units = [uuid.uuid5(uuid.NAMESPACE_URL, f"many-{n}") for n in range(2 * IDS_PER_QUERY + 7)]
    row = {"code": "X", "name": "Khu dân cư", "unit_type": UnitType.KHU_DAN_CU.value, "province_code": "01",
           "commune_code": "00004"}
    _store(directory, {u: {**row, "code": f"KDC-{n:05d}"} for n, u in enumerate(units) if n % 3})
    asked = units + [uuid.uuid5(uuid.NAMESPACE_URL, "absent")]
    found = directory.get_many(asked)
    assert sorted(p.code for p in found.values()) == sorted(f"KDC-{n:05d}" for n in range(len(units)) if n % 3)
    assert found == {i: p for i in asked if (p := directory.get(i)) is not None}
