"""The one MetaData of reporting's read models (every projection module adds its tables to it)."""

from __future__ import annotations

from datetime import date

import sqlalchemy as sa

metadata = sa.MetaData()


def iso_date(value: str) -> date | None:
    """A date from an ISO string ("" or None: None); a full timestamp keeps its date part."""
    if not value:
        return None
    return date.fromisoformat(value[:10])


def effective_or_recorded(meta: object) -> date | None:
    """The effective date of an EventMeta, else the date it was recorded."""
    return iso_date(getattr(meta, "effective_date", "")) or iso_date(getattr(meta, "recorded_at", ""))
