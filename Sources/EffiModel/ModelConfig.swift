import EffiCore
import EffiFormats

/// The shape of a LLaMA-family decoder.
public struct ModelConfig: Sendable, Equatable {
    public var architecture: String
    public var layers: Int
    public var modelWidth: Int
    public var ffnWidth: Int
    public var heads: Int
    public var kvHeads: Int
    public var vocabulary: Int
    public var ropeBase: Double
    public var ropeLayout: RoPELayout
    public var normEpsilon: Float
    public var contextLength: Int
    public var tiedOutput: Bool

    public var headDim: Int { modelWidth / heads }
    /// Weights of the linear products a token passes through: per layer q, k, v, o, gate, up,
    /// down, plus the output head (norms and biases excluded).
    public var linearParameterCount: Int {
        layers * (2 * modelWidth * modelWidth + 2 * modelWidth * kvWidth + 3 * modelWidth * ffnWidth) + vocabulary * modelWidth
    }
    public var kvWidth: Int { kvHeads * headDim }

    /// The Q/K row order of GGUF files of an architecture: llama and mistral files are permuted for
    /// the adjacent-pair RoPE by llama.cpp's converter; qwen2 files keep rotate-half.
    public static func ggufRoPELayout(architecture: String) -> RoPELayout {
        architecture == "qwen2" ? .rotateHalf : .adjacentPairs
    }

    /// From a GGUF file's `{arch}.*` metadata. llama files store Q/K rows permuted for the
    /// adjacent-pair RoPE; qwen2 files keep Hugging Face's rotate-half order.
    public init(gguf: GGUFFile) throws {
        guard let arch = gguf.architecture else { throw FormatError(gguf.path, "no general.architecture") }
        guard ["llama", "qwen2", "mistral"].contains(arch) else {
            throw FormatError(gguf.path, "architecture \(arch) is not supported (llama, qwen2, mistral)")
        }
        func int(_ key: String) throws -> Int {
            guard let v = gguf.architectureValue(key)?.int else { throw FormatError(gguf.path, "metadata \(arch).\(key) is missing or not an integer") }
            return v
        }
        /// An optional number: absent gives `fallback`; present but not a number is an error.
        func number(_ key: String, default fallback: Double) throws -> Double {
            guard let value = gguf.architectureValue(key) else { return fallback }
            guard let v = value.double else { throw FormatError(gguf.path, "metadata \(arch).\(key) is \(value.summary), expected a number") }
            return v
        }
        architecture = arch
        layers = try int("block_count")
        modelWidth = try int("embedding_length")
        ffnWidth = try int("feed_forward_length")
        heads = try int("attention.head_count")
        kvHeads = gguf.architectureValue("attention.head_count_kv") == nil ? heads : try int("attention.head_count_kv")
        contextLength = try int("context_length")
        ropeBase = try number("rope.freq_base", default: 10_000)
        normEpsilon = Float(try number("attention.layer_norm_rms_epsilon", default: 1e-5))
        ropeLayout = Self.ggufRoPELayout(architecture: arch)
        guard let embedding = gguf.tensor("token_embd.weight"), embedding.shape.count == 2 else {
            throw FormatError(gguf.path, "tensor token_embd.weight is missing or not a matrix")
        }
        vocabulary = embedding.shape[0]
        tiedOutput = gguf.tensor("output.weight") == nil
        try validate(path: gguf.path, keys: .gguf(arch), tensorLayers: Self.layerIndices(gguf.tensors.map(\.name), prefix: "blk."))
        // The rotated size, when stated, must be the head size: heads and KV heads scaled together
        // keep every tensor's shape but split the attention differently.
        if gguf.architectureValue("rope.dimension_count") != nil {
            let rotated = try int("rope.dimension_count")
            guard rotated == headDim else {
                throw FormatError(gguf.path, "metadata \(arch).rope.dimension_count is \(rotated), but \(arch).embedding_length \(modelWidth) / \(arch).attention.head_count \(heads) = \(headDim): expected equal")
            }
        }
    }
}
