"""Texts of reminders, overdue notices and escalation digests, in Vietnamese (with diacritics) and English."""

from __future__ import annotations

from dataclasses import dataclass

from services.notifications.domain.schedule import EscalationDigest, NoticeKind, Reminder


@dataclass(frozen=True)
class Rendered:
    """A subject line and a plain-text body, both bilingual (Vietnamese first)."""

    subject: str
    body: str


def _due_lines(reminder: Reminder) -> tuple[str, str]:
    o = reminder.obligation
    due = f"{o.due.due:%d/%m/%Y}"
    vi = f"Hạn: {due}"
    en = f"Due: {o.due.due.isoformat()}"
    if o.due.due != o.due.nominal:
        vi += f" (lùi từ {o.due.nominal:%d/%m/%Y} vì trùng ngày nghỉ: {o.due.day_off_reason})"
        en += f" (moved from {o.due.nominal.isoformat()}, a day off)"
    elif o.due.flagged:
        vi += f" — LƯU Ý: trùng ngày nghỉ ({o.due.day_off_reason})"
        en += " — NOTE: falls on a day off"
    return vi, en


def reminder_subject(reminder: Reminder, unit_name: str = "") -> str:
    """The subject line of a reminder or overdue notice (the same for every unit of a stage but the name)."""
    if reminder.kind is NoticeKind.OVERDUE:
        return named_subject(f"[ANTT] Quá hạn / Overdue: {reminder.obligation.title_vi}", unit_name)
    days = reminder.offset.removeprefix("D-")
    return named_subject(f"[ANTT] Còn {days} ngày / {days} days left: {reminder.obligation.title_vi}", unit_name)


def named_subject(stage_subject: str, unit_name: str) -> str:
    """`reminder_subject` for a unit, from its stage's subject without a name (computed once per stage)."""
    return f"{stage_subject} — {unit_name}" if unit_name else stage_subject


def reminder_text(reminder: Reminder, unit_name: str = "") -> Rendered:
    """A reminder before a deadline, or the notice that it has passed."""
    o = reminder.obligation
    due_vi, due_en = _due_lines(reminder)
    subject = reminder_subject(reminder, unit_name)
    if reminder.kind is NoticeKind.OVERDUE:
        head_vi = f"Đã quá hạn: {o.title_vi}."
        head_en = f"Overdue: {o.title_en}."
    else:
        days = reminder.offset.removeprefix("D-")
        head_vi = f"Nhắc việc: còn {days} ngày đến hạn {o.title_vi}."
        head_en = f"Reminder: {days} days until the deadline: {o.title_en}."
    body = "\n".join([
        head_vi, due_vi, f"Năm: {o.year}. Căn cứ: {o.source}.",
        "Thư này được gửi tự động, một lần cho mỗi mốc nhắc.", "",
        head_en, due_en, f"Year: {o.year}. Calendar: {o.source}.",
        "This message is sent automatically, once per reminder.", "",
        f"Mã nhắc việc / Reminder key: {reminder.key}",
    ])
    return Rendered(subject, body)


def digest_text(digest: EscalationDigest, names: dict[str, str] | None = None) -> Rendered:
    """One message to a supervisor listing every overdue item in its jurisdiction."""
    names = names or {}
    count = len(digest.items)
    subject = f"[ANTT] {count} việc quá hạn / {count} overdue items — {digest.as_of:%d/%m/%Y}"
    lines = [f"Tổng hợp việc quá hạn đến ngày {digest.as_of:%d/%m/%Y} ({count} việc):"]
    for o in digest.items:
        lines.append(f"- {names.get(o.subject, o.subject)}: {o.title_vi} (hạn {o.due.due:%d/%m/%Y})")
    lines += ["", f"Overdue items as of {digest.as_of.isoformat()} ({count}):"]
    for o in digest.items:
        lines.append(f"- {names.get(o.subject, o.subject)}: {o.title_en} (due {o.due.due.isoformat()})")
    lines += ["", f"Mã / Key: {digest.key}"]
    return Rendered(subject, "\n".join(lines))
