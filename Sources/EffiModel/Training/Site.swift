/// A linear site of a decoder layer that an adapter can target.
public enum Site: String, CaseIterable, Codable, Sendable, Comparable {
    case q, k, v, o, gate, up, down

    /// The tensor the site reads.
    public var input: SiteInput {
        switch self {
        case .q, .k, .v: .attention
        case .o: .attentionOutput
        case .gate, .up: .ffn
        case .down: .ffnHidden
        }
    }

    public func inputWidth(_ c: ModelConfig) -> Int { self == .down ? c.ffnWidth : c.modelWidth }

    public func outputWidth(_ c: ModelConfig) -> Int {
        switch self {
        case .q, .o, .down: c.modelWidth
        case .k, .v: c.kvWidth
        case .gate, .up: c.ffnWidth
        }
    }

    /// The module path inside a Hugging Face layer, e.g. "self_attn.q_proj".
    public var huggingFaceModule: String {
        switch self {
        case .q, .k, .v, .o: "self_attn.\(rawValue)_proj"
        case .gate, .up, .down: "mlp.\(rawValue)_proj"
        }
    }

    /// The base weight it adapts, in the tensor-name table.
    public var tensorName: TensorName {
        switch self {
        case .q: .q
        case .k: .k
        case .v: .v
        case .o: .o
        case .gate: .gate
        case .up: .up
        case .down: .down
        }
    }

    public static func < (a: Site, b: Site) -> Bool { allCases.firstIndex(of: a)! < allCases.firstIndex(of: b)! }
}

/// The tensors of a layer that linear sites read; the sites reading one tensor share it (and,
/// for EffiLoRA, the shared projection A·x computed from it).
public enum SiteInput: String, CaseIterable, Codable, Sendable {
    /// The attention-normed residual, read by q, k, v.
    case attention
    /// The attention output, read by o.
    case attentionOutput
    /// The FFN-normed residual, read by gate and up.
    case ffn
    /// silu(gate) ∘ up, read by down.
    case ffnHidden

    public var sites: [Site] { Site.allCases.filter { $0.input == self } }
}
