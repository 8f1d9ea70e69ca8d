/// The precision of the frozen base's matrix products. Adapters, optimiser, norms, softmax and
/// the loss always stay Float32; this only chooses how the base weights are stored and multiplied.
public enum ComputePrecision: String, CaseIterable, Sendable {
    /// Float32 weights, OpenBLAS (or Accelerate) products.
    case float32 = "f32"
    /// bfloat16 weights stored once, activations rounded at each product's input, Float32
    /// accumulation and output: oneDNN's matmul.
    case bfloat16 = "bf16"

    /// A requested precision: one of the two, or `auto`.
    public enum Choice: String, CaseIterable, Sendable {
        case f32, bf16, auto
    }

    /// `auto` is bf16 when the processor multiplies bf16 natively (AVX512_BF16 or AMX-BF16) and
    /// oneDNN can run bf16 products here, float32 otherwise; bf16 without native support still runs (oneDNN
    /// emulates it) but is slower, which `nativeBFloat16` lets a report say.
    public init(_ choice: Choice, cpuFlags: Set<String> = BLASCore.cpuFlags()) {
        switch choice {
        case .f32: self = .float32
        case .bf16: self = .bfloat16
        case .auto: self = Self.nativeBFloat16(cpuFlags: cpuFlags) && OneDNN.supportsBFloat16 ? .bfloat16 : .float32
        }
    }

    /// Whether the processor has bf16 dot-product instructions (Cooper Lake, Zen 4 and later; AMX).
    public static func nativeBFloat16(cpuFlags: Set<String> = BLASCore.cpuFlags()) -> Bool {
        cpuFlags.contains("avx512_bf16") || cpuFlags.contains("amx_bf16")
    }
}
