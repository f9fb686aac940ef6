"""Generated NATS permissions and the token / agency / asyncapi commands."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from antt.auth.keys import Keyring
from antt.auth.tokens import verify
from antt.cli import main
from antt.messaging.natsconfig import AgencyError, NatsAuthStore, agency_permissions, new_agency, \
    service_permissions, write_config

pytestmark = pytest.mark.unit


def test_service_publishes_only_its_own_subjects() -> None:
    perms = service_permissions("assessment")
    assert "antt.assessment.>" in perms["publish"]["allow"]
    assert not any(s.startswith("antt.registry") for s in perms["publish"]["allow"])
    assert "antt.registry.>" in perms["subscribe"]["allow"]


def test_agency_permissions_are_scoped_to_its_province_and_events() -> None:
    agency = new_agency("so-gd-hp", "province:31", ["UnitRegistered", "CaseDecided"])
    perms = agency_permissions(agency)
    assert perms["subscribe"]["allow"] == ["_INBOX_so-gd-hp.>", "antt.assessment.v1.CaseDecided.31.*",
                                           "antt.registry.v1.UnitRegistered.31.*"]
    assert perms["publish"]["deny"] == ["antt.>"]
    assert not any(s.startswith("antt.") for s in perms["publish"]["allow"])
    creates = [s for s in perms["publish"]["allow"] if s.startswith("$JS.API.CONSUMER.CREATE.")]
    assert creates == [
        "$JS.API.CONSUMER.CREATE.ANTT_ASSESSMENT.so-gd-hp-CaseDecided.antt.assessment.v1.CaseDecided.31.*",
        "$JS.API.CONSUMER.CREATE.ANTT_REGISTRY.so-gd-hp-UnitRegistered.antt.registry.v1.UnitRegistered.31.*"]


@pytest.mark.parametrize(("name", "scope", "events"), [
    ("So GD", "province:31", None), ("ok", "province:3", None), ("ok", "commune:11948", None),
    ("ok", "province:31", ["NoSuchEvent"]), ("ok", "province:31", ["Eligibility"]),
])
def test_invalid_agencies_are_refused(name: str, scope: str, events: list[str] | None) -> None:
    with pytest.raises(AgencyError):
        new_agency(name, scope, events)


def test_config_and_credentials_files_are_private_and_stable(tmp_path: Path) -> None:
    store = NatsAuthStore(tmp_path)
    store.add_agency(new_agency("a", "national"))
    first = write_config(tmp_path, port=4333)
    second = write_config(tmp_path, port=4333)
    assert first.service_urls == second.service_urls  # service passwords are generated once
    assert first.service_urls["registry"].startswith("nats://registry:") and first.service_urls["registry"].endswith(
        "@127.0.0.1:4333")
    text = first.config_path.read_text(encoding="utf-8")
    assert json.loads(text.split("\n", 1)[1])["accounts"]["ANTT"]["jetstream"] == "enabled"
    for path in (first.config_path, store.dir / "services.json", store.dir / "agency-a.json"):
        assert path.stat().st_mode & 0o077 == 0


def test_cli_token_issue_and_keygen(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                    capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("ANTT_DATA_DIR", str(tmp_path))
    assert main(["token", "issue", "--role", "commune_operator", "--tier", "commune", "--jurisdiction",
                 "11948", "--ttl", "600"]) == 0
    token = capsys.readouterr().out.strip()
    p = verify(Keyring.load(tmp_path / "keys"), token)
    assert (p.subject, p.jurisdiction) == ("user:commune_operator-11948", "11948")
    assert main(["token", "issue", "--role", "auditor", "--tier", "tinh"]) == 2  # no province code
    assert "tỉnh" in capsys.readouterr().err
    assert main(["token", "keygen", "--kid", "2027-01"]) == 0
    assert "2027-01.pub" in capsys.readouterr().out
    assert main(["token", "issue", "--role", "auditor", "--tier", "bo"]) == 0
    assert verify(Keyring.load(tmp_path / "keys"), capsys.readouterr().out.strip()).key_id == "2027-01"


def test_cli_agency_add_and_asyncapi(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                     capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("ANTT_DATA_DIR", str(tmp_path))
    assert main(["agency", "add", "--name", "so-gd-hp", "--scope", "province:31", "--events",
                 "UnitRegistered,UnitClosed"]) == 0
    creds = json.loads((tmp_path / "nats-auth" / "agency-so-gd-hp.json").read_text(encoding="utf-8"))
    assert creds["user"] == "agency-so-gd-hp" and len(creds["consumers"]) == 2
    assert creds["password"] not in capsys.readouterr().out  # secrets never printed
    assert main(["agency", "add", "--name", "x", "--scope", "province:XX"]) == 2
    capsys.readouterr()
    assert main(["asyncapi"]) == 0
    assert "antt.registry.v1.UnitRegistered" in capsys.readouterr().out
