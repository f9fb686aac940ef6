"""The bench's outputs: a markdown table, a JSON file and the section of docs/benchmarks.md."""

from __future__ import annotations

import json
import math
import os
import platform
import re
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from antt.bench.results import Measurement


def machine() -> dict[str, Any]:
    """nproc, memory and CPU model of this machine (from /proc), Python and kernel versions."""
    model = ""
    mem_kb = 0
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as f:
            model = next((line.split(":", 1)[1].strip() for line in f if line.startswith("model name")), "")
        with open("/proc/meminfo", encoding="utf-8") as f:
            mem_kb = next((int(line.split()[1]) for line in f if line.startswith("MemTotal")), 0)
    except OSError:
        pass
    return {"nproc": len(os.sched_getaffinity(0)), "cpu_count": os.cpu_count(), "cpu_model": model,
            "memory_gb": round(mem_kb / 1024 / 1024, 1), "python": platform.python_version(),
            "kernel": platform.release(), "loadavg_1_5_15": [round(x, 2) for x in os.getloadavg()]}


def ratio_to(stage: Measurement, limit: Measurement | None) -> float | None:
    """Stage as a fraction of its raw limit: throughput / limit, or limit latency / stage latency."""
    if limit is None or not stage.value or not limit.value:
        return None
    if stage.unit.endswith("/s"):
        return round(stage.value / limit.value, 3)
    if stage.unit.startswith("ms"):
        return round(limit.value / stage.value, 3)
    return None


def _fmt(x: float | None, digits: int = 0) -> str:
    if x is None or (isinstance(x, float) and math.isnan(x)):
        return "—"
    return f"{x:,.{digits}f}"


def _result(m: Measurement) -> str:
    if m.status != "ok":
        return f"**{m.status}**"
    digits = 1 if m.unit.startswith(("ms", "MB")) or m.unit == "s" else 0
    return f"{_fmt(m.value, digits)} {m.unit}"


def _latency(m: Measurement) -> str:
    if not m.latency_ms:
        return "—"
    return " / ".join(_fmt(m.latency_ms.get(q), 1) for q in ("p50", "p95", "p99"))


def markdown(summary: dict[str, Any], stages: list[Measurement], limits: dict[str, Measurement]) -> str:
    """The stage table and the raw-limit table."""
    lines = [f"Scale {summary['scale']} (seed {summary['seed']}): {summary['units']:,} units in "
             f"{summary['communes']:,} communes of {summary['provinces']} provinces; backend **{summary['backend']}**; "
             f"{summary['clients']} gRPC clients; full year over {summary.get('year_units', '—'):,} units; official "
             f"area tree loaded: {summary.get('reference_tree', '—')}; run {summary['started_at']} "
             f"({summary['seconds']:.0f} s).", "",
             "| Stage | Result | Count | Time (s) | p50 / p95 / p99 (ms) | Raw limit | Ratio | Correct | Note |",
             "|---|---|---:|---:|---|---|---:|---|---|"]
    for m in stages:
        limit = limits.get(m.limit)
        correct = "—" if m.status == "not available yet" else ("yes" if m.correct and m.status == "ok" else "**NO**")
        lines.append(f"| {m.name} | {_result(m)} | {_fmt(m.count)} | {_fmt(m.seconds, 2)} | {_latency(m)} | "
                     f"{limit.name + ': ' + _result(limit) if limit else '—'} | "
                     f"{_fmt(m.ratio, 2) if m.ratio is not None else '—'} | {correct} | {m.note} |")
    lines += ["", "| Raw limit (same run, same event sizes) | Result | Count | Time (s) | Note |",
              "|---|---|---:|---:|---|"]
    for m in limits.values():
        lines.append(f"| {m.name} | {_result(m)} | {_fmt(m.count)} | {_fmt(m.seconds, 2)} | {m.note} |")
    return "\n".join(lines) + "\n"


def machine_line(info: dict[str, Any]) -> str:
    """One line naming the machine."""
    return (f"Machine: {info['nproc']} CPU (nproc), {info['memory_gb']} GB RAM, {info['cpu_model'] or 'unknown CPU'}, "
            f"Python {info['python']}, Linux {info['kernel']}; load average at the end "
            f"{' / '.join(str(x) for x in info.get('loadavg_1_5_15', []))} (1/5/15 min).")


def write_outputs(out_dir: Path, summary: dict[str, Any], stages: list[Measurement],
                  limits: dict[str, Measurement]) -> tuple[Path, Path, str]:
    """Write <out>/bench-<time>-S<scale>-<backend>.{json,md}; return their paths and the markdown."""
    out_dir.mkdir(parents=True, exist_ok=True)
    stem = f"bench-{summary['started_at'].replace(':', '')}-S{summary['scale']}-{summary['backend']}"
    table = markdown(summary, stages, limits)
    md = f"# antt bench\n\n{machine_line(summary['machine'])}\n\n{table}"
    json_path, md_path = out_dir / f"{stem}.json", out_dir / f"{stem}.md"
    data = {"summary": summary, "stages": [m.to_json() for m in stages],
            "limits": {k: m.to_json() for k, m in limits.items()}}
    json_path.write_text(json.dumps(data, ensure_ascii=False, indent=2, default=str), encoding="utf-8")
    md_path.write_text(md, encoding="utf-8")
    return json_path, md_path, table


def update_docs(path: Path, summary: dict[str, Any], table: str) -> None:
    """Replace (or append) this backend's section of docs/benchmarks.md between generated markers."""
    key = f"{summary['backend']}:S{summary['scale']}"
    begin, end = f"<!-- bench:{key}:begin -->", f"<!-- bench:{key}:end -->"
    section = f"{begin}\n### {summary['backend']}, scale {summary['scale']}\n\n{machine_line(summary['machine'])}\n\n" \
              f"{table}{end}"
    text = path.read_text(encoding="utf-8") if path.exists() else "# Benchmarks\n"
    pattern = re.compile(re.escape(begin) + r".*?" + re.escape(end), re.S)
    text = pattern.sub(lambda _m: section, text) if pattern.search(text) else text.rstrip("\n") + f"\n\n{section}\n"
    path.write_text(text, encoding="utf-8")


def now_iso() -> str:
    """UTC now, to the second."""
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
