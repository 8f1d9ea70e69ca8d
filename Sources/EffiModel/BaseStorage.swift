import EffiCore

/// How the frozen base's weights are held in memory.
public enum BaseStorage: String, CaseIterable, Sendable {
    /// Weights in a ggml block format (Q4_0, Q4_1, Q5_0, Q8_0, Q4_K, Q6_K) stay in their blocks in
    /// the memory-mapped GGUF file; products dequantize a panel at a time into a tile of the compute
    /// precision. Other weights (F32, F16, BF16, and every Hugging Face tensor) are dense.
    case quantized
    /// Every weight converted to the compute precision when it loads.
    case dense

    /// A requested storage: one of the two, or `auto` (quantized for GGUF files, dense for folders).
    public enum Choice: String, CaseIterable, Sendable {
        case auto, quantized, dense
    }

    public init(_ choice: Choice, modelIsFolder: Bool) {
        switch choice {
        case .quantized: self = .quantized
        case .dense: self = .dense
        case .auto: self = modelIsFolder ? .dense : .quantized
        }
    }
}
