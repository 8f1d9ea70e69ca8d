import XCTest
import EffiCore
@testable import EffiModel
@testable import EffiAdapters

/// A base kept in Q8_0 blocks (dequantized a panel at a time in every product) gives the loss and
/// adapter gradients of the same weights dequantized once at load, in Float32 and in bf16, with
/// and without checkpointing.
final class QuantizedBaseGradientTests: XCTestCase {
    // Widths that are whole Q8_0 blocks (32 values).
    let model = ModelConfig(layers: 2, modelWidth: 32, ffnWidth: 64, heads: 4, kvHeads: 2, vocabulary: 64)

    /// The random model's weights quantized to Q8_0 (norms untouched), and the same values dense.
    func weights(_ precision: ComputePrecision) -> (quantized: ModelWeights, dense: ModelWeights) {
        let random = ModelWeights.random(config: model, seed: 5)
        func pair(_ w: FrozenLinear) -> (FrozenLinear, FrozenLinear) {
            let q = QuantizedMatrix(quantizing: w.values(), as: .q8_0)
            return (FrozenLinear(q, precision: precision), FrozenLinear(q.dequantized(), precision: precision))
        }
        var quantized: [LayerWeights] = [], dense: [LayerWeights] = []
        for l in random.layers {
            let (q, k, v, o, gate, up, down) = (pair(l.q), pair(l.k), pair(l.v), pair(l.o), pair(l.gate), pair(l.up), pair(l.down))
            quantized.append(LayerWeights(attentionNorm: l.attentionNorm, q: q.0, k: k.0, v: v.0, o: o.0, ffnNorm: l.ffnNorm,
                                          gate: gate.0, up: up.0, down: down.0, qBias: nil, kBias: nil, vBias: nil))
            dense.append(LayerWeights(attentionNorm: l.attentionNorm, q: q.1, k: k.1, v: v.1, o: o.1, ffnNorm: l.ffnNorm,
                                      gate: gate.1, up: up.1, down: down.1, qBias: nil, kBias: nil, vBias: nil))
        }
        let embedding = QuantizedMatrix(quantizing: random.embedding.values(), as: .q8_0)
        let head = FrozenLinear(embedding, precision: precision)
        return (ModelWeights(embedding: head, layers: quantized, outputNorm: random.outputNorm, output: head),
                ModelWeights(embedding: FrozenLinear(embedding.dequantized()), layers: dense, outputNorm: random.outputNorm,
                             output: FrozenLinear(embedding.dequantized(), precision: precision)))
    }

    func testGradientsEqualTheDequantizedBase() throws {
        var precisions: [ComputePrecision] = [.float32]
        if OneDNN.supportsBFloat16 { precisions.append(.bfloat16) }
        var rng = SplitMix64(seed: 3)
        let tokens = (0..<16).map { _ in Int32(rng.next() % 64) }, targets = (0..<16).map { _ in Int32(rng.next() % 64) }
        let batch = TrainingBatch(tokens: tokens, targets: targets, keyMask: nil, batch: 2, seqLen: 8)
        for precision in precisions {
            let (quantized, dense) = weights(precision)
            XCTAssertEqual(quantized.layers[0].q.storageName, "Q8_0")
            for checkpointing in [false, true] {
                var results: [(loss: Double, gradients: [Float])] = []
                for w in [quantized, dense] {
                    var c = AdapterConfig()
                    c.method = .effilora
                    c.rank = 4
                    let a = try Adapters(config: c, model: model)
                    var prng = SplitMix64(seed: 11)
                    for p in a.parameters { for i in 0..<p.value.count { p.value[i] = prng.nextFloat(in: -0.3...0.3) } }
                    let gradients = Gradients(a.parameters)
                    let pass = TrainingPass(decoder: Decoder(config: model, weights: w), checkpointing: checkpointing)
                    let (sum, _) = pass.run(batch, adapter: a.pass(.training, gradients: gradients), lossScale: 1 / 16)
                    results.append((sum, a.parameters.flatMap { $0.trainable ? gradients[$0].array : [] }))
                }
                let label = "\(precision.rawValue), checkpointing \(checkpointing)"
                XCTAssertEqual(results[0].loss, results[1].loss, accuracy: 1e-5 * abs(results[1].loss), label)
                let scale = results[1].gradients.map(abs).max()!
                XCTAssertGreaterThan(scale, 0, label)
                for (x, y) in zip(results[0].gradients, results[1].gradients) { XCTAssertEqual(x, y, accuracy: 1e-5 * scale, label) }
            }
        }
    }
}
