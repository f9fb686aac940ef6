"""The console's web application: aiohttp handlers rendering jinja2 templates from the services' answers.

The console never decides access: every call carries the signed-in user's token and the services
answer; PERMISSION_DENIED becomes a 403 page, UNAUTHENTICATED a new sign-in.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import math
import re
import tempfile
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable
from datetime import date, datetime, timedelta, timezone
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import grpc
import jinja2
import jwt
from aiohttp import web

from antt.assessment.v1 import assessment_service_pb2 as apb
from antt.contracts.vocabulary import UnitType
from antt.events.v1 import assessment_pb2 as epb
from antt.notifications.v1 import notifications_service_pb2 as npb
from antt.registry.v1 import registry_service_pb2 as rpb
from antt.reporting.v1 import reporting_service_pb2 as opb
from services.console.backend import Backend, ServiceError
from services.console.collation import matches, sort_key
from services.console.config import DEMO_PASSWORD, ConsoleSettings
from services.console.i18n import LANGS, both, label, translate
from services.console.sessions import COOKIE, Session, SessionStore

log = logging.getLogger(__name__)
HERE = Path(__file__).parent
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
UNIT_TYPES = tuple(t.value for t in UnitType)
DECIDING_TIERS = ("xa", "tinh", "bo")  # tiers that sign recognition decisions (labels in i18n)
SETTINGS: web.AppKey[ConsoleSettings] = web.AppKey("settings", ConsoleSettings)
BACKEND: web.AppKey[Backend] = web.AppKey("backend", Backend)
SESSIONS: web.AppKey[SessionStore] = web.AppKey("sessions", SessionStore)
JINJA: web.AppKey[jinja2.Environment] = web.AppKey("jinja", jinja2.Environment)
AREAS: web.AppKey[dict[tuple[str, str], tuple[float, str]]] = web.AppKey("area_names", dict)
UNRESOLVED = "AUTH_TARGET_UNRESOLVED"
SESSION: web.RequestKey[Session] = web.RequestKey("session", Session)
LANG: web.RequestKey[str] = web.RequestKey("lang", str)
FORM: web.RequestKey[Any] = web.RequestKey("form", object)
CHANGED: web.RequestKey[bool] = web.RequestKey("session_changed", bool)
PUBLIC = ("/login", "/static/", "/healthz")


# --- rendering ------------------------------------------------------------------------------------------

def render(request: web.Request, template: str, status: int = 200, **context: Any) -> web.Response:
    """Render a page with the session, language and translation helper."""
    lang = request[LANG]
    session: Session = request[SESSION]
    page = request.app[JINJA].get_template(template).render(
        _=lambda text: translate(text, lang), both=lambda vi, en: both(vi, en, lang), lang=lang,
        session=session, user=session.user, csrf=session.csrf, path=request.path, query=request.query,
        flashes=_take_flash(session), when=when, day=lambda iso: day(iso, lang),
        label=lambda kind, code: label(kind, code, lang),
        area=lambda name, code: f"{name} ({code})" if name and code else code or name,
        **context)
    return web.Response(text=page, status=status, content_type="text/html", charset="utf-8")


VN_TIME = timezone(timedelta(hours=7))


def when(stamp: str) -> str:
    """An RFC 3339 instant as Vietnam's local time (dd/mm/yyyy hh:mm:ss, GMT+7); the text itself if unparsable."""
    try:
        return datetime.fromisoformat(stamp).astimezone(VN_TIME).strftime("%d/%m/%Y %H:%M:%S")
    except ValueError:
        return stamp


def day(iso: str, lang: str = "vi") -> str:
    """An ISO date as dd/mm/yyyy in Vietnamese pages (ISO in English ones)."""
    try:
        return iso if lang == "en" or not iso else date.fromisoformat(iso).strftime("%d/%m/%Y")
    except ValueError:
        return iso


def _take_flash(session: Session) -> list[tuple[str, str]]:
    out, session.flash = session.flash, []
    return out


def flash_error(session: Session, error: ServiceError, lang: str) -> None:
    """Keep a service's rule error (Vietnamese first) for the next page."""
    session.flash.append(("error", f"{both(error.message_vi, error.message_en, lang)} [{error.reason}]"))


# --- middlewares -----------------------------------------------------------------------------------------

@web.middleware
async def session_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Session from the cookie (a new anonymous one otherwise), language, CSRF on POST, security headers."""
    store = request.app[SESSIONS]
    session = store.get(request.cookies.get(COOKIE))
    fresh = session is None
    if session is None:
        session = store.new()
    request[SESSION] = session
    chosen = request.query.get("lang", "")
    request[LANG] = chosen if chosen in LANGS else (request.cookies.get("lang") if request.cookies.get("lang")
                                                       in LANGS else "vi")
    try:
        if request.method == "POST":
            form = await request.post()
            request[FORM] = form
            if not hmac.compare_digest(str(form.get("csrf", "")), session.csrf):
                raise web.HTTPForbidden(text=both("Yêu cầu không hợp lệ (CSRF)", "Invalid request (CSRF)",
                                                  request[LANG]))
        if not session.signed_in and not request.path.startswith(PUBLIC):
            raise web.HTTPFound("/login")
        response = await handler(request)
    except ServiceError as error:
        response = error_page(request, error)
    except web.HTTPException as exc:
        response = web.Response(status=exc.status, headers=exc.headers, text=exc.text)
    session = request[SESSION]  # sign-in replaces the session
    if fresh or request.get(CHANGED):
        response.set_cookie(COOKIE, session.id, httponly=True, samesite="Strict", secure=request.secure, path="/")
    if chosen in LANGS:
        response.set_cookie("lang", chosen, httponly=True, samesite="Strict", max_age=365 * 86400, path="/")
    response.headers.update({"Content-Security-Policy": "default-src 'self'; frame-ancestors 'none'",
                             "X-Content-Type-Options": "nosniff", "Referrer-Policy": "same-origin",
                             "X-Frame-Options": "DENY", "Cache-Control": "no-store"})
    return response


def error_page(request: web.Request, error: ServiceError) -> web.StreamResponse:
    """403 for PERMISSION_DENIED, a new sign-in for UNAUTHENTICATED, the service's words otherwise."""
    if error.unauthenticated:
        session = request[SESSION]
        session.token, session.user = "", {}
        session.flash.append(("error", both("Phiên làm việc hết hạn, vui lòng đăng nhập lại",
                                            "Session expired, please sign in again", request[LANG])
                              + f" ({both(error.message_vi, error.message_en, request[LANG])})"))
        return web.Response(status=302, headers={"Location": "/login"})
    if error.code in (grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.INTERNAL, grpc.StatusCode.DEADLINE_EXCEEDED):
        log.warning("service call failed: %s", error)
        status = 502
    else:
        status = 403 if error.denied else 404 if error.code is grpc.StatusCode.NOT_FOUND else 400
    return render(request, "error.html", status=status, error=error)


# --- sign-in, scope ----------------------------------------------------------------------------------------

def token_claims(settings: ConsoleSettings, token: str) -> dict[str, str] | None:
    """The claims shown in the header (subject, role, tier, jurisdiction); None for a malformed token.

    Display only: the services verify every call. The signature is checked when the console can read
    the keys; otherwise the claims are decoded as they are.
    """
    from antt.auth.keys import Keyring
    from antt.auth.tokens import TokenError, verify

    try:
        principal = verify(Keyring.load(settings.keys_dir), token)
        return {"subject": principal.subject, "role": principal.role.value, "tier": principal.tier.value,
                "jurisdiction": principal.jurisdiction}
    except TokenError:
        return None
    except Exception:  # noqa: BLE001 - no keys here: the services will judge the token
        try:
            claims = jwt.decode(token, options={"verify_signature": False})
        except jwt.PyJWTError:
            return None
        return {k: str(claims.get(s, "")) for k, s in (("subject", "sub"), ("role", "role"), ("tier", "tier"),
                                                        ("jurisdiction", "jurisdiction"))}


async def login_page(request: web.Request) -> web.StreamResponse:
    """The sign-in form (token, or a demo user when configured)."""
    return render(request, "login.html", demo_users=sorted(request.app[SETTINGS].demo_users.values(),
                                                           key=lambda u: u.username))


async def login(request: web.Request) -> web.StreamResponse:
    """Sign in with a pasted token or a demo user's name and password; a new session id either way."""
    settings, form, lang = request.app[SETTINGS], request[FORM], request[LANG]
    token = str(form.get("token", "")).strip()
    username = str(form.get("username", "")).strip()
    if not token and username:
        user = settings.demo_users.get(username)
        if user is None or not hmac.compare_digest(str(form.get("password", "")), DEMO_PASSWORD):
            return render(request, "login.html", status=401, demo_users=[],
                          error=translate("Sai tên đăng nhập hoặc mật khẩu", lang))
        from antt.auth.keys import ensure_dev_keyring
        from antt.auth.tokens import issue

        token = issue(ensure_dev_keyring(settings.keys_dir), f"console:{user.username}", user.role, user.tier,
                      user.jurisdiction)
    claims = token_claims(settings, token) if token else None
    if claims is None:
        return render(request, "login.html", status=401, demo_users=[],
                      error=translate("Mã thông báo không hợp lệ", lang))
    request[SESSION] = request.app[SESSIONS].rotate(request[SESSION], token=token, user=claims,
                                                      scope=home_scope(claims))
    request[CHANGED] = True
    raise web.HTTPFound("/dashboard")


async def logout(request: web.Request) -> web.StreamResponse:
    """Forget the session."""
    request.app[SESSIONS].drop(request[SESSION])
    request[SESSION] = request.app[SESSIONS].new()
    request[CHANGED] = True
    raise web.HTTPFound("/login")


def home_scope(user: dict[str, str]) -> str:
    """The widest scope of the user's jurisdiction."""
    j = user.get("jurisdiction", "")
    return "national" if not j else f"province:{j}" if len(j) == 2 else f"commune:{j}"


async def scope_of(request: web.Request) -> str:
    """The scope asked for (?scope=) when it lies within the user's jurisdiction, else the session's."""
    session: Session = request[SESSION]
    asked = request.query.get("scope", "")
    if asked and asked != session.scope and await within(request, asked):
        session.scope = asked
    return session.scope or home_scope(session.user)


async def within(request: web.Request, scope: str) -> bool:
    """Whether the switcher offers `scope` to this user (a convenience; the services still decide)."""
    user = request[SESSION].user
    home = home_scope(user)
    kind, _, code = scope.partition(":")
    if home == "national" or scope == home:
        return kind in ("national", "province", "commune")
    if home.startswith("province:") and kind == "commune":
        area = await call(request, request.app[BACKEND].registry.GetArea,
                          rpb.GetAreaRequest(level="commune", code=code))
        return area.parent_code == user["jurisdiction"]
    return False


async def scope_options(request: web.Request, scope: str) -> list[tuple[str, str]]:
    """The switcher's choices: the home scope, and the areas under the current one."""
    user = request[SESSION].user
    home = home_scope(user)
    options = [(home, translate("Toàn quốc", request[LANG]) if home == "national" else await area_label(request, home))]
    kind, _, code = scope.partition(":")
    parent = {"national": ("province", ""), "province": ("commune", code)}.get(kind)
    if home.startswith("commune:"):
        return options
    if kind == "commune" and scope != home:
        options.append((scope, await area_label(request, scope)))
    if parent is not None:
        areas = await call(request, request.app[BACKEND].registry.ListAreas,
                           rpb.ListAreasRequest(level=parent[0], parent_code=parent[1], page_size=5000))
        options += [(f"{a.level}:{a.code}", f"{a.name} ({a.code})")
                    for a in sorted(areas.areas, key=lambda a: sort_key(a.name))]
    return options


async def area_label(request: web.Request, scope: str) -> str:
    """"Name (code)" of a province or commune scope."""
    kind, _, code = scope.partition(":")
    area = await maybe(request, request.app[BACKEND].registry.GetArea, rpb.GetAreaRequest(level=kind, code=code))
    return f"{area.name} ({code})" if area is not None else scope


def jurisdiction_of(scope: str) -> tuple[str, str]:
    """(province_code, commune_code) of a scope, "" for national; a commune's province is found by the service."""
    kind, _, code = scope.partition(":")
    return (code, "") if kind == "province" else ("", code) if kind == "commune" else ("", "")


async def place_of(request: web.Request, scope: str) -> tuple[str, str]:
    """(province_code, commune_code) of a scope, with a commune's province looked up in the registry."""
    province, commune = jurisdiction_of(scope)
    if commune:
        area = await call(request, request.app[BACKEND].registry.GetArea,
                          rpb.GetAreaRequest(level="commune", code=commune))
        province = area.parent_code
    return province, commune


def year_of(request: web.Request) -> int:
    """?year=, default the current year."""
    try:
        return int(request.query.get("year", "") or date.today().year)
    except ValueError:
        return date.today().year


async def call(request: web.Request, method: Any, message: Any) -> Any:
    """One call to a service as the signed-in user."""
    return await request.app[BACKEND].call(method, message, request[SESSION].token)


async def maybe(request: web.Request, method: Any, message: Any) -> Any:
    """Like call, but None when the service answers NOT_FOUND."""
    try:
        return await call(request, method, message)
    except ServiceError as error:
        # A unit the registry just registered reaches assessment a moment later: until then assessment
        # cannot place it (AUTH_TARGET_UNRESOLVED) and it has no case, which is what the page shows.
        if error.code is grpc.StatusCode.NOT_FOUND or error.reason == UNRESOLVED:
            return None
        raise


REGISTRY_PAGE = 1000     # the registry's and assessment's largest page
MAX_SCANNED = 50_000     # items read for one page view: a bound on the work a single request can cause
PREVIEW_SHOWN = 1000     # sends of the next scan listed on the deadlines page


async def every_page(fetch: Callable[[str], Awaitable[Any]], field: str,
                     limit: int = MAX_SCANNED) -> AsyncIterator[Any]:
    """The items of every page of a paged list call (`fetch(page_token)`), up to the page that reaches `limit`.

    A caller counting the items knows the list may have been cut when the count reaches `limit`.
    """
    token, seen = "", 0
    while True:
        reply = await fetch(token)
        for item in getattr(reply, field):
            yield item
        seen += len(getattr(reply, field))
        token = reply.next_page_token
        if not token or seen >= limit:
            return


AREA_TTL = 300.0  # seconds an area's name is reused: names change by resolution, rarely, and are public


async def area_names(request: web.Request, level: str, codes: Iterable[str], parent: str = "") -> dict[str, str]:
    """Names of areas of one level ("province", "commune") by code; "" for an area the registry does not name.

    With `parent` (a province code) and several names to find, one ListAreas call fills them all.
    """
    cache, now = request.app[AREAS], time.monotonic()
    wanted = sorted({c for c in codes if c})

    def missing() -> list[str]:
        return [c for c in wanted if cache.get((level, c), (0.0, ""))[0] < now]

    async def ask(method: Any, message: Any) -> Any:
        try:
            return await call(request, method, message)
        except ServiceError as error:  # a name is a nicety: a refusal or a gap leaves the code shown
            if error.unauthenticated:
                raise
            return None

    registry = request.app[BACKEND].registry
    if parent and len(missing()) > 3:
        reply = await ask(registry.ListAreas, rpb.ListAreasRequest(level=level, parent_code=parent, page_size=5000))
        for area in reply.areas if reply is not None else ():
            cache[(level, area.code)] = (now + AREA_TTL, area.name)
    for code in missing()[:50]:
        area = await ask(registry.GetArea, rpb.GetAreaRequest(level=level, code=code))
        if area is not None:
            cache[(level, code)] = (now + AREA_TTL, area.name)
    return {c: cache.get((level, c), (0.0, ""))[1] for c in wanted}


# --- dashboard -------------------------------------------------------------------------------------------

async def dashboard(request: web.Request) -> web.StreamResponse:
    """Rollup of a scope and year: rates against the targets, sub-areas ranked, links down the tree."""
    scope, year = await scope_of(request), year_of(request)
    reply = await call(request, request.app[BACKEND].reporting.GetRollup,
                       opb.GetRollupRequest(query=opb.ReportQuery(year=year, scope=scope)))
    rollup = reply.rollup
    total = rollup.area.total
    subs = [{"code": s.code, "name": s.name, "pct": s.total.pct_recognised if s.total.HasField("pct_recognised")
             else None, "kha": s.total.pct_kha_or_above if s.total.HasField("pct_kha_or_above") else None,
             "in_scope": s.total.in_scope, "recognised": s.total.recognised} for s in rollup.sub_areas]
    child = "commune" if scope.startswith("province:") else "province" if scope == "national" else ""
    board = await commune_board(request, scope, year, rollup) if scope.startswith("commune:") else None
    return render(request, "dashboard.html", scope=scope, year=year, rollup=rollup, total=total, subs=subs,
                  child=child, options=await scope_options(request, scope), board=board,
                  place_name=(translate("Toàn quốc", request[LANG]) if scope == "national"
                              else rollup.area.name or scope),
                  sub_names={s["code"]: s["name"] for s in subs},
                  pct=lambda f, name: getattr(f, name) if f.HasField(name) else None)


# Order of a commune's units on its dashboard: those needing the operator's attention first (no case yet,
# refused or revoked), then by how far the case has gone, recognised units last.
ATTENTION = {"": 0, "khong_cong_nhan": 1, "thu_hoi": 1, "dang_ky": 2, "tu_danh_gia": 3, "da_nop": 4,
             "da_tham_dinh": 5, "cong_nhan": 6, "da_dong": 7}
AWAITING = ("da_nop", "da_tham_dinh")  # submitted cases whose decisions can carry the commune over its target


async def commune_board(request: web.Request, scope: str, year: int, rollup: Any) -> dict[str, Any]:
    """A commune's open units with their case of the year, ranked, and what it takes to reach the target."""
    code = scope.partition(":")[2]
    backend = request.app[BACKEND]
    units = [u async for u in every_page(lambda token: call(request, backend.registry.ListUnits, rpb.ListUnitsRequest(
        commune_code=code, status="hoat_dong", page_size=REGISTRY_PAGE, page_token=token)), "units")]
    try:
        cases = {c.unit_id: c async for c in every_page(lambda token: call(
            request, backend.assessment.ListCases, apb.ListCasesRequest(
                commune_code=code, year=year, page_size=REGISTRY_PAGE, page_token=token)), "cases")}
    except ServiceError as error:  # a role that may see the units but not the cases still gets the list
        if not error.denied:
            raise
        cases = {}
    rows = [{"unit": u, "case": cases.get(u.unit_id)} for u in units]
    rows.sort(key=lambda r: (ATTENTION.get(r["case"].state if r["case"] else "", 8), sort_key(r["unit"].name)))
    total = rollup.area.total
    match = re.search(r"[0-9]+(?:[.,][0-9]+)?", rollup.recognition_target)
    target_pct = float(match.group().replace(",", ".")) if match else 70.0
    needed = max(0, math.ceil(target_pct * total.in_scope / 100 - 1e-9) - total.recognised) if total.in_scope else None
    awaiting = [r for r in rows if r["case"] is not None and r["case"].state in AWAITING]
    return {"rows": rows, "needed": needed, "awaiting": awaiting, "target": rollup.recognition_target,
            "awaiting_states": AWAITING}


# --- units -------------------------------------------------------------------------------------------------

async def units(request: web.Request) -> web.StreamResponse:
    """Units of the scope, filtered, searched without regard to diacritics, in Vietnamese order."""
    scope, q = await scope_of(request), request.query.get("q", "").strip()
    province, commune = jurisdiction_of(scope)
    unit_type = request.query.get("type", "") if request.query.get("type", "") in UNIT_TYPES else ""
    status = request.query.get("status", "") if request.query.get("status", "") in ("hoat_dong", "cham_dut",
                                                                                      "tat_ca") else ""
    registry = request.app[BACKEND].registry
    # The registry filters by place, type and status; the name search is the console's (diacritic-insensitive),
    # so every page is read, up to MAX_SCANNED units, and the matches are shown PAGE_SIZE at a time.
    found, scanned = [], 0
    async for u in every_page(lambda token: call(request, registry.ListUnits, rpb.ListUnitsRequest(
            province_code=province, commune_code=commune, unit_type=unit_type, status=status,
            page_size=REGISTRY_PAGE, page_token=token)), "units"):
        scanned += 1
        if not q or matches(q, u.name, u.code):
            found.append(u)
    found.sort(key=lambda u: sort_key(u.name))
    pages = max(1, math.ceil(len(found) / PAGE_SIZE))
    try:
        page = min(max(1, int(request.query.get("page", "1"))), pages)
    except ValueError:
        page = 1
    shown = found[(page - 1) * PAGE_SIZE:page * PAGE_SIZE]
    communes = await area_names(request, "commune", (u.place.commune_code or u.commune_code for u in shown),
                                parent=province)
    kept = {k: v for k, v in (("q", q), ("type", unit_type), ("status", status)) if v}
    return render(request, "units.html", scope=scope, units=shown, q=q, unit_type=unit_type, status_filter=status,
                  unit_types=UNIT_TYPES, total=len(found), page=page, pages=pages, first=(page - 1) * PAGE_SIZE + 1,
                  cut=scanned >= MAX_SCANNED, max_scanned=f"{MAX_SCANNED:,}".replace(",", " "), communes=communes,
                  page_url=lambda n: "/units?" + urlencode({**kept, "page": n}),
                  options=await scope_options(request, scope))


PAGE_SIZE = 50  # units per page of the list


async def unit_new(request: web.Request) -> web.StreamResponse:
    """The registration form."""
    scope = await scope_of(request)
    province, commune = await place_of(request, scope)
    return render(request, "unit_new.html", unit_types=UNIT_TYPES, province=province, commune=commune, values={})


async def unit_create(request: web.Request) -> web.StreamResponse:
    """Register a unit in the registry."""
    form = request[FORM]
    values = {k: str(form.get(k, "")).strip() for k in ("code", "name", "unit_type", "province_code",
                                                         "commune_code", "effective_date")}
    try:
        reply = await call(request, request.app[BACKEND].registry.RegisterUnit, rpb.RegisterUnitRequest(**values))
    except ServiceError as error:
        if error.denied:
            raise
        flash_error(request[SESSION], error, request[LANG])
        return render(request, "unit_new.html", status=400, unit_types=UNIT_TYPES, province=values["province_code"],
                      commune=values["commune_code"], values=values)
    raise web.HTTPFound(f"/units/{reply.unit_id}")


def chain_status(events: list[Any]) -> list[bool]:
    """For each event of a hash-chained history: does its prev_digest name the event before it?"""
    return [i == 0 or e.prev_digest == events[i - 1].digest for i, e in enumerate(events)]


async def unit_page(request: web.Request) -> web.StreamResponse:
    """A unit, its yearly cases and the full timeline of the registry's and assessment's events."""
    unit_id, year = request.match_info["unit_id"], year_of(request)
    backend = request.app[BACKEND]
    unit = await call(request, backend.registry.GetUnit, rpb.GetUnitRequest(unit_id=unit_id))
    history = await call(request, backend.registry.GetUnitHistory, rpb.GetUnitHistoryRequest(unit_id=unit_id))
    timeline = [{"source": "registry", "type": e.event_type, "recorded": e.recorded_at, "effective": e.effective_date,
                 "actor": e.actor.id, "role": e.actor.role, "chain": None} for e in history.entries]
    cases = []
    for y in (year + 1, year, year - 1):
        case = await maybe(request, backend.assessment.GetCase, apb.GetCaseRequest(unit_id=unit_id, year=y))
        if case is None:
            continue
        cases.append(case)
        aggregates = [case.case_id]
        classification = await maybe(request, backend.assessment.GetClassification,
                                     apb.GetClassificationRequest(unit_id=unit_id, year=y))
        if classification is not None:
            aggregates.append(classification.classification_id)
        for aggregate_id in aggregates:  # each aggregate has its own hash chain
            events = list((await call(request, backend.assessment.GetHistory,
                                      apb.GetHistoryRequest(aggregate_id=aggregate_id))).events)
            for e, ok in zip(events, chain_status(events), strict=True):
                timeline.append({"source": "assessment", "year": case.year, "type": e.event_type,
                                 "recorded": e.recorded_at, "effective": e.effective_date, "actor": e.actor.id,
                                 "role": e.actor.role, "chain": ok, "digest": e.digest[:12]})
    timeline.sort(key=lambda t: t["recorded"])
    try:  # the unit's deadlines this year (the notifications service learns units from the registry's events)
        obligations = list((await call(request, request.app[BACKEND].notifications.ListObligations,
                                       npb.ListObligationsRequest(unit_id=unit_id, year=year))).obligations)
    except ServiceError as error:
        if error.unauthenticated:
            raise
        obligations = []
    province = unit.place.province_code or unit.province_code
    commune = unit.place.commune_code or unit.commune_code
    return render(request, "unit.html", kinds=REG_KINDS, unit=unit, cases=cases, timeline=timeline, year=year,
                  obligations=obligations, province=province, commune=commune,
                  province_name=(await area_names(request, "province", [province])).get(province, ""),
                  commune_name=(await area_names(request, "commune", [commune])).get(commune, ""))


async def case_register(request: web.Request) -> web.StreamResponse:
    """Register the unit's case for a year."""
    unit_id = request.match_info["unit_id"]
    year = int(str(request[FORM].get("year", "")) or date.today().year)
    eff = str(request[FORM].get("effective_date", "")).strip()
    try:
        case = await call(request, request.app[BACKEND].assessment.RegisterCase,
                          apb.RegisterCaseRequest(unit_id=unit_id, year=year, effective_date=eff, dossier=_dossier(
                              request.app[SETTINGS], request[FORM], REG_KINDS)))
    except ServiceError as error:
        if error.denied and error.reason != UNRESOLVED:
            raise
        flash_error(request[SESSION], error, request[LANG])
        raise web.HTTPFound(f"/units/{unit_id}?year={year}") from None
    raise web.HTTPFound(f"/cases/{case.case_id}")


# --- the yearly case --------------------------------------------------------------------------------------

async def case_page(request: web.Request) -> web.StreamResponse:
    """A case: its checklist from the rule set in force, the workflow forms for its state, its history."""
    case_id = request.match_info["case_id"]
    backend = request.app[BACKEND]
    case = await call(request, backend.assessment.GetCase, apb.GetCaseRequest(case_id=case_id))
    explanation = await call(request, backend.assessment.ExplainCase, apb.ExplainCaseRequest(case_id=case_id))
    events = list((await call(request, backend.assessment.GetHistory,
                              apb.GetHistoryRequest(aggregate_id=case_id))).events)
    classification = await maybe(request, backend.assessment.GetClassification,
                                 apb.GetClassificationRequest(unit_id=case.unit_id, year=case.year))
    declared = {r.criterion_id: r for r in case.results}
    decider = "tinh" if case.unit_type == "xa_phuong" else case.managed_by or "xa"
    area = {"xa": case.commune_code, "tinh": case.province_code}.get(decider, "")
    return render(request, "case.html", kinds=SUBMIT_KINDS, case=case, criteria=list(explanation.criteria),
                  explanation=explanation,
                  declared=declared, events=events, chain=chain_status(events), classification=classification,
                  decider=decider, decider_area=area, tiers=DECIDING_TIERS, today=date.today().isoformat())


REG_KINDS = ("REG-FORM", "REG-PLAN", "REG-RESOLUTION")
SUBMIT_KINDS = ("REC-REQUEST", "REC-MINUTES", "REC-REPORT")


def _dossier(settings: ConsoleSettings, form: Any, kinds: tuple[str, ...]) -> list[epb.AssessmentEvidence]:
    """The dossier documents uploaded with a form (field dossier_file, kind from dossier_kind)."""
    kind = str(form.get("dossier_kind", "")) if str(form.get("dossier_kind", "")) in kinds else kinds[0]
    out = []
    for field in form.getall("dossier_file", []):
        evidence = _store_evidence(settings, field, kind)
        if evidence is not None:
            out.append(evidence)
    return out


def _store_evidence(settings: ConsoleSettings, field: Any, kind: str = "EVIDENCE") -> epb.AssessmentEvidence | None:
    """Keep an uploaded evidence file under its SHA-256 and describe it for the service."""
    if not isinstance(field, web.FileField) or not field.filename:
        return None
    content = field.file.read()
    if not content:
        return None
    digest = hashlib.sha256(content).hexdigest()
    folder = settings.data_dir / "console" / "evidence"
    folder.mkdir(parents=True, exist_ok=True)
    (folder / digest).write_bytes(content)
    name = Path(field.filename).name[:200]
    return epb.AssessmentEvidence(kind=kind, uri=f"antt-console:evidence/{digest}", sha256=digest, title=name)


def _number(text: str) -> float | None:
    text = text.strip().replace(",", ".")
    return float(text) if text else None


async def case_action(request: web.Request) -> web.StreamResponse:
    """One step of the workflow; the service's rule errors are shown on the case page."""
    case_id, action = request.match_info["case_id"], request.match_info["action"]
    form, backend, lang = request[FORM], request.app[BACKEND], request[LANG]
    text = {k: str(v).strip() for k, v in form.items() if isinstance(v, str)}
    eff = text.get("effective_date", "")  # empty: today; a past date records a paper step late
    try:
        if action in ("revoke", "reclassify") and not text.get("reason"):
            session: Session = request[SESSION]
            session.flash.append(("error", both("Phải nêu lý do", "a reason is mandatory", lang)))
            raise web.HTTPFound(f"/cases/{case_id}")
        if action == "self-assessment":
            results = []
            for cid in sorted({k.split(".")[1] for k in text if k.startswith("c.")}):
                met, value = text.get(f"c.{cid}.met", ""), _number(text.get(f"c.{cid}.value", ""))
                previous = _number(text.get(f"c.{cid}.prev", ""))
                if not met and value is None:
                    continue
                result = epb.AssessmentCriterionResult(criterion_id=cid, note=text.get(f"c.{cid}.note", ""))
                if met == "na":
                    result.not_applicable = True
                elif met in ("1", "0"):
                    result.met = met == "1"
                if value is not None:
                    result.value = value
                if previous is not None:
                    result.previous_value = previous
                evidence = _store_evidence(request.app[SETTINGS], form.get(f"c.{cid}.file"))
                if evidence is not None:
                    result.evidence.append(evidence)
                results.append(result)
            await call(request, backend.assessment.RecordSelfAssessment,
                       apb.RecordSelfAssessmentRequest(case_id=case_id, results=results, effective_date=eff))
        elif action == "submit":
            await call(request, backend.assessment.SubmitCase, apb.SubmitCaseRequest(
                case_id=case_id, dossier=_dossier(request.app[SETTINGS], form, SUBMIT_KINDS), effective_date=eff))
        elif action == "appraise":
            await call(request, backend.assessment.AppraiseCase,
                       apb.AppraiseCaseRequest(case_id=case_id, return_reason=text.get("return_reason", ""),
                                           effective_date=eff))
        elif action == "decide":
            await call(request, backend.assessment.DecideCases, apb.DecideCasesRequest(
                cases=[apb.CaseOutcome(case_id=case_id, recognised=text.get("recognised") == "1")],
                decision=_decision(text)))
        elif action == "revoke":
            await call(request, backend.assessment.RevokeRecognition, apb.RevokeRecognitionRequest(
                case_id=case_id, decision=_decision(text), reason=text.get("reason", ""), effective_date=eff))
        elif action == "classify":
            case = await call(request, backend.assessment.GetCase, apb.GetCaseRequest(case_id=case_id))
            await call(request, backend.assessment.ProposeClassification, apb.ProposeClassificationRequest(
                unit_id=case.unit_id, year=case.year, items=_items(text)))
        elif action == "classification-decide":
            await call(request, backend.assessment.DecideClassification, apb.DecideClassificationRequest(
                classification_id=text.get("classification_id", ""), decision=_decision(text)))
        elif action == "reclassify":
            await call(request, backend.assessment.Reclassify, apb.ReclassifyRequest(
                classification_id=text.get("classification_id", ""), items=_items(text),
                reason=text.get("reason", ""), decision=_decision(text)))
        else:
            raise web.HTTPNotFound()
        request[SESSION].flash.append(("ok", translate("Đã lưu", lang)))
    except ServiceError as error:
        if error.denied or error.unauthenticated:
            raise
        flash_error(request[SESSION], error, lang)
    raise web.HTTPFound(f"/cases/{case_id}")


def _decision(text: dict[str, str]) -> apb.Decision:
    return apb.Decision(number=text.get("number", ""), date=text.get("date", ""), signer=text.get("signer", ""),
                        signer_title=text.get("signer_title", ""),
                        authority=apb.Authority(tier=text.get("authority_tier", ""),
                                                name=text.get("authority_name", ""),
                                                area_code=text.get("authority_area", "")))


def _items(text: dict[str, str]) -> list[epb.AssessmentScoringItem]:
    return [epb.AssessmentScoringItem(item=str(i), points=float(text[f"item{i}"].replace(",", ".")))
            for i in range(1, 5) if text.get(f"item{i}")]


# --- import ------------------------------------------------------------------------------------------------

async def import_page(request: web.Request) -> web.StreamResponse:
    """The upload form."""
    return render(request, "import.html", result=None)


async def import_run(request: web.Request) -> web.StreamResponse:
    """Check (dry run) or import an XLSX file through the registry's ImportUnits stream."""
    from services.registry.importing.cli import requests
    from services.registry.importing.columns import UNITS
    from services.registry.importing.errors import ImportFileError
    from services.registry.importing.reader import read_file

    form, lang = request[FORM], request[LANG]
    upload = form.get("file")
    dry_run = form.get("dry_run") == "1"
    if not isinstance(upload, web.FileField) or not upload.filename:
        return render(request, "import.html", status=400, result=None, error=translate("Tệp Excel (.xlsx)", lang))
    suffix = Path(upload.filename).suffix.lower()
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / f"upload{suffix if suffix in ('.xlsx', '.csv') else '.xlsx'}"
        path.write_bytes(upload.file.read())
        try:
            table = read_file(path, UNITS)
        except ImportFileError as exc:
            return render(request, "import.html", status=400, result=None, error=both(exc.message_vi,
                                                                                      exc.message_en, lang))
    final = None
    stream = request.app[BACKEND].stream(request.app[BACKEND].registry.ImportUnits,
                                         requests(table, Path(upload.filename).name, dry_run), request[SESSION].token)
    async for progress in stream:
        if progress.done:
            final = progress
    errors = sorted(final.errors, key=lambda e: e.row_number) if final else []
    return render(request, "import.html", result=final, errors=errors, rows=len(table.rows), dry_run=dry_run,
                  filename=upload.filename, ignored=table.ignored)


# --- deadlines, reports -----------------------------------------------------------------------------------

async def deadlines(request: web.Request) -> web.StreamResponse:
    """Upcoming deadlines, overdue obligations and what was sent, for the scope."""
    scope = await scope_of(request)
    province, commune = await place_of(request, scope)
    j = npb.Jurisdiction(province_code=province, commune_code=commune)
    n = request.app[BACKEND].notifications
    upcoming = await call(request, n.ListUpcomingDeadlines, npb.ListUpcomingDeadlinesRequest(jurisdiction=j, limit=200))
    overdue = await call(request, n.ListOverdue, npb.ListOverdueRequest(jurisdiction=j, limit=200))
    sent = await call(request, n.ListDeliveries, npb.ListDeliveriesRequest(jurisdiction=j, limit=200))
    preview, preview_error = None, None
    try:  # what the next scan would send; the service answers national callers only
        # the scope's sends, page after page, up to PREVIEW_SHOWN (the page lists, it does not audit)
        preview = [p async for p in every_page(lambda token: call(request, n.PreviewSends, npb.PreviewSendsRequest(
            jurisdiction=j, page_size=PREVIEW_SHOWN, page_token=token)), "sends", limit=PREVIEW_SHOWN)]
    except ServiceError as error:
        if error.unauthenticated:
            raise
        preview_error = error
    codes = [d.commune_code for d in [*upcoming.deadlines, *overdue.overdue]] + [p.commune_code for p in preview or ()]
    return render(request, "deadlines.html", scope=scope, upcoming=upcoming.deadlines, overdue=overdue.overdue,
                  deliveries=sent.deliveries, preview=preview, preview_error=preview_error,
                  communes=await area_names(request, "commune", codes, parent=province),
                  options=await scope_options(request, scope))


async def reports(request: web.Request) -> web.StreamResponse:
    """Export links and the audit replay "as of" a date."""
    scope, year = await scope_of(request), year_of(request)
    as_of = request.query.get("as_of", "").strip()
    replay = None
    if as_of:
        try:
            instant = datetime.fromisoformat(as_of)
        except ValueError:
            raise web.HTTPBadRequest(text="as_of: YYYY-MM-DD[THH:MM]") from None
        if instant.tzinfo is None:  # a date or local time means Vietnam's time (UTC+7), end of that day for a date
            instant = instant.replace(hour=23, minute=59, second=59) if len(as_of) == 10 else instant
            stamp = instant.isoformat() + "+07:00"
        else:
            stamp = instant.isoformat()
        replay = await call(request, request.app[BACKEND].reporting.ReplayReport, opb.ReplayReportRequest(
            query=opb.ReportQuery(year=year, scope=scope, as_of=stamp)))
    return render(request, "reports.html", scope=scope, year=year, as_of=as_of, replay=replay,
                  options=await scope_options(request, scope))


async def report_export(request: web.Request) -> web.StreamResponse:
    """Download the report of the scope and year (xlsx, pdf or csv)."""
    scope, year = await scope_of(request), year_of(request)
    fmt = request.query.get("format", "xlsx")
    if fmt not in ("xlsx", "pdf", "csv"):
        raise web.HTTPBadRequest(text="format: xlsx | pdf | csv")
    reply = await call(request, request.app[BACKEND].reporting.ExportReport, opb.ExportReportRequest(
        query=opb.ReportQuery(year=year, scope=scope), format=fmt))
    name = Path(reply.filename or f"bao-cao-{year}.{fmt}").name.replace('"', "")
    return web.Response(body=reply.content, content_type=reply.content_type.split(";")[0],
                        headers={"Content-Disposition": f'attachment; filename="{name}"',
                                 "X-Report-Digest": reply.digest})


async def healthz(_request: web.Request) -> web.StreamResponse:
    """Liveness for `antt dev` and containers."""
    return web.Response(text="ok")


async def root(_request: web.Request) -> web.StreamResponse:
    """The dashboard is home."""
    raise web.HTTPFound("/dashboard")


# --- the application ---------------------------------------------------------------------------------------

def make_app(settings: ConsoleSettings) -> web.Application:
    """The aiohttp application (channels opened on startup, closed on cleanup)."""
    app = web.Application(middlewares=[session_middleware], client_max_size=32 * 1024 * 1024)
    app[SETTINGS] = settings
    app[SESSIONS] = SessionStore()
    app[AREAS] = {}
    app[JINJA] = jinja2.Environment(loader=jinja2.FileSystemLoader(HERE / "templates"),
                                    autoescape=jinja2.select_autoescape(default=True))

    async def open_channels(app: web.Application) -> None:
        app[BACKEND] = Backend(settings.targets)

    async def close_channels(app: web.Application) -> None:
        await app[BACKEND].close()

    app.on_startup.append(open_channels)
    app.on_cleanup.append(close_channels)
    r = app.router
    r.add_get("/", root)
    r.add_get("/healthz", healthz)
    r.add_get("/login", login_page)
    r.add_post("/login", login)
    r.add_post("/logout", logout)
    r.add_get("/dashboard", dashboard)
    r.add_get("/units", units)
    r.add_get("/units/new", unit_new)
    r.add_post("/units", unit_create)
    r.add_get("/units/{unit_id}", unit_page)
    r.add_post("/units/{unit_id}/cases", case_register)
    r.add_get("/cases/{case_id}", case_page)
    r.add_post("/cases/{case_id}/{action}", case_action)
    r.add_get("/import", import_page)
    r.add_post("/import", import_run)
    r.add_get("/deadlines", deadlines)
    r.add_get("/reports", reports)
    r.add_get("/reports/export", report_export)
    r.add_static("/static/", HERE / "static")
    return app


def run(env: dict[str, str] | None = None) -> int:
    """Serve the console until SIGINT/SIGTERM (`antt console`)."""
    settings = ConsoleSettings.from_env(env)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s console %(levelname)s %(name)s: %(message)s")
    print(f"antt console: http://{settings.host}:{settings.port}/", flush=True)
    web.run_app(make_app(settings), host=settings.host, port=settings.port, print=None, access_log=None)
    return 0
