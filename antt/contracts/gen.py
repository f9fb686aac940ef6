"""Generate Python code from proto/ into the antt package (the only way stubs are made)."""

from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PROTO_DIR = ROOT / "proto"
OUT_DIR = ROOT


def proto_files() -> list[Path]:
    """Every .proto file under proto/, sorted for a stable build."""
    return sorted(PROTO_DIR.rglob("*.proto"))


def generate(out_dir: Path = OUT_DIR) -> list[Path]:
    """Run grpc_tools.protoc over proto/ and return the package directories written."""
    import grpc_tools
    from grpc_tools import protoc

    files = [str(p.relative_to(PROTO_DIR)) for p in proto_files()]
    include = str(Path(grpc_tools.__file__).parent / "_proto")
    args = [
        "protoc",
        f"-I{PROTO_DIR}",
        f"-I{include}",
        f"--python_out={out_dir}",
        f"--grpc_python_out={out_dir}",
        f"--pyi_out={out_dir}",
        *files,
    ]
    if protoc.main(args) != 0:
        raise SystemExit("protoc failed / protoc thất bại")
    packages = sorted({(out_dir / f).parent for f in files})
    for package in packages:
        # Generated packages are plain directories; make each level importable.
        for level in [package, *package.parents]:
            if level == out_dir or out_dir not in level.parents:
                break
            init = level / "__init__.py"
            if not init.exists():
                init.write_text('"""Generated from proto/; do not edit."""\n')
    return packages


def main() -> None:
    """Entry point of `python -m antt.contracts.gen` and `antt gen-proto`."""
    packages = generate()
    print(f"generated {len(proto_files())} proto files into {len(packages)} packages", file=sys.stderr)


if __name__ == "__main__":
    main()
