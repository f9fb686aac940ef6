"""Bulk registry saves on real PostgreSQL: 40,000 units commit in one transaction, or nothing does.

A save this big once hung for ever inside psycopg's pipeline (see antt.eventstore.postgres); with
the bug back, these tests hit their timeout instead of passing. Unit codes are synthetic ("IMP-").
"""

from __future__ import annotations

import itertools
import os
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from antt.actor import SYSTEM
from antt.eventstore.postgres import ChunkedApplicationRecorder
from antt.registry.v1 import registry_service_pb2 as pb
from antt.registry.v1 import registry_service_pb2_grpc as pb_grpc
from antt.runtime.nats_server import NatsServer
from antt.runtime.service import Roles
from antt.settings import ServiceSettings
from antt.testing import postgres
from antt.testing.auth import AuthKit
from services.registry import reference
from services.registry.application import Registry
from services.registry.domain.errors import UnitAlreadyRegisteredError
from services.registry.domain.unit import Unit
from services.registry.importing.cli import CHUNK_ROWS
from services.registry.main import build
from tests.conftest import postgres_server_url

pytestmark = [pytest.mark.integration, pytest.mark.postgres]

UNITS = 40_000  # ≈23 MB of stored events: several times what the pipeline deadlocked on


@pytest.fixture
def registry_url() -> Iterator[str]:
    """A fresh PostgreSQL database for the registry."""
    try:
        with postgres.temporary_databases(postgres_server_url()) as (url,):
            yield url
    except postgres.PostgresUnavailable as exc:
        pytest.fail(str(exc)) if os.environ.get("CI") == "true" else pytest.skip(str(exc))


def new_units(app: Registry, codes: range) -> list[Unit]:
    """Unsaved units with codes IMP-nnnnnn spread over every official commune."""
    communes = itertools.cycle(sorted(reference.communes().values(), key=lambda a: a.code))
    histories = app.catalog.histories()
    return [app.new_unit(f"IMP-{i:06d}", f"Thôn thử nghiệm {i}", "khu_dan_cu", c.province_code, c.code, SYSTEM,
                         histories=histories) for i, c in zip(codes, communes)]


@pytest.mark.timeout(240)
def test_40k_units_commit_in_order_with_intact_chains_and_a_failing_save_writes_nothing(registry_url: str) -> None:
    app = Registry(registry_url)
    try:
        assert isinstance(app.recorder, ChunkedApplicationRecorder)
        taken = app.register_unit(f"IMP-{UNITS - 1:06d}", "Thôn đã có", "khu_dan_cu", "31", "11948", SYSTEM)
        before = app.recorder.max_notification_id() or 0

        # The repeated code is the very last unit, so every earlier chunk was inserted before the failure.
        with pytest.raises(UnitAlreadyRegisteredError):
            app.save_new(*new_units(app, range(UNITS)))
        assert app.recorder.max_notification_id() == before
        assert [n.originator_id for n in app.iter_notifications()] == [taken.id]

        units = new_units(app, range(UNITS, 2 * UNITS))
        app.save_new(*units)
        stored = list(app.iter_notifications(after=before))
        ids = [n.id for n in stored]
        # One unbroken run (the failed save used up, and left unused, the ids it had drawn).
        assert ids == list(range(ids[0], ids[0] + UNITS))
        assert [n.originator_id for n in stored] == [u.id for u in units]  # in the order saved
        assert app.get_unit_by_code(f"IMP-{2 * UNITS - 1:06d}").id == units[-1].id
        assert app.verify_chains() == []
    finally:
        app.close()


# A hung save blocks a worker thread that stopping the server waits for: only the thread method ends the run.
@pytest.mark.timeout(300, method="thread")
async def test_a_40k_row_grpc_import_commits_on_postgres(registry_url: str, auth_kit: AuthKit, tmp_path: Path,
                                                          nats_server: NatsServer) -> None:
    env = {"ANTT_NATS_URL": nats_server.url, "ANTT_REGISTRY_GRPC_PORT": "0", "ANTT_DATA_DIR": str(tmp_path / "var"),
           "ANTT_REGISTRY_DATABASE_URL": registry_url, "ANTT_REGISTRY_REFERENCE_TREE": "none", **auth_kit.env}
    service = build(ServiceSettings.from_env("registry", env))
    await service.start(Roles(metrics=False))
    communes = itertools.cycle(sorted(reference.communes().values(), key=lambda a: a.code))
    rows = [pb.ImportRow(row_number=n + 2, code=f"IMP-{n:06d}", name=f"Thôn {n}", unit_type="khu_dan_cu",
                         commune_code=c.code) for n, c in zip(range(UNITS), communes)]
    columns = {"code": "Mã đơn vị", "name": "Tên đơn vị", "unit_type": "Loại", "commune_code": "Mã xã"}

    async def requests() -> AsyncIterator[pb.ImportUnitsRequest]:
        for start in range(0, UNITS, CHUNK_ROWS):
            yield pb.ImportUnitsRequest(rows=rows[start:start + CHUNK_ROWS], total_rows=UNITS, columns=columns)

    try:
        token = auth_kit.token("ministry_operator", "bo", subject="user:import-test")
        async with auth_kit.aio_channel(f"127.0.0.1:{service.grpc_port}", token) as channel:
            final = [m async for m in pb_grpc.RegistryServiceStub(channel).ImportUnits(requests())][-1]
        assert final.done and final.committed and not final.errors and final.imported == UNITS
    finally:
        await service.stop()
    app = Registry(registry_url)
    try:
        assert app.recorder.max_notification_id() == UNITS
    finally:
        app.close()

