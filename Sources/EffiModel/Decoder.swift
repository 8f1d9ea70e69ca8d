import EffiCore
import EffiFormats

/// The LLaMA-family decoder (Llama, SmolLM, Mistral, Qwen2 with q/k/v bias), inference forward.
///   x = embed(tokens);  per layer:  x += Wo · attn(rope(Wq h), rope(Wk h), Wv h),  h = rmsnorm(x)
///                                   x += Wdown · (silu(Wgate h) ∘ Wup h),          h = rmsnorm(x)
///   logits = Wout · rmsnorm(x)
public final class Decoder {
    public let config: ModelConfig
    public let weights: ModelWeights
    /// Adapters applied at the linear sites by inference (logits, generation, scoring). Training
    /// passes give theirs to `TrainingPass` instead; nothing changes this during a pass.
    public var adapter: DecoderAdapter?
    let rope: RoPE
    let attention: CausalAttention

    public init(config: ModelConfig, weights: ModelWeights) {
        self.config = config
        self.weights = weights
        rope = RoPE(headDim: config.headDim, base: config.ropeBase, maxPositions: config.contextLength, layout: config.ropeLayout)
        attention = CausalAttention(heads: config.heads, kvHeads: config.kvHeads, headDim: config.headDim)
    }

    public convenience init(gguf path: String, precision: ComputePrecision = .float32, storage: BaseStorage = .dense) throws {
        try self.init(gguf: GGUFFile(path: path), precision: precision, storage: storage)
    }

    public convenience init(gguf file: GGUFFile, precision: ComputePrecision = .float32, storage: BaseStorage = .dense) throws {
        let config = try ModelConfig(gguf: file)
        self.init(config: config, weights: try ModelWeights(gguf: file, config: config, precision: precision, storage: storage))
    }

    /// Logits [batch · seqLen, vocabulary] for `tokens` (batch rows of seqLen ids).
    public func logits(tokens: [Int32], batch: Int, seqLen: Int, keyMask: [Bool]? = nil) -> Tensor {
        outputLogits(hiddenStates(tokens: tokens, batch: batch, seqLen: seqLen, keyMask: keyMask))
    }

    /// The last layer's output x [batch · seqLen, width], before the final norm and the head.
    public func hiddenStates(tokens: [Int32], batch: Int, seqLen: Int, keyMask: [Bool]? = nil) -> Tensor {
        precondition(tokens.count == batch * seqLen, "\(tokens.count) tokens for batch \(batch) × \(seqLen)")
        let x = embed(tokens)
        runLayers(x, batch: batch, seqLen: seqLen, positionOffsets: Array(repeating: 0, count: batch), keyMask: keyMask) { _, state, q, k, v, out in
            attention.forward(q: q, k: k, v: v, batch: batch, seqLen: seqLen, keyMask: keyMask, out: out, lse: state.lse)
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
        runLayers(x, batch: 1, seqLen: m, positionOffsets: [past], keyMask: nil) { layer, _, q, k, v, out in
            cache.store(layer: layer, keys: k, values: v, at: past)
            attention.forwardCached(q: q, keys: cache.keys[layer], values: cache.values[layer], past: past, newCount: m, out: out)
        }
        cache.count += m
        return outputLogits(allPositions ? x : x.rows(m - 1..<m))
    }

    /// One new token for each of several sequences, each after the positions its own cache holds
    /// (appending its key and value there): the logits [count, vocabulary], one row per sequence.
    /// The linear layers run once over all rows; the attention per sequence, over its cache.
    public func logitsOfNext(tokens: [Int32], caches: [KVCache]) -> Tensor {
        precondition(tokens.count == caches.count && !tokens.isEmpty, "one token per cache")
        let past = caches.map(\.count)
        for (cache, count) in zip(caches, past) {
            precondition(count < cache.capacity, "the KV cache holds \(cache.capacity) positions; it is full")
        }
        let x = embed(tokens)
        runLayers(x, batch: tokens.count, seqLen: 1, positionOffsets: past, keyMask: nil) { layer, _, q, k, v, out in
            for (b, cache) in caches.enumerated() {
                let row = b..<b + 1
                cache.store(layer: layer, keys: k.rows(row), values: v.rows(row), at: past[b])
                attention.forwardCached(q: q.rows(row), keys: cache.keys[layer], values: cache.values[layer], past: past[b], newCount: 1,
                                        out: out.rows(row))
            }
        }
        for cache in caches { cache.count += 1 }
        return outputLogits(x)
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
            weights.embedding.row(Int(id), into: x.data + row * d)
        }
        return x
    }

    /// The decoder layers over x [batch · seqLen, width], in place, with the inference adapter;
    /// `attend(layer, state, q, k, v, out)` is the attention (rotated q and k) that writes `out`.
    /// One set of buffers serves every layer.
    private func runLayers(_ x: Tensor, batch: Int, seqLen: Int, positionOffsets: [Int], keyMask: [Bool]?,
                           attend: (Int, LayerState, Tensor, Tensor, Tensor, Tensor) -> Void) {
        let state = LayerState(config, batch: batch, seqLen: seqLen, keepsResidual: false)
        for index in weights.layers.indices {
            forwardLayer(index, x: x, state: state, batch: batch, seqLen: seqLen, positionOffsets: positionOffsets,
                         adapter: adapter, keyMask: keyMask) { q, k, v, out in
                attend(index, state, q, k, v, out)
            }
        }
    }

    /// logits = Wout · rmsnorm(x), one row per row of x.
    public func outputLogits(_ x: Tensor) -> Tensor {
        let h = Tensor(shape: x.shape), rstd = Tensor(shape: [x.rows])
        RMSNorm.forward(x: x, weight: weights.outputNorm, eps: config.normEpsilon, out: h, rstd: rstd)
        let logits = Tensor(shape: [x.rows, config.vocabulary])
        weights.output.forward(h, into: logits)
        return logits
    }

    /// y_i = x W_iᵀ (+ b_i) for weights sharing the input x.
    func project(_ x: Tensor, _ products: [(weight: FrozenLinear, bias: Tensor?, output: Tensor)]) {
        FrozenLinear.forward(x, products.map { ($0.weight, $0.output) })
        for (_, bias, y) in products {
            guard let bias else { continue }
            for r in 0..<y.rows { for j in 0..<y.columns { y.data[r * y.columns + j] += bias[j] } }
        }
    }
}
