"""Which reference areas a registry process loads at start (ANTT_REGISTRY_REFERENCE_TREE)."""

from __future__ import annotations

from pathlib import Path

import pytest

from antt.settings import ServiceSettings
from services.registry.application import Registry
from services.registry.main import ensure_reference_tree, reference_plan

pytestmark = pytest.mark.unit


@pytest.mark.parametrize(("env", "plan"), [
    ({}, False),  # the default: a registry loads nothing unless told (`antt dev` sets "all")
    ({"ANTT_REGISTRY_REFERENCE_TREE": "all", "ANTT_REGISTRY_DATABASE_URL": "postgresql://db/registry"}, None),
    ({"ANTT_REGISTRY_REFERENCE_TREE": "none"}, False),
    ({"ANTT_REGISTRY_REFERENCE_TREE": " 31, 01 "}, {"31", "01"}),
])
def test_reference_plan(tmp_path: Path, env: dict[str, str], plan: object) -> None:
    full = {"ANTT_DATA_DIR": str(tmp_path), **env}
    assert reference_plan(ServiceSettings.from_env("registry", full), full) == plan


def test_loading_is_idempotent() -> None:
    app = Registry()
    assert ensure_reference_tree(app, {"31"}) > 63
    before = app.recorder.max_notification_id()
    assert ensure_reference_tree(app, {"31"}) == 0
    assert app.recorder.max_notification_id() == before
