import EffiCore
import EffiFormats

/// The LLaMA-family decoder (Llama, SmolLM, Mistral, Qwen2 with q/k/v bias), inference forward.
///   x = embed(tokens);  per layer:  x += Wo · attn(rope(Wq h), rope(Wk h), Wv h),  h = rmsnorm(x)
///                                   x += Wdown · (silu(Wgate h) ∘ Wup h),          h = rmsnorm(x)
///   logits = Wout · rmsnorm(x)
public final class Decoder {
    public let config: ModelConfig
    public let weights: ModelWeights
    let rope: RoPE
    let attention: CausalAttention

    public init(config: ModelConfig, weights: ModelWeights) {
        self.config = config
        self.weights = weights
        rope = RoPE(headDim: config.headDim, base: config.ropeBase, maxPositions: config.contextLength, layout: config.ropeLayout)
        attention = CausalAttention(heads: config.heads, kvHeads: config.kvHeads, headDim: config.headDim)
    }

    public convenience init(gguf path: String) throws {
        let file = try GGUFFile(path: path)
        let config = try ModelConfig(gguf: file)
        self.init(config: config, weights: try ModelWeights(gguf: file, config: config))
    }

    /// Logits [batch · seqLen, vocabulary] for `tokens` (batch rows of seqLen ids).
    public func logits(tokens: [Int32], batch: Int, seqLen: Int, keyMask: [Bool]? = nil) -> Tensor {
        let c = config, n = batch * seqLen, d = c.modelWidth
        precondition(tokens.count == n, "\(tokens.count) tokens for batch \(batch) × \(seqLen)")
        let x = Tensor(shape: [n, d])
        for (row, id) in tokens.enumerated() {
            precondition((0..<Int32(c.vocabulary)).contains(id), "token id \(id) at position \(row) is outside the vocabulary of \(c.vocabulary)")
            (x.data + row * d).update(from: weights.embedding.data + Int(id) * d, count: d)
        }
        let h = Tensor(shape: [n, d]), rstd = Tensor(shape: [n])
        let q = Tensor(shape: [n, d]), k = Tensor(shape: [n, c.kvWidth]), v = Tensor(shape: [n, c.kvWidth])
        let attended = Tensor(shape: [n, d]), lse = Tensor(shape: [batch, c.heads, seqLen])
        let gate = Tensor(shape: [n, c.ffnWidth]), up = Tensor(shape: [n, c.ffnWidth]), act = Tensor(shape: [n, c.ffnWidth])
        for layer in weights.layers {
            RMSNorm.forward(x: x, weight: layer.attentionNorm, eps: c.normEpsilon, out: h, rstd: rstd)
            project(h, layer.q, layer.qBias, into: q)
            project(h, layer.k, layer.kBias, into: k)
            project(h, layer.v, layer.vBias, into: v)
            rope.forward(q, batch: batch, seqLen: seqLen, heads: c.heads)
            rope.forward(k, batch: batch, seqLen: seqLen, heads: c.kvHeads)
            attention.forward(q: q, k: k, v: v, batch: batch, seqLen: seqLen, keyMask: keyMask, out: attended, lse: lse)
            MatMul.nt(attended, layer.o, into: x, accumulate: true)
            RMSNorm.forward(x: x, weight: layer.ffnNorm, eps: c.normEpsilon, out: h, rstd: rstd)
            MatMul.nt(h, layer.gate, into: gate)
            MatMul.nt(h, layer.up, into: up)
            SwiGLU.forward(gate: gate, up: up, out: act)
            MatMul.nt(act, layer.down, into: x, accumulate: true)
        }
        RMSNorm.forward(x: x, weight: weights.outputNorm, eps: c.normEpsilon, out: h, rstd: rstd)
        let logits = Tensor(shape: [n, c.vocabulary])
        MatMul.nt(h, weights.output, into: logits)
        return logits
    }

    /// y = x Wᵀ (+ b).
    private func project(_ x: Tensor, _ w: Tensor, _ bias: Tensor?, into y: Tensor) {
        MatMul.nt(x, w, into: y)
        guard let bias else { return }
        for r in 0..<y.rows { for j in 0..<y.columns { y.data[r * y.columns + j] += bias[j] } }
    }
}
