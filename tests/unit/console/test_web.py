"""The console's web layer on a loopback server (no services needed): session cookie, CSRF, sign-in, escaping."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from aiohttp.test_utils import TestClient, TestServer

from antt.auth.keys import ensure_dev_keyring
from antt.auth.tokens import issue
from services.console.app import make_app
from services.console.config import ConsoleSettings

pytestmark = pytest.mark.integration


@pytest.fixture
async def client(tmp_path: Path) -> AsyncIterator[TestClient]:
    nowhere = ",".join(f"{s}=127.0.0.1:1" for s in ("registry", "assessment", "reporting", "notifications"))
    settings = ConsoleSettings.from_env({"ANTT_DATA_DIR": str(tmp_path), "ANTT_CONSOLE_TARGETS": nowhere,
                                         "ANTT_CONSOLE_DEMO_USERS": "xa-a=commune_operator@00004"})
    async with TestClient(TestServer(make_app(settings))) as c:
        yield c


def csrf_of(html: str) -> str:
    return html.split('name="csrf" value="', 1)[1].split('"', 1)[0]


async def test_pages_need_a_session_and_the_cookie_is_httponly_and_strict(client: TestClient) -> None:
    response = await client.get("/dashboard", allow_redirects=False)
    assert response.status == 302 and response.headers["Location"] == "/login"
    cookie = response.headers["Set-Cookie"]
    assert "HttpOnly" in cookie and "SameSite=Strict" in cookie
    assert "default-src 'self'" in response.headers["Content-Security-Policy"]


async def test_a_post_without_the_csrf_token_is_refused(client: TestClient) -> None:
    await client.get("/login")
    response = await client.post("/login", data={"username": "xa-a", "password": "demo"}, allow_redirects=False)
    assert response.status == 403 and "CSRF" in await response.text()


async def test_demo_sign_in_rotates_the_session_and_a_wrong_password_does_not(client: TestClient) -> None:
    page = await client.get("/login")
    html = await page.text()
    assert "Đăng nhập" in html and "xa-a" in html
    before = client.session.cookie_jar.filter_cookies(client.make_url("/"))["antt_console_session"].value
    wrong = await client.post("/login", data={"csrf": csrf_of(html), "username": "xa-a", "password": "x"})
    assert wrong.status == 401 and "Sai tên đăng nhập hoặc mật khẩu" in await wrong.text()
    ok = await client.post("/login", data={"csrf": csrf_of(html), "username": "xa-a", "password": "demo"},
                           allow_redirects=False)
    assert ok.status == 302 and ok.headers["Location"] == "/dashboard"
    after = client.session.cookie_jar.filter_cookies(client.make_url("/"))["antt_console_session"].value
    assert after != before


async def test_english_on_request_and_a_forged_token_is_refused(client: TestClient, tmp_path: Path) -> None:
    page = await client.get("/login?lang=en")
    html = await page.text()
    assert "Sign in" in html and any("lang=en" in c for c in page.headers.getall("Set-Cookie"))
    other_ring = ensure_dev_keyring(tmp_path / "other-keys")
    ensure_dev_keyring(tmp_path / "keys")
    forged = issue(other_ring, "x", "ministry_operator", "bo")
    response = await client.post("/login", data={"csrf": csrf_of(html), "token": forged})
    assert response.status == 401 and "Invalid token" in await response.text()


async def test_text_is_escaped(client: TestClient) -> None:
    page = await client.get("/login")
    response = await client.post("/login", data={"csrf": csrf_of(await page.text()),
                                                 "username": "<script>alert(1)</script>", "password": "demo"})
    assert "<script>alert" not in await response.text()


async def test_a_service_that_does_not_answer_gives_an_error_page(client: TestClient) -> None:
    page = await client.get("/login")
    await client.post("/login", data={"csrf": csrf_of(await page.text()), "username": "xa-a", "password": "demo"},
                      allow_redirects=False)
    response = await client.get("/dashboard")
    assert response.status == 502 and "UNAVAILABLE" in await response.text()
