import EffiCore
import EffiFormats
import EffiTokenizer
import Foundation

/// Writes a model — its weights as they are now (e.g. with an adapter fused in) and its
/// tokenizer — as a Hugging Face folder or a GGUF v3 file that other tools load. Q/K rows are put
/// in the order the target expects (`QKRowOrder`): rotate-half in a folder, llama.cpp's
/// permutation in a llama/mistral GGUF.
public enum ModelWriter {
    /// Every tensor of the decoder with its name, in file order (the output head only when it
    /// is not tied), Q/K rows moved from the model's order to `layout`.
    static func tensors(_ w: ModelWeights, _ c: ModelConfig, to layout: RoPELayout) -> [(name: TensorName, layer: Int, tensor: Tensor)] {
        var out: [(name: TensorName, layer: Int, tensor: Tensor)] = [(.embedding, 0, w.embedding.values())]
        for (i, l) in w.layers.enumerated() {
            for name in TensorName.allCases where name.isPerLayer {
                guard let t = l.tensor(name) else { continue }
                out.append((name, i, name.qkHeads(c).map { QKRowOrder.reorder(t, heads: $0, from: c.ropeLayout, to: layout) } ?? t))
            }
        }
        out.append((.outputNorm, 0, w.outputNorm))
        if !c.tiedOutput { out.append((.output, 0, w.output.values())) }
        return out
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
        try refuseOverwritingTheSource(lm, folder)
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        func path(_ name: String) -> String { (folder as NSString).appendingPathComponent(name) }
        var writer = SafetensorsWriter(metadata: ["format": "pt"])
        for t in tensors(lm.decoder.weights, c, to: .rotateHalf) { writer.add(t.name.huggingFace(t.layer), t.tensor, as: dtype) }
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

    static func refuseOverwritingTheSource(_ lm: LanguageModel, _ output: String) throws {
        try OutputFolder.refuseOverlap(output: output, input: lm.path)
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
        case .q8_0: 7
        default: nil
        }
    }

    /// A GGUF v3 file with F32, F16, BF16 or Q8_0 weights (norms and biases stay F32, as llama.cpp's
    /// converter writes them; Q8_0 as its reference quantizer does). The metadata is the source GGUF's, every key in order (the file
    /// type updated, the quantisation version dropped), or, from a Hugging Face folder, the
    /// architecture's keys and the tokenizer's.
    public static func writeGGUF(_ lm: LanguageModel, to path: String, type: GGMLType) throws {
        let c = lm.decoder.config
        guard let fileType = fileType(type) else { throw FormatError(path, "cannot write weights as \(type.name) (F32, F16, BF16 or Q8_0)") }
        try refuseOverwritingTheSource(lm, path)
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
        for t in tensors(lm.decoder.weights, c, to: ModelConfig.ggufRoPELayout(architecture: c.architecture)) {
            w.add(t.name.gguf(t.layer), t.tensor, as: t.tensor.shape.count == 1 ? .f32 : type)
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
