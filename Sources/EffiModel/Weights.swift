import EffiCore
import EffiFormats

/// The frozen weights of one decoder layer: norms and biases in Float32, linear weights [out, in]
/// in the compute precision.
public struct LayerWeights {
    public let attentionNorm: Tensor
    public let q, k, v, o: FrozenLinear
    public let ffnNorm: Tensor
    public let gate, up, down: FrozenLinear
    public let qBias, kBias, vBias: Tensor?
}

/// All frozen weights of the decoder.
public struct ModelWeights {
    public let embedding: Tensor  // [vocabulary, width], Float32 (rows are looked up, not multiplied)
    public let layers: [LayerWeights]
    public let outputNorm: Tensor
    /// [vocabulary, width]; in Float32 the embedding itself when tied, in bf16 a rounded copy of it.
    public let output: FrozenLinear

    /// The precision of the linear weights' products.
    public var precision: ComputePrecision { output.precision }

    init(embedding: Tensor, layers: [LayerWeights], outputNorm: Tensor, output: FrozenLinear) {
        self.embedding = embedding
        self.layers = layers
        self.outputNorm = outputNorm
        self.output = output
    }

    /// Dequantizes every tensor of a GGUF file, checking each shape against the config; linear
    /// weights are then rounded to `precision` one tensor at a time.
    public init(gguf: GGUFFile, config c: ModelConfig, precision: ComputePrecision = .float32) throws {
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
            try LayerWeights(load: { try load($0.gguf(i), $0.shape(c)) }, optional: { try optional($0.gguf(i), $0.shape(c)) },
                             precision: precision)
        }
        outputNorm = try load(TensorName.outputNorm.gguf(), TensorName.outputNorm.shape(c))
        output = FrozenLinear(c.tiedOutput ? embedding : try load(TensorName.output.gguf(), TensorName.output.shape(c)),
                              precision: precision)
    }
}

extension LayerWeights {
    /// The weight [out, in] of a linear site.
    public func weight(of site: Site) -> FrozenLinear {
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
