import EffiFormats

/// The ranges a decoder configuration must fall in before anything is allocated. Generous: the
/// largest open LLaMA-family models sit well inside them; a value outside is a damaged file.
public enum ModelLimits {
    public static let layers = 1...1024
    public static let modelWidth = 1...65_536
    public static let ffnWidth = 1...1_048_576
    public static let heads = 1...1024
    public static let vocabulary = 1...4_194_304
    public static let contextLength = 1...16_777_216
}

extension ModelConfig {
    /// What each field is called in the file it came from, so that an error names the key.
    struct SourceKeys {
        var layers, modelWidth, ffnWidth, heads, kvHeads, vocabulary, contextLength, ropeBase, normEpsilon: String

        static func gguf(_ arch: String) -> SourceKeys {
            SourceKeys(layers: "\(arch).block_count", modelWidth: "\(arch).embedding_length", ffnWidth: "\(arch).feed_forward_length",
                       heads: "\(arch).attention.head_count", kvHeads: "\(arch).attention.head_count_kv",
                       vocabulary: "tensor token_embd.weight (rows)", contextLength: "\(arch).context_length",
                       ropeBase: "\(arch).rope.freq_base", normEpsilon: "\(arch).attention.layer_norm_rms_epsilon")
        }

        static let huggingFace = SourceKeys(layers: "num_hidden_layers", modelWidth: "hidden_size", ffnWidth: "intermediate_size",
                                            heads: "num_attention_heads", kvHeads: "num_key_value_heads", vocabulary: "vocab_size",
                                            contextLength: "max_position_embeddings", ropeBase: "rope_theta", normEpsilon: "rms_norm_eps")
    }

    /// Checks the configuration read from `path` before any weight is touched: every size within
    /// `ModelLimits`, heads that divide the width into even-sized heads (RoPE rotates pairs), KV
    /// heads that divide the heads, a positive finite RoPE base and norm epsilon, and exactly
    /// `layers` layers among the tensors (`tensorLayers`: the layer indices the tensor names hold).
    func validate(path: String, keys: SourceKeys, tensorLayers: Set<Int>) throws {
        for (key, value, range) in [(keys.layers, layers, ModelLimits.layers), (keys.modelWidth, modelWidth, ModelLimits.modelWidth),
                                    (keys.ffnWidth, ffnWidth, ModelLimits.ffnWidth), (keys.heads, heads, ModelLimits.heads),
                                    (keys.kvHeads, kvHeads, ModelLimits.heads), (keys.vocabulary, vocabulary, ModelLimits.vocabulary),
                                    (keys.contextLength, contextLength, ModelLimits.contextLength)] where !range.contains(value) {
            throw FormatError(path, "\(key) is \(value), expected \(range.lowerBound)…\(range.upperBound)")
        }
        guard modelWidth % heads == 0, (modelWidth / heads) % 2 == 0 else {
            throw FormatError(path, "\(keys.modelWidth) \(modelWidth) does not divide into \(heads) heads of even size (\(keys.heads))")
        }
        guard heads % kvHeads == 0 else {
            throw FormatError(path, "\(keys.heads) \(heads) is not a multiple of \(keys.kvHeads) \(kvHeads)")
        }
        guard ropeBase.isFinite, ropeBase > 0 else { throw FormatError(path, "\(keys.ropeBase) is \(ropeBase), expected a positive finite number") }
        guard normEpsilon.isFinite, normEpsilon > 0, normEpsilon < 1 else {
            throw FormatError(path, "\(keys.normEpsilon) is \(normEpsilon), expected a positive number below 1")
        }
        guard tensorLayers == Set(0..<layers) else {
            let present = tensorLayers.sorted()
            let listing = present.isEmpty ? "none" : present.count == (present.last! - present.first! + 1)
                ? "\(present.first!)…\(present.last!)" : present.map(String.init).joined(separator: ", ")
            throw FormatError(path, "\(keys.layers) is \(layers), but the tensors hold layers \(listing): expected exactly 0…\(layers - 1)")
        }
    }

    /// The layer indices in tensor names `prefix` + N + "." (blk.N. in GGUF, model.layers.N. in Hugging Face).
    static func layerIndices(_ names: [String], prefix: String) -> Set<Int> {
        Set(names.compactMap { name in
            guard name.hasPrefix(prefix) else { return nil }
            return Int(name.dropFirst(prefix.count).prefix { $0 != "." })
        })
    }
}
