import EffiCore

extension ModelConfig {
    /// A configuration given field by field (small random models for tests and experiments).
    public init(architecture: String = "llama", layers: Int, modelWidth: Int, ffnWidth: Int, heads: Int, kvHeads: Int,
                vocabulary: Int, ropeBase: Double = 10_000, ropeLayout: RoPELayout = .rotateHalf,
                normEpsilon: Float = 1e-5, contextLength: Int = 512, tiedOutput: Bool = false) {
        self.architecture = architecture
        self.layers = layers
        self.modelWidth = modelWidth
        self.ffnWidth = ffnWidth
        self.heads = heads
        self.kvHeads = kvHeads
        self.vocabulary = vocabulary
        self.ropeBase = ropeBase
        self.ropeLayout = ropeLayout
        self.normEpsilon = normEpsilon
        self.contextLength = contextLength
        self.tiedOutput = tiedOutput
    }
}

extension ModelWeights {
    /// Seeded random weights: linear weights U(−1/√d_in, 1/√d_in) stored in `precision`, norms
    /// near 1, q/k/v biases for qwen2.
    public static func random(config c: ModelConfig, seed: UInt64, precision: ComputePrecision = .float32) -> ModelWeights {
        var rng = SplitMix64(seed: seed)
        func linear(_ out: Int, _ inWidth: Int) -> Tensor {
            let t = Tensor(shape: [out, inWidth]), bound = 1 / Float(inWidth).squareRoot()
            for i in 0..<t.count { t[i] = rng.nextFloat(in: -bound...bound) }
            return t
        }
        func frozen(_ out: Int, _ inWidth: Int) -> FrozenLinear { FrozenLinear(linear(out, inWidth), precision: precision) }
        func vector(_ n: Int, around center: Float, spread: Float) -> Tensor {
            let t = Tensor(shape: [n])
            for i in 0..<n { t[i] = center + rng.nextFloat(in: -spread...spread) }
            return t
        }
        let d = c.modelWidth, f = c.ffnWidth, kv = c.kvWidth, bias = c.architecture == "qwen2"
        let embedding = linear(c.vocabulary, d)
        let layers = (0..<c.layers).map { _ in
            LayerWeights(attentionNorm: vector(d, around: 1, spread: 0.1), q: frozen(d, d), k: frozen(kv, d), v: frozen(kv, d),
                         o: frozen(d, d), ffnNorm: vector(d, around: 1, spread: 0.1), gate: frozen(f, d), up: frozen(f, d), down: frozen(d, f), qBias: bias ? vector(d, around: 0, spread: 0.1) : nil,
                         kBias: bias ? vector(kv, around: 0, spread: 0.1) : nil, vBias: bias ? vector(kv, around: 0, spread: 0.1) : nil)
        }
        return ModelWeights(embedding: FrozenLinear(embedding), layers: layers, outputNorm: vector(d, around: 1, spread: 0.1),
                            output: FrozenLinear(c.tiedOutput ? embedding : linear(c.vocabulary, d), precision: precision))
    }
}
