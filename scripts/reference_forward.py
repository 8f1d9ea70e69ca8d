#!/usr/bin/env python3
"""Reference forward of a LLaMA-family decoder (GGUF `llama` or `qwen2`) in NumPy, for the Swift tests.

Every weight is dequantized by llama.cpp's own Python package (gguf.GGUFReader +
gguf.quants.dequantize) and the whole forward runs in float64 (weights, activations and
accumulation): the dequantized values are exact in float64, so the only differences from an exact
forward are float64 rounding.

- llama (SmolLM2): the GGUF stores the Q/K rows permuted so that RoPE rotates adjacent pairs
  (2i, 2i+1); the output head is token_embd.weight when output.weight is absent (tied).
- qwen2: q/k/v biases, RoPE on (i, i + d/2) ("rotate half"), its own output.weight.
Both: RMSNorm, grouped-query attention (head h reads KV head h // (heads / kv_heads)), causal
softmax with scale 1/sqrt(head_dim), SwiGLU feed-forward. Hyper-parameters come from the metadata.

For each prompt it writes: the ids, the mean next-token NLL over the prompt (mean over t = 0..T-2
of -log softmax(logits[t])[ids[t+1]]), the top-5 next ids at the last position with their logits,
logits[0, :8], logits[-1, :8], and a greedy continuation (full forward recomputed each step).
scripts/reference_crosscheck_transformers.py checks a fixture against transformers' own float32
forward of the same GGUF (NLL within 5e-6, logits within 5e-5 for both fixtures).

Usage: .venv/bin/python scripts/reference_forward.py MODEL.gguf [--out OUT.json] [--greedy 8]
           (--ids 1,2,3 | --text "a prompt") [(--ids ... | --text ...) ...]
--text tokenizes with the `tokenizers` package built from the GGUF's own vocabulary and merges
(pre-tokenizers `qwen2` and `smollm`). (`.venv/bin/pip install -r scripts/requirements-reference.txt`)
"""
import argparse
import hashlib
import json
import shlex
import sys
import time
from importlib.metadata import version
from pathlib import Path

import numpy as np
from gguf import GGUFReader, GGUFValueType
from gguf.quants import dequantize

QWEN2_REGEX = (r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|"
               r"\s*[\r\n]+|\s+(?!\S)|\s+")


def field(reader: GGUFReader, key: str, default=None):
    f = reader.fields.get(key)
    if f is None:
        return default
    if f.types[0] == GGUFValueType.ARRAY:
        return f.contents()
    value = f.parts[f.data[0]]
    return bytes(value).decode("utf-8") if f.types[0] == GGUFValueType.STRING else value.tolist()[0]


class Model:
    def __init__(self, path: str):
        reader = GGUFReader(path)
        self.reader = reader
        self.arch = field(reader, "general.architecture")
        if self.arch not in ("llama", "qwen2"):
            sys.exit(f"{path}: architecture {self.arch!r} is neither llama nor qwen2")
        a = self.arch
        self.layers = field(reader, f"{a}.block_count")
        self.dim = field(reader, f"{a}.embedding_length")
        self.heads = field(reader, f"{a}.attention.head_count")
        self.kv_heads = field(reader, f"{a}.attention.head_count_kv", self.heads)
        self.head_dim = field(reader, f"{a}.attention.key_length", self.dim // self.heads)
        self.rope_dim = field(reader, f"{a}.rope.dimension_count", self.head_dim)
        self.rope_base = field(reader, f"{a}.rope.freq_base", 10000.0)
        self.eps = field(reader, f"{a}.attention.layer_norm_rms_epsilon")
        if self.rope_dim != self.head_dim:
            sys.exit(f"{path}: partial RoPE ({self.rope_dim} of {self.head_dim}) is not supported")
        self.types = {t.name: t.tensor_type.name for t in reader.tensors}
        # dequantize returns the GGUF (ne0 = in, ne1 = out) tensor as a NumPy (out, in) array. The values
        # are kept in float32 (they are exact there: every block format's values are) and widened to
        # float64 where they are used, so that 1.5B-parameter models fit in memory.
        self.w = {t.name: dequantize(t.data, t.tensor_type).astype(np.float32) for t in reader.tensors}
        if "output.weight" not in self.w:
            self.w["output.weight"] = self.w["token_embd.weight"]
        self.vocab = self.w["token_embd.weight"].shape[0]

    def rms_norm(self, x, weight):
        return x / np.sqrt(np.mean(x * x, axis=-1, keepdims=True) + self.eps) * weight

    def rope(self, x):  # x: (T, heads, head_dim)
        T, d = x.shape[0], self.head_dim
        freqs = self.rope_base ** (-np.arange(0, d, 2, dtype=np.float64) / d)   # (d/2,)
        angle = np.arange(T, dtype=np.float64)[:, None] * freqs[None, :]         # (T, d/2)
        cos, sin = np.cos(angle)[:, None, :], np.sin(angle)[:, None, :]
        if self.arch == "llama":   # adjacent pairs (2i, 2i+1)
            a, b = x[..., 0::2], x[..., 1::2]
            out = np.empty_like(x)
            out[..., 0::2], out[..., 1::2] = a * cos - b * sin, a * sin + b * cos
            return out
        a, b = x[..., : d // 2], x[..., d // 2:]   # rotate half: (i, i + d/2)
        return np.concatenate([a * cos - b * sin, a * sin + b * cos], axis=-1)

    def linear(self, x, name):
        y = x @ self.w[name + ".weight"].astype(np.float64).T
        bias = self.w.get(name + ".bias")
        return y if bias is None else y + bias.astype(np.float64)

    def logits(self, ids):
        T, hd = len(ids), self.head_dim
        x = self.w["token_embd.weight"][ids].astype(np.float64)
        mask = np.triu(np.full((T, T), -np.inf), k=1)
        group = self.heads // self.kv_heads
        for i in range(self.layers):
            p = f"blk.{i}."
            h = self.rms_norm(x, self.w[p + "attn_norm.weight"].astype(np.float64))
            q = self.rope(self.linear(h, p + "attn_q").reshape(T, self.heads, hd))
            k = self.rope(self.linear(h, p + "attn_k").reshape(T, self.kv_heads, hd))
            v = self.linear(h, p + "attn_v").reshape(T, self.kv_heads, hd)
            k, v = np.repeat(k, group, axis=1), np.repeat(v, group, axis=1)      # GQA
            scores = np.einsum("thd,shd->hts", q, k) / np.sqrt(hd) + mask
            scores = np.exp(scores - scores.max(axis=-1, keepdims=True))
            scores /= scores.sum(axis=-1, keepdims=True)
            attn = np.einsum("hts,shd->thd", scores, v).reshape(T, self.heads * hd)
            x = x + self.linear(attn, p + "attn_output")
            h = self.rms_norm(x, self.w[p + "ffn_norm.weight"].astype(np.float64))
            gate = self.linear(h, p + "ffn_gate")
            x = x + self.linear(gate / (1 + np.exp(-gate)) * self.linear(h, p + "ffn_up"), p + "ffn_down")
        return self.rms_norm(x, self.w["output_norm.weight"].astype(np.float64)) @ self.w["output.weight"].astype(np.float64).T


def gguf_tokenizer(reader: GGUFReader):
    from tokenizers import AddedToken, Regex, Tokenizer, decoders, models, normalizers, pre_tokenizers
    tokens = [str(t) for t in field(reader, "tokenizer.ggml.tokens")]
    merges = [tuple(str(m).split(" ", 1)) for m in field(reader, "tokenizer.ggml.merges")]
    types = field(reader, "tokenizer.ggml.token_type")
    tok = Tokenizer(models.BPE({t: i for i, t in enumerate(tokens)}, merges, ignore_merges=False))
    pre = field(reader, "tokenizer.ggml.pre")
    if pre == "qwen2":
        tok.normalizer = normalizers.NFC()
        tok.pre_tokenizer = pre_tokenizers.Sequence([
            pre_tokenizers.Split(Regex(QWEN2_REGEX), behavior="isolated"),
            pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False)])
    elif pre == "smollm":
        tok.pre_tokenizer = pre_tokenizers.Sequence([
            pre_tokenizers.Digits(individual_digits=True),
            pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=True)])
    else:
        sys.exit(f"pre-tokenizer {pre!r} is not supported by --text; pass --ids")
    tok.decoder = decoders.ByteLevel()
    tok.add_special_tokens([AddedToken(t, special=True, normalized=False)
                            for t, kind in zip(tokens, types) if kind in (3, 4)])   # control, user-defined
    return tok


def log_softmax(z):
    z = z - z.max(axis=-1, keepdims=True)
    return z - np.log(np.exp(z).sum(axis=-1, keepdims=True))


def reference(model: Model, ids: list, greedy: int) -> dict:
    start = time.perf_counter()
    logits = model.logits(ids)
    lp = log_softmax(logits)
    nll = -lp[np.arange(len(ids) - 1), ids[1:]]
    last = logits[-1]
    top = np.argsort(-last, kind="stable")[:5]
    forward_s = time.perf_counter() - start
    continuation = list(ids)
    for _ in range(greedy):
        continuation.append(int(np.argmax(model.logits(continuation)[-1])))
    return {
        "ids": [int(i) for i in ids],
        "mean_nll": float(nll.mean()),
        "nll": [float(v) for v in nll],
        "top5_ids": [int(i) for i in top],
        "top5_logits": [float(last[i]) for i in top],
        "logits_first_8": [float(v) for v in logits[0, :8]],
        "logits_last_8": [float(v) for v in logits[-1, :8]],
        "greedy_ids": continuation[len(ids):],
        "forward_seconds": round(forward_s, 3),
        "greedy_seconds": round(time.perf_counter() - start - forward_s, 3),
    }


def sha256(path: str) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("model")
    parser.add_argument("--ids", action="append", default=[], type=lambda s: [int(v) for v in s.split(",")],
                        dest="prompts", help="comma-separated token ids")
    parser.add_argument("--text", action="append", default=[], dest="prompts", help="a prompt to tokenize")
    parser.add_argument("--greedy", type=int, default=8)
    parser.add_argument("--out")
    args = parser.parse_args()
    if not args.prompts:
        parser.error("give at least one --ids or --text")
    start = time.perf_counter()
    model = Model(args.model)
    load_s = time.perf_counter() - start
    tok = gguf_tokenizer(model.reader) if any(isinstance(p, str) for p in args.prompts) else None
    results = []
    for prompt in args.prompts:
        ids = tok.encode(prompt, add_special_tokens=False).ids if isinstance(prompt, str) else prompt
        result = {"text": prompt} if isinstance(prompt, str) else {}
        result.update(reference(model, ids, args.greedy))
        if tok is not None:
            result["greedy_text"] = tok.decode(result["greedy_ids"], skip_special_tokens=False)
        results.append(result)
        print(f"{len(ids)} ids: mean NLL {result['mean_nll']:.4f}, top-5 {result['top5_ids']}, "
              f"greedy {result['greedy_ids']}", file=sys.stderr)
    out = {
        "model": Path(args.model).name,
        "model_sha256": sha256(args.model),
        "architecture": model.arch,
        "hyperparameters": {"layers": model.layers, "dim": model.dim, "heads": model.heads,
                            "kv_heads": model.kv_heads, "head_dim": model.head_dim, "rope_base": model.rope_base,
                            "rms_eps": model.eps, "vocab": model.vocab,
                            "tied_output": "output.weight" not in model.types},
        "precision": "float64 throughout (weights dequantized by gguf.quants.dequantize, kept in float32 where they are exact, widened to float64 at each use)",
        "command": " ".join(shlex.quote(a) for a in [".venv/bin/python", "scripts/reference_forward.py"] + sys.argv[1:])
                   .replace(str(Path.home()), "~"),
        "versions": {name: version(name) for name in ("gguf", "numpy")},
        "load_seconds": round(load_s, 3),
        "prompts": results,
    }
    text = json.dumps(out, indent=1) + "\n"
    if args.out:
        Path(args.out).write_text(text)
    else:
        sys.stdout.write(text)


if __name__ == "__main__":
    main()
