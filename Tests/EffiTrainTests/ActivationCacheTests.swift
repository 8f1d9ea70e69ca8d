import XCTest
import Foundation
import EffiCore
@testable import EffiModel
@testable import EffiAdapters
@testable import EffiTrain

/// A run that starts later epochs' forwards from cached layer inputs gives the losses of the same
/// run without the cache (the layers below carry no adapter, so their output is the base model's).
final class ActivationCacheTests: XCTestCase {
    let model = ModelConfig(layers: 4, modelWidth: 16, ffnWidth: 24, heads: 4, kvHeads: 2, vocabulary: 50)

    func examples() -> [Example] {
        var rng = SplitMix64(seed: 4)
        return (0..<12).map { i in Example(tokens: (0..<(5 + i % 7)).map { _ in Int32(rng.next() % 50) }, promptLength: i % 3) }
    }

    func run(layers: [Int], reducer: ReducerOptions?, cache: ActivationCache.Setting, output: String) throws -> (Trainer, [StepMetrics]) {
        var a = AdapterConfig()
        a.method = .effilora; a.rank = 4; a.seed = 3; a.layers = layers
        var o = TrainingOptions()
        o.iterations = 12; o.batchSize = 3; o.learningRate = 1e-2; o.validateEvery = 0; o.saveEvery = 0; o.seed = 5
        let decoder = Decoder(config: model, weights: .random(config: model, seed: 1))
        let trainer = Trainer(decoder: decoder, adapters: try Adapters(config: a, model: model), options: o, train: examples(),
                              validation: Array(examples().prefix(4)), output: output, reducer: reducer, activationCache: cache)
        var metrics: [StepMetrics] = []
        try trainer.run { metrics.append($0) }
        return (trainer, metrics)
    }

    func assertSameRun(_ a: [StepMetrics], _ b: [StepMetrics], file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertEqual(a.count, b.count, file: file, line: line)
        for (x, y) in zip(a, b) {
            XCTAssertEqual(x.loss, y.loss, accuracy: 1e-6 * max(1, abs(x.loss)), "step \(x.step)", file: file, line: line)
            XCTAssertEqual(x.gradientNorm, y.gradientNorm, accuracy: 1e-5 * max(1, x.gradientNorm), "step \(x.step)", file: file, line: line)
        }
    }

    func folder() -> String {
        let base = FileManager.default.temporaryDirectory.appendingPathComponent("effilora-cache-\(UUID().uuidString)").path
        addTeardownBlock { try? FileManager.default.removeItem(atPath: base) }
        return base
    }

    /// Only the top two layers adapted (mlx-lm's --num-layers 2): from the second epoch on every
    /// batch starts at layer 2, in memory or in a file.
    func testTopLayersOnlyStartFromTheCache() throws {
        let base = folder()
        let (_, plain) = try run(layers: [2, 3], reducer: nil, cache: .off, output: base + "/plain")
        let (cached, withCache) = try run(layers: [2, 3], reducer: nil, cache: .auto, output: base + "/cached")
        assertSameRun(plain, withCache)
        let cache = try XCTUnwrap(cached.activationCache)
        XCTAssertEqual(cache.layer, 2)
        XCTAssertNil(cache.path, "in memory")
        XCTAssertEqual(cache.misses, 4, "the first epoch (4 batches of 3) fills it")
        XCTAssertEqual(cache.hits, 8, "epochs 2 and 3 start at layer 2")
        XCTAssertEqual(cache.cachedExamples, 12)

        let (mapped, fromFile) = try run(layers: [2, 3], reducer: nil, cache: .directory(base + "/states"), output: base + "/mapped")
        assertSameRun(plain, fromFile)
        let path = try XCTUnwrap(mapped.activationCache?.path)
        XCTAssertTrue(path.hasPrefix(base + "/states/"))
        XCTAssertEqual(mapped.activationCache?.hits, 8)
    }

    /// The Reducer in drop mode: the cutoff rises as layers are dropped; the cache follows it.
    func testReducerDropModeMatchesTheRunWithoutCache() throws {
        var r = ReducerOptions()
        // The budget (half the layers' backward) puts the cutoff at layer 2 or above.
        r.keep = 1; r.importance = .random; r.every = 3; r.warmup = 2; r.batch = 2; r.mode = .drop; r.budget = 0.5
        let base = folder()
        let (_, plain) = try run(layers: [0, 1, 2, 3], reducer: r, cache: .off, output: base + "/plain")
        let (cached, withCache) = try run(layers: [0, 1, 2, 3], reducer: r, cache: .auto, output: base + "/cached")
        assertSameRun(plain, withCache)
        let live = try XCTUnwrap(cached.adapters.lowestContributingLayer)
        XCTAssertGreaterThanOrEqual(live, 2)
        let cache = try XCTUnwrap(cached.activationCache)
        XCTAssertEqual(cache.layer, live)
        XCTAssertGreaterThan(cache.hits, 0, "later epochs start at the kept layer")
    }

    /// Layer 1 dropped after 8 steps (as the Reducer's drop mode does): the held inputs of layer 1
    /// are run through it to become layer 2's, and the run still matches the one without the cache.
    func testCacheMovesUpWhenTheCutoffRises() throws {
        let base = folder()
        func run(_ cache: ActivationCache.Setting, _ output: String) throws -> (Trainer, [StepMetrics]) {
            var a = AdapterConfig()
            a.method = .lora; a.rank = 4; a.seed = 3; a.layers = [1, 2, 3]
            var o = TrainingOptions()
            o.iterations = 12; o.batchSize = 3; o.learningRate = 1e-2; o.validateEvery = 0; o.saveEvery = 0; o.seed = 5
            let trainer = Trainer(decoder: Decoder(config: model, weights: .random(config: model, seed: 1)),
                                  adapters: try Adapters(config: a, model: model), options: o, train: examples(), validation: nil,
                                  output: output, activationCache: cache)
            var metrics: [StepMetrics] = []
            try trainer.run(stopAfter: 8) { metrics.append($0) }
            trainer.adapters.setMode(.dropped, layer: 1)
            try trainer.run { metrics.append($0) }
            return (trainer, metrics)
        }
        let (_, plain) = try run(.off, base + "/plain")
        let (cached, withCache) = try run(.auto, base + "/cached")
        assertSameRun(plain, withCache)
        let cache = try XCTUnwrap(cached.activationCache)
        XCTAssertEqual(cache.layer, 2)
        XCTAssertEqual(cache.advancedExamples, 12, "all 12 held states moved up once")
        XCTAssertEqual(cache.hits, 8, "steps 5–8 from layer 1, 9–12 from layer 2 without a refill")
    }

    func testAnExampleMissingFromTheBatchIsAMiss() throws {
        let cache = try XCTUnwrap(ActivationCache(setting: .auto, examples: examples(), width: 2, layer: 1, runFolder: folder()))
        let states = Tensor(shape: [2 * 11, 2])
        for i in 0..<states.count { states[i] = Float(i) }
        cache.store([0, 1], seqLen: 11, from: states)
        let out = Tensor(shape: [2 * 11, 2])
        XCTAssertTrue(cache.gather([1, 0], seqLen: 11, into: out))
        // Example 1 has 6 tokens (rows 11..<17 when stored); gathered first it lands at rows 0..<6, padding zero.
        XCTAssertEqual(Array(out.array[0..<12]), Array(states.array[22..<34]))
        XCTAssertEqual(Array(out.array[12..<22]), Array(repeating: 0, count: 10))
        XCTAssertEqual(Array(out.array[22..<32]), Array(states.array[0..<10]), "example 0: 5 tokens")
        XCTAssertFalse(cache.gather([0, 2], seqLen: 11, into: out))
        cache.use(layer: 2)
        XCTAssertFalse(cache.gather([0, 1], seqLen: 11, into: out), "another layer's states are forgotten")
        XCTAssertEqual((cache.hits, cache.misses).0, 1)
    }
}
