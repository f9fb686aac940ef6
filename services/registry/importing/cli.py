"""`antt import units|areas FILE [--dry-run] [--registry HOST:PORT]`: read the file here; check and commit in the registry."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path
from typing import TextIO

import grpc

from antt.auth import client
from antt.auth.client import client_token
from antt.auth.keys import KeyringError
from antt.registry.v1 import registry_service_pb2 as pb
from antt.registry.v1 import registry_service_pb2_grpc as pb_grpc
from services.registry.api.import_endpoint import area_row_to_pb, row_to_pb
from services.registry.importing.columns import AREAS, UNITS
from services.registry.importing.errors import ImportFileError
from services.registry.importing.reader import Table, read_file

CHUNK_ROWS = 1000
MAX_MESSAGE = 256 * 1024 * 1024


class ProgressBar:
    """A one-line bar on stderr when it is a terminal; otherwise a line every 10%."""

    def __init__(self, total: int, stream: TextIO, width: int = 30) -> None:
        self.total = max(total, 1)
        self.stream = stream
        self.width = width
        self.tty = stream.isatty()
        self._last_step = -1

    def update(self, done: int, bad: int, note: str = "") -> None:
        """Show `done` of the total rows checked, with the number of bad rows so far."""
        share = min(done / self.total, 1.0)
        text = (f"[{'#' * int(share * self.width):<{self.width}}] {done}/{self.total} dòng / rows "
                f"({share:.0%}), lỗi / bad: {bad}{'  ' + note if note else ''}")
        if self.tty:
            self.stream.write("\r" + text)
            self.stream.flush()
        elif int(share * 10) != self._last_step or note:
            self._last_step = int(share * 10)
            print(text, file=self.stream, flush=True)

    def finish(self) -> None:
        """End the bar's line."""
        if self.tty:
            self.stream.write("\n")
            self.stream.flush()


def requests(table: Table, source: str, dry_run: bool, chunk: int = CHUNK_ROWS,
             what: str = "units") -> Iterator[pb.ImportUnitsRequest | pb.ImportAreasRequest]:
    """The request stream: the first message carries the options, every message a chunk of rows."""
    message_type, convert = ((pb.ImportAreasRequest, area_row_to_pb) if what == "areas"
                             else (pb.ImportUnitsRequest, row_to_pb))
    first = message_type(dry_run=dry_run, source_name=source, total_rows=len(table.rows), columns=table.columns)
    if not table.rows:
        yield first
    for start in range(0, len(table.rows), chunk):
        message = first if start == 0 else message_type(dry_run=dry_run)
        message.rows.extend(convert(r) for r in table.rows[start:start + chunk])
        yield message


def default_target() -> str:
    """The registry of this machine, on the port the settings name."""
    from antt.settings import ServiceSettings

    return f"127.0.0.1:{ServiceSettings.from_env('registry').grpc_port}"


def run_import(path: str, dry_run: bool = False, target: str = "", out: TextIO = sys.stdout,
               err: TextIO = sys.stderr, what: str = "units") -> int:
    """Import units (or areas); 0 when every row is good (committed unless dry run), 1 with bad rows, 2 on failure."""
    target = target or default_target()
    try:
        table = read_file(Path(path), AREAS if what == "areas" else UNITS)
    except ImportFileError as exc:
        print(f"antt import: {exc.message_vi} / {exc.message_en}", file=err)
        return 2
    if table.ignored:
        print(f"antt import: bỏ qua các cột / ignored columns: {', '.join(table.ignored)}", file=err)
    bar = ProgressBar(len(table.rows), err)
    final: pb.ImportUnitsProgress | None = None
    options = [("grpc.max_receive_message_length", MAX_MESSAGE), ("grpc.max_send_message_length", MAX_MESSAGE)]
    try:
        with client.channel(target, client_token(), options=options) as channel:
            stub = pb_grpc.RegistryServiceStub(channel)
            call = stub.ImportAreas if what == "areas" else stub.ImportUnits
            deadline = max(600.0, len(table.rows) / 20)  # a stuck registry must not hang the command forever
            for progress in call(requests(table, Path(path).name, dry_run, what=what), timeout=deadline):
                if progress.done:
                    final = progress
                    break
                finished = progress.rows_checked >= len(table.rows)
                note = "đang ghi / committing" if finished and not dry_run and not progress.bad_rows else ""
                bar.update(progress.rows_checked, progress.bad_rows, note)
    except KeyringError as exc:
        bar.finish()
        print(f"antt import: {exc}", file=err)
        return 2
    except grpc.RpcError as exc:
        bar.finish()
        print(f"antt import: registry {target}: {exc.code().name}: {exc.details()}", file=err)  # type: ignore[attr-defined]
        return 2
    bar.update(final.rows_checked if final else 0, final.bad_rows if final else 0)
    bar.finish()
    assert final is not None
    for e in sorted(final.errors, key=lambda e: e.row_number):
        print(f"dòng / row {e.row_number}, cột / column {e.column!r}: {e.message_vi} / {e.message_en} [{e.reason}]",
              file=out)
    checked = final.rows_checked
    if final.errors:
        print(f"{len(final.errors)} dòng lỗi trong {checked} dòng; không ghi gì / "
              f"{len(final.errors)} bad rows of {checked}; nothing written", file=out)
        return 1
    if dry_run:
        print(f"Kiểm tra thử: {checked} dòng hợp lệ; không ghi gì / dry run: {checked} rows valid; nothing written",
              file=out)
        return 0
    label_vi, label_en = ("đơn vị hành chính", "areas") if what == "areas" else ("đơn vị", "units")
    print(f"Đã nhập {final.imported} {label_vi} / imported {final.imported} {label_en}", file=out)
    return 0
