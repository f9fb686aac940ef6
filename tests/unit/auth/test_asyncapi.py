"""The AsyncAPI document is generated from the contracts, complete, parseable and up to date."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from antt.contracts import envelope, subjects, types
from antt.contracts.asyncapi import document, event_types, render

pytestmark = pytest.mark.unit

DOC = Path(__file__).resolve().parents[3] / "docs" / "asyncapi.yaml"


def test_every_ce_type_has_a_channel_message_headers_and_payload() -> None:
    doc = yaml.safe_load(render())
    assert doc["asyncapi"].startswith("3.")
    messages = doc["components"]["messages"]
    titles = {m["title"] for m in messages.values()}
    published = {t for t, cls in types.registry().items() if "meta" in cls.DESCRIPTOR.fields_by_name}
    assert published and titles == published == set(event_types())
    schemas = doc["components"]["schemas"]
    for key, message in messages.items():
        ce_type = message["title"]
        headers = message["headers"]["properties"]
        assert set(headers) == set(envelope.headers_for(envelope.new("x", 1, ce_type, "", "")))
        assert headers["ce-type"]["const"] == ce_type
        payload = schemas[message["payload"]["$ref"].rsplit("/", 1)[-1]]
        descriptor = types.registry()[ce_type].DESCRIPTOR
        assert set(payload["properties"]) == {f.name for f in descriptor.fields}
        address = doc["channels"][key]["address"]
        parsed = subjects.parse(address.replace("{province_code}", "31").replace("{commune_code}", "11948"))
        assert (f"antt.{parsed.service}.v1.{parsed.event_type}") == ce_type


def test_every_reference_resolves() -> None:
    doc = document()
    text = yaml.safe_dump(doc)
    refs = {line.split("'")[1] if "'" in line else line.split(": ", 1)[1]
            for line in text.splitlines() if "$ref:" in line}
    for ref in refs:
        node = doc
        for part in ref.removeprefix("#/").split("/"):
            node = node[part]
        assert node, ref


def test_docs_asyncapi_yaml_is_the_generated_one() -> None:
    assert DOC.read_text(encoding="utf-8") == render(), "run: antt asyncapi > docs/asyncapi.yaml"
