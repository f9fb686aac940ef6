"""Console settings: demo users, service targets, and the hash-chain check of a history."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from services.console.app import chain_status, home_scope
from services.console.config import ConsoleSettings, parse_demo_users

pytestmark = pytest.mark.unit


def test_demo_users_take_the_tier_of_their_role_or_area() -> None:
    users = parse_demo_users("xa-a=commune_operator@00004, tinh=province_operator@01,kt=auditor@01,"
                             "bo=ministry_operator@")
    assert (users["xa-a"].tier, users["xa-a"].jurisdiction) == ("xa", "00004")
    assert (users["tinh"].tier, users["kt"].tier, users["bo"].tier, users["bo"].jurisdiction) == (
        "tinh", "tinh", "bo", "")
    assert "xa-11948" in parse_demo_users("demo") and parse_demo_users("") == {}


def test_targets_default_to_the_local_ports_and_can_name_hosts() -> None:
    local = ConsoleSettings.from_env({"ANTT_ASSESSMENT_GRPC_PORT": "6000"})
    assert local.targets["assessment"] == "127.0.0.1:6000" and local.port == 8080 and local.demo_users == {}
    remote = ConsoleSettings.from_env({"ANTT_CONSOLE_TARGETS": "registry=registry:50051", "ANTT_CONSOLE_PORT": "9000"})
    assert remote.targets["registry"] == "registry:50051" and remote.port == 9000
    with pytest.raises(ValueError, match="ANTT_CONSOLE_TARGETS"):
        ConsoleSettings.from_env({"ANTT_CONSOLE_TARGETS": "billing=x:1"})


def test_chain_status_flags_an_event_not_linked_to_the_one_before() -> None:
    events = [SimpleNamespace(digest="a", prev_digest=""), SimpleNamespace(digest="b", prev_digest="a"),
              SimpleNamespace(digest="c", prev_digest="x")]
    assert chain_status(events) == [True, True, False]


def test_home_scope_follows_the_jurisdiction() -> None:
    assert [home_scope({"jurisdiction": j}) for j in ("", "01", "00004")] == [
        "national", "province:01", "commune:00004"]


def test_dates_read_the_vietnamese_way() -> None:
    from services.console.app import day, when

    assert day("2026-11-10") == "10/11/2026" and day("2026-11-10", "en") == "2026-11-10" and day("") == ""
    assert when("2026-11-22T21:36:32.5+00:00") == "23/11/2026 04:36:32"  # Vietnam is UTC+7
