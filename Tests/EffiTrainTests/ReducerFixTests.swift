import XCTest
import Foundation
import EffiCore
@testable import EffiModel
@testable import EffiAdapters
@testable import EffiTrain

/// The Reducer's correctness under the settings where it used to go wrong: resume across a
/// re-activation, gradient accumulation, sampled suppression, the activation cache, evaluation
/// mode of its probes, and where its scoring batch comes from.
final class ReducerFixTests: XCTestCase {
    let model = ReducerFixture.model

    func examples(_ count: Int, seed: UInt64) -> [Example] { ReducerFixture.examples(count, seed: seed) }

    func adapters(_ configure: (inout AdapterConfig) -> Void = { _ in }) throws -> Adapters {
        var c = AdapterConfig()
        c.method = .effilora; c.rank = 4; c.seed = 3
        configure(&c)
        let a = try Adapters(config: c, model: model)
        var rng = SplitMix64(seed: 12)
        for p in a.parameters where p.trainable { for i in 0..<p.value.count { p.value[i] = rng.nextFloat(in: -0.3...0.3) } }
        return a
    }

    func reducer(_ importance: ReducerOptions.Importance, mode: ReducerOptions.Mode = .freeze) -> ReducerOptions {
        var r = ReducerOptions()
        r.keep = 2; r.importance = importance; r.every = 4; r.warmup = 2; r.batch = 4; r.mode = mode
        return r
    }

    func trainer(_ reducer: ReducerOptions?, output: String, iterations: Int = 14, layers: [Int] = [], saveEvery: Int = 3,
                 cache: ActivationCache.Setting = .off, train: [Example]? = nil) throws -> Trainer {
        var o = TrainingOptions()
        o.iterations = iterations; o.batchSize = 4; o.learningRate = 2e-2; o.validateEvery = 5; o.saveEvery = saveEvery; o.seed = 1
        var c = AdapterConfig()
        c.method = .effilora; c.rank = 4; c.seed = 3; c.layers = layers
        return Trainer(decoder: Decoder(config: model, weights: .random(config: model, seed: 1)), adapters: try Adapters(config: c, model: model),
                       options: o, train: train ?? examples(40, seed: 4), validation: examples(8, seed: 5), output: output, reducer: reducer,
                       activationCache: cache)
    }

    func folder() -> String {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("effilora-reducer-fix-\(UUID().uuidString)").path
        addTeardownBlock { try? FileManager.default.removeItem(atPath: path) }
        return path
    }

    func metricsLines(_ output: String) throws -> [String] {
        try String(contentsOfFile: output + "/metrics.jsonl", encoding: .utf8).split(separator: "\n")
            .map { $0.replacingOccurrences(of: #""seconds":[0-9.e-]+"#, with: "", options: .regularExpression) }
    }

    /// A layer frozen at the checkpoint and re-activated after the resume continues from its saved
    /// AdamW moments: the resumed run equals the uninterrupted one bit for bit.
    func testResumeThatReactivatesAFrozenLayerIsBitExact() throws {
        let base = folder()
        let straight = try trainer(reducer(.random), output: base + "/a", iterations: 17)
        var actives: [Int: [Int]] = [:]
        try straight.run { m in if let r = m.reducer { actives[m.step] = r.active } }
        // Rounds after steps 2, 6, 10, 14; the resume starts from the checkpoint of step 12.
        let reactivated = Set(actives[14]!).subtracting(actives[10]!)
        XCTAssertFalse(reactivated.isEmpty, "the round after the resume re-activates a layer frozen at the checkpoint: \(actives)")

        try trainer(reducer(.random), output: base + "/b", iterations: 17).run(stopAfter: 13)
        let resumed = try trainer(reducer(.random), output: base + "/b", iterations: 17)
        try resumed.resume(from: base + "/b")
        XCTAssertEqual(resumed.step, 12)
        try resumed.run()
        XCTAssertEqual(try metricsLines(base + "/a"), try metricsLines(base + "/b"))
        for (p, q) in zip(straight.adapters.parameters, resumed.adapters.parameters) { XCTAssertEqual(p.value.array, q.value.array, p.name) }
    }

    /// A step of two micro-batches of 2 gives the Taylor scores of one micro-batch of 4.
    func testTaylorScoresDoNotDependOnGradientAccumulation() throws {
        let data = examples(4, seed: 2)
        var scores: [[Int: Double]] = []
        for (batchSize, split) in [(4, [[0, 1, 2, 3]]), (2, [[0, 1], [2, 3]])] {
            let a = try adapters()
            var o = TrainingOptions()
            o.batchSize = batchSize; o.gradientAccumulation = split.count
            let r = reducer(.taylor)
            let step = TrainingStep(decoder: Decoder(config: model, weights: .random(config: model, seed: 1)), adapters: a, options: o,
                                    data: Batcher(examples: data, batchSize: batchSize, seed: 0), reducer: r, activationCache: .off, runFolder: folder())
            let reducer = Reducer(options: r, adapters: a, scoringBatch: nil, seed: 0)
            reducer.record(try step.run(split, firstMicroBatch: 0, learningRate: 0, label: "test"))
            scores.append(reducer.taylorScores(layers: a.adaptedLayers, pass: step.pass))
        }
        for l in 0..<6 {
            let one = try XCTUnwrap(scores[0][l]), two = try XCTUnwrap(scores[1][l])
            XCTAssertNotEqual(one, 0, "layer \(l)")
            XCTAssertEqual(two, one, accuracy: 1e-5 * abs(one), "layer \(l)")
        }
    }

    /// Sampled suppression probes unscored layers first and never drops a layer it has not scored.
    func testSampledSuppressionNeverDropsAnUnscoredLayer() throws {
        var r = reducer(.suppression, mode: .drop)
        r.sampleLayers = 2
        let t = try trainer(r, output: folder())
        var rounds = 0
        try t.run { m in
            guard m.reducer != nil else { return }
            rounds += 1
            let scores = t.reducer!.state.scores, modes = t.adapters.layerModes
            XCTAssertEqual(scores.compactMap { $0 }.count, min(6, 2 * rounds), "round \(rounds) probes 2 layers not scored before")
            for l in 0..<6 where modes[l] == .dropped { XCTAssertNotNil(scores[l], "layer \(l) dropped without a score") }
            for l in 0..<6 where scores[l] == nil { XCTAssertEqual(modes[l], .frozen, "unscored layer \(l) waits frozen") }
        }
        XCTAssertEqual(rounds, 4)
        XCTAssertEqual(t.adapters.layerModes.filter { $0 == .dropped }.count, 4, "from the third round on every layer has a score")
    }

    /// Resuming with the activation cache on rebuilds it from the examples it held: the resumed
    /// run starts the same batches from the cache (hits and misses) and gives the same numbers.
    func testResumeWithTheActivationCacheTakesTheSamePath() throws {
        let base = folder(), data = examples(12, seed: 7)
        func run(_ output: String, stopAfter: Int? = nil, resume: Bool = false) throws -> Trainer {
            let t = try trainer(nil, output: output, iterations: 12, layers: [4, 5], cache: .auto, train: data)
            if resume { try t.resume(from: output) }
            try t.run(stopAfter: stopAfter)
            return t
        }
        let straight = try run(base + "/a")
        _ = try run(base + "/b", stopAfter: 8)
        let resumed = try run(base + "/b", resume: true)
        let a = try XCTUnwrap(straight.activationCache), b = try XCTUnwrap(resumed.activationCache)
        XCTAssertEqual(a.snapshot, b.snapshot)
        XCTAssertEqual(a.hits, 9, "epochs 2–4 (3 batches of 4 each) start at layer 4")
        XCTAssertEqual(try metricsLines(base + "/a"), try metricsLines(base + "/b"))
        for (p, q) in zip(straight.adapters.parameters, resumed.adapters.parameters) { XCTAssertEqual(p.value.array, q.value.array, p.name) }
    }

    /// A checkpoint whose cache snapshot names an example the data does not have is refused with
    /// the state file named, not a crash.
    func testACacheSnapshotOutsideTheDataIsAnError() throws {
        let base = folder(), data = examples(12, seed: 7)
        try trainer(nil, output: base, iterations: 12, layers: [4, 5], cache: .auto, train: data).run(stopAfter: 6)
        let path = base + "/checkpoints/step-000006/state.json"
        var state = try JSONDecoder().decode(Checkpoint.State.self, from: Data(contentsOf: URL(fileURLWithPath: path)))
        XCTAssertNotNil(state.activationCache)
        state.activationCache?.examples.append(99)
        try JSONEncoder().encode(state).write(to: URL(fileURLWithPath: path))
        let resumed = try trainer(nil, output: base, iterations: 12, layers: [4, 5], cache: .auto, train: data)
        XCTAssertThrowsError(try resumed.resume(from: base)) { error in
            XCTAssertTrue("\(error)".contains("state.json") && "\(error)".contains("holds 99"), "\(error)")
        }
    }

    /// The Taylor refresh is an evaluation pass (no dropout, no router statistics) and writes no
    /// parameter gradient: its scores equal −⟨∂L/∂y, Δy⟩ of a plain evaluation-mode backward.
    func testTaylorRefreshRunsInEvaluationMode() throws {
        let a = try adapters { $0.dropout = 0.5; $0.experts = 2 }
        let batch = Batcher(examples: examples(4, seed: 2), batchSize: 4, seed: 0).makeBatch([0, 1, 2, 3])
        let pass = TrainingPass(decoder: Decoder(config: model, weights: .random(config: model, seed: 1)))
        let scores = Reducer(options: reducer(.taylor), adapters: a, scoringBatch: batch, seed: 0)
            .taylorScores(layers: a.adaptedLayers, pass: pass, forceRefresh: true)
        var evaluation = PassContext.inference
        evaluation.depth = .contributing
        evaluation.measuresBranchDots = true
        let probe = a.pass(evaluation, gradients: nil)
        pass.run(batch, adapter: probe, lossScale: 1 / Float(batch.targetCount))
        for l in 0..<6 { XCTAssertEqual(scores[l]!, -probe.results.branchDots[l], "layer \(l)") }
    }

    /// The scoring batch is a seeded sample of the training examples; the validation set only measures.
    func testScoringBatchComesFromTheTrainingSplit() throws {
        let t = try trainer(reducer(.suppression), output: folder())
        let batch = try XCTUnwrap(t.reducer?.scoringBatch)
        XCTAssertEqual(batch.batch, 4)
        let rows = (0..<batch.batch).map { b in
            Array(batch.tokens[b * batch.seqLen..<(b + 1) * batch.seqLen].prefix { _ in true })
        }
        let train = t.train.examples.map(\.tokens), validation = t.validation!.examples.map(\.tokens)
        for (b, row) in rows.enumerated() {
            XCTAssertTrue(train.contains { row.starts(with: $0) && $0.count >= row.count - (batch.keyMask?[(b * batch.seqLen)..<((b + 1) * batch.seqLen)].filter { !$0 }.count ?? 0) },
                          "row \(b) is a training example")
            XCTAssertFalse(validation.contains { row.starts(with: $0) }, "row \(b) is not a validation example")
        }
    }
}
