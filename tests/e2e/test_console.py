"""Issue 9 acceptance: the operator console in headless Chromium against real service processes.

nats-server, the four services (ANTT_AUTH_REQUIRED=true) and `antt console` run as processes, as
`antt dev` starts them; the browser signs in as demo users of two communes and of the province.
"""

from __future__ import annotations

import os
import re
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import grpc
import pytest

from antt.auth.keys import ensure_dev_keyring
from antt.auth.tokens import issue
from antt.registry.v1 import registry_service_pb2 as rpb
from antt.registry.v1 import registry_service_pb2_grpc as rgrpc
from antt.runtime.dev import wait_serving
from antt.runtime.nats_server import NatsServer
from antt.runtime.ports import free_port
from antt.settings import SERVICES
from antt.testing.processes import ServiceProcess, service_env
from antt.testing.wait import wait_until

pytestmark = pytest.mark.e2e

ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = ROOT / "test-artifacts" / "console"
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync"]
YEAR = date.today().year
COMMUNE_A, COMMUNE_B, PROVINCE = "00004", "00008", "01"   # Phường Ba Đình, Phường Ngọc Hà (Hà Nội)
DEMO_USERS = f"xa-a=commune_operator@{COMMUNE_A},xa-b=commune_operator@{COMMUNE_B},tinh=province_operator@{PROVINCE}"


@dataclass
class Stack:
    """The running processes, the console's URL and a service token for checks behind the browser's back."""

    url: str
    registry: str
    assessment: str
    service_token: str


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    """nats-server, the four services with tokens required, and the console with demo users."""
    tmp = tmp_path_factory.mktemp("console")
    nats = NatsServer(free_port(), tmp / "nats", log_file=tmp / "nats-server.log").start()
    ring = ensure_dev_keyring(tmp / "keys")
    console_port = free_port()
    env = service_env(tmp, nats.url, ANTT_AUTH_REQUIRED="true", ANTT_AUTH_KEYS_DIR=str(tmp / "keys"),
                      ANTT_REGISTRY_REFERENCE_TREE=PROVINCE, ANTT_CONSOLE_PORT=str(console_port),
                      ANTT_CONSOLE_DEMO_USERS=DEMO_USERS, ANTT_NOTIFICATIONS_SCAN_INTERVAL="3600")
    procs = [ServiceProcess(["serve", s], env, tmp / f"{s}.log").start() for s in SERVICES]
    console = ServiceProcess(["console"], env, tmp / "console.log").start()
    try:
        for s in SERVICES:
            wait_serving(int(env[f"ANTT_{s.upper()}_GRPC_PORT"]))
        url = f"http://127.0.0.1:{console_port}"
        wait_until(lambda: "ok" in _get(url + "/healthz"), timeout=30, message="console /healthz")
        yield Stack(url, f"127.0.0.1:{env['ANTT_REGISTRY_GRPC_PORT']}", f"127.0.0.1:{env['ANTT_ASSESSMENT_GRPC_PORT']}",
                    issue(ring, "test:service", "service", "bo"))
    finally:
        for p in [console, *procs]:
            p.stop()
        nats.stop()
        for p in [console, *procs]:
            if "Traceback" in p.output():
                print(p.output()[-3000:])


def _get(url: str) -> str:
    import urllib.request

    try:
        with urllib.request.urlopen(url, timeout=2) as r:
            return str(r.read().decode())
    except OSError:
        return ""


@pytest.fixture(scope="module")
def browser() -> Iterator[object]:
    """Headless Chromium of the system (never downloaded); missing, it fails under CI=true."""
    if not Path(CHROMIUM).exists():
        if os.environ.get("CI") == "true":
            pytest.fail(f"{CHROMIUM} is missing under CI=true (apt-get install chromium)")
        pytest.skip(f"{CHROMIUM} is not installed (apt-get install chromium)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield b
        b.close()


def sign_in(browser: object, stack: Stack, username: str) -> object:
    """A fresh browser context signed in as a demo user."""
    context = browser.new_context(viewport={"width": 1280, "height": 900}, locale="vi-VN")  # type: ignore[attr-defined]
    page = context.new_page()
    page.goto(stack.url + "/login")
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", "demo")
    page.click("#login-password")
    page.wait_for_url(re.compile(r".*/dashboard.*"))
    return page


def figures(page: object, stack: Stack, scope: str) -> dict[str, str]:
    """The dashboard's numbers for a scope and year."""
    page.goto(f"{stack.url}/dashboard?scope={scope}&year={YEAR}")  # type: ignore[attr-defined]
    assert page.locator("[data-testid=in-scope]").count() == 1, page.inner_text("main")  # type: ignore[attr-defined]
    return {k: page.inner_text(f"[data-testid={k}]").strip()  # type: ignore[attr-defined]
            for k in ("in-scope", "registered", "decided", "recognised", "classified", "pct-recognised")}


def registry_units(stack: Stack, commune: str) -> list[rpb.Unit]:
    """Units of a commune, asked of the registry directly with a service token."""
    with grpc.insecure_channel(stack.registry) as channel:
        reply = rgrpc.RegistryServiceStub(channel).ListUnits(
            rpb.ListUnitsRequest(commune_code=commune, status="tat_ca", page_size=1000),
            metadata=(("authorization", f"Bearer {stack.service_token}"),), timeout=10)
    return list(reply.units)


def open_case(stack: Stack, unit_id: str) -> str:
    """Register the unit's case for the year straight through assessment (service token), once it is replicated."""
    import hashlib

    from antt.assessment.v1 import assessment_service_pb2 as apb
    from antt.assessment.v1 import assessment_service_pb2_grpc as agrpc
    from antt.events.v1 import assessment_pb2 as epb

    form = epb.AssessmentEvidence(kind="REG-FORM", uri="test:don", sha256=hashlib.sha256(b"don").hexdigest())
    with grpc.insecure_channel(stack.assessment) as channel:
        stub = agrpc.AssessmentServiceStub(channel)

        def register() -> str:
            try:
                return str(stub.RegisterCase(apb.RegisterCaseRequest(
                    unit_id=unit_id, year=YEAR, dossier=[form], effective_date=f"{YEAR}-01-15"),
                    metadata=(("authorization", f"Bearer {stack.service_token}"),), timeout=10).case_id)
            except grpc.RpcError:
                return ""  # not replicated yet
        return wait_until(register, timeout=30, interval=0.3, message="case registered")


def case_state(stack: Stack, case_id: str) -> str:
    """A case's state, asked of assessment directly."""
    from antt.assessment.v1 import assessment_service_pb2 as apb
    from antt.assessment.v1 import assessment_service_pb2_grpc as agrpc

    with grpc.insecure_channel(stack.assessment) as channel:
        return str(agrpc.AssessmentServiceStub(channel).GetCase(apb.GetCaseRequest(case_id=case_id), metadata=(
            ("authorization", f"Bearer {stack.service_token}"),), timeout=10).state)


def screenshot(page: object, name: str) -> Path:
    """Save a full-page PNG under test-artifacts/console/ and check it is a real, non-trivial image."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    path = ARTIFACTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)  # type: ignore[attr-defined]
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) > 10_000, f"{path}: {len(data)} bytes"
    return path


def fill_self_assessment(page: object) -> None:
    """Declare every declarable criterion of a khu dân cư as met (values from the rule set in force)."""
    from services.assessment.rules import UnitType, load_catalogue
    from tests.unit.assessment.grpc_builders import results

    for r in results(load_catalogue().for_year(YEAR), UnitType.KHU_DAN_CU):
        cid = r.criterion_id
        if r.HasField("met"):
            page.select_option(f"select[name='c.{cid}.met']", "1" if r.met else "0")  # type: ignore[attr-defined]
        if r.HasField("value"):
            page.fill(f"input[name='c.{cid}.value']", str(r.value))  # type: ignore[attr-defined]
        if r.HasField("previous_value"):
            page.fill(f"input[name='c.{cid}.prev']", str(r.previous_value))  # type: ignore[attr-defined]
    first = page.locator("select[data-kind=boolean]").first  # type: ignore[attr-defined]
    cid = first.get_attribute("data-criterion")
    page.set_input_files(f"input[name='c.{cid}.file']", files=[{  # type: ignore[attr-defined]
        "name": "bien-ban-hop-dan.pdf", "mimeType": "application/pdf", "buffer": b"%PDF-1.4 bien ban hop dan"}])


def test_commune_registers_and_submits_province_decides_dashboard_moves(browser: object, stack: Stack) -> None:
    commune = sign_in(browser, stack, "xa-a")
    before = figures(commune, stack, f"commune:{COMMUNE_A}")
    # -- the commune operator registers a unit --------------------------------------------------------
    commune.goto(stack.url + "/units/new")
    commune.fill("input[name=code]", "KDC-E2E-01")
    commune.fill("input[name=name]", "Tổ dân phố Đồng Tâm")
    commune.select_option("select[name=unit_type]", "khu_dan_cu")
    commune.fill("input[name=effective_date]", f"{YEAR - 1}-10-01")
    commune.click("#unit-save")
    commune.wait_for_load_state()
    assert re.search(r"/units/[0-9a-f-]{36}$", commune.url), commune.inner_text("main")
    assert "Tổ dân phố Đồng Tâm" in commune.inner_text("[data-testid=unit-name]")
    # -- the search finds it without diacritics ------------------------------------------------------------
    commune.goto(stack.url + "/units?q=dong+tam")
    assert "Tổ dân phố Đồng Tâm" in commune.inner_text("#units")
    assert commune.inner_text("[data-testid=units-count]").startswith("1–1 / 1")  # every page searched, one match
    commune.click("text=Tổ dân phố Đồng Tâm")
    unit_url = commune.url
    # -- its case for the year (the unit reaches assessment through NATS: retry until it is known) --------
    deadline = time.monotonic() + 30
    while "/cases/" not in commune.url:
        commune.fill("#case-register input[name=year]", str(YEAR))
        commune.fill("#case-register input[name=effective_date]", f"{YEAR}-01-15")
        commune.set_input_files("#case-register input[name=dossier_file]", files=[{
            "name": "don-dang-ky.pdf", "mimeType": "application/pdf", "buffer": b"%PDF-1.4 don dang ky"}])
        commune.click("#case-register-button")
        commune.wait_for_load_state()
        if "/cases/" in commune.url:
            break
        assert time.monotonic() < deadline, commune.inner_text("main")
        time.sleep(0.5)
        commune.goto(unit_url)
    case_url = commune.url
    assert commune.get_attribute("[data-testid=case-state]", "data-state") == "dang_ky"
    # -- a rule error of the service is shown in Vietnamese: submitting before the self-assessment ----------
    commune.click("#submit-case")
    error = commune.inner_text(".flash.error")
    assert re.search(r"[ăâđêôơưạảấầẩẫậắằẳẵặẹẻẽếềểễệịỉĩọỏốồổỗộớờởỡợụủứừửữựỳỷỹý]", error, re.I), error
    # -- self-assessment with an evidence file, then submission -------------------------------------------
    fill_self_assessment(commune)
    commune.fill("#self-assessment input[name=effective_date]", f"{YEAR}-10-01")
    commune.click("#save-self-assessment")
    assert "Đã lưu" in commune.inner_text("main"), commune.inner_text(".flash")
    assert "sha256" in commune.inner_text(".checklist")
    commune.fill("#submit input[name=effective_date]", f"{YEAR}-10-05")
    commune.click("#submit-case")
    assert commune.get_attribute("[data-testid=case-state]", "data-state") == "da_nop", commune.inner_text(".flash")
    # -- the province operator appraises and decides (the rule set names the commune's committee for a
    #    khu dân cư: the form pre-fills that authority) ----------------------------------------------------
    province = sign_in(browser, stack, "tinh")
    province.goto(case_url)
    province.fill("#appraise input[name=effective_date]", f"{YEAR}-10-20")
    province.click("#appraise-case")
    assert province.get_attribute("[data-testid=case-state]", "data-state") == "da_tham_dinh"
    province.fill("#decide input[name=number]", "15/QĐ-UBND")
    province.fill("#decide input[name=signer]", "Nguyễn Văn An")
    province.fill("#decide input[name=date]", f"{YEAR}-11-10")
    province.fill("#decide input[name=authority_name]", "UBND phường Ba Đình")
    province.click("#decide-case")
    assert province.get_attribute("[data-testid=case-state]", "data-state") == "cong_nhan", \
        province.inner_text(".flash")
    assert "15/QĐ-UBND" in province.inner_text("main")
    # -- movement classification: proposed, decided, then reclassified with a reason ---------------------
    province.fill("#classify input[name=item1]", "40")
    province.fill("#classify input[name=item2]", "52")
    province.click("#propose-classification")
    province.fill("#classification-decide input[name=number]", "16/QĐ-UBND")
    province.fill("#classification-decide input[name=signer]", "Nguyễn Văn An")
    province.fill("#classification-decide input[name=date]", f"{YEAR}-11-18")
    province.click("#decide-classification")
    assert province.inner_text("[data-testid=classification-level]") == "Xuất sắc", province.inner_text(".flash")
    province.fill("#classify input[name=item1]", "30")
    province.fill("#classify input[name=item2]", "35")
    province.fill("#classify input[name=number]", "17/QĐ-UBND")
    province.fill("#classify input[name=signer]", "Nguyễn Văn An")
    province.fill("#classify input[name=date]", f"{YEAR}-11-20")
    province.fill("#classify input[name=reason]", "Phát hiện vụ việc chưa báo cáo")
    province.click("#reclassify")
    assert province.inner_text("[data-testid=classification-level]") == "Trung bình", province.inner_text(".flash")
    screenshot(province, "case")
    # -- the dashboard follows (reporting consumes the events a moment later) -----------------------------
    expected = {"in-scope": int(before["in-scope"]) + 1, "registered": int(before["registered"]) + 1,
                "decided": int(before["decided"]) + 1, "recognised": int(before["recognised"]) + 1,
                "classified": int(before["classified"]) + 1}

    def moved() -> bool:
        now = figures(commune, stack, f"commune:{COMMUNE_A}")
        return all(int(now[k]) == v for k, v in expected.items())
    wait_until(moved, timeout=30, interval=0.5, message="dashboard figures after the decision")
    assert commune.inner_text("[data-testid=pct-recognised]").strip() == "100.0 %"
    # -- at commune scope the dashboard lists the commune's units with their case of the year -----------------
    row = commune.locator("#commune-units tr", has_text="Tổ dân phố Đồng Tâm")
    assert "Được công nhận đạt chuẩn" in row.inner_text() and "Khu dân cư" in row.inner_text(), row.inner_text()
    assert "Không có dữ liệu" not in commune.inner_text("main")
    screenshot(commune, "dashboard")
    # -- the province's dashboard ranks its communes, the recognised one first, with a link down the tree ---
    province.goto(f"{stack.url}/dashboard?scope=province:{PROVINCE}&year={YEAR}")
    first = province.locator("table.bars tr").first
    assert "Phường Ba Đình" in first.inner_text() and "100.0 %" in first.inner_text()
    assert first.locator("a").get_attribute("href") == f"/dashboard?scope=commune:{COMMUNE_A}&year={YEAR}"
    assert province.locator("#scope-select option").count() > 2  # the province and its communes
    screenshot(province, "dashboard-province")
    # -- the unit page's timeline: registry and assessment events, actor, times, intact hash chain --------
    commune.goto(unit_url + "#timeline")
    # -- labels, not codes: outcome, status, province and commune by name --------------------------------------
    facts, cases = commune.inner_text("[data-testid=unit-facts]"), commune.inner_text("#cases")
    assert "Đang hoạt động" in facts and "hoat_dong" not in facts and "Khu dân cư" in facts, facts
    assert "Phường Ba Đình (00004)" in facts and "Hà Nội" in facts and "Tỉnh 01" not in facts, facts
    assert re.search(r"\bĐạt\b", cases) and not re.search(r"\bdat\b", cases), cases
    assert "Được công nhận đạt chuẩn" in cases
    timeline = commune.inner_text("[data-testid=timeline]")
    for label in ("Đăng ký đơn vị", "Đăng ký hồ sơ", "Ra quyết định", "Cán bộ cấp tỉnh"):  # labels, not codes
        assert label in timeline, label
    for event in ("CaseRegistered", "SelfAssessmentRecorded", "CaseSubmitted", "CaseAppraised", "CaseDecided",
                  "ClassificationProposed", "ClassificationDecided"):
        assert event in timeline
    assert "console:tinh" in timeline and "console:xa-a" in timeline and "✓" in timeline and "✗" not in timeline
    screenshot(commune, "timeline")
    # -- revocation needs a reason: refused without one (even when the browser's check is bypassed) -------
    province.goto(case_url)
    province.fill("#revoke input[name=number]", "18/QĐ-UBND")
    province.fill("#revoke input[name=signer]", "Nguyễn Văn An")
    province.fill("#revoke input[name=date]", f"{YEAR}-11-21")
    province.eval_on_selector("#revoke input[name=reason]", "e => { e.required = false; }")
    province.click("#revoke-case")
    assert "Phải nêu lý do" in province.inner_text(".flash.error")
    assert province.get_attribute("[data-testid=case-state]", "data-state") == "cong_nhan"
    province.fill("#revoke input[name=number]", "18/QĐ-UBND")
    province.fill("#revoke input[name=signer]", "Nguyễn Văn An")
    province.fill("#revoke input[name=date]", f"{YEAR}-11-21")
    province.fill("#revoke input[name=reason]", "Che giấu vụ việc phức tạp về ANTT")
    province.click("#revoke-case")
    assert province.get_attribute("[data-testid=case-state]", "data-state") == "thu_hoi", \
        province.inner_text(".flash")
    assert "Che giấu vụ việc phức tạp về ANTT" in province.inner_text("main")
    commune.context.close()
    province.context.close()


def test_a_commune_cannot_see_or_open_another_communes_unit(browser: object, stack: Stack) -> None:
    own = sign_in(browser, stack, "xa-a")
    own.goto(stack.url + "/units/new")
    own.fill("input[name=code]", "KDC-E2E-02")
    own.fill("input[name=name]", "Thôn Bí Mật")
    own.click("#unit-save")
    own.wait_for_load_state()
    assert re.search(r"/units/[0-9a-f-]{36}$", own.url), own.inner_text("main")
    unit_url = own.url
    other = sign_in(browser, stack, "xa-b")
    other.goto(f"{stack.url}/units?scope=commune:{COMMUNE_A}")  # asking for the other commune's list
    assert "Thôn Bí Mật" not in other.inner_text("main")
    assert other.locator("#scope-select option").all_inner_texts() == ["Phường Ngọc Hà (00008)"]  # own area only
    response = other.goto(unit_url)  # URL tampering: the other commune's unit page
    assert response is not None and response.status == 403
    body = other.inner_text("main")
    assert "403" in body and "Thôn Bí Mật" not in body and "KDC-E2E-02" not in body
    other.goto(unit_url + "?lang=en")
    assert "Access denied" in other.inner_text("main")
    # -- the unit's case: neither its page nor a forged form post (with b's own CSRF token) gets through ------
    case_id = open_case(stack, unit_url.rsplit("/", 1)[1])
    response = other.goto(f"{stack.url}/cases/{case_id}?lang=vi")
    assert response is not None and response.status == 403 and "KDC-E2E-02" not in other.inner_text("main")
    csrf = other.context.request.get(stack.url + "/units/new").text().split('name="csrf" value="', 1)[1][:43]
    forged = other.context.request.post(f"{stack.url}/cases/{case_id}/submit", form={"csrf": csrf},
                                        max_redirects=0)
    assert forged.status == 403
    assert case_state(stack, case_id) == "dang_ky"  # nothing happened to it
    own.context.close()
    other.context.close()


def test_import_dry_run_shows_row_errors_and_commits_nothing(browser: object, stack: Stack,
                                                            tmp_path: Path) -> None:
    from openpyxl import Workbook

    book = Workbook()
    sheet = book.active
    sheet.append(["Mã đơn vị", "Tên đơn vị", "Loại", "Mã tỉnh", "Mã xã", "Ngày hiệu lực"])
    sheet.append(["KDC-IMP-01", "Thôn Hạ", "khu_dan_cu", PROVINCE, COMMUNE_A, "2025-10-01"])
    sheet.append(["KDC-IMP-02", "", "khu_dan_cu", PROVINCE, COMMUNE_A, "2025-10-01"])           # row 3: no name
    sheet.append(["KDC-IMP-03", "Thôn Thượng", "truong_hoc", PROVINCE, COMMUNE_A, "2025-10-01"])  # row 4: bad type
    sheet.append(["KDC-IMP-04", "Thôn Trung", "khu_dan_cu", PROVINCE, COMMUNE_A, "2025-13-45"])   # row 5: bad date
    file = tmp_path / "don-vi-loi.xlsx"
    book.save(file)
    count = len(registry_units(stack, COMMUNE_A))
    page = sign_in(browser, stack, "xa-a")
    page.goto(stack.url + "/import")
    page.set_input_files("input[name=file]", str(file))
    page.click("#import-button")
    page.wait_for_load_state()
    assert page.locator("#import-errors").count() == 1, page.inner_text("main")
    table = page.inner_text("#import-errors")
    rows = {int(r.split("\t")[0]) for r in table.splitlines()[1:] if r.strip()}
    assert {3, 4, 5} <= rows and 2 not in rows, table
    assert "không ghi gì" in page.inner_text("[data-testid=import-summary]")
    assert len(registry_units(stack, COMMUNE_A)) == count
    assert not any(u.code.startswith("KDC-IMP-") for u in registry_units(stack, COMMUNE_A))
    # -- a good file, not a dry run: every row is saved ------------------------------------------------------
    good = Workbook()
    good.active.append(["Mã đơn vị", "Tên đơn vị", "Loại", "Mã tỉnh", "Mã xã", "Ngày hiệu lực"])
    good.active.append(["KDC-IMP-09", "Thôn Đoài", "khu_dan_cu", PROVINCE, COMMUNE_A, "2025-10-01"])
    good.save(tmp_path / "don-vi.xlsx")
    page.set_input_files("input[name=file]", str(tmp_path / "don-vi.xlsx"))
    page.uncheck("input[name=dry_run]")
    page.click("#import-button")
    assert "Đã nhập 1" in page.inner_text("[data-testid=import-summary]")
    assert [u.name for u in registry_units(stack, COMMUNE_A) if u.code.startswith("KDC-IMP-")] == ["Thôn Đoài"]
    page.context.close()


def test_deadlines_reports_export_and_replay(browser: object, stack: Stack) -> None:
    page = sign_in(browser, stack, "tinh")
    response = page.goto(f"{stack.url}/deadlines?scope=province:{PROVINCE}")
    assert response is not None and response.status == 200, page.inner_text("main")
    assert "Thời hạn sắp tới" in page.inner_text("main") and "Quá hạn" in page.inner_text("main")
    assert page.locator("#preview").count() == 0  # the preview is the ministry's: the service refuses a province
    with page.expect_download() as download:
        page.evaluate(f"() => {{ location.href = '/reports/export?format=xlsx&year={YEAR}'; }}")
    assert Path(download.value.path()).read_bytes()[:2] == b"PK"  # an XLSX (zip) file
    response = page.goto(f"{stack.url}/reports?year={YEAR}&as_of={YEAR}-12-31")
    assert response is not None and response.status == 200, page.inner_text("main")
    assert re.search(r"[0-9a-f]{64}", page.inner_text("main"))  # the replayed report's digest
    page.context.close()


VIETNAMESE = re.compile(r"[ăâđêôơưạảấầẩẫậắằẳẵặẹẻẽếềểễệịỉĩọỏốồổỗộớờởỡợụủứừửữựỳỷỹýàáèéìíòóùú]", re.I)


def register_unit(stack: Stack, code: str, name: str) -> str:
    """A unit of commune A registered straight through the registry (service token); its id."""
    with grpc.insecure_channel(stack.registry) as channel:
        return str(rgrpc.RegistryServiceStub(channel).RegisterUnit(rpb.RegisterUnitRequest(
            code=code, name=name, unit_type="khu_dan_cu", province_code=PROVINCE, commune_code=COMMUNE_A,
            effective_date=f"{YEAR - 1}-10-01"), metadata=(("authorization", f"Bearer {stack.service_token}"),),
            timeout=10).unit_id)


def test_every_screen_in_english(browser: object, stack: Stack) -> None:
    unit_id = register_unit(stack, "KDC-E2E-EN", "Xóm Bắc")
    case_id = open_case(stack, unit_id)
    page = sign_in(browser, stack, "tinh")
    screens = {  # path: the English main heading (data such as area and unit names may follow it)
        f"/dashboard?scope=province:{PROVINCE}&year={YEAR}": "Dashboard",
        f"/dashboard?scope=commune:{COMMUNE_A}&year={YEAR}": "Dashboard",
        "/units?scope=province:01&q=xom+bac": "Units", "/units/new": "Register a new unit",
        f"/units/{unit_id}": "Xóm Bắc", f"/cases/{case_id}": "Case", "/deadlines": "Deadlines and reminders",
        f"/reports?year={YEAR}&as_of={YEAR}-12-31": "Reports", "/import": "Import from Excel"}
    for path, heading in screens.items():
        response = page.goto(f"{stack.url}{path}{'&' if '?' in path else '?'}lang=en")
        assert response is not None and response.status == 200, (path, page.inner_text("main"))
        assert page.inner_text("h1").startswith(heading), (path, page.inner_text("h1"))
        # Headings, column titles, buttons and form labels (with their fixed lists) are the console's own words;
        # the jurisdiction switcher lists area names, which are data.
        own = page.locator("main h2, main h3, main th, main button, main label:not(:has(#scope-select))")
        assert own.count() > 2, path  # the check has something to look at
        leftovers = [t for t in own.all_inner_texts() if VIETNAMESE.search(t)]
        assert leftovers == [], (path, leftovers)
    # -- the codes read as English labels ---------------------------------------------------------------------
    page.goto(f"{stack.url}/units/{unit_id}")
    assert "Residential area" in page.inner_text("[data-testid=unit-facts]")
    assert page.inner_text("[data-testid=unit-status]") == "Open"
    assert "Registered" in page.inner_text("#cases") and "dang_ky" not in page.inner_text("#cases")
    assert "Unit registered" in page.inner_text("[data-testid=timeline]")
    assert "Case registered" in page.inner_text("[data-testid=timeline]")
    page.goto(f"{stack.url}/dashboard?scope=commune:{COMMUNE_A}&year={YEAR}")
    row = page.locator("#commune-units tr", has_text="Xóm Bắc")
    assert "Registered" in row.inner_text() and "Residential area" in row.inner_text(), row.inner_text()
    page.goto(f"{stack.url}/units?q=xom+bac")
    assert "Open" in page.inner_text("#units") and "Phường Ba Đình" in page.inner_text("#units")
    page.context.close()


def test_the_ci_script_installs_chromium() -> None:
    script = (ROOT / ".ci" / "run").read_text()
    assert "[ -x /usr/bin/chromium ] || missing+=(chromium)" in script
