import XCTest
import Foundation
import EffiCore
import EffiFormats
@testable import EffiModel
@testable import EffiAdapters
@testable import EffiTrain

final class ReducerTests: XCTestCase {
    let model = ReducerFixture.model

    func examples(_ count: Int, seed: UInt64) -> [Example] { ReducerFixture.examples(count, seed: seed) }

    func adapters(seed: UInt64 = 3) throws -> Adapters {
        var c = AdapterConfig()
        c.method = .effilora; c.rank = 4; c.seed = seed
        return try Adapters(config: c, model: model)
    }

    func randomize(_ a: Adapters) {
        var rng = SplitMix64(seed: 12)
        for p in a.parameters where p.trainable { for i in 0..<p.value.count { p.value[i] = rng.nextFloat(in: -0.3...0.3) } }
    }

    /// A suppression score is loss(branch of l left out) − loss(all), and the probe (which reuses
    /// the forward below l) equals two plain forward passes.
    func testSuppressionScoreEqualsTwoForwardPasses() throws {
        let decoder = Decoder(config: model, weights: .random(config: model, seed: 1))
        let a = try adapters()
        randomize(a)
        let batch = Batcher(examples: examples(4, seed: 2), batchSize: 4, seed: 0).makeBatch([0, 1, 2, 3])
        var options = ReducerOptions()
        options.importance = .suppression
        let reducer = Reducer(options: options, adapters: a, scoringBatch: batch, seed: 0)
        let pass = TrainingPass(decoder: decoder)
        let scores = reducer.suppressionScores(layers: a.adaptedLayers, pass: pass)
        func loss(_ suppressed: Int?) -> Double {
            var context = PassContext.inference
            context.suppressedLayer = suppressed
            let (sum, count) = TrainingPass(decoder: decoder).run(batch, adapter: a.pass(context, gradients: nil),
                                                                  lossScale: 0, backward: false)
            return sum / Double(count)
        }
        let base = loss(nil)
        for l in a.adaptedLayers {
            XCTAssertEqual(scores[l]!, loss(l) - base, accuracy: 1e-6, "layer \(l)")
            XCTAssertNotEqual(scores[l]!, 0, "layer \(l)")
        }
    }

    /// With a_grad: active the backward stops at the lowest active layer, and the active
    /// parameters' gradients equal those of a full-depth backward.
    func testTruncatedBackwardGivesTheActiveGradients() throws {
        let decoder = Decoder(config: model, weights: .random(config: model, seed: 1))
        let batch = Batcher(examples: examples(4, seed: 2), batchSize: 4, seed: 0).makeBatch([0, 1, 2, 3])
        var grads: [[Float]] = []
        for fullDepth in [false, true] {
            let a = try adapters()
            randomize(a)
            for l in [0, 1, 3] { a.setMode(.frozen, layer: l) }
            var context = PassContext()
            context.training = true
            XCTAssertEqual(a.lowestLayerNeedingGradients(for: context), 2)
            if fullDepth { context.depth = .contributing }
            XCTAssertEqual(a.lowestLayerNeedingGradients(for: context), fullDepth ? 0 : 2)
            let gradients = Gradients(a.parameters)
            TrainingPass(decoder: decoder).run(batch, adapter: a.pass(context, gradients: gradients), lossScale: 0.1)
            grads.append(a.parameters.filter(\.trainable).flatMap { gradients[$0].array })
        }
        XCTAssertEqual(grads[0], grads[1])
    }

    func options(_ importance: ReducerOptions.Importance, mode: ReducerOptions.Mode = .freeze) -> ReducerOptions {
        var r = ReducerOptions()
        r.keep = 2; r.importance = importance; r.every = 4; r.warmup = 2; r.batch = 4; r.mode = mode
        return r
    }

    func trainer(_ reducer: ReducerOptions?, output: String, iterations: Int = 10) throws -> Trainer {
        var o = TrainingOptions()
        o.iterations = iterations; o.batchSize = 4; o.learningRate = 2e-2; o.validateEvery = 5; o.saveEvery = 3; o.seed = 1
        return Trainer(decoder: Decoder(config: model, weights: .random(config: model, seed: 1)), adapters: try adapters(), options: o,
                       train: examples(40, seed: 4), validation: examples(8, seed: 5), output: output, reducer: reducer)
    }

    func folder() -> String {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("effilora-reducer-\(UUID().uuidString)").path
        addTeardownBlock { try? FileManager.default.removeItem(atPath: path) }
        return path
    }

    /// Frozen layers' B's do not change by a single bit; dropped layers leave the file and the count.
    func testFreezeKeepsBitsAndDropRemovesParameters() throws {
        let frozen = try trainer(options(.taylor), output: folder())
        var snapshot: [String: [Float]] = [:]
        try frozen.run(stopAfter: 2)  // the first round runs after step 2
        let inactive = frozen.adapters.adaptedLayers.filter { frozen.adapters.layerModes[$0] == .frozen }
        XCTAssertEqual(inactive.count, 4)
        for l in inactive { for p in frozen.adapters.parameters(ofLayer: l) { snapshot[p.name] = p.value.array } }
        try frozen.run(stopAfter: 5)
        for l in inactive where frozen.adapters.layerModes[l] == .frozen {
            for p in frozen.adapters.parameters(ofLayer: l) { XCTAssertEqual(p.value.array, snapshot[p.name], p.name) }
        }

        let output = folder()
        let dropping = try trainer(options(.suppression, mode: .drop), output: output)
        try dropping.run()
        let a = dropping.adapters
        let dropped = a.adaptedLayers.filter { a.layerModes[$0] == .dropped }
        XCTAssertEqual(dropped.count, 4)
        let file = try SafetensorsFile(path: output + "/adapter/" + AdapterFile.weightsName)
        XCTAssertFalse(file.names.contains { name in dropped.contains { name.hasPrefix("layers.\($0).") } })
        XCTAssertEqual(file.names.count, a.liveParameters.count)
        let report = ParameterReport(adapters: a, base: model)
        XCTAssertEqual(report.trainable, a.liveParameters.filter(\.trainable).reduce(0) { $0 + $1.value.count })
        XCTAssertLessThan(report.trainable, ParameterReport(adapters: try adapters(), base: model).trainable)
        let reloaded = try AdapterFile.load(from: output + "/adapter", model: model)
        XCTAssertEqual(reloaded.layerModes, a.layerModes)
    }

    /// select: budget fixes the cutoff first: the active layers all lie in the top fraction.
    func testBudgetKeepsTheBestLayersAboveTheCutoff() throws {
        var r = options(.suppression)
        r.budget = 0.5
        XCTAssertEqual(r.cutoff(layers: 6), 3)
        let t = try trainer(r, output: folder())
        try t.run(stopAfter: 2)
        let active = t.adapters.activeLayers
        XCTAssertEqual(active.count, 2)
        XCTAssertTrue(active.allSatisfy { $0 >= 3 }, "\(active)")
        XCTAssertEqual(t.adapters.lowestLayerNeedingGradients(for: t.trainingStep.context(microBatch: 0)), active.min())
    }

    /// Resume with the Reducer on stays bit for bit.
    func testResumeWithTheReducerIsBitExact() throws {
        for importance in [ReducerOptions.Importance.taylor, .suppression] {
            let base = folder()
            try trainer(options(importance), output: base + "/a").run()
            try trainer(options(importance), output: base + "/b").run(stopAfter: 7)
            let resumed = try trainer(options(importance), output: base + "/b")
            try resumed.resume(from: base + "/b")
            XCTAssertEqual(resumed.step, 6)
            try resumed.run()
            XCTAssertEqual(try String(contentsOfFile: base + "/a/metrics.jsonl", encoding: .utf8).split(separator: "\n").map { $0.replacingOccurrences(of: #""seconds":[0-9.e-]+"#, with: "", options: .regularExpression) },
                           try String(contentsOfFile: base + "/b/metrics.jsonl", encoding: .utf8).split(separator: "\n").map { $0.replacingOccurrences(of: #""seconds":[0-9.e-]+"#, with: "", options: .regularExpression) },
                           "\(importance)")
        }
    }

    /// On a trained small model, Taylor's first-order estimate ranks the layers like suppression.
    func testTaylorAndSuppressionRankingsCorrelate() throws {
        let t = try trainer(nil, output: folder(), iterations: 20)
        try t.run()
        let batch = Batcher(examples: examples(8, seed: 5), batchSize: 8, seed: 0).makeBatch(Array(0..<8))
        let pass = TrainingPass(decoder: t.decoder)
        let suppression = Reducer(options: options(.suppression), adapters: t.adapters, scoringBatch: batch, seed: 0)
            .suppressionScores(layers: t.adapters.adaptedLayers, pass: pass)
        let taylor = Reducer(options: options(.taylor), adapters: t.adapters, scoringBatch: batch, seed: 0)
            .taylorScores(layers: t.adapters.adaptedLayers, pass: pass)
        let layers = t.adapters.adaptedLayers
        let rho = spearmanCorrelation(layers.map { suppression[$0]! }, layers.map { taylor[$0]! })
        print("Spearman(taylor, suppression) over \(layers.count) layers: \(rho); suppression \(layers.map { suppression[$0]! }), taylor \(layers.map { taylor[$0]! })")
        XCTAssertGreaterThan(rho, 0)
    }
}
