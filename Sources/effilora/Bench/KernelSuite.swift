import EffiCore

/// The products and kernels of one training step of SmolLM2-135M (d 576, FFN 1536, 9 heads of 64,
/// 3 KV heads, vocabulary 49152) at T tokens, each timed as the median of repeated warm calls.
struct KernelSuite {
    var tokens = 1024
    var model = 576
    var ffn = 1536
    var kv = 192
    var vocab = 49152
    var heads = 9
    var kvHeads = 3
    var ranks = [8, 16]

    struct Product: Encodable {
        let group: String  // forward | input-gradient | adapter-r8 | …
        let name: String
        let op: String  // nt | nn | tn
        let m, n, k: Int
        let milliseconds: Double
        let gflops: Double
    }

    struct Kernel: Encodable {
        let name: String
        let shape: [Int]
        let threads: Int
        let milliseconds: Double
    }

    /// (group, name, op, m, n, k) for every product of a step.
    var productShapes: [(String, String, String, Int, Int, Int)] {
        let t = tokens, d = model
        var s: [(String, String, String, Int, Int, Int)] = [
            ("forward", "q,o", "nt", t, d, d),
            ("forward", "k,v", "nt", t, kv, d),
            ("forward", "gate,up", "nt", t, ffn, d),
            ("forward", "down", "nt", t, d, ffn),
            ("forward", "lm-head", "nt", t, vocab, d),
            ("input-gradient", "q,o", "nn", t, d, d),
            ("input-gradient", "k,v", "nn", t, d, kv),
            ("input-gradient", "gate,up", "nn", t, d, ffn),
            ("input-gradient", "down", "nn", t, ffn, d),
            ("input-gradient", "lm-head", "nn", t, d, vocab),
        ]
        for r in ranks {
            let g = "adapter-r\(r)"
            for (din, dout, site) in [(d, d, "q"), (d, ffn, "up"), (ffn, d, "down")] {
                s += [
                    (g, "\(site) u=xAᵀ", "nt", t, r, din),
                    (g, "\(site) y+=uBᵀ", "nt", t, dout, r),
                    (g, "\(site) dB=dyᵀu", "tn", dout, r, t),
                    (g, "\(site) du=dyB", "nn", t, r, dout),
                    (g, "\(site) dA=duᵀx", "tn", r, din, t),
                    (g, "\(site) dx+=duA", "nn", t, din, r),
                ]
            }
        }
        return s
    }

    func measureProducts() -> [Product] {
        productShapes.map { group, name, op, m, n, k in
            // Operands as stored: nt reads a[M,K], b[N,K]; nn a[M,K], b[K,N]; tn a[K,M], b[K,N].
            let a = random(op == "tn" ? [k, m] : [m, k])
            let b = random(op == "nt" ? [n, k] : [k, n])
            let c = Tensor(shape: [m, n])
            let accumulate = name.contains("+=")
            let seconds = medianSeconds {
                switch op {
                case "nt": MatMul.nt(a, b, into: c, accumulate: accumulate)
                case "nn": MatMul.nn(a, b, into: c, accumulate: accumulate)
                default: MatMul.tn(a, b, into: c, accumulate: accumulate)
                }
            }
            return Product(group: group, name: name, op: op, m: m, n: n, k: k,
                           milliseconds: seconds * 1e3, gflops: 2 * Double(m * n * k) / seconds / 1e9)
        }
    }

    func measureKernels(threads: Int) -> [Kernel] {
        let saved = Parallel.maxThreads
        Parallel.maxThreads = threads
        defer { Parallel.maxThreads = saved }
        var out: [Kernel] = []
        func time(_ name: String, _ shape: [Int], _ body: () -> Void) {
            out.append(Kernel(name: name, shape: shape, threads: threads, milliseconds: medianSeconds(body) * 1e3))
        }
        let rows = 2 * tokens
        let x = random([rows, model]), w = random([model]), y = Tensor(shape: [rows, model])
        let rstd = Tensor(shape: [rows]), dx = Tensor(shape: [rows, model])
        time("rmsnorm.forward", [rows, model]) { RMSNorm.forward(x: x, weight: w, eps: 1e-5, out: y, rstd: rstd) }
        time("rmsnorm.backward", [rows, model]) { RMSNorm.backward(dy: y, x: x, weight: w, rstd: rstd, dx: dx) }

        let g = random([rows, ffn]), u = random([rows, ffn]), h = Tensor(shape: [rows, ffn])
        let dg = Tensor(shape: [rows, ffn]), du = Tensor(shape: [rows, ffn])
        time("swiglu.forward", [rows, ffn]) { SwiGLU.forward(gate: g, up: u, out: h) }
        time("swiglu.backward", [rows, ffn]) { SwiGLU.backward(dOut: h, gate: g, up: u, dGate: dg, dUp: du) }

        let rope = RoPE(headDim: model / heads, base: 100_000, maxPositions: tokens, layout: .adjacentPairs)
        let q = random([2, tokens, heads, model / heads])
        time("rope.forward", q.shape) { rope.forward(q, batch: 2, seqLen: tokens, heads: heads) }

        let hd = model / heads
        let attention = CausalAttention(heads: heads, kvHeads: kvHeads, headDim: hd)
        let k = random([1, tokens, kvHeads, hd]), v = random([1, tokens, kvHeads, hd])
        let q1 = random([1, tokens, heads, hd]), o = Tensor(shape: q1.shape), lse = Tensor(shape: [1, heads, tokens])
        let dq = Tensor(shape: q1.shape), dk = Tensor(shape: k.shape), dv = Tensor(shape: v.shape)
        time("attention.forward", q1.shape) {
            attention.forward(q: q1, k: k, v: v, batch: 1, seqLen: tokens, out: o, lse: lse)
        }
        time("attention.backward", q1.shape) {
            attention.backward(dOut: o, q: q1, k: k, v: v, out: o, lse: lse, batch: 1, seqLen: tokens, dq: dq, dk: dk, dv: dv)
        }

        let ceRows = tokens / 4
        let logits = random([ceRows, vocab]), dLogits = Tensor(shape: logits.shape), ceLse = Tensor(shape: [ceRows])
        let targets = (0..<ceRows).map { Int32(($0 * 7919) % vocab) }
        time("cross-entropy.forward", logits.shape) { _ = CrossEntropy.forward(logits: logits, targets: targets, lse: ceLse) }
        time("cross-entropy.backward", logits.shape) {
            CrossEntropy.backward(logits: logits, targets: targets, lse: ceLse, scale: 1, dLogits: dLogits)
        }
        return out
    }

    private func random(_ shape: [Int]) -> Tensor {
        var rng = SplitMix64(seed: UInt64(shape.reduce(17, { $0 &* 31 &+ $1 })))
        let t = Tensor(shape: shape)
        for i in 0..<t.count { t[i] = rng.nextFloat(in: -1...1) }
        return t
    }
}
