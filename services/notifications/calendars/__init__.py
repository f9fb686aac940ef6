"""Bundled deadline calendars (YAML, one file per scope) and their loader."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from services.notifications.domain.calendar import CalendarSet
from services.notifications.domain.calendar_data import build_calendar_set

DIRECTORY = Path(__file__).parent


def load_documents(directory: Path = DIRECTORY) -> list[dict[str, Any]]:
    """Every *.yaml calendar document of a directory, in file-name order."""
    return [yaml.safe_load(path.read_text(encoding="utf-8")) for path in sorted(directory.glob("*.yaml"))]


def load_calendar_set(directory: Path = DIRECTORY) -> CalendarSet:
    """The national calendar and local overrides found in a directory."""
    return build_calendar_set(load_documents(directory))
