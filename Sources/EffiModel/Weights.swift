import EffiCore
import EffiFormats

/// The frozen weights of one decoder layer, dequantized to Float32, linear weights as [out, in].
public struct LayerWeights {
    public let attentionNorm, q, k, v, o: Tensor
    public let ffnNorm, gate, up, down: Tensor
    public let qBias, kBias, vBias: Tensor?
}

/// All frozen weights of the decoder.
public struct ModelWeights {
    public let embedding: Tensor  // [vocabulary, width]
    public let layers: [LayerWeights]
    public let outputNorm: Tensor
    public let output: Tensor  // [vocabulary, width]; the embedding itself when tied

    init(embedding: Tensor, layers: [LayerWeights], outputNorm: Tensor, output: Tensor) {
        self.embedding = embedding
        self.layers = layers
        self.outputNorm = outputNorm
        self.output = output
    }

    /// Dequantizes every tensor of a GGUF file, checking each shape against the config.
    public init(gguf: GGUFFile, config c: ModelConfig) throws {
        func load(_ name: String, _ shape: [Int]) throws -> Tensor {
            guard let info = gguf.tensor(name) else { throw FormatError(gguf.path, "tensor \(name) is missing") }
            guard info.shape == shape else { throw FormatError(gguf.path, "tensor \(name) has shape \(info.shape), expected \(shape)") }
            guard Dequantize.supported.contains(info.type) else {
                throw FormatError(gguf.path, "tensor \(name) is \(info.type.name), which cannot be dequantized yet")
            }
            let t = Tensor(shape: shape)
            Dequantize.tensor(info, bytes: gguf.bytes(of: info), into: t.data)
            return t
        }
        func optional(_ name: String, _ shape: [Int]) throws -> Tensor? {
            gguf.tensor(name) == nil ? nil : try load(name, shape)
        }
        embedding = try load(TensorName.embedding.gguf(), TensorName.embedding.shape(c))
        layers = try (0..<c.layers).map { i in
            try LayerWeights(load: { try load($0.gguf(i), $0.shape(c)) }, optional: { try optional($0.gguf(i), $0.shape(c)) })
        }
        outputNorm = try load(TensorName.outputNorm.gguf(), TensorName.outputNorm.shape(c))
        output = c.tiedOutput ? embedding : try load(TensorName.output.gguf(), TensorName.output.shape(c))
    }
}

extension LayerWeights {
    /// The weight [out, in] of a linear site.
    public func weight(of site: Site) -> Tensor {
        switch site {
        case .q: q
        case .k: k
        case .v: v
        case .o: o
        case .gate: gate
        case .up: up
        case .down: down
        }
    }
}
