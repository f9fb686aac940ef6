"""Acceptance: a 50,000-row XLSX through `antt import units` into a running registry, then to assessment's replica.

Commune and province codes are official (services/registry/reference); unit codes and names are synthetic
("IMP-"). The workbook is written here as plain OOXML (inline strings; province codes as numbers, as a
spreadsheet that lost their leading zeros would hold them) so that building it does not dominate the test.
"""

from __future__ import annotations

import itertools
import subprocess
import sys
import zipfile
from pathlib import Path
from xml.sax.saxutils import escape

import pytest
import sqlalchemy as sa

from antt.eventstore.persistence import create_engine
from antt.runtime.dev import wait_serving
from antt.runtime.nats_server import NatsServer
from antt.testing.processes import ServiceProcess, service_env
from antt.testing.wait import wait_until
from services.registry import reference
from services.registry.application import Registry
from services.registry.domain.unit import Unit

pytestmark = pytest.mark.e2e

ROWS = 50_000
HEADER = ["Mã đơn vị", "Tên đơn vị", "Loại", "Mã tỉnh", "Mã xã"]
# (row number in the file, column header, bad value): one unknown commune, one empty name, one unknown type.
BROKEN = {1_001: ("Mã xã", "99999"), 20_002: ("Tên đơn vị", ""), 40_003: ("Loại", "trường đại học")}
_XML = '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
_MAIN = "http://schemas.openxmlformats.org/spreadsheetml/2006/main"
_REL = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"
_PKG = "http://schemas.openxmlformats.org/package/2006/relationships"


def _cell(ref: str, value: object) -> str:
    if isinstance(value, int):
        return f'<c r="{ref}"><v>{value}</v></c>'
    return f'<c r="{ref}" t="inlineStr"><is><t>{escape(str(value))}</t></is></c>'


def write_xlsx(path: Path, rows: list[list[object]]) -> None:
    """A one-sheet workbook (the first row is the header)."""
    body = "".join(f'<row r="{n}">' + "".join(_cell(f"{chr(65 + i)}{n}", v) for i, v in enumerate(row)) + "</row>"
                   for n, row in enumerate(rows, start=1))
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr("[Content_Types].xml", _XML + (
            '<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
            '<Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/>'
            '<Default Extension="xml" ContentType="application/xml"/>'
            '<Override PartName="/xl/workbook.xml" '
            'ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml"/>'
            '<Override PartName="/xl/worksheets/sheet1.xml" '
            'ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.worksheet+xml"/></Types>'))
        z.writestr("_rels/.rels", _XML + f'<Relationships xmlns="{_PKG}"><Relationship Id="rId1" '
                   f'Type="{_REL}/officeDocument" Target="xl/workbook.xml"/></Relationships>')
        z.writestr("xl/workbook.xml", _XML + f'<workbook xmlns="{_MAIN}" xmlns:r="{_REL}"><sheets>'
                   '<sheet name="Đơn vị" sheetId="1" r:id="rId1"/></sheets></workbook>')
        z.writestr("xl/_rels/workbook.xml.rels", _XML + f'<Relationships xmlns="{_PKG}"><Relationship Id="rId1" '
                   f'Type="{_REL}/worksheet" Target="worksheets/sheet1.xml"/></Relationships>')
        z.writestr("xl/worksheets/sheet1.xml", _XML + f'<worksheet xmlns="{_MAIN}"><sheetData>{body}</sheetData>'
                   '</worksheet>')


def unit_rows(broken: bool) -> list[list[object]]:
    """The header and ROWS units spread over every official commune; with the three broken rows if asked."""
    communes = itertools.cycle(sorted(reference.communes().values(), key=lambda a: a.code))
    rows: list[list[object]] = [HEADER]
    for i in range(ROWS):
        c = next(communes)
        rows.append([f"IMP-{i:06d}", f"Thôn thử nghiệm {i}", "Khu dân cư", int(c.province_code), c.code])
    if broken:
        for number, (column, value) in BROKEN.items():
            rows[number - 1][HEADER.index(column)] = value
    return rows


def antt_import(path: Path, registry_port: int, env: dict[str, str], *extra: str) -> subprocess.CompletedProcess[str]:
    """`antt import units` with the services' environment (it signs its token with their keyring)."""
    return subprocess.run([sys.executable, "-m", "antt.cli", "import", "units", str(path), "--registry",
                           f"127.0.0.1:{registry_port}", *extra], capture_output=True, text=True, timeout=900,
                          env=env)


def reported(stdout: str) -> set[tuple[int, str]]:
    """(row, column) of every bad row the CLI printed."""
    found = set()
    for line in stdout.splitlines():
        if line.startswith("dòng / row "):
            number, rest = line[len("dòng / row "):].split(", cột / column ", 1)
            found.add((int(number), rest.split("'")[1]))
    return found


def replica_ids(url: str, at_least: int) -> set[str]:
    """The unit ids in assessment's replica, read once it holds at least `at_least` rows (else empty)."""
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            if not sa.inspect(conn).has_table("assessment_unit_replica"):
                return set()
            if conn.execute(sa.text("SELECT COUNT(*) FROM assessment_unit_replica")).scalar_one() < at_least:
                return set()
            return {str(r[0]) for r in conn.execute(sa.text("SELECT unit_id FROM assessment_unit_replica"))}
    finally:
        engine.dispose()


def stored_events(url: str) -> int:
    app = Registry(url)
    try:
        return app.recorder.max_notification_id() or 0
    finally:
        app.close()


@pytest.mark.timeout(1800)  # 50,000 events through relay, JetStream and assessment's consumer on a shared machine
def test_50k_row_xlsx_dry_run_then_import_reaches_the_assessment_replica(tmp_path: Path,
                                                                          nats_server: NatsServer) -> None:
    env = service_env(tmp_path, nats_server.url, ANTT_REGISTRY_REFERENCE_TREE="none")
    registry = ServiceProcess(["serve", "registry"], env, tmp_path / "registry.log").start()
    assessment = ServiceProcess(["serve", "assessment"], env, tmp_path / "assessment.log").start()
    registry_url, assessment_url = f"sqlite:///{tmp_path / 'registry.db'}", f"sqlite:///{tmp_path / 'assessment.db'}"
    port = int(env["ANTT_REGISTRY_GRPC_PORT"])
    try:
        wait_serving(port)
        wait_serving(int(env["ANTT_ASSESSMENT_GRPC_PORT"]))
        broken = tmp_path / "don_vi_loi.xlsx"
        write_xlsx(broken, unit_rows(broken=True))

        dry = antt_import(broken, port, env, "--dry-run")
        assert dry.returncode == 1, dry.stdout + dry.stderr
        assert reported(dry.stdout) == {(row, column) for row, (column, _) in BROKEN.items()}, dry.stdout
        assert "nothing written" in dry.stdout and f"{ROWS}/{ROWS}" in dry.stderr  # the progress bar got there
        assert stored_events(registry_url) == 0

        fixed = tmp_path / "don_vi.xlsx"
        write_xlsx(fixed, unit_rows(broken=False))
        real = antt_import(fixed, port, env)
        assert real.returncode == 0, real.stdout + real.stderr
        assert f"imported {ROWS} units" in real.stdout
        assert stored_events(registry_url) == ROWS

        expected = {str(Unit.create_id(f"IMP-{i:06d}")) for i in range(ROWS)}
        wait_until(lambda: replica_ids(assessment_url, ROWS) >= expected, timeout=1500, interval=2.0,
                   message="every imported unit in assessment_unit_replica")
        assert registry.alive() and assessment.alive()
    finally:
        registry.stop()
        assessment.stop()
