import EffiModel

/// Exact parameter accounting of an adapter on a base model, printed at the start of every run.
public struct ParameterReport: Codable, Sendable {
    public let method: String
    public let trainable: Int
    /// Frozen adapter parameters (LoRA-FA's A, VeRA's matrices, B's the Reducer froze); dropped
    /// layers' parameters are not counted at all.
    public let frozenAdapter: Int
    /// Trainable parameters shared across layers (EffiLoRA's A's) and those of single layers.
    public let shared: Int
    public let perLayer: Int
    /// Parameters of the frozen base model.
    public let base: Int
    /// Plain LoRA's trainable parameters at the same rank, targets and layers: Σ r (d_in + d_out).
    public let loraEquivalent: Int

    public var ratioToLoRA: Double { Double(trainable) / Double(max(loraEquivalent, 1)) }

    public init(adapters: Adapters, base c: ModelConfig) {
        let a = adapters.config
        method = a.method.rawValue
        let live = adapters.liveParameters
        trainable = live.filter(\.trainable).reduce(0) { $0 + $1.value.count }
        frozenAdapter = live.filter { !$0.trainable }.reduce(0) { $0 + $1.value.count }
        shared = live.filter { $0.trainable && $0.key.layer == nil }.reduce(0) { $0 + $1.value.count }
        perLayer = trainable - shared
        let d = c.modelWidth
        base = c.vocabulary * d * (c.tiedOutput ? 1 : 2) + d
            + c.layers * (2 * d + d * d * 2 + 2 * d * c.kvWidth + 3 * d * c.ffnWidth + (c.architecture == "qwen2" ? d + 2 * c.kvWidth : 0))
        loraEquivalent = a.adaptedLayers(of: c).count * a.targets.reduce(0) { $0 + a.rank * ($1.inputWidth(c) + $1.outputWidth(c)) }
    }

    public var text: String {
        func m(_ n: Int) -> String { n >= 1_000_000 ? String(format: "%.2f M", Double(n) / 1e6) : String(format: "%.1f K", Double(n) / 1e3) }
        return """
        parameters (\(method)): trainable \(trainable) (\(m(trainable))) = shared \(shared) + per-layer \(perLayer); \
        frozen adapter \(frozenAdapter); frozen base \(base) (\(m(base))); \
        \(String(format: "%.4f", 100 * Double(trainable) / Double(base))) % of the base; \
        \(String(format: "%.3f", ratioToLoRA))× plain LoRA's \(loraEquivalent) at the same rank and targets
        """
    }
}
