import EffiCore
import EffiFormats

extension ModelWeights {
    /// Reads every tensor of a Hugging Face folder (F32, F16 or BF16) into Float32, checking each
    /// shape against the config. Names are transformers': `model.embed_tokens.weight`,
    /// `model.layers.{i}.self_attn.{q,k,v,o}_proj.weight` (and the optional q/k/v biases of
    /// qwen2), `model.layers.{i}.mlp.{gate,up,down}_proj.weight`, the two layer norms,
    /// `model.norm.weight` and `lm_head.weight` (ignored when the embedding is tied). Linear
    /// weights are [out, in] as here, and Q/K keep the rotate-half order. Each value is converted
    /// straight from the mapping into its tensor, so the weights are never held twice.
    public init(huggingFace folder: HuggingFaceFolder, config c: ModelConfig) throws {
        func load(_ name: String, _ shape: [Int]) throws -> Tensor {
            guard let actual = folder.tensorShape(name) else { throw FormatError(folder.path, "tensor \(name) is missing") }
            guard actual == shape else {
                throw FormatError(folder.tensor(name)!.file.path, "tensor \(name) has shape \(actual), expected \(shape) from config.json")
            }
            let t = Tensor(shape: shape)
            try folder.readFloats(name, into: t.data, count: t.count)
            return t
        }
        func optional(_ name: String, _ shape: [Int]) throws -> Tensor? {
            folder.tensorShape(name) == nil ? nil : try load(name, shape)
        }
        let d = c.modelWidth, f = c.ffnWidth, kv = c.kvWidth
        embedding = try load("model.embed_tokens.weight", [c.vocabulary, d])
        layers = try (0..<c.layers).map { i in
            let p = "model.layers.\(i)."
            return LayerWeights(
                attentionNorm: try load(p + "input_layernorm.weight", [d]),
                q: try load(p + "self_attn.q_proj.weight", [d, d]), k: try load(p + "self_attn.k_proj.weight", [kv, d]),
                v: try load(p + "self_attn.v_proj.weight", [kv, d]), o: try load(p + "self_attn.o_proj.weight", [d, d]),
                ffnNorm: try load(p + "post_attention_layernorm.weight", [d]),
                gate: try load(p + "mlp.gate_proj.weight", [f, d]), up: try load(p + "mlp.up_proj.weight", [f, d]),
                down: try load(p + "mlp.down_proj.weight", [d, f]),
                qBias: try optional(p + "self_attn.q_proj.bias", [d]), kBias: try optional(p + "self_attn.k_proj.bias", [kv]),
                vBias: try optional(p + "self_attn.v_proj.bias", [kv]))
        }
        outputNorm = try load("model.norm.weight", [d])
        if c.tiedOutput {
            output = embedding
        } else {
            guard folder.tensorShape("lm_head.weight") != nil else {
                throw FormatError(folder.path, "tensor lm_head.weight is missing (config.json has tie_word_embeddings false)")
            }
            output = try load("lm_head.weight", [c.vocabulary, d])
        }
    }
}
