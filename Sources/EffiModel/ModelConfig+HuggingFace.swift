import EffiCore
import EffiFormats
import Foundation

extension ModelConfig {
    /// The transformers classes this decoder implements, and the architecture names (as in GGUF).
    public static let huggingFaceArchitectures: [(hf: String, architecture: String)] = [
        ("LlamaForCausalLM", "llama"), ("MistralForCausalLM", "mistral"), ("Qwen2ForCausalLM", "qwen2"),
    ]

    /// From a Hugging Face folder's config.json, as transformers 4 or 5 writes it. Defaults are
    /// transformers' for these classes (num_key_value_heads = num_attention_heads, rope_theta =
    /// 10000, tie_word_embeddings = false).
    /// Hugging Face keeps Q/K rows in the rotate-half order, so the RoPE layout is always
    /// `.rotateHalf`. Features this decoder lacks (RoPE scaling, a head size other than
    /// width / heads, a llama o_proj/MLP bias, an activation other than SiLU, Qwen2's sliding
    /// window) are errors naming config.json and the key, never silently ignored.
    public init(huggingFace folder: HuggingFaceFolder) throws {
        let c = folder.config
        let supported = Self.huggingFaceArchitectures.map(\.hf).joined(separator: ", ")
        let classes = try c.strings("architectures")
        guard let arch = Self.huggingFaceArchitectures.first(where: { classes.contains($0.hf) })?.architecture else {
            throw FormatError(c.path, "architectures \(classes) is not supported (supported: \(supported))")
        }
        func unsupported(_ key: String, _ detail: String) -> FormatError {
            FormatError(c.path, "\(key) \(detail) is not supported")
        }
        // model_type, when given, names the same family as the class (transformers picks the class by it).
        if c.contains("model_type") {
            let type = try c.string("model_type")
            guard type == arch else { throw FormatError(c.path, "model_type \"\(type)\" does not match architectures \(classes) (expected \"\(arch)\")") }
        }
        architecture = arch
        layers = try c.int("num_hidden_layers")
        modelWidth = try c.int("hidden_size")
        ffnWidth = try c.int("intermediate_size")
        heads = try c.int("num_attention_heads")
        kvHeads = try c.int("num_key_value_heads", default: heads)
        vocabulary = try c.int("vocab_size")
        ropeBase = try Self.ropeTheta(c)
        normEpsilon = Float(try c.double("rms_norm_eps"))
        contextLength = try c.int("max_position_embeddings")
        tiedOutput = try c.bool("tie_word_embeddings", default: false)
        ropeLayout = .rotateHalf

        try validate(path: c.path, keys: .huggingFace, tensorLayers: Self.layerIndices(folder.names, prefix: "model.layers."))
        // BOS/EOS ids (an id or a list, or null) must be tokens of the vocabulary.
        for key in ["bos_token_id", "eos_token_id"] {
            let value = c.json[key]
            guard value != nil, !(value is NSNull) else { continue }
            let ids = (value as? [Any]) ?? [value!]
            for id in ids where JSONKind.nonNegativeInt(id).map({ $0 >= vocabulary }) ?? true {
                throw FormatError(c.path, "\(key) \(JSONKind.render(value)) is not a token id below vocab_size \(vocabulary)")
            }
        }
        if c.contains("head_dim") {
            let headDim = try c.int("head_dim")
            guard headDim == modelWidth / heads else {
                throw unsupported("head_dim", "\(headDim) (≠ hidden_size / num_attention_heads = \(modelWidth / heads))")
            }
        }
        if c.contains("rope_scaling"), !Self.isDefaultRoPE(c.json["rope_scaling"]) {
            throw unsupported("rope_scaling", JSONKind.render(c.json["rope_scaling"]))
        }
        if c.contains("hidden_act") {
            let act = try c.string("hidden_act")
            guard act == "silu" else { throw unsupported("hidden_act", "\"\(act)\" (only silu)") }
        }
        if arch != "qwen2" {
            if try c.bool("attention_bias", default: false) { throw unsupported("attention_bias", "true") }
            if try c.bool("mlp_bias", default: false) { throw unsupported("mlp_bias", "true") }
        }
        if arch == "qwen2", try c.bool("use_sliding_window", default: false) {
            throw unsupported("use_sliding_window", "true")
        }
        // Mistral's sliding window changes attention beyond the window; only a window covering
        // the whole context (or none) is the full attention implemented here.
        if arch == "mistral", c.contains("sliding_window"),
           try c.int("sliding_window") < c.int("max_position_embeddings") {
            throw unsupported("sliding_window", "\(try c.int("sliding_window")) (shorter than max_position_embeddings)")
        }
        if c.contains("layer_types"), let other = try c.strings("layer_types").first(where: { $0 != "full_attention" }) {
            throw unsupported("layer_types", "with \"\(other)\" (only full_attention)")
        }
    }

    /// RoPE's base: transformers ≥ 5 writes it inside "rope_parameters" ({"rope_type", "rope_theta"}),
    /// earlier versions as "rope_theta" at the top level; 10000 when neither is given.
    static func ropeTheta(_ c: HuggingFaceConfig) throws -> Double {
        guard c.contains("rope_parameters") else { return try c.double("rope_theta", default: 10_000) }
        let raw = c.json["rope_parameters"]
        guard let p = raw as? [String: Any] else {
            throw FormatError(c.path, "key \"rope_parameters\" is \(JSONKind.render(raw)), expected an object")
        }
        guard isDefaultRoPE(p) else { throw FormatError(c.path, "rope_parameters \(JSONKind.render(p)) is not supported (only rope_type default)") }
        let nested = HuggingFaceConfig(path: c.path, json: p)
        return nested.contains("rope_theta") ? try nested.double("rope_theta") : try c.double("rope_theta", default: 10_000)
    }

    /// Whether a rope_scaling / rope_parameters object asks for plain RoPE: rope_type (or type)
    /// "default", or no type and nothing but rope_theta.
    static func isDefaultRoPE(_ value: Any?) -> Bool {
        guard let p = value as? [String: Any] else { return false }
        if let type = p["rope_type"] ?? p["type"] { return type as? String == "default" }
        return Set(p.keys).isSubset(of: ["rope_theta"])
    }
}
