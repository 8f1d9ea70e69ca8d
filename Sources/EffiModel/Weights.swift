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
    /// [vocabulary, width]: rows are looked up (`row(_:into:)`); Float32 unless kept quantized.
    public let embedding: FrozenLinear
    public let layers: [LayerWeights]
    public let outputNorm: Tensor
    /// [vocabulary, width]; when tied, the embedding itself (Float32 or quantized) or its bf16 copy.
    public let output: FrozenLinear

    /// The precision of the linear weights' products.
    public var precision: ComputePrecision { output.precision }

    init(embedding: FrozenLinear, layers: [LayerWeights], outputNorm: Tensor, output: FrozenLinear) {
        self.embedding = embedding
        self.layers = layers
        self.outputNorm = outputNorm
        self.output = output
    }

    /// The tensors of a GGUF file, checking each shape against the config. Norms and biases are
    /// dequantized to Float32. Linear weights and the embedding in a block format stay in the
    /// mapping with `.quantized` storage; otherwise they are dequantized and stored in `precision`
    /// one tensor at a time (the embedding in Float32 for its row lookups).
    public init(gguf: GGUFFile, config c: ModelConfig, precision: ComputePrecision = .float32, storage: BaseStorage = .dense) throws {
        func info(_ name: String, _ shape: [Int]) throws -> GGUFTensorInfo {
            guard let info = gguf.tensor(name) else { throw FormatError(gguf.path, "tensor \(name) is missing") }
            guard info.shape == shape else { throw FormatError(gguf.path, "tensor \(name) has shape \(info.shape), expected \(shape)") }
            guard Dequantize.supported.contains(info.type) else {
                throw FormatError(gguf.path, "tensor \(name) is \(info.type.name), which cannot be dequantized yet")
            }
            return info
        }
        func load(_ name: String, _ shape: [Int]) throws -> Tensor {
            let info = try info(name, shape), t = Tensor(shape: shape)
            gguf.values(of: info, into: t.data)
            return t
        }
        func optional(_ name: String, _ shape: [Int]) throws -> Tensor? {
            gguf.tensor(name) == nil ? nil : try load(name, shape)
        }
        func keptQuantized(_ name: String, _ shape: [Int]) throws -> FrozenLinear? {
            let info = try info(name, shape)
            guard storage == .quantized, info.type.blockSize > 1 else { return nil }
            return FrozenLinear(QuantizedMatrix(type: info.type, rows: shape[0], columns: shape[1], bytes: gguf.bytes(of: info), owner: gguf),
                                precision: precision)
        }
        func linear(_ name: String, _ shape: [Int]) throws -> FrozenLinear {
            try keptQuantized(name, shape) ?? FrozenLinear(try load(name, shape), precision: precision)
        }
        let embeddingName = TensorName.embedding.gguf(), embeddingShape = TensorName.embedding.shape(c)
        embedding = try keptQuantized(embeddingName, embeddingShape) ?? FrozenLinear(try load(embeddingName, embeddingShape))
        layers = try (0..<c.layers).map { i in
            try LayerWeights(linear: { try linear($0.gguf(i), $0.shape(c)) },
                             load: { try load($0.gguf(i), $0.shape(c)) }, optional: { try optional($0.gguf(i), $0.shape(c)) })
        }
        outputNorm = try load(TensorName.outputNorm.gguf(), TensorName.outputNorm.shape(c))
        if c.tiedOutput {
            // The embedding is the head itself when quantized or in Float32; a bf16 head is a rounded copy.
            output = embedding.precision == precision ? embedding : FrozenLinear(embedding.values(), precision: precision)
        } else {
            output = try linear(TensorName.output.gguf(), TensorName.output.shape(c))
        }
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

extension ModelWeights {
    /// The weights a forward multiplies by: every layer's seven, then the head (what each decoded
    /// token reads once).
    public var productWeights: [FrozenLinear] {
        layers.flatMap { l in Site.allCases.map { l.weight(of: $0) } } + [output]
    }

    /// Every linear weight: the embedding (unless it is the head itself), then `productWeights`.
    public var linearWeights: [FrozenLinear] {
        (output === embedding ? [] : [embedding]) + productWeights
    }

    /// Bytes of all weights as held (quantized ones in their mapped file), norms and biases included.
    public var byteCount: Int {
        let vectors = ([outputNorm] + layers.flatMap { [$0.attentionNorm, $0.ffnNorm] + [$0.qBias, $0.kBias, $0.vBias].compactMap { $0 } })
        return linearWeights.reduce(0) { $0 + $1.byteCount } + vectors.reduce(0) { $0 + $1.count * 4 }
    }

    /// "base: 94.6 MiB (Q4_1 ×210, Q8_0 ×1, F32 norms)", for logs and `info`.
    public var storageSummary: String {
        var counts: [String: Int] = [:]
        for w in linearWeights { counts[w.storageName, default: 0] += 1 }
        let kinds = counts.sorted { $0.value > $1.value }.map { "\($0.key) ×\($0.value)" }.joined(separator: ", ")
        return String(format: "base weights: %.1f MiB (linear: %@)", Double(byteCount) / 1_048_576, kinds)
    }
}
