import EffiCore
import EffiFormats

extension ModelWeights {
    /// Reads every tensor of a Hugging Face folder (F32, F16 or BF16) into Float32, checking each
    /// shape against the config. Names are transformers': `model.embed_tokens.weight`,
    /// `model.layers.{i}.self_attn.{q,k,v,o}_proj.weight` (and the optional q/k/v biases of
    /// qwen2), `model.layers.{i}.mlp.{gate,up,down}_proj.weight`, the two layer norms,
    /// `model.norm.weight` and `lm_head.weight` (ignored when the embedding is tied). Linear
    /// weights are [out, in] as here, and Q/K keep the rotate-half order. Each value is converted
    /// straight from the mapping into its tensor, so the weights are never held twice (in bf16, one
    /// Float32 tensor at a time).
    public init(huggingFace folder: HuggingFaceFolder, config c: ModelConfig, precision: ComputePrecision = .float32) throws {
        // Every tensor must be one this decoder uses: an unknown one is a feature it would drop.
        var unused = Set(folder.names)
        func load(_ name: String, _ shape: [Int]) throws -> Tensor {
            unused.remove(name)
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
        embedding = FrozenLinear(try load(TensorName.embedding.huggingFace(), TensorName.embedding.shape(c)))
        layers = try (0..<c.layers).map { i in
            try LayerWeights(load: { try load($0.huggingFace(i), $0.shape(c)) },
                             optional: { try optional($0.huggingFace(i), $0.shape(c)) }, precision: precision)
        }
        outputNorm = try load(TensorName.outputNorm.huggingFace(), TensorName.outputNorm.shape(c))
        if c.tiedOutput {
            output = precision == .float32 ? embedding : FrozenLinear(embedding.values(), precision: precision)
        } else {
            guard folder.tensorShape(TensorName.output.huggingFace()) != nil else {
                throw FormatError(folder.path, "tensor \(TensorName.output.huggingFace()) is missing (config.json has tie_word_embeddings false)")
            }
            output = FrozenLinear(try load(TensorName.output.huggingFace(), TensorName.output.shape(c)), precision: precision)
        }
        // A tied model may still carry lm_head.weight (a copy of the embedding); rotary caches are buffers.
        unused.remove(TensorName.output.huggingFace())
        unused = unused.filter { !$0.hasSuffix(".rotary_emb.inv_freq") }
        if let extra = unused.sorted().first {
            throw FormatError(folder.path, "tensor \(extra) is not part of a \(c.architecture) decoder (\(unused.count) such tensors); this tool would ignore it")
        }
    }
}
