import EffiCore
import EffiFormats
import EffiTokenizer
import Foundation

/// Writes a model — its weights as they are now (e.g. with an adapter fused in) and its
/// tokenizer — as a Hugging Face folder or a GGUF v3 file that other tools load. Q/K rows are put
/// in the order the target expects (`QKRowOrder`): rotate-half in a folder, llama.cpp's
/// permutation in a llama/mistral GGUF.
public enum ModelWriter {
    /// One weight under its two names.
    struct Named {
        let huggingFace: String, gguf: String
        let tensor: Tensor
        /// The heads of a Q or K tensor, whose rows follow the RoPE layout.
        let qkHeads: Int?
    }

    /// Every tensor of the decoder, in file order (the output head only when it is not tied).
    static func tensors(_ w: ModelWeights, _ c: ModelConfig) -> [Named] {
        var out = [Named(huggingFace: "model.embed_tokens.weight", gguf: "token_embd.weight", tensor: w.embedding, qkHeads: nil)]
        for (i, l) in w.layers.enumerated() {
            let entries: [(String, String, Tensor?, Int?)] = [
                ("input_layernorm.weight", "attn_norm.weight", l.attentionNorm, nil),
                ("self_attn.q_proj.weight", "attn_q.weight", l.q, c.heads), ("self_attn.q_proj.bias", "attn_q.bias", l.qBias, c.heads),
                ("self_attn.k_proj.weight", "attn_k.weight", l.k, c.kvHeads), ("self_attn.k_proj.bias", "attn_k.bias", l.kBias, c.kvHeads),
                ("self_attn.v_proj.weight", "attn_v.weight", l.v, nil), ("self_attn.v_proj.bias", "attn_v.bias", l.vBias, nil),
                ("self_attn.o_proj.weight", "attn_output.weight", l.o, nil),
                ("post_attention_layernorm.weight", "ffn_norm.weight", l.ffnNorm, nil),
                ("mlp.gate_proj.weight", "ffn_gate.weight", l.gate, nil), ("mlp.up_proj.weight", "ffn_up.weight", l.up, nil),
                ("mlp.down_proj.weight", "ffn_down.weight", l.down, nil),
            ]
            for (hf, gguf, tensor, heads) in entries {
                if let tensor { out.append(Named(huggingFace: "model.layers.\(i).\(hf)", gguf: "blk.\(i).\(gguf)", tensor: tensor, qkHeads: heads)) }
            }
        }
        out.append(Named(huggingFace: "model.norm.weight", gguf: "output_norm.weight", tensor: w.outputNorm, qkHeads: nil))
        if !c.tiedOutput { out.append(Named(huggingFace: "lm_head.weight", gguf: "output.weight", tensor: w.output, qkHeads: nil)) }
        return out
    }

    static func reordered(_ t: Named, _ c: ModelConfig, to layout: RoPELayout) -> Tensor {
        t.qkHeads.map { QKRowOrder.reorder(t.tensor, heads: $0, from: c.ropeLayout, to: layout) } ?? t.tensor
    }

    // MARK: - Hugging Face folder

    /// Tokenizer files copied from a Hugging Face source folder when present.
    static let tokenizerFiles = ["tokenizer.json", "tokenizer_config.json", "special_tokens_map.json", "generation_config.json",
                                 "chat_template.jinja"]

    /// `config.json`, `model.safetensors` (F32, F16 or BF16) and the tokenizer: the source
    /// folder's files, or `tokenizer.json` + `tokenizer_config.json` (+ `generation_config.json`)
    /// written from a GGUF tokenizer.
    public static func writeHuggingFace(_ lm: LanguageModel, to folder: String, dtype: SafetensorsDType) throws {
        let c = lm.decoder.config
        guard dtype.isFloatConvertible else { throw FormatError(folder, "cannot write weights as \(dtype.rawValue) (F32, F16 or BF16)") }
        guard let hfClass = ModelConfig.huggingFaceArchitectures.first(where: { $0.architecture == c.architecture })?.hf else {
            throw FormatError(folder, "architecture \(c.architecture) has no transformers class here")
        }
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        func path(_ name: String) -> String { (folder as NSString).appendingPathComponent(name) }
        var writer = SafetensorsWriter(metadata: ["format": "pt"])
        for t in tensors(lm.decoder.weights, c) { writer.add(t.huggingFace, reordered(t, c, to: .rotateHalf), as: dtype) }
        try writer.write(to: path("model.safetensors"))

        let tokenizer = lm.tokenizer
        var config: [String: Any] = [
            "architectures": [hfClass], "model_type": c.architecture, "hidden_size": c.modelWidth, "intermediate_size": c.ffnWidth,
            "num_hidden_layers": c.layers, "num_attention_heads": c.heads, "num_key_value_heads": c.kvHeads, "head_dim": c.headDim,
            "vocab_size": c.vocabulary, "max_position_embeddings": c.contextLength, "rope_theta": c.ropeBase,
            "rms_norm_eps": Double("\(c.normEpsilon)") ?? Double(c.normEpsilon), "tie_word_embeddings": c.tiedOutput,
            "hidden_act": "silu", "rope_scaling": NSNull(), "use_cache": true, "initializer_range": 0.02, "attention_dropout": 0.0,
            "torch_dtype": ["F32": "float32", "F16": "float16", "BF16": "bfloat16"][dtype.rawValue]!,
        ]
        if c.architecture == "qwen2" {
            config["use_sliding_window"] = false
        } else {
            config["attention_bias"] = false
            config["mlp_bias"] = false
        }
        if let bos = tokenizer.bosID { config["bos_token_id"] = Int(bos) }
        if let eos = tokenizer.eosID { config["eos_token_id"] = Int(eos) }
        try writeJSON(config, to: path("config.json"))

        if try LanguageModel.isFolder(lm.path) {
            for name in tokenizerFiles {
                let source = (lm.path as NSString).appendingPathComponent(name)
                guard FileManager.default.fileExists(atPath: source) else { continue }
                try? FileManager.default.removeItem(atPath: path(name))
                try FileManager.default.copyItem(atPath: source, toPath: path(name))
            }
        } else {
            try writeJSON(try tokenizer.huggingFaceJSON(source: lm.path), to: path("tokenizer.json"))
            try writeJSON(tokenizer.huggingFaceConfigJSON(contextLength: c.contextLength), to: path("tokenizer_config.json"))
            let stops = Set([tokenizer.eosID, tokenizer.endOfTurnID].compactMap { $0 }).sorted().map(Int.init)
            var generation: [String: Any] = ["eos_token_id": stops.count == 1 ? stops[0] as Any : stops as Any]
            if let bos = tokenizer.bosID { generation["bos_token_id"] = Int(bos) }
            try writeJSON(generation, to: path("generation_config.json"))
        }
    }

    static func writeJSON(_ object: [String: Any], to path: String) throws {
        let data = try JSONSerialization.data(withJSONObject: object, options: [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes])
        guard FileManager.default.createFile(atPath: path, contents: data) else { throw FormatError(path, "cannot be written") }
    }

    // MARK: - GGUF

    /// llama.cpp's `general.file_type` of an unquantised file.
    static func fileType(_ type: GGMLType) -> UInt32? {
        switch type {
        case .f32: 0
        case .f16: 1
        case .bf16: 32
        default: nil
        }
    }

    /// A GGUF v3 file with F32, F16 or BF16 weights (norms and biases stay F32, as llama.cpp's
    /// converter writes them). The metadata is the source GGUF's, every key in order (the file
    /// type updated, the quantisation version dropped), or, from a Hugging Face folder, the
    /// architecture's keys and the tokenizer's.
    public static func writeGGUF(_ lm: LanguageModel, to path: String, type: GGMLType) throws {
        let c = lm.decoder.config
        guard let fileType = fileType(type) else { throw FormatError(path, "cannot write weights as \(type.name) (F32, F16 or BF16)") }
        var w = GGUFWriter()
        if try LanguageModel.isFolder(lm.path) {
            for e in architectureMetadata(c, name: (lm.path as NSString).lastPathComponent) { w.set(e.key, e.value, as: e.type) }
            for e in lm.tokenizer.ggufMetadata { w.set(e.key, e.value, as: e.type) }
        } else {
            let source = try GGUFFile(path: lm.path)
            for key in source.metadataKeys where !["general.alignment", "general.quantization_version"].contains(key) {
                w.set(key, source.metadata[key]!, as: source.metadataTypes[key]!)
            }
        }
        w.set("general.file_type", uint32: fileType)
        let layout = ModelConfig.ggufRoPELayout(architecture: c.architecture)
        for t in tensors(lm.decoder.weights, c) {
            w.add(t.gguf, reordered(t, c, to: layout), as: t.tensor.shape.count == 1 ? .f32 : type)
        }
        try w.write(to: path)
    }

    /// `general.*` and `{arch}.*` keys that `ModelConfig(gguf:)` and llama.cpp read.
    static func architectureMetadata(_ c: ModelConfig, name: String) -> [GGUFWriter.Entry] {
        let a = c.architecture
        func u32(_ key: String, _ v: Int) -> GGUFWriter.Entry { GGUFWriter.Entry(key: key, value: .uint(UInt64(v)), type: .uint32) }
        func f32(_ key: String, _ v: Double) -> GGUFWriter.Entry { GGUFWriter.Entry(key: key, value: .float(v), type: .float32) }
        return [
            GGUFWriter.Entry(key: "general.architecture", value: .string(a), type: .string),
            GGUFWriter.Entry(key: "general.name", value: .string(name), type: .string),
            u32("\(a).context_length", c.contextLength), u32("\(a).embedding_length", c.modelWidth),
            u32("\(a).block_count", c.layers), u32("\(a).feed_forward_length", c.ffnWidth),
            u32("\(a).attention.head_count", c.heads), u32("\(a).attention.head_count_kv", c.kvHeads),
            u32("\(a).rope.dimension_count", c.headDim), u32("\(a).vocab_size", c.vocabulary),
            f32("\(a).rope.freq_base", c.ropeBase), f32("\(a).attention.layer_norm_rms_epsilon", Double(c.normEpsilon)),
        ]
    }
}
