#!/usr/bin/env python3
"""A README table from an `effilora compare` output folder: per method the trainable parameters,
tok/s, validation loss at every validation step, accuracy with its standard error, and the paired
change against a reference method on the same items (per item after − before; its standard error
is the sample standard deviation of the per-item differences over √n), and for Reducer runs the
layers still training at the end and the scoring time.

Usage: scripts/compare_table.py OUT [--against METHOD]   (OUT holds compare.json and METHOD/ folders)
"""
import argparse, json, math, os

def paired(before, after):
    d = [int(a) - int(b) for b, a in zip(before, after)]
    n = len(d)
    mean = sum(d) / n
    sd = math.sqrt(sum((x - mean) ** 2 for x in d) / (n - 1)) if n > 1 else 0.0
    return mean, sd / math.sqrt(n), sum(x > 0 for x in d), sum(x < 0 for x in d)

def validation_losses(folder):
    losses = {}
    path = os.path.join(folder, "metrics.jsonl")
    if os.path.exists(path):
        for line in open(path):
            row = json.loads(line)
            if "validationLoss" in row:
                losses[row["step"]] = row["validationLoss"]
    return losses

def layer_ranges(layers):
    out, start = [], None
    for i, l in enumerate(layers):
        if start is None: start = l
        if i + 1 == len(layers) or layers[i + 1] != l + 1:
            out.append(str(start) if start == l else f"{start}–{l}")
            start = None
    return " ".join(out)

def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("out")
    parser.add_argument("--against", default="base")
    args = parser.parse_args()
    report = json.load(open(os.path.join(args.out, "compare.json")))
    methods = report["methods"]
    reference = next((m for m in methods if m["method"] == args.against), None)
    if reference is None:
        raise SystemExit(f"{args.out}/compare.json has no method {args.against}")
    steps = sorted({s for m in methods for s in validation_losses(os.path.join(args.out, m["method"]))})
    header = ["method", "trainable", "tok/s"] + [f"val {s}" for s in steps] + \
             ["acc", "acc_norm", f"Δ acc vs {args.against} (paired)", "gained / lost", "active layers at the end", "scoring s"]
    print("| " + " | ".join(header) + " |")
    print("|" + "---|" * len(header))
    for m in methods:
        t = m.get("training")
        losses = validation_losses(os.path.join(args.out, m["method"]))
        a = m["average"]
        cells = [m["method"], f"{t['parameters']['trainable']:,}" if t else "–",
                 f"{t['tokens'] / t['stepSeconds']:.0f}" if t else "–"]
        cells += [f"{losses[s]:.3f}" if s in losses else "" for s in steps]
        cells += [f"{a['acc']:.3f} ± {a['accStderr']:.3f}", f"{a['accNorm']:.3f} ± {a['accNormStderr']:.3f}"]
        before = [c for r in reference["evaluation"] for c in r["score"]["correct"]]
        after = [c for r in m["evaluation"] for c in r["score"]["correct"]]
        if m is reference:
            cells += ["—", "—"]
        else:
            gain, se, gained, lost = paired(before, after)
            cells += [f"{gain:+.3f} ± {se:.3f}", f"{gained} / {lost}"]
        reducer = (t or {}).get("reducer")
        cells += [layer_ranges(reducer["activeLayers"]) if reducer else "", f"{reducer['scoringSeconds']:.0f}" if reducer else ""]
        print("| " + " | ".join(cells) + " |")

if __name__ == "__main__":
    main()
