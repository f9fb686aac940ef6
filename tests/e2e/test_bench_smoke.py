"""`antt bench` at a small scale: every stage's counts equal the generated country's, no errors.

Every gRPC call of the bench carries a bearer token: the stack runs with ANTT_AUTH_REQUIRED=true.

Real processes, nats-server and SQLite files, as the bench runs them; timings are never asserted.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from antt.bench.country import generate, official_communes
from antt.bench import year_stage
from antt.bench.import_stage import split
from antt.bench.report import markdown, update_docs, write_outputs
from antt.bench.runner import Options, run

pytestmark = pytest.mark.e2e

SCALE = 0.01
RUN_SCALE = 0.005  # 1,000 units in the 34-commune minimum: the stack under a minute on an idle machine
YEAR_UNITS = 150


def test_country_is_deterministic_official_and_proportional() -> None:
    a, b = generate(SCALE, seed=7), generate(SCALE, seed=7)
    assert a.units == b.units
    assert generate(SCALE, seed=8).units != a.units
    official = {c.code: c.province_code for c in official_communes()}
    assert all(official[u.commune_code] == u.province_code for u in a.units)
    assert len(a.per_province()) == 34
    assert len({u.code for u in a.units}) == len(a.units) == 2_000
    types = a.per_type()
    assert types["xa_phuong"] == len(a.communes)
    assert types["khu_dan_cu"] > types["co_quan"] > types["doanh_nghiep"] > types["co_so_giao_duc"]


def test_bench_smoke_counts_match_and_nothing_fails(tmp_path: Path) -> None:
    result = run(Options(scale=RUN_SCALE, clients=10, query_calls=20, limit_count=300, reference_tree="none",
                         year_units=YEAR_UNITS))
    units = len(generate(RUN_SCALE).units)
    by_name = {m.name: m for m in result.stages}
    failed = [(m.name, m.note, m.checks) for m in result.stages if m.status == "failed" or not m.correct]
    assert not failed
    single, bulk = split(generate(RUN_SCALE).units)
    assert len(single) + len(bulk) == units and single and bulk
    commands = by_name["registry RegisterUnit, one unit per command"]
    assert (commands.count, commands.errors) == (len(single), 0)
    imported = by_name["registry ImportUnits (one stream, committed)"]
    assert (imported.count, imported.errors) == (len(bulk), 0)
    for name in ("registry RegisterUnit, visible in replica + reporting (end to end)",
                 "registry ImportUnits, visible in replica + reporting (end to end)"):
        visible = by_name[name]
        assert visible.errors == 0 and visible.checks and all(visible.checks.values())
    # After both, the read models hold the whole country, per province and per type.
    assert by_name["registry ImportUnits, visible in replica + reporting (end to end)"].checks == {
        "replica units = registered": True, "reporting units = registered": True,
        "reporting per province = registered": True, "replica per type = registered": True}
    scan = by_name["reminder scan for one deadline over all units (RunScan)"]
    preview = by_name["reminder preview for the same deadline (PreviewSends, read only)"]
    assert scan.errors == 0 and scan.checks and all(scan.checks.values())
    assert scan.count == preview.count and scan.count is not None and scan.count >= units
    assert preview.details["total"] == preview.count  # every page read
    assert scan.checks["every unit owing that deadline has its registration reminder"]
    replay = [m for m in result.stages if m.name.startswith("audit replay of one province-year")]
    assert len(replay) == 1 and replay[0].checks and all(replay[0].checks.values())
    assert replay[0].count is not None and replay[0].count > 0
    year = by_name["full year end to end, until reporting's rollup is final"]
    sampled = result.summary["year_units"]
    assert YEAR_UNITS <= sampled < units
    assert (year.count, year.errors) == (sampled, 0)
    assert year.checks and all(year.checks.values())
    registrations = by_name["full year, registrations as lists (RegisterCases)"]
    saturated = by_name["full year, unit commands, saturated (SubmitCase with its self-assessment)"]
    paced = [m for m in result.stages if m.name.startswith("full year, unit commands at ")]
    appraisals = by_name["full year, appraisal sessions (AppraiseCases)"]
    decisions = by_name["full year, decisions (DecideCases)"]
    assert len(paced) == 1 and paced[0].details["offered_per_s"] > 0
    assert (registrations.count, appraisals.count, decisions.count) == (sampled, sampled, sampled)
    assert saturated.count + paced[0].count == year_stage.UNIT_COMMANDS * sampled and saturated.count and paced[0].count
    assert all(m.errors == 0 and m.latency_ms for m in (registrations, saturated, paced[0], appraisals, decisions))
    rebuild = by_name["rebuild reporting from the stream (empty database)"]
    assert rebuild.count is not None and rebuild.count >= units + 5 * sampled  # 5 events per case
    assert rebuild.checks and all(rebuild.checks.values())
    rollups = [m for m in result.stages if m.name.startswith("rollup ")]
    assert rollups and all(m.count == 20 and m.errors == 0 for m in rollups)
    for kind in ("province", "commune"):  # the scoped rollups: 1 and 8 clients, 1 client after the rebuild
        scoped = [m for m in rollups if m.name.startswith(f"rollup {kind} rollup of the year")]
        assert [m.name.split("(GetRollup), ")[1] for m in scoped] == ["1 client(s)", "8 client(s)",
                                                                      "1 client(s) (after rebuild)"]
        assert all(m.checks and all(m.checks.values()) for m in scoped)
    memory = [m for m in result.stages if m.name.startswith("peak RSS")]
    assert {m.name for m in memory} >= {"peak RSS registry", "peak RSS assessment", "peak RSS reporting",
                                        "peak RSS notifications"}
    assert all(m.value and m.value > 0 for m in memory)
    for key in ("js_publish_seq", "js_publish_async", "js_pull_consume", "js_pull_raw", "sqlite_insert"):
        assert result.limits[key].count and result.limits[key].value
    assert result.correct

    json_path, md_path, table = write_outputs(tmp_path / "out", result.summary, result.stages, result.limits)
    data = json.loads(json_path.read_text(encoding="utf-8"))
    assert data["summary"]["units"] == units and len(data["stages"]) == len(result.stages)
    assert table == markdown(result.summary, result.stages, result.limits) and table in md_path.read_text()
    docs = tmp_path / "benchmarks.md"
    docs.write_text("# Benchmarks\n\nHand-written text stays.\n", encoding="utf-8")
    update_docs(docs, result.summary, table)
    update_docs(docs, result.summary, table)  # replaces its own section, never appends twice
    text = docs.read_text(encoding="utf-8")
    assert "Hand-written text stays." in text and text.count(f"<!-- bench:sqlite:S{RUN_SCALE}:begin -->") == 1


def test_units_under_a_local_calendar_do_not_owe_the_national_registration_deadline() -> None:
    from antt.bench.country import SyntheticUnit
    from antt.bench.reminder_stage import owing_the_scanned_deadline

    def unit(province: str, commune: str) -> SyntheticUnit:
        return SyntheticUnit(code=f"U-{commune}", name="x", unit_type="khu_dan_cu", province_code=province,
                             commune_code=commune)

    # Phường Ba Đình follows the national 31/03; đặc khu Bạch Long Vĩ's own calendar says 31/01.
    assert owing_the_scanned_deadline([unit("01", "00004"), unit("31", "11948")], 2026, "2026-03-31") == 1
    assert owing_the_scanned_deadline([unit("31", "11948")], 2026, "2026-01-31") == 1
