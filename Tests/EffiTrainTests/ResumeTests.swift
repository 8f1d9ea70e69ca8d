import XCTest
import Foundation
import EffiCore
@testable import EffiModel
@testable import EffiAdapters
@testable import EffiTrain

/// A run interrupted at a checkpoint and resumed gives the uninterrupted run's losses and
/// parameters bit for bit.
final class ResumeTests: XCTestCase {
    let model = ModelConfig(layers: 2, modelWidth: 16, ffnWidth: 24, heads: 4, kvHeads: 2, vocabulary: 50)

    func examples() -> [Example] {
        var rng = SplitMix64(seed: 9)
        return (0..<23).map { i in Example(tokens: (0..<(4 + i % 9)).map { _ in Int32(rng.next() % 50) }, promptLength: i % 3) }
    }

    func trainer(output: String) throws -> Trainer {
        var a = AdapterConfig()
        a.method = .effilora; a.rank = 4; a.experts = 2; a.dropout = 0.1; a.seed = 3
        var o = TrainingOptions()
        o.iterations = 8; o.batchSize = 3; o.gradientAccumulation = 2; o.learningRate = 1e-2; o.warmup = 2
        o.validateEvery = 4; o.saveEvery = 3; o.seed = 5
        let decoder = Decoder(config: model, weights: .random(config: model, seed: 1))
        return Trainer(decoder: decoder, adapters: try Adapters(config: a, model: model), options: o,
                       train: examples(), validation: Array(examples().prefix(5)), output: output)
    }

    func metrics(_ output: String) throws -> [StepMetrics] {
        let text = try String(contentsOfFile: output + "/metrics.jsonl", encoding: .utf8)
        return try text.split(separator: "\n").filter { !$0.hasPrefix("{\"step\":0") }
            .map { try JSONDecoder().decode(StepMetrics.self, from: Data($0.utf8)) }
    }

    func testResumeReproducesTheUninterruptedRun() throws {
        let base = FileManager.default.temporaryDirectory.appendingPathComponent("effilora-resume-\(UUID().uuidString)").path
        addTeardownBlock { try? FileManager.default.removeItem(atPath: base) }
        let straight = try trainer(output: base + "/straight")
        try straight.run()

        // Interrupted after step 5, as a kill would leave it (last checkpoint: step 3).
        try trainer(output: base + "/resumed").run(stopAfter: 5)
        XCTAssertEqual(try metrics(base + "/resumed").count, 5)
        XCTAssertTrue(try String(contentsOfFile: base + "/resumed/metrics.jsonl", encoding: .utf8).hasPrefix("{\"step\":0,\"validationLoss\":"))
        let resumed = try trainer(output: base + "/resumed")
        try resumed.resume(from: base + "/resumed")
        XCTAssertEqual(resumed.step, 3)
        try resumed.run()

        let a = try metrics(base + "/straight"), b = try metrics(base + "/resumed")
        XCTAssertEqual(a.map(\.step), Array(1...8))
        XCTAssertEqual(b.map(\.step), Array(1...8))
        XCTAssertEqual(a.map(\.loss), b.map(\.loss))
        XCTAssertEqual(a.map(\.validationLoss), b.map(\.validationLoss))
        XCTAssertEqual(a.map(\.gradientNorm), b.map(\.gradientNorm))
        // Router health since the last validation spans the resume (steps 1–4 at step 4).
        XCTAssertNotNil(a[3].routers)
        XCTAssertEqual(a.map(\.routers), b.map(\.routers))
        for (p, q) in zip(straight.adapters.parameters, resumed.adapters.parameters) { XCTAssertEqual(p.value.array, q.value.array, p.name) }
        XCTAssertLessThan(a.last!.loss, a.first!.loss, "the loss falls")
    }
}
