#!/usr/bin/env python3
"""Reference token ids for the Swift byte-level BPE tokenizer, by Hugging Face `tokenizers`.

Writes, under Tests/EffiTokenizerTests/Fixtures/tokenizer/:

- smollm2.jsonl, qwen2.5-coder.jsonl: one JSON object a line, {"text": ..., "ids": [...]}, the ids
  that a `tokenizers.Tokenizer` built from the GGUF file's own metadata gives for each text
  (`encode(text, add_special_tokens=True).ids`); the tokenizer mirrors the Hugging Face
  tokenizer.json of that model family (normalizer, pre-tokenizer, BPE flags, added tokens).
  smollm2.meta.json, qwen2.5-coder.meta.json: how (GGUF sha256, versions, the tokenizer.json
  of the reference tokenizer less its vocab and merges, the texts whose decode is not the text).
- tiny-{gpt2,llama3,qwen2}.tokenizer.json: small byte-level BPE tokenizers trained here on one
  slice of the corpus, one per pre-tokenizer family; tiny-*.jsonl: ids for another slice plus the
  hand-written hard cases; tiny-*.meta.json likewise.

The corpus is deterministic: hand-written fragments (prose in several scripts, code, numbers,
URLs, emoji, whitespace runs, contractions, special tokens) combined by a seeded RNG, plus
windows of a few Python standard-library sources (so the corpus depends on the Python version;
the committed fixtures are self-contained and are the reference, the meta files record the
corpus sha256). Two runs give byte-identical files.

JSONL lines are separated by "\\n" only: every other line-break character in a text (\\r,
U+0085, U+2028, U+2029, ...) is written as a JSON escape.

Usage: .venv/bin/python scripts/reference_tokenizer.py [--models DIR] [--out DIR]
(`.venv/bin/pip install -r scripts/requirements-reference.txt`; the GGUF files come from
scripts/setup.sh, default DIR $EFFILORA_CACHE/models or ~/.cache/effilora/models; a missing
model file is skipped with a warning. About 30 s on two cores.)
"""
import argparse
import hashlib
import json
import os
import random
import sys
import sysconfig
import unicodedata
from pathlib import Path

os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

import gguf  # noqa: E402
import numpy  # noqa: E402
import tokenizers  # noqa: E402
from gguf import GGUFReader, GGUFValueType  # noqa: E402
from tokenizers import AddedToken, Regex, Tokenizer, decoders, normalizers, pre_tokenizers, processors  # noqa: E402
from tokenizers.models import BPE  # noqa: E402
from tokenizers.trainers import BpeTrainer  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
SEED = 20240607

# The pre-tokenizer regexes, exactly as the Hugging Face tokenizer.json files hold them.
# GPT-2's lives inside tokenizers' ByteLevel (use_regex=true) and never appears in a file.
GPT2_PATTERN = r"'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+"
LLAMA3_PATTERN = (r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}"
                  r"| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+")
QWEN2_PATTERN = (r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}"
                 r"| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+")

SMOLLM2_PROMPT = ("The capital of France is Paris. The capital of Germany is Berlin. "
                  "The capital of Italy is")
SMOLLM2_PROMPT_IDS = [504, 3575, 282, 4649, 314, 7042, 30, 378, 3575, 282, 4521, 314, 11452, 30,
                      378, 3575, 282, 7158, 314]

# gguf TokenType values
NORMAL, UNKNOWN, CONTROL, USER_DEFINED, UNUSED, BYTE = 1, 2, 3, 4, 5, 6


# ------------------------------------------------------------------------------------------------
# Pre-tokenizer families


def family(pre: str):
    """(normalizer, pre_tokenizer, ignore_merges) of the Hugging Face tokenizer.json of a family.

    smollm: SmolLM/SmolLM2 (HuggingFaceTB), as the starcoder tokenizers: digits one by one, then
            GPT-2's ByteLevel regex. llama.cpp's convert_hf_to_gguf.py maps it to pre "smollm".
    qwen2:  Qwen2/2.5 (and their coders): NFC, then the cl100k-like regex with single digits.
    llama3: Llama-3: the cl100k regex with \\p{N}{1,3}, BPE with ignore_merges.
    gpt2:   GPT-2: ByteLevel with its built-in regex.
    """
    if pre == "smollm":
        return None, pre_tokenizers.Sequence([
            pre_tokenizers.Digits(individual_digits=True),
            pre_tokenizers.ByteLevel(add_prefix_space=False, trim_offsets=True, use_regex=True),
        ]), False
    if pre == "qwen2":
        return normalizers.NFC(), pre_tokenizers.Sequence([
            pre_tokenizers.Split(Regex(QWEN2_PATTERN), behavior="isolated", invert=False),
            pre_tokenizers.ByteLevel(add_prefix_space=False, trim_offsets=False, use_regex=False),
        ]), False
    if pre == "llama3":
        return None, pre_tokenizers.Sequence([
            pre_tokenizers.Split(Regex(LLAMA3_PATTERN), behavior="isolated", invert=False),
            pre_tokenizers.ByteLevel(add_prefix_space=False, trim_offsets=True, use_regex=False),
        ]), True
    if pre == "gpt2":
        return None, pre_tokenizers.ByteLevel(add_prefix_space=False, trim_offsets=True, use_regex=True), False
    raise SystemExit(f"reference_tokenizer: no Hugging Face mirror for tokenizer.ggml.pre = {pre!r}")


# ------------------------------------------------------------------------------------------------
# GGUF → tokenizers.Tokenizer


def gguf_field(reader: GGUFReader, name: str, default=None):
    field = reader.fields.get(name)
    if field is None:
        return default
    kind = field.types[0]
    if kind == GGUFValueType.ARRAY:
        if field.types[1] == GGUFValueType.STRING:
            return [bytes(field.parts[i]).decode("utf-8") for i in field.data]
        return [field.parts[i].tolist()[0] for i in field.data]
    value = field.parts[field.data[0]]
    if kind == GGUFValueType.STRING:
        return bytes(value).decode("utf-8")
    return value.tolist()[0]


def byte_symbols() -> dict:
    """GPT-2's bytes_to_unicode: byte value → the printable character standing for it."""
    keep = list(range(0x21, 0x7F)) + list(range(0xA1, 0xAD)) + list(range(0xAE, 0x100))
    chars, extra = keep[:], 0
    for b in range(256):
        if b not in keep:
            keep.append(b)
            chars.append(256 + extra)
            extra += 1
    return {b: chr(c) for b, c in zip(keep, chars)}


def tokenizer_from_gguf(path: Path):
    """The Hugging Face tokenizer a GGUF file's metadata describes, and notes on it."""
    reader = GGUFReader(str(path))
    model = gguf_field(reader, "tokenizer.ggml.model")
    if model != "gpt2":
        raise SystemExit(f"{path.name}: tokenizer.ggml.model is {model!r}, expected 'gpt2' (byte-level BPE)")
    pre = gguf_field(reader, "tokenizer.ggml.pre", "default")
    tokens = gguf_field(reader, "tokenizer.ggml.tokens")
    types = gguf_field(reader, "tokenizer.ggml.token_type")
    merges = gguf_field(reader, "tokenizer.ggml.merges")
    assert len(tokens) == len(types), "tokens and token_type differ in length"

    # The BPE vocabulary holds every token but the unused padding ones ("[PAD151665]" …, which
    # convert_hf_to_gguf.py adds up to the embedding size and Hugging Face does not have).
    vocab = {}
    for i, (tok, kind) in enumerate(zip(tokens, types)):
        if kind == UNUSED:
            continue
        assert tok not in vocab, f"duplicate token {tok!r}"
        vocab[tok] = i
    pairs = []
    for m in merges:
        left, sep, right = m.partition(" ")
        assert sep and left and right and " " not in right, f"bad merge {m!r}"
        pairs.append((left, right))

    normalizer, pre_tokenizer, ignore_merges = family(pre)
    tok = Tokenizer(BPE(vocab=vocab, merges=pairs, dropout=None, unk_token=None, fuse_unk=False,
                        byte_fallback=False, ignore_merges=ignore_merges))
    if normalizer is not None:
        tok.normalizer = normalizer
    tok.pre_tokenizer = pre_tokenizer
    tok.decoder = decoders.ByteLevel()

    # Control tokens (3) are Hugging Face's special added tokens, user-defined ones (4) its
    # non-special added tokens (Qwen2.5's <tool_call>); both are matched whole in the raw text
    # before normalization (normalized=False, as in the models' tokenizer.json files).
    added = []
    for i, (t, kind) in enumerate(zip(tokens, types)):
        if kind in (CONTROL, USER_DEFINED):
            added.append((i, t, kind == CONTROL))
    for i, t, special in added:
        at = AddedToken(t, special=special, normalized=False, lstrip=False, rstrip=False, single_word=False)
        tok.add_special_tokens([at]) if special else tok.add_tokens([at])
        assert tok.token_to_id(t) == i, f"added token {t!r} got id {tok.token_to_id(t)}, not {i}"

    add_bos = bool(gguf_field(reader, "tokenizer.ggml.add_bos_token", False))
    add_eos = bool(gguf_field(reader, "tokenizer.ggml.add_eos_token", False))
    bos = gguf_field(reader, "tokenizer.ggml.bos_token_id")
    eos = gguf_field(reader, "tokenizer.ggml.eos_token_id")
    if add_bos or add_eos:
        single = " ".join(([f"{tokens[bos]}"] if add_bos else []) + ["$A"] + ([f"{tokens[eos]}"] if add_eos else []))
        specials = ([(tokens[bos], bos)] if add_bos else []) + ([(tokens[eos], eos)] if add_eos and eos != bos else [])
        tok.post_processor = processors.TemplateProcessing(single=single, special_tokens=specials)
    else:
        tok.post_processor = processors.ByteLevel(add_prefix_space=False, trim_offsets=False, use_regex=False)

    symbols = byte_symbols()
    notes = {
        "gguf_file": path.name,
        "gguf_sha256": sha256_file(path),
        "tokenizer.ggml.model": model,
        "tokenizer.ggml.pre": pre,
        "tokenizer.ggml.add_bos_token": add_bos,
        "tokenizer.ggml.add_eos_token": add_eos,
        "tokenizer.ggml.add_space_prefix": gguf_field(reader, "tokenizer.ggml.add_space_prefix"),
        "bos_token_id": bos,
        "eos_token_id": eos,
        "vocab_size_gguf": len(tokens),
        "vocab_size_bpe": len(vocab),
        "merges": len(pairs),
        "token_type_counts": {str(k): types.count(k) for k in sorted(set(types))},
        "added_tokens": [{"id": i, "content": t, "special": s} for i, t, s in added],
        "unused_token_ids_left_out_of_vocab": [i for i, k in enumerate(types) if k == UNUSED][:1] + [
            i for i, k in enumerate(types) if k == UNUSED][-1:],  # [first, last]
        # Bytes with no vocabulary token: Hugging Face's BPE (unk_token null) silently drops them.
        "bytes_without_token": [b for b in range(256) if symbols[b] not in vocab],
    }
    return tok, notes


def sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 22), b""):
            h.update(chunk)
    return h.hexdigest()


# ------------------------------------------------------------------------------------------------
# Corpus

SPECIALS = ["<|endoftext|>", "<|im_start|>", "<|im_end|>"]

# Always at the start of every fixture, in this order.
HARD_CASES = [
    "",
    " ",
    "  ",
    "\n",
    "\n\n",
    "\t",
    "\r\n",
    " \n ",
    "\t\t\n\t",
    "   \n\n   \n",
    " \r\n\r\n  \r\n",
    "Hello",
    " Hello",
    "Hello ",
    "  Hello  ",
    "Hello world",
    "Hello  world",
    "Hello   world   ",
    "Hello\nworld",
    "Hello\n\nworld",
    "Hello \n world",
    "Hello\t\tworld",
    "Hello\r\nworld\r\n",
    "trailing spaces   \nnext line",
    "    indented four\n        indented eight",
    "a\n\n\n\n\nb",
    "\n\n\n   x",
    "x   \n\n\n",
    "The capital of France is Paris. The capital of Germany is Berlin. The capital of Italy is",
    "I'm sure you're right, we've seen it, they'll come, he'd go, it's fine, don't worry.",
    "I'M SURE YOU'RE RIGHT, WE'VE SEEN IT, THEY'LL COME, HE'D GO, IT'S FINE, DON'T WORRY.",
    "I'm I'M i'M 'S 's 'T 't 'Re 'rE 'VE 've 'M 'm 'LL 'Ll 'D 'd",
    "'s at the start, then''s double, and 's' quoted, and ''",
    "John's book and the kids' toys and O'Neill's rock'n'roll",
    "It’s curly: don’t, won’t, you’re, we’ve, I’m, they’ll, she’d — not matched",
    "‘single’ and “double” quotes, «guillemets» and „low-high“",
    "12345678901234567890",
    "1,234,567.89 and 1.234.567,89 and 1 234 567",
    "3.14159265358979323846264338327950288419716939937510",
    "Call +1 (555) 123-4567 or +44 20 7946 0958 before 2024-03-15T12:34:56Z.",
    "٠١٢٣٤٥٦٧٨٩ ٣ ۴ ५ ০ ๓ ５ ０１２ ² ³ ½ ¾ Ⅻ ⅷ ① ⑳ 𝟙𝟚𝟛",
    "x1 x12 x123 x1234 x12345 1x 12x 123x 1234x",
    "-42 +42 4e10 1.5e-10 0xDEADBEEF 0b1010 0o777 1_000_000",
    "v1.2.3-beta.4+build.567",
    "https://example.com/path/to/page?query=1&other=two#fragment",
    "mailto:someone@example.org, first.last+tag@sub.domain.co.uk",
    "😀😃😄😁😆😅🤣😂",
    "👍 👍🏻 👍🏼 👍🏽 👍🏾 👍🏿",
    "👨‍👩‍👧‍👦 👩‍💻 🧑🏽‍🚀 🏳️‍🌈 🏴‍☠️ ❤️‍🔥",
    "🇫🇷 🇩🇪 🇯🇵 🇺🇸 🇧🇷 🇮🇳",
    "🏴󠁧󠁢󠁳󠁣󠁴󠁿 (Scotland, tag sequence)",
    "Emoji between words: tea🍵time, 3🍕, ok👌.",
    "Café, naïve, résumé, façade, Ångström, Straße, Ærøskøbing.",
    "Cafe\u0301 e\u0301te\u0301 (decomposed, NFD) vs Café été (composed, NFC)",
    "A\u030a \u212b \u00c5 (three spellings of Å)",
    "ﬁ ﬂ ﬃ Ⅸ ㍻ ｶﾀｶﾅ (compatibility characters NFC keeps)",
    "한국어 텍스트입니다 \u1112\u1161\u11ab (jamo)",
    "你好，世界！这是一个测试。",
    "日本語のテキストとカタカナ、ひらがな。",
    "Привет, мир! Ёжик в тумане.",
    "Γειά σου Κόσμε! Ελληνικά.",
    "مرحبا بالعالم! هذا اختبار.",
    "नमस्ते दुनिया! यह एक परीक्षण है।",
    "שָׁלוֹם עוֹלָם",
    "สวัสดีชาวโลก",
    "Tiếng Việt có dấu: Xin chào thế giới.",
    "zero\u200bwidth\u200cjoiner\u200dand\u2060word\u00adjoiner",
    "\ufeffBOM at start",
    "nbsp\u00a0here, thin\u2009space, ideographic\u3000space, em\u2003space",
    "line\u2028separator and paragraph\u2029separator and nel\u0085here",
    "vertical\x0btab and form\x0cfeed and \x1cfile \x1dgroup \x1erecord \x1funit",
    "control \x01\x02\x03\x04\x05\x06\x07\x08 and del\x7f",
    "bytes some vocabularies lack: \x04 \x06 \x13 \x14 \x16 \x1d",
    "NUL\x00inside",
    "!!!???...,,,;;;:::---___***&&&%%%$$$###@@@",
    "...... ?!?! !!! ¿¡ …… —— –– •• ·· ‰ § ¶ † ‡",
    "(((nested))) [[[brackets]]] {{{braces}}} <<<angles>>>",
    "a.b.c a-b-c a_b_c a/b/c a\\b\\c a|b|c",
    "==> <== != >= <= === !== && || ?? ?. :: -> => ... ..< ...",
    "<|im_start|>user\nHi<|im_end|>\n",
    "<|im_start|>system\nYou are a helpful assistant.<|im_end|>\n<|im_start|>user\nWhat is 2+2?<|im_end|>\n<|im_start|>assistant\n4<|im_end|>\n",
    "The end<|endoftext|>The beginning",
    "<|endoftext|><|endoftext|><|im_start|><|im_end|>",
    " <|endoftext|> ",
    "<|im_start|> spaced <|im_end|>",
    "<|im_start|>\n<|im_end|>",
    "partial <|im_start and <|im_end| and <|endoftext and |im_start|> and <im_start> must not match",
    "<<|im_start|>> nested <|<|im_end|>|>",
    "<|IM_START|> is not <|im_start|> (case matters)",
    "<|begin_of_text|><|start_header_id|>user<|end_header_id|>\n\nHi!<|eot_id|>",
    "<tool_call>\n{\"name\": \"get_weather\", \"arguments\": {\"city\": \"Paris\"}}\n</tool_call>",
    "<|fim_prefix|>def add(a, b):\n    <|fim_suffix|>\n<|fim_middle|>return a + b",
    "<repo_name>effilora<file_sep>README.md<filename>x.py<gh_stars>10",
    "def f(x):\n\treturn x  # tab-indented\n",
    "if x:\n    if y:\n        return z\n    else:\n\t\treturn w\n",
    "    \n    \n",
    "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
    " " * 40 + "forty spaces before",
    "after forty spaces" + " " * 40,
    "\t" * 12 + "tabs",
    "\n" * 15,
    "0" * 64,
    "9" * 100,
    "ab" * 60,
    "SGVsbG8gV29ybGQhIFRoaXMgaXMgYmFzZTY0IGVuY29kZWQgdGV4dC4=",
    "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
    "CamelCaseIdentifier snake_case_identifier SCREAMING_SNAKE kebab-case-id",
    "HTTPServerError URLSession XMLHttpRequest iOS macOS",
    "𝕳𝖊𝖑𝖑𝖔 𝓦𝓸𝓻𝓵𝓭 (mathematical letters)",
    "𠀀𠀁𡃁 (CJK extension B) 𐍈 (Gothic) 𓀀 (hieroglyph)",
    "\U000f0000 private-use plane 15, \ue000 BMP private use",
    "\ufffd replacement character, \ufffe\uffff noncharacters",
    # whole words in tiny-llama3's vocabulary that its merges never build (ignore_merges)
    "A supercalifragilistic Zyzzyva ate floccinaucinihilipilification, ein Überraschungsei.",
    " supercalifragilistic supercalifragilistic\nsupercalifragilistic  Zyzzyva's Zyzzyva",
    "SUPERCALIFRAGILISTIC and  floccinaucinihilipilification and (Überraschungsei)",
]

# Decomposed (NFD) text: Qwen2's NFC normalizer composes it before the pre-tokenizer.
HARD_CASES += [unicodedata.normalize("NFD", t) for t in [
    "Tiếng Việt: Tôi yêu tiếng nước tôi.", "안녕하세요, 만나서 반갑습니다.",
    "Η Αθήνα είναι η πρωτεύουσα της Ελλάδας.", "Où est la bibliothèque ? À côté de l'église.",
    "Zażółć gęślą jaźń; Příliš žluťoučký kůň; ﬁ Å Ω K"]]


def chat(role: str, content: str) -> str:
    return f"<|im_start|>{role}\n{content}<|im_end|>\n"


PROSE = [
    "The quick brown fox jumps over the lazy dog.",
    "It was the best of times, it was the worst of times.",
    "Machine learning models are trained on large amounts of text.",
    "LoRA freezes the base weights and learns a low-rank update to each projection.",
    "She sells sea shells by the sea shore, doesn't she?",
    "In 1969, Apollo 11 landed on the Moon; Neil Armstrong stepped out first.",
    "Please remember to bring your passport, your ticket, and a warm coat.",
    "The meeting has been moved from Tuesday at 3 p.m. to Thursday at 10 a.m.",
    "Water boils at 100 degrees Celsius at sea level.",
    "Photosynthesis converts light energy into chemical energy stored in glucose.",
    "We'll see whether the results hold up when the sample size grows.",
    "The committee's decision wasn't unanimous, but it's final.",
    "Mr. Smith, Dr. Jones and Prof. Lee met at 221B Baker St.",
    "Don't count your chickens before they hatch.",
    "A journey of a thousand miles begins with a single step.",
    "He said, \"I'll be back,\" and left without another word.",
    "The gradient of the loss with respect to the weights is computed by backpropagation.",
    "Tokenizers split text into pieces that a model maps to vectors.",
    "Shakespeare wrote 37 plays and 154 sonnets, or so they say.",
    "The train leaves at 06:45 and arrives at 09:12, platform 9¾.",
    "Mix 2 cups of flour with 1½ cups of milk and 3 eggs.",
    "You're welcome to join us; we've saved you a seat.",
    "THE END IS NEAR, said the sign in capital letters.",
    "Is this the real life? Is this just fantasy?",
    "To be, or not to be: that is the question.",
    "The mitochondria is the powerhouse of the cell.",
    "Prices rose 3.2% year over year, the fastest pace since 2008.",
    "Read the manual (pages 12–15) before you start.",
    "Alice asked Bob: 'Have you seen Carol's keys?'",
    "The function returns None if the key isn't found.",
]

FOREIGN = [
    "Le cœur a ses raisons que la raison ne connaît point.",
    "Où est la bibliothèque ? Elle est à côté de l'église.",
    "Je n'ai jamais vu ça, c'est incroyable !",
    "Die Würde des Menschen ist unantastbar.",
    "Größe, Übermut und Äpfel: schöne Grüße aus München.",
    "Der schnelle braune Fuchs springt über den faulen Hund.",
    "¿Dónde está la estación? ¡Está allí, señor!",
    "A ação não é fácil, mas é possível.",
    "Il était une fois une petite fille qui s'appelait Chaperon rouge.",
    "机器学习是人工智能的一个分支。",
    "我们明天早上八点在学校门口见面。",
    "今日はいい天気ですね。散歩に行きましょう。",
    "東京都渋谷区で会議があります。",
    "カタカナとひらがなと漢字が混ざった文章です。",
    "안녕하세요, 만나서 반갑습니다.",
    "서울은 대한민국의 수도입니다.",
    "اللغة العربية جميلة جداً.",
    "قال: «سأعود غداً إن شاء الله».",
    "भारत एक विशाल देश है।",
    "मुझे हिंदी बोलना पसंद है।",
    "Москва — столица России.",
    "Съешь же ещё этих мягких французских булок, да выпей чаю.",
    "Україна, Київ, їжак, ґанок.",
    "Η Αθήνα είναι η πρωτεύουσα της Ελλάδας.",
    "Ξεσκεπάζω την ψυχοφθόρα βδελυγμία.",
    "Türkçe: İstanbul'da ılık bir gün, ğüşçö.",
    "Polski: Zażółć gęślą jaźń.",
    "Čeština: Příliš žluťoučký kůň úpěl ďábelské ódy.",
    "Svenska: Flygande bäckasiner söka hwila på mjuka tuvor.",
    "עברית: זוהי בדיקה של טקסט.",
    "ภาษาไทยไม่มีช่องว่างระหว่างคำ",
    "Tiếng Việt: Tôi yêu tiếng nước tôi.",
    "Ελληνικά και English μαζί in one line.",
    "中文和English混合mixed文本123个字符。",
    "日本語とEnglishのmixed文章、全角１２３と半角123。",
]

CODE = [
    "def fib(n):\n    a, b = 0, 1\n    for _ in range(n):\n        a, b = b, a + b\n    return a\n",
    "import numpy as np\n\nx = np.zeros((3, 4), dtype=np.float32)\nprint(x.shape)  # (3, 4)\n",
    "class Point:\n    def __init__(self, x: float, y: float) -> None:\n        self.x = x\n        self.y = y\n",
    "for i in range(10):\n\tif i % 2 == 0:\n\t\tprint(f\"{i} is even\")\n",
    "try:\n    value = int(text)\nexcept ValueError as e:\n    raise RuntimeError(f'bad: {text!r}') from e\n",
    "lambda x: x ** 2 if x > 0 else -x",
    "func greet(_ name: String) -> String {\n    return \"Hello, \\(name)!\"\n}\n",
    "struct Tensor {\n    var shape: [Int]\n    var storage: [Float]\n}\n",
    "let xs = [1, 2, 3].map { $0 * 2 }.filter { $0 > 2 }\n",
    "guard let url = URL(string: path) else { return nil }",
    "extension Array where Element: Numeric {\n    func sum() -> Element { reduce(0, +) }\n}\n",
    "#include <stdio.h>\n\nint main(void) {\n\tprintf(\"Hello, world!\\n\");\n\treturn 0;\n}\n",
    "static inline float silu(float x) { return x / (1.0f + expf(-x)); }",
    "for (int i = 0; i < n; ++i) {\n    y[i] += alpha * x[i];\n}\n",
    "#define MAX(a, b) ((a) > (b) ? (a) : (b))",
    "{\"name\": \"effilora\", \"version\": \"0.1.0\", \"layers\": 30, \"rope_theta\": 100000.0}",
    "{\n  \"messages\": [\n    {\"role\": \"user\", \"content\": \"Hi\"},\n    {\"role\": \"assistant\", \"content\": \"Hello!\"}\n  ]\n}",
    "[1, 2.5, -3e-4, true, false, null, \"\\u00e9\\n\"]",
    "#!/usr/bin/env bash\nset -euo pipefail\nfor f in *.txt; do\n  echo \"$f\"\ndone\n",
    "curl -sSL https://example.com/install.sh | sh -s -- --prefix=$HOME/.local",
    "git log --oneline | head -n 5 && git status --short",
    "export PATH=\"/usr/local/bin:$PATH\"; cd ~/src && make -j$(nproc)",
    "SELECT id, name FROM users WHERE age >= 18 ORDER BY name ASC LIMIT 10;",
    "<div class=\"container\"><p>Hello &amp; welcome!</p></div>",
    "body { margin: 0; padding: 0 1rem; font-family: -apple-system, sans-serif; }",
    "const add = (a, b) => a + b; console.log(`sum = ${add(1, 2)}`);",
    "fn main() {\n    let v: Vec<i32> = (0..10).collect();\n    println!(\"{:?}\", v);\n}\n",
    "package main\n\nimport \"fmt\"\n\nfunc main() {\n\tfmt.Println(\"hi\")\n}\n",
    "% LaTeX: $\\sum_{i=1}^{n} x_i^2 = \\|x\\|_2^2$",
    "| col1 | col2 |\n|------|------|\n| a    | 1    |\n",
    "- [ ] todo\n- [x] done\n  * nested item\n",
    "key: value\nlist:\n  - one\n  - two\nnested:\n  inner: 3\n",
]

WORDS = ("the of and to in is was for on that with as by at from it an be this are or have "
         "time model layer token weight gradient data train loss rank adapter matrix vector "
         "quick brown jumps lazy happy river mountain city window garden music story "
         "Paris London Tokyo Berlin Swift Python Linux GPU CPU API JSON HTTP").split()

EMOJI = ["😀", "😂", "🥲", "😍", "🤔", "🙃", "👍", "👍🏽", "👋🏿", "🙏🏻", "💪🏾", "👨‍👩‍👧",
         "👩‍❤️‍👨", "🧑‍💻", "🏳️‍🌈", "🇫🇷", "🇯🇵", "🇺🇳", "❤️", "✨", "🔥", "🚀", "🎉", "✅", "❌",
         "⚠️", "☕", "🍕", "🌍", "🐍", "🦀", "🐦", "1️⃣", "#️⃣", "©️", "™"]

SEPARATORS = [" ", " ", " ", "\n", "\n\n", "\t", "", "  ", "\r\n", ", ", ". ", " - ", "\n    ", " \n"]

STDLIB_FILES = ["textwrap.py", "json/encoder.py", "difflib.py", "heapq.py", "string.py",
                "fractions.py", "calendar.py", "csv.py", "shlex.py", "colorsys.py"]


def number(rng: random.Random) -> str:
    k = rng.randrange(16)
    if k == 0:
        return str(rng.randrange(10 ** rng.randrange(1, 13)))
    if k == 1:
        return f"{rng.uniform(-1000, 1000):.{rng.randrange(1, 6)}f}"
    if k == 2:
        return f"{rng.randrange(10 ** rng.randrange(4, 11)):,}"
    if k == 3:
        return f"+{rng.randrange(1, 99)} ({rng.randrange(100, 999)}) {rng.randrange(100, 999)}-{rng.randrange(1000, 9999)}"
    if k == 4:
        return f"{rng.randrange(1900, 2100)}-{rng.randrange(1, 13):02d}-{rng.randrange(1, 29):02d}"
    if k == 5:
        return f"{rng.randrange(1, 29)}/{rng.randrange(1, 13)}/{rng.randrange(1900, 2100)}"
    if k == 6:
        return f"{rng.randrange(24):02d}:{rng.randrange(60):02d}:{rng.randrange(60):02d}"
    if k == 7:
        return "".join(rng.choice("0123456789") for _ in range(rng.randrange(15, 60)))
    if k == 8:
        digits = rng.choice(["٠١٢٣٤٥٦٧٨٩", "۰۱۲۳۴۵۶۷۸۹", "०१२३४५६७८९", "০১২৩৪৫৬৭৮৯", "０１２３４５６７８９", "๐๑๒๓๔๕๖๗๘๙"])
        return "".join(rng.choice(digits) for _ in range(rng.randrange(1, 8)))
    if k == 9:
        return rng.choice(["²", "³", "¹⁰", "½", "¾", "⅓", "Ⅻ", "ⅻ", "①", "⑩", "㉑", "𝟘𝟙", "⁴²", "₁₂"])
    if k == 10:
        return f"{rng.randrange(1, 9)}.{rng.randrange(10)}e{rng.choice(['-', '+', ''])}{rng.randrange(1, 30)}"
    if k == 11:
        return f"0x{rng.randrange(16 ** 8):0{rng.randrange(2, 9)}X}"
    if k == 12:
        return f"${rng.randrange(1, 100000):,}.{rng.randrange(100):02d}"
    if k == 13:
        return f"€{rng.randrange(1, 1000)},{rng.randrange(100):02d}"
    if k == 14:
        return f"{rng.randrange(101)}%"
    return f"v{rng.randrange(10)}.{rng.randrange(30)}.{rng.randrange(100)}"


def url(rng: random.Random) -> str:
    host = rng.choice(["example.com", "docs.python.org", "huggingface.co", "github.com", "en.wikipedia.org",
                       "127.0.0.1:8080", "localhost:3000", "xn--bcher-kva.example", "例え.jp"])
    path = "/".join(rng.choice(WORDS).lower() for _ in range(rng.randrange(0, 4)))
    k = rng.randrange(5)
    if k == 0:
        return f"{rng.choice(WORDS).lower()}.{rng.choice(WORDS).lower()}{rng.randrange(100)}@{host.split(':')[0]}"
    if k == 1:
        return f"https://{host}/{path}?q={rng.choice(WORDS)}&page={rng.randrange(1, 50)}"
    if k == 2:
        return f"http://{host}/{path}#section-{rng.randrange(10)}"
    if k == 3:
        return f"<https://{host}/{path}>"
    return f"[link](https://{host}/{path}.html)"


def whitespace(rng: random.Random) -> str:
    parts = [" ", "  ", "\t", "\n", "\r\n", "\n\n", "    ", "\u00a0", "\u3000", "\r"]
    return "".join(rng.choice(parts) for _ in range(rng.randrange(1, 7)))


def contraction(rng: random.Random) -> str:
    words = ["I'm", "you're", "we've", "they'll", "she'd", "it's", "don't", "can't", "won't", "isn't",
             "I'M", "YOU'RE", "WE'VE", "THEY'LL", "SHE'D", "IT'S", "DON'T", "Ma'am", "y'all", "o'clock",
             "rock'n'roll", "'tis", "'90s", "it’s", "don’t", "we’re", "'Re", "'Ll", "'VE"]
    return " ".join(rng.choice(words) for _ in range(rng.randrange(1, 6)))


def punctuation(rng: random.Random) -> str:
    chars = "!?.,;:-_*&%$#@()[]{}<>/\\|'\"`~^+=…—–·•«»¿¡“”‘’"
    return "".join(rng.choice(chars) for _ in range(rng.randrange(1, 12)))


def emoji(rng: random.Random) -> str:
    return "".join(rng.choice(EMOJI) for _ in range(rng.randrange(1, 5)))


def words(rng: random.Random) -> str:
    return " ".join(rng.choice(WORDS) for _ in range(rng.randrange(2, 12)))


def mutate(rng: random.Random, text: str) -> str:
    k = rng.randrange(6)
    if k == 0:
        return text.upper()
    if k == 1:
        return "".join(c.upper() if rng.random() < 0.3 else c for c in text)
    if k == 2:
        return unicodedata.normalize("NFD", text)
    if k == 3:
        return text.replace(" ", rng.choice(["  ", "\t", "\n", " \n", "\u00a0"]))
    if k == 4:
        return text.strip() + rng.choice(["", " ", "\n", "  \n", "\t"]) * rng.randrange(1, 4)
    return rng.choice([" ", "\n", "\t", "  "]) + text


def stdlib_windows(rng: random.Random):
    root = Path(sysconfig.get_paths()["stdlib"])
    sources = []
    for name in STDLIB_FILES:
        path = root / name
        if path.exists():
            sources.append(path.read_text(encoding="utf-8").splitlines(keepends=True))

    def window() -> str:
        if not sources:
            return rng.choice(CODE)
        lines = rng.choice(sources)
        start = rng.randrange(len(lines))
        return "".join(lines[start:start + rng.randrange(1, 9)])[:500]
    return window


def generated_lines(rng: random.Random, count: int):
    window = stdlib_windows(rng)
    pools = [
        (5, lambda: rng.choice(PROSE)),
        (5, lambda: rng.choice(FOREIGN)),
        (4, lambda: rng.choice(CODE)),
        (4, lambda: number(rng)),
        (2, lambda: url(rng)),
        (2, lambda: emoji(rng)),
        (2, lambda: whitespace(rng)),
        (2, lambda: contraction(rng)),
        (2, lambda: punctuation(rng)),
        (4, lambda: words(rng)),
        (1, lambda: rng.choice(SPECIALS)),
    ]
    weights = [w for w, _ in pools]

    def fragment() -> str:
        return rng.choices(pools, weights)[0][1]()

    out, seen = [], set(HARD_CASES)
    while len(out) < count:
        shape = rng.randrange(10)
        if shape <= 1:
            text = fragment()
        elif shape <= 4:
            text = "".join(fragment() + rng.choice(SEPARATORS) for _ in range(rng.randrange(2, 5)))
            if rng.random() < 0.5:
                text = text.rstrip(" ")
        elif shape <= 6:
            text = window()
        elif shape == 7:
            turns = [chat(rng.choice(["system", "user", "assistant"]), fragment()) for _ in range(rng.randrange(1, 4))]
            text = "".join(turns) + rng.choice(["", "<|im_start|>assistant\n", "<|endoftext|>"])
        elif shape == 8:
            text = mutate(rng, fragment())
        else:
            a, b = fragment(), fragment()
            text = a + rng.choice(["", " ", "\n"]) + rng.choice(SPECIALS + ["<|im_start", "im_end|>", "<|"]) + b
        text = text[:700]
        if text not in seen:
            seen.add(text)
            out.append(text)
    return out


def corpus():
    """(hard cases, evaluation lines, training lines), disjoint and deterministic."""
    rng = random.Random(SEED)
    lines = generated_lines(rng, 2100 + 1800)
    return HARD_CASES, lines[:2100], lines[2100:]


# ------------------------------------------------------------------------------------------------
# Tiny trained tokenizers


UNREACHABLE_WORDS = [" supercalifragilistic", " Zyzzyva", " floccinaucinihilipilification", " Überraschungsei"]


def tiny_tokenizer(kind: str, training):
    """A small byte-level BPE (about 1,200 tokens) in the style of one model family."""
    normalizer, pre_tokenizer, ignore_merges = family(kind)
    tok = Tokenizer(BPE(dropout=None, unk_token=None, fuse_unk=False, byte_fallback=False,
                        ignore_merges=ignore_merges))
    if normalizer is not None:
        tok.normalizer = normalizer
    tok.pre_tokenizer = pre_tokenizer
    tok.decoder = decoders.ByteLevel()
    tok.post_processor = processors.ByteLevel(add_prefix_space=False, trim_offsets=False, use_regex=False)
    # gpt2: <|endoftext|> … first, as SmolLM2 has them; the others: added after training, at the
    # end of the vocabulary, as Llama-3 and Qwen2 have them.
    first = SPECIALS if kind == "gpt2" else []
    trainer = BpeTrainer(vocab_size=1200, min_frequency=2, show_progress=False, special_tokens=first,
                         initial_alphabet=pre_tokenizers.ByteLevel.alphabet())
    tok.train_from_iterator(training, trainer=trainer)
    if kind == "llama3":
        # Llama-3's vocabulary holds whole words that its merges never build; ignore_merges makes a
        # pre-token that is such a word one token. A trained vocabulary has none, so add a few.
        config = json.loads(tok.to_str())
        vocab = config["model"]["vocab"]
        symbols = byte_symbols()
        for word in UNREACHABLE_WORDS:
            piece = "".join(symbols[b] for b in word.encode("utf-8"))
            assert piece not in vocab, piece
            vocab[piece] = len(vocab)
        tok = Tokenizer.from_str(json.dumps(config))
        tok.add_special_tokens(["<|begin_of_text|>", "<|end_of_text|>", "<|start_header_id|>",
                                "<|end_header_id|>", "<|eot_id|>"] + SPECIALS)
    elif kind == "qwen2":
        tok.add_special_tokens([AddedToken(s, special=True, normalized=False) for s in SPECIALS])
        tok.add_tokens([AddedToken(s, special=False, normalized=False) for s in ["<tool_call>", "</tool_call>"]])
    config = json.loads(tok.to_str())
    assert config["model"]["ignore_merges"] == ignore_merges, "training lost ignore_merges"
    if kind == "qwen2":
        # Qwen2's file spells its ByteLevel decoder out with false flags; GPT-2's and Llama-3's
        # keep the defaults (add_prefix_space true). Neither changes the ids or the decoded text.
        config["decoder"] = {"type": "ByteLevel", "add_prefix_space": False, "trim_offsets": False, "use_regex": False}
    if kind == "gpt2":
        # Older tokenizer.json files (GPT-2's, SmolLM2's) write merges as "a b" strings, newer
        # ones as ["a", "b"]; this fixture keeps the old form so the Swift loader sees both.
        config["model"]["merges"] = [" ".join(pair) for pair in config["model"]["merges"]]
    text = json.dumps(config, ensure_ascii=False, indent=1) + "\n"
    reloaded = Tokenizer.from_str(text)
    sample = training[:300]
    assert [e.ids for e in reloaded.encode_batch(sample)] == [e.ids for e in tok.encode_batch(sample)]
    return reloaded, text


# ------------------------------------------------------------------------------------------------
# Output

LINE_BREAKS = {"\u0085": "\\u0085", "\u2028": "\\u2028", "\u2029": "\\u2029"}


def jsonl_line(text: str, ids) -> str:
    line = json.dumps({"text": text, "ids": ids}, ensure_ascii=False, separators=(",", ":"))
    for raw, escaped in LINE_BREAKS.items():
        line = line.replace(raw, escaped)
    return line + "\n"


def write_fixture(out: Path, name: str, tok: Tokenizer, texts, meta: dict, report: list):
    encodings = tok.encode_batch(texts, add_special_tokens=True)
    ids = [e.ids for e in encodings]
    mismatches = []
    for i, (text, line_ids) in enumerate(zip(texts, ids)):
        if tok.decode(line_ids, skip_special_tokens=False) != text:
            mismatches.append(i)
    body = "".join(jsonl_line(t, i) for t, i in zip(texts, ids))
    (out / f"{name}.jsonl").write_text(body, encoding="utf-8")
    config = json.loads(tok.to_str())
    config["model"].pop("vocab", None)
    config["model"].pop("merges", None)
    meta.update({
        "fixture": f"{name}.jsonl",
        "lines": len(texts),
        "hard_case_lines": f"the first {len(HARD_CASES)} lines are the hand-written hard cases",
        "tokens": sum(len(x) for x in ids),
        "encode": "tokenizer.encode(text, add_special_tokens=True).ids",
        "decode_check": "tokenizer.decode(ids, skip_special_tokens=False) == text",
        "decode_not_identity_lines": mismatches,
        "corpus_sha256": hashlib.sha256("\x1e".join(texts).encode("utf-8")).hexdigest(),
        "python": sys.version.split()[0],
        "versions": {"tokenizers": tokenizers.__version__, "gguf": gguf_version(), "numpy": numpy.__version__},
        "tokenizer_json_without_vocab_and_merges": config,
    })
    (out / f"{name}.meta.json").write_text(json.dumps(meta, ensure_ascii=False, indent=1) + "\n", encoding="utf-8")
    report.append((name, len(texts), mismatches, texts))


def gguf_version() -> str:
    try:
        from importlib.metadata import version
        return version("gguf")
    except Exception:
        return "unknown"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    cache = Path(os.environ.get("EFFILORA_CACHE", Path.home() / ".cache" / "effilora"))
    parser.add_argument("--models", type=Path, default=cache / "models")
    parser.add_argument("--out", type=Path, default=ROOT / "Tests/EffiTokenizerTests/Fixtures/tokenizer")
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)

    hard, evaluation, training = corpus()
    texts = hard + evaluation
    report = []

    models = [("smollm2", "SmolLM2-135M-Instruct*.gguf"), ("qwen2.5-coder", "Qwen2.5-Coder-0.5B-Instruct*.gguf")]
    for name, pattern in models:
        found = sorted(args.models.glob(pattern))
        if not found:
            print(f"warning: no {pattern} in {args.models}; {name} fixtures not written", file=sys.stderr)
            continue
        tok, meta = tokenizer_from_gguf(found[0])
        if name == "smollm2":
            got = tok.encode(SMOLLM2_PROMPT, add_special_tokens=True).ids
            assert got == SMOLLM2_PROMPT_IDS, f"SmolLM2 reference prompt: {got}"
            meta["reference_prompt_ids_match"] = True
        write_fixture(args.out, name, tok, texts, meta, report)

    tiny_texts = hard + evaluation[:450]
    for kind in ["gpt2", "llama3", "qwen2"]:
        tok, text = tiny_tokenizer(kind, training)
        (args.out / f"tiny-{kind}.tokenizer.json").write_text(text, encoding="utf-8")
        meta = {"tokenizer_json": f"tiny-{kind}.tokenizer.json", "vocab_size": tok.get_vocab_size(with_added_tokens=True),
                "trained_on": f"{len(training)} generated corpus lines disjoint from the fixture's"}
        if kind == "llama3":
            # How many fixture lines ignore_merges changes (a whole pre-token in the vocabulary wins).
            plain = json.loads(text)
            plain["model"]["ignore_merges"] = False
            other = Tokenizer.from_str(json.dumps(plain))
            a = tok.encode_batch(tiny_texts)
            b = other.encode_batch(tiny_texts)
            meta["lines_changed_by_ignore_merges"] = sum(x.ids != y.ids for x, y in zip(a, b))
        write_fixture(args.out, f"tiny-{kind}", tok, tiny_texts, meta, report)

    print(f"{'fixture':28} {'lines':>6} {'bytes':>9}  decode != text")
    for name, n, mismatches, lines in report:
        size = (args.out / f"{name}.jsonl").stat().st_size
        print(f"{name + '.jsonl':28} {n:6d} {size:9d}  {len(mismatches)} lines")
        for i in mismatches[:8]:
            print(f"    line {i}: {lines[i][:70]!r}")
    for kind in ["gpt2", "llama3", "qwen2"]:
        path = args.out / f"tiny-{kind}.tokenizer.json"
        config = json.loads(path.read_text(encoding="utf-8"))
        print(f"\n{path.name} ({path.stat().st_size} bytes): normalizer {json.dumps(config['normalizer'])}")
        print(f"  pre_tokenizer {json.dumps(config['pre_tokenizer'], ensure_ascii=False)}")
        print(f"  ignore_merges {config['model']['ignore_merges']}, vocab {len(config['model']['vocab'])}, "
              f"merges {len(config['model']['merges'])}, added {[t['content'] for t in config['added_tokens']]}")
    print("\npatterns (as raw strings, i.e. the JSON-decoded values):")
    print(f"  gpt2   (ByteLevel use_regex=true, built in) {GPT2_PATTERN}")
    print(f"  llama3 {LLAMA3_PATTERN}")
    print(f"  qwen2  {QWEN2_PATTERN}")
    total = sum(p.stat().st_size for p in args.out.iterdir())
    print(f"\ntotal fixture size {total} bytes in {args.out}")


if __name__ == "__main__":
    main()
