import XCTest
import EffiCore
@testable import EffiModel
@testable import EffiAdapters

/// Every method's parameter gradients through the whole decoder (the backward of the training
/// pass and of the adapters) against central finite differences of the loss.
final class AdapterGradientTests: XCTestCase {
    let model = ModelConfig(layers: 2, modelWidth: 16, ffnWidth: 24, heads: 4, kvHeads: 2, vocabulary: 40)

    /// Two sequences of 6, the second padded after 4; some targets ignored.
    func batch() -> TrainingBatch {
        var rng = SplitMix64(seed: 3)
        let tokens = (0..<12).map { _ in Int32(rng.next() % 40) }
        var targets = (0..<12).map { _ in Int32(rng.next() % 40) }
        targets[0] = CrossEntropy.ignoreIndex
        for t in [4, 5, 11] { targets[t] = CrossEntropy.ignoreIndex }
        let mask = (0..<12).map { !($0 == 10 || $0 == 11) }
        return TrainingBatch(tokens: tokens, targets: targets, keyMask: mask, batch: 2, seqLen: 6)
    }

    /// Randomises every parameter (B's included, so no gradient is trivially zero).
    func adapters(weights: ModelWeights? = nil, _ configure: (inout AdapterConfig) -> Void) throws -> Adapters {
        var c = AdapterConfig()
        c.rank = 3
        c.alpha = 6
        configure(&c)
        let a = try Adapters(config: c, model: model, weights: weights)
        var rng = SplitMix64(seed: 11)
        for p in a.parameters { for i in 0..<p.value.count { p.value[i] = rng.nextFloat(in: -0.3...0.3) } }
        return a
    }

    /// Float32 end to end: central differences with ε = 2e-3 agree to ~0.5 % (1e-4 absolute).
    /// `only`: the parameters whose gradient is the loss's derivative (DoRA's A and B are not: their
    /// gradient treats the row norm as a constant, as PEFT's does; the PEFT fixture checks them).
    func check(_ name: String, checkpointing: Bool = false, only: (Parameter) -> Bool = { _ in true },
               _ configure: (inout AdapterConfig) -> Void) throws {
        let decoder = Decoder(config: model, weights: .random(config: model, seed: 5))
        let a = try adapters(weights: decoder.weights, configure)
        let pass = TrainingPass(decoder: decoder, checkpointing: checkpointing)
        let b = batch(), scale = 1 / Float(b.targetCount)
        func loss() -> Double {
            let probe = a.pass(.training, gradients: nil)
            return pass.run(b, adapter: probe, lossScale: scale, backward: false).nllSum * Double(scale) + probe.results.auxiliaryLoss
        }
        let gradients = Gradients(a.parameters)
        pass.run(b, adapter: a.pass(.training, gradients: gradients), lossScale: scale)
        var checked = 0
        var rng = SplitMix64(seed: 17)
        for p in a.parameters where p.trainable && only(p) {
            let direction = (0..<p.value.count).map { _ in rng.nextFloat(in: -1...1) }
            var analytic = 0.0
            for i in 0..<p.value.count { analytic += Double(gradients[p][i] * direction[i]) }
            let eps: Float = 2e-3
            for i in 0..<p.value.count { p.value[i] += eps * direction[i] }
            let plus = loss()
            for i in 0..<p.value.count { p.value[i] -= 2 * eps * direction[i] }
            let minus = loss()
            for i in 0..<p.value.count { p.value[i] += eps * direction[i] }
            let numeric = (plus - minus) / Double(2 * eps)
            XCTAssertEqual(analytic, numeric, accuracy: 5e-3 * max(abs(numeric), 5e-2), "\(name): \(p.name)")
            // A top-k router may never pick an expert in so small a batch; every other parameter moves the loss.
            if a.config.router != .topk { XCTAssertNotEqual(analytic, 0, "\(name): \(p.name) has a zero gradient") }
            checked += 1
        }
        XCTAssertGreaterThan(checked, 0, name)
    }

    func testLoRA() throws { try check("lora") { $0.method = .lora } }
    func testLoRAWithRSLoRAOnSomeLayersAndSites() throws {
        try check("lora rslora") { $0.method = .lora; $0.rslora = true; $0.layers = [1]; $0.targets = [.q, .v, .down] }
    }
    func testEffiLoRASharedByInput() throws { try check("effilora input") { $0.method = .effilora; $0.share = .input } }
    func testEffiLoRASharedByType() throws { try check("effilora type") { $0.method = .effilora; $0.share = .type } }
    func testEffiLoRASoftRouter() throws {
        try check("effilora soft") { $0.method = .effilora; $0.experts = 3; $0.router = .soft; $0.balance = 0.1 }
    }
    func testEffiLoRATopKRouter() throws {
        try check("effilora top-2") { $0.method = .effilora; $0.experts = 3; $0.router = .topk; $0.topK = 2 }
    }
    func testLoRAFA() throws { try check("lora-fa") { $0.method = .loraFA } }
    func testVeRA() throws { try check("vera") { $0.method = .vera } }
    func testHydraLoRA() throws { try check("hydralora") { $0.method = .hydralora; $0.experts = 2 } }
    func testDropout() throws { try check("lora dropout") { $0.method = .lora; $0.dropout = 0.3 } }
    /// The magnitudes' gradient (the norm does not depend on them), with dropout on both of DoRA's terms.
    func testDoRAMagnitude() throws {
        try check("dora", only: { $0.name.hasSuffix(".magnitude") }) { $0.method = .dora; $0.dropout = 0.2 }
    }
    /// Shared A's (stride 2 over both layers), shared experts, routers averaged per sequence over
    /// its real tokens (the batch has padding), with and without checkpointing.
    func testLily() throws {
        for checkpointing in [false, true] {
            try check("lily", checkpointing: checkpointing) {
                $0.method = .lily
                var o = AdapterConfig.LilyOptions(); o.strideA = 2; o.numB = 3; o.scaling = 0.7
                $0.lily = o
            }
        }
    }
    func testGradientCheckpointing() throws {
        try check("effilora checkpointed", checkpointing: true) { $0.method = .effilora; $0.experts = 2; $0.dropout = 0.2 }
    }

    /// Gradient accumulation: two micro-batches of 2 sequences with the loss scaled by the total
    /// target count give the gradients of one batch of 4 (the load-balancing term halved per micro-batch).
    func testAccumulationEqualsOneLargeBatch() throws {
        let decoder = Decoder(config: model, weights: .random(config: model, seed: 5))
        var rng = SplitMix64(seed: 21)
        let tokens = (0..<24).map { _ in Int32(rng.next() % 40) }, targets = (0..<24).map { _ in Int32(rng.next() % 40) }
        func batch(_ rows: Range<Int>) -> TrainingBatch {
            TrainingBatch(tokens: Array(tokens[rows.lowerBound * 6..<rows.upperBound * 6]), targets: Array(targets[rows.lowerBound * 6..<rows.upperBound * 6]),
                          keyMask: nil, batch: rows.count, seqLen: 6)
        }
        var grads: [[Float]] = []
        for split in [[0..<4], [0..<2, 2..<4]] {
            let a = try adapters { $0.method = .effilora; $0.experts = 2 }
            let pass = TrainingPass(decoder: decoder), gradients = Gradients(a.parameters)
            for (i, rows) in split.enumerated() {
                var context = PassContext()
                context.training = true; context.microBatch = i; context.balanceScale = 1 / Float(split.count)
                pass.run(batch(rows), adapter: a.pass(context, gradients: gradients), lossScale: 1 / 24)
            }
            grads.append(a.parameters.flatMap { $0.trainable ? gradients[$0].array : [] })
        }
        for (x, y) in zip(grads[0], grads[1]) { XCTAssertEqual(x, y, accuracy: 1e-5 + 1e-4 * abs(x)) }
    }

    /// Checkpointing recomputes the forward in the backward; the gradients must be the same.
    func testCheckpointingGivesTheSameGradients() throws {
        let decoder = Decoder(config: model, weights: .random(config: model, seed: 5))
        var grads: [[Float]] = []
        for checkpointing in [false, true] {
            let a = try adapters { $0.method = .effilora }
            let b = batch(), gradients = Gradients(a.parameters)
            TrainingPass(decoder: decoder, checkpointing: checkpointing).run(b, adapter: a.pass(.training, gradients: gradients), lossScale: 1)
            grads.append(a.parameters.flatMap { $0.trainable ? gradients[$0].array : [] })
        }
        XCTAssertEqual(grads[0], grads[1])
    }
}
