#!/usr/bin/env python3
"""Turn pinned evaluation datasets into seeded train/valid/test JSONL splits in the cache.

Usage: .venv-data/bin/python scripts/prepare_data.py [--force] [TASK ...]   (default: every task; tasks: piqa)
(scripts/setup.sh creates .venv-data with scripts/requirements-data.txt and runs this.)

For each task, the pinned source file (scripts/pinned-files.tsv) is fetched and checked, and every row
is validated: a bad row is an error that names the file and the row, never a silently dropped
example. The rows are ordered by sha256("<seed>:<row index>") (seed 0; a permutation that any
language can reproduce) and split 80/10/10: with k = floor(n/10 + 1/2), the first n - 2k rows
train, the next k valid, the last k test. Into <cache>/data/<task>/ go
  train.jsonl valid.jsonl test.jsonl   {"prompt": ..., "completion": ...}, the format mlx-lm reads
  valid.mc.jsonl test.mc.jsonl         {"query": ..., "choices": [...], "gold": i}, for multiple-choice scoring
  manifest.json                        source and script sha256, seed, the source row index of every line,
                                       each output's line count and sha256
one JSON object a line, UTF-8, keys in that order. Every file is written under a temporary name and
renamed into place, manifest.json last: it is the stamp, and a task whose manifest has the same source
and script sha256 and whose outputs still have their recorded sha256 is left as it is.
The cache is $EFFILORA_CACHE, or ~/.cache/effilora.
"""
import argparse
import hashlib
import json
import os
import sys
from dataclasses import dataclass
from pathlib import Path

from fetch_pinned import cache_dir, fetch_all, sha256

SEED = 0


class DataError(Exception):
    pass


@dataclass
class Example:
    query: str
    choices: list
    gold: int


def text(row: dict, column: str, where: str) -> str:
    value = row.get(column)
    if not isinstance(value, str):
        raise DataError(f"{where}: {column} should be a string, found {value!r}")
    if not value.strip():
        raise DataError(f"{where}: {column} is empty")
    return value


def index(row: dict, column: str, count: int, where: str) -> int:
    value = row.get(column)
    if type(value) is not int or not 0 <= value < count:
        raise DataError(f"{where}: {column} should be an integer in 0..<{count}, found {value!r}")
    return value


def piqa(row: dict, where: str) -> Example:
    goal, sol1, sol2 = (text(row, column, where) for column in ("goal", "sol1", "sol2"))
    # lm-evaluation-harness's piqa prompt; the text is kept verbatim (some solutions end in a space).
    return Example(f"Question: {goal}\nAnswer:", [f" {sol1}", f" {sol2}"], index(row, "label", 2, where))


@dataclass
class Task:
    pinned: str  # name in scripts/pinned-files.tsv
    columns: dict  # column -> Arrow type name
    convert: object  # (row dict, "file: row i") -> Example


TASKS = {
    "piqa": Task("piqa", {"goal": "string", "sol1": "string", "sol2": "string", "label": "int64"}, piqa),
}


def read_rows(path: Path, columns: dict) -> list:
    import pyarrow as pa
    import pyarrow.ipc

    try:
        with pa.OSFile(str(path)) as f:
            table = pa.ipc.open_stream(f).read_all()
    except (pa.ArrowInvalid, OSError) as error:
        raise DataError(f"{path}: not a readable Arrow IPC stream ({error})")
    types = {field.name: str(field.type) for field in table.schema}
    for column, expected in columns.items():
        if types.get(column) != expected:
            raise DataError(f"{path}: column {column} should be {expected}, found {types.get(column, 'no such column')}")
    return table.select(list(columns)).to_pylist()


def json_line(record: dict) -> str:
    # Raw U+2028/U+2029 are valid JSON but split lines in some readers; escape them too.
    return json.dumps(record, ensure_ascii=False).replace("\u2028", "\\u2028").replace("\u2029", "\\u2029") + "\n"


def write_atomically(path: Path, content: str) -> None:
    temporary = path.with_name(f".{path.name}.{os.getpid()}.partial")
    try:
        with open(temporary, "w", encoding="utf-8", newline="\n") as f:
            f.write(content)
        os.replace(temporary, path)
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise


def split(count: int) -> dict:
    order = sorted(range(count), key=lambda i: (hashlib.sha256(f"{SEED}:{i}".encode()).digest(), i))
    held_out = (count + 5) // 10
    train = count - 2 * held_out
    return {"train": order[:train], "valid": order[train:train + held_out], "test": order[train + held_out:]}


def up_to_date(directory: Path, source_sha: str, script_sha: str) -> bool:
    try:
        manifest = json.loads((directory / "manifest.json").read_text(encoding="utf-8"))
        return (manifest["source"]["sha256"] == source_sha and manifest["script_sha256"] == script_sha
                and all(sha256(directory / name) == output["sha256"] for name, output in manifest["outputs"].items()))
    except (OSError, ValueError, KeyError, TypeError):
        return False


def prepare(name: str, task: Task, source: Path, script_sha: str, force: bool) -> None:
    directory = cache_dir() / "data" / name
    source_sha = sha256(source)
    if not force and up_to_date(directory, source_sha, script_sha):
        print(f"{name}: {directory} (up to date)")
        return
    rows = read_rows(source, task.columns)
    examples = [task.convert(row, f"{source}: row {i}") for i, row in enumerate(rows)]
    splits = split(len(examples))
    outputs = {}
    for part, indices in splits.items():
        chosen = [examples[i] for i in indices]
        outputs[f"{part}.jsonl"] = "".join(json_line({"prompt": e.query, "completion": e.choices[e.gold]})
                                           for e in chosen)
        if part != "train":
            outputs[f"{part}.mc.jsonl"] = "".join(json_line({"query": e.query, "choices": e.choices, "gold": e.gold})
                                                  for e in chosen)
    directory.mkdir(parents=True, exist_ok=True)
    for file_name, content in outputs.items():
        write_atomically(directory / file_name, content)
    import pyarrow

    manifest = {
        "task": name,
        "source": {"pinned": task.pinned, "path": str(source.relative_to(cache_dir())), "sha256": source_sha,
                   "rows": len(rows)},
        "script_sha256": script_sha,
        "pyarrow": pyarrow.__version__,
        "seed": SEED,
        "order": "source rows sorted by sha256(f'{seed}:{row index}'); with k = floor(n/10 + 1/2), "
                 "train, valid, test = the first n - 2k, the next k, the last k",
        "indices": splits,
        "outputs": {file_name: {"lines": content.count("\n"),
                                "sha256": hashlib.sha256(content.encode("utf-8")).hexdigest()}
                    for file_name, content in outputs.items()},
    }
    lines = (f" {json.dumps(key)}: {json.dumps(value, ensure_ascii=False)}" for key, value in manifest.items())
    write_atomically(directory / "manifest.json", "{\n" + ",\n".join(lines) + "\n}\n")
    sizes = ", ".join(f"{part} {len(indices)}" for part, indices in splits.items())
    print(f"{name}: {len(rows)} rows of {source} -> {directory}: {sizes}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("tasks", nargs="*", metavar="TASK", help=f"default: all of {', '.join(TASKS)}")
    parser.add_argument("--force", action="store_true", help="prepare again even when the outputs are up to date")
    arguments = parser.parse_args()
    names = arguments.tasks or list(TASKS)
    for name in names:
        if name not in TASKS:
            sys.exit(f"unknown task {name!r}; known: {', '.join(TASKS)}")
    sources = fetch_all([TASKS[name].pinned for name in names])
    script_sha = sha256(Path(__file__))
    try:
        for name in names:
            prepare(name, TASKS[name], sources[TASKS[name].pinned], script_sha, arguments.force)
    except DataError as error:
        sys.exit(f"prepare_data: {error}")


if __name__ == "__main__":
    main()
