"""GetRollup replies from a computed report: the figures built once, the award list whole or in pages.

Paging covers only the award list, in its report order (unit_code). Every page carries the whole report's
figures and `digest` (the SHA-256 of the whole report's canonical form, the full award list included), so the
figures of every page are the same and verifiable, and the pages concatenated are the unpaged list
(`award_eligible_total` lines). A page token holds the last unit_code of its page (the list is ordered by it,
and a page never splits lines of one code), so a page after a change of the read models resumes after the
same code rather than at a shifted index.
"""

from __future__ import annotations

import bisect
from dataclasses import dataclass, field

from antt.grpcx import paging
from antt.reporting.v1 import reporting_service_pb2 as pb
from services.reporting.api import converters
from services.reporting.rollup.report import Report

MAX_AWARD_PAGE = 5000  # lines per page at most (a page of 5,000 stays well under gRPC's 4 MB default)


@dataclass
class PreparedRollup:
    """A report with its digest and its reply without award lines, built once per computed report."""

    report: Report
    digest: str
    base: pb.Rollup  # every field but award_eligible (never mutated: replies copy it)
    codes: list[str]  # the award lines' unit codes, in order
    _full: pb.GetRollupResponse | None = field(default=None, repr=False)
    _pages: dict[tuple[int, str], pb.GetRollupResponse] = field(default_factory=dict, repr=False)

    def full_reply(self) -> pb.GetRollupResponse:
        """The unpaged reply (built on the first unpaged request, then kept: replies are never mutated)."""
        if self._full is None:
            full = pb.GetRollupResponse(rollup=self.base, award_eligible_total=len(self.codes))
            full.rollup.award_eligible.extend(pb.AwardEligibleUnit(**a) for a in self.report.award_eligible)
            self._full = full
        return self._full


def prepare(report: Report) -> PreparedRollup:
    """The report's reply parts: its digest (hashing the canonical form once) and its figures as protobuf."""
    digest = report.digest()
    base = converters.rollup_pb(report, digest=digest, with_awards=False)
    return PreparedRollup(report, digest, base, [a["unit_code"] for a in report.award_eligible])


KEPT_PAGES = 8  # replies of pages kept per report (the first page of a screen, asked again and again)


def reply(prepared: PreparedRollup, page_size: int = 0, page_token: str = "") -> pb.GetRollupResponse:
    """The reply: every award line when `page_size` is 0 (and no token), else the page after the token."""
    if page_size == 0 and not page_token:
        return prepared.full_reply()
    kept = prepared._pages.get((page_size, page_token))
    if kept is not None:
        return kept
    out = _page(prepared, page_size, page_token)
    if len(prepared._pages) < KEPT_PAGES:
        prepared._pages[(page_size, page_token)] = out
    return out


def _page(prepared: PreparedRollup, page_size: int, page_token: str) -> pb.GetRollupResponse:
    """A page of the award list with the whole figures."""
    out = pb.GetRollupResponse(rollup=prepared.base, award_eligible_total=len(prepared.codes))
    size = paging.page_size(page_size, MAX_AWARD_PAGE, MAX_AWARD_PAGE)
    after = paging.decode_page_token(page_token)
    codes = prepared.codes
    start = bisect.bisect_right(codes, after) if page_token else 0
    end = min(start + size, len(codes))
    # lines of one unit code stay on one page, so a token (the last code) never skips any
    end = bisect.bisect_right(codes, codes[end - 1]) if end > start else end
    out.rollup.award_eligible.extend(pb.AwardEligibleUnit(**a) for a in prepared.report.award_eligible[start:end])
    if end < len(codes):
        out.next_award_page_token = paging.encode_page_token(codes[end - 1])
    return out
