import EffiCore
import EffiFormats

/// The LLaMA-family decoder (Llama, SmolLM, Mistral, Qwen2 with q/k/v bias), inference forward.
///   x = embed(tokens);  per layer:  x += Wo · attn(rope(Wq h), rope(Wk h), Wv h),  h = rmsnorm(x)
///                                   x += Wdown · (silu(Wgate h) ∘ Wup h),          h = rmsnorm(x)
///   logits = Wout · rmsnorm(x)
public final class Decoder {
    public let config: ModelConfig
    public let weights: ModelWeights
    /// Adapters applied at the linear sites by inference (logits, generation, scoring).
    public var adapter: DecoderAdapter?
    let rope: RoPE
    let attention: CausalAttention

    public init(config: ModelConfig, weights: ModelWeights) {
        self.config = config
        self.weights = weights
        rope = RoPE(headDim: config.headDim, base: config.ropeBase, maxPositions: config.contextLength, layout: config.ropeLayout)
        attention = CausalAttention(heads: config.heads, kvHeads: config.kvHeads, headDim: config.headDim)
    }

    public convenience init(gguf path: String) throws {
        try self.init(gguf: GGUFFile(path: path))
    }

    public convenience init(gguf file: GGUFFile) throws {
        let config = try ModelConfig(gguf: file)
        self.init(config: config, weights: try ModelWeights(gguf: file, config: config))
    }

    /// Logits [batch · seqLen, vocabulary] for `tokens` (batch rows of seqLen ids).
    public func logits(tokens: [Int32], batch: Int, seqLen: Int, keyMask: [Bool]? = nil) -> Tensor {
        outputLogits(hiddenStates(tokens: tokens, batch: batch, seqLen: seqLen, keyMask: keyMask))
    }

    /// The last layer's output x [batch · seqLen, width], before the final norm and the head.
    public func hiddenStates(tokens: [Int32], batch: Int, seqLen: Int, keyMask: [Bool]? = nil) -> Tensor {
        precondition(tokens.count == batch * seqLen, "\(tokens.count) tokens for batch \(batch) × \(seqLen)")
        let x = embed(tokens)
        let lse = Tensor(shape: [batch, config.heads, seqLen])
        runLayers(x, batch: batch, seqLen: seqLen, positionOffset: 0) { _, q, k, v, out in
            attention.forward(q: q, k: k, v: v, batch: batch, seqLen: seqLen, keyMask: keyMask, out: out, lse: lse)
        }
        return x
    }

    /// Feeds `tokens` of one sequence after the positions `cache` holds, appends their keys and
    /// values to it, and returns the logits [vocabulary] of the last token (of every fed token,
    /// [count, vocabulary], with `allPositions`).
    public func logitsOfNext(tokens: [Int32], cache: KVCache, allPositions: Bool = false) -> Tensor {
        let m = tokens.count, past = cache.count
        precondition(m > 0, "no tokens to feed")
        precondition(past + m <= cache.capacity, "the KV cache holds \(cache.capacity) positions; \(past) + \(m) do not fit")
        let x = embed(tokens)
        runLayers(x, batch: 1, seqLen: m, positionOffset: past) { layer, q, k, v, out in
            cache.store(layer: layer, keys: k, values: v, at: past)
            attention.forwardCached(q: q, keys: cache.keys[layer], values: cache.values[layer], past: past, newCount: m, out: out)
        }
        cache.count += m
        return outputLogits(allPositions ? x : x.rows(m - 1..<m))
    }

    /// Forgets the cached positions after the first `count` (to score several continuations of
    /// one shared prefix).
    public func truncate(_ cache: KVCache, to count: Int) {
        precondition(count <= cache.count, "cannot grow a cache by truncating it")
        cache.count = count
    }

    func embed(_ tokens: [Int32]) -> Tensor {
        let d = config.modelWidth, x = Tensor(shape: [tokens.count, d])
        for (row, id) in tokens.enumerated() {
            precondition((0..<Int32(config.vocabulary)).contains(id), "token id \(id) at position \(row) is outside the vocabulary of \(config.vocabulary)")
            (x.data + row * d).update(from: weights.embedding.data + Int(id) * d, count: d)
        }
        return x
    }

    /// The decoder layers over x [batch · seqLen, width], in place; `attend(layer, q, k, v, out)`
    /// is the attention (rotated q and k) that writes `out`. One set of buffers serves every layer.
    private func runLayers(_ x: Tensor, batch: Int, seqLen: Int, positionOffset: Int,
                           attend: (Int, Tensor, Tensor, Tensor, Tensor) -> Void) {
        let state = LayerState(config, rows: batch * seqLen, keepsResidual: false)
        for index in weights.layers.indices {
            forwardLayer(index, x: x, state: state, batch: batch, seqLen: seqLen, positionOffset: positionOffset) { q, k, v, out in
                attend(index, q, k, v, out)
            }
        }
    }

    /// What one layer's forward writes besides x: inference reuses one for every layer, training
    /// keeps one per layer for the backward (then also the residual between the two blocks).
    final class LayerState {
        let q, k, v, attended, gate, up, rstd1, rstd2: Tensor
        /// The residual after the attention block (x'), kept for the backward.
        let xMid: Tensor?
        /// Scratch: the normed input of each block, and silu(gate) ∘ up.
        let h, act: Tensor
        init(_ c: ModelConfig, rows n: Int, keepsResidual: Bool, scratch: (h: Tensor, act: Tensor)? = nil,
             storage: Tensor? = nil) {
            // Carved out of `storage` when given (see `floatsPerRow`), else allocated.
            var offset = 0
            func tensor(_ shape: [Int]) -> Tensor {
                guard let storage else { return Tensor(shape: shape) }
                defer { offset += shape.reduce(1, *) }
                return storage.view(offset: offset, shape: shape)
            }
            q = tensor([n, c.modelWidth]); k = tensor([n, c.kvWidth]); v = tensor([n, c.kvWidth])
            attended = tensor([n, c.modelWidth])
            gate = tensor([n, c.ffnWidth]); up = tensor([n, c.ffnWidth])
            rstd1 = tensor([n]); rstd2 = tensor([n])
            xMid = keepsResidual ? tensor([n, c.modelWidth]) : nil
            h = scratch?.h ?? Tensor(shape: [n, c.modelWidth]); act = scratch?.act ?? Tensor(shape: [n, c.ffnWidth])
        }

        /// Floats per row of the tensors a layer state keeping the residual carves from its storage.
        static func floatsPerRow(_ c: ModelConfig) -> Int { 3 * c.modelWidth + 2 * c.kvWidth + 2 * c.ffnWidth + 2 }
    }

    /// One layer over x [rows, width], in place (h = rmsnorm, Δ = the adapter's contributions):
    ///   q,k,v = W h(x) (+ b) + Δ;  rope(q, k);  a = attend(q, k, v);  x += Wo a + Δo
    ///   g, u = W h(x) + Δ;  m = silu(g) ∘ u;  x += Wdown m + Δdown
    func forwardLayer(_ l: Int, x: Tensor, state s: LayerState, batch: Int, seqLen: Int, positionOffset: Int,
                      attend: (Tensor, Tensor, Tensor, Tensor) -> Void) {
        let c = config, w = weights.layers[l]
        RMSNorm.forward(x: x, weight: w.attentionNorm, eps: c.normEpsilon, out: s.h, rstd: s.rstd1)
        project(s.h, w.q, w.qBias, into: s.q)
        project(s.h, w.k, w.kBias, into: s.k)
        project(s.h, w.v, w.vBias, into: s.v)
        adapter?.forward(layer: l, input: .attention, x: s.h, outputs: [.q: s.q, .k: s.k, .v: s.v])
        rope.forward(s.q, batch: batch, seqLen: seqLen, heads: c.heads, positionOffset: positionOffset)
        rope.forward(s.k, batch: batch, seqLen: seqLen, heads: c.kvHeads, positionOffset: positionOffset)
        attend(s.q, s.k, s.v, s.attended)
        MatMul.nt(s.attended, w.o, into: x, accumulate: true)
        adapter?.forward(layer: l, input: .attentionOutput, x: s.attended, outputs: [.o: x])
        s.xMid?.copy(from: x)
        RMSNorm.forward(x: x, weight: w.ffnNorm, eps: c.normEpsilon, out: s.h, rstd: s.rstd2)
        MatMul.nt(s.h, w.gate, into: s.gate)
        MatMul.nt(s.h, w.up, into: s.up)
        adapter?.forward(layer: l, input: .ffn, x: s.h, outputs: [.gate: s.gate, .up: s.up])
        SwiGLU.forward(gate: s.gate, up: s.up, out: s.act)
        MatMul.nt(s.act, w.down, into: x, accumulate: true)
        adapter?.forward(layer: l, input: .ffnHidden, x: s.act, outputs: [.down: x])
    }

    /// logits = Wout · rmsnorm(x), one row per row of x.
    public func outputLogits(_ x: Tensor) -> Tensor {
        let h = Tensor(shape: x.shape), rstd = Tensor(shape: [x.rows])
        RMSNorm.forward(x: x, weight: weights.outputNorm, eps: config.normEpsilon, out: h, rstd: rstd)
        let logits = Tensor(shape: [x.rows, config.vocabulary])
        MatMul.nt(h, weights.output, into: logits)
        return logits
    }

    /// y = x Wᵀ (+ b).
    func project(_ x: Tensor, _ w: Tensor, _ bias: Tensor?, into y: Tensor) {
        MatMul.nt(x, w, into: y)
        guard let bias else { return }
        for r in 0..<y.rows { for j in 0..<y.columns { y.data[r * y.columns + j] += bias[j] } }
    }
}
