import XCTest
import Foundation
import EffiCore
@testable import EffiModel
@testable import EffiAdapters
@testable import EffiTrain

/// The best adapter by validation loss, and early stopping, against the metrics the run logged.
final class BestAndEarlyStoppingTests: XCTestCase {
    let model = ModelConfig(layers: 2, modelWidth: 16, ffnWidth: 24, heads: 4, kvHeads: 2, vocabulary: 50)

    func testTrackerFollowsKerasRule() {
        var t = ValidationTracker()
        // 5.0 starts; 4.95 is best but not an improvement by more than 0.1; 4.85 is.
        XCTAssertTrue(t.record(loss: 5.0, step: 10, minDelta: 0.1) == (true, true))
        XCTAssertTrue(t.record(loss: 4.95, step: 20, minDelta: 0.1) == (true, false))
        XCTAssertEqual(t.validationsWithoutImprovement, 1)
        XCTAssertTrue(t.record(loss: 4.99, step: 30, minDelta: 0.1) == (false, false))
        XCTAssertTrue(t.shouldStop(patience: 2))
        XCTAssertFalse(t.shouldStop(patience: 3))
        XCTAssertFalse(t.shouldStop(patience: 0), "0 turns early stopping off")
        XCTAssertTrue(t.record(loss: 4.85, step: 40, minDelta: 0.1) == (true, true))
        XCTAssertEqual(t.validationsWithoutImprovement, 0)
        XCTAssertEqual(t.bestStep, 40)
        XCTAssertEqual(t.bestLoss, 4.85)
    }

    func examples(_ count: Int, seed: UInt64) -> [Example] {
        var rng = SplitMix64(seed: seed)
        return (0..<count).map { i in Example(tokens: (0..<(5 + i % 7)).map { _ in Int32(rng.next() % 50) }, promptLength: 1) }
    }

    /// A run whose validation data differ from its training data: a high learning rate overfits
    /// the training set, so the validation loss turns up and early stopping has something to do.
    func trainer(output: String, patience: Int, iterations: Int = 40) throws -> Trainer {
        var a = AdapterConfig()
        a.method = .lora; a.rank = 4; a.seed = 3
        var o = TrainingOptions()
        o.iterations = iterations; o.batchSize = 4; o.learningRate = 5e-2; o.schedule = .constant
        o.validateEvery = 2; o.saveEvery = 3; o.seed = 5; o.earlyStoppingPatience = patience
        let decoder = Decoder(config: model, weights: .random(config: model, seed: 1))
        return Trainer(decoder: decoder, adapters: try Adapters(config: a, model: model), options: o,
                       train: examples(8, seed: 9), validation: examples(8, seed: 77), output: output)
    }

    func validations(_ output: String) throws -> [(step: Int, loss: Double)] {
        try String(contentsOfFile: output + "/metrics.jsonl", encoding: .utf8).split(separator: "\n")
            .map { try JSONDecoder().decode(ValidationMetrics.self, from: Data($0.utf8)) }
            .filter { $0.step > 0 }.compactMap { m in m.validationLoss.map { (m.step, $0) } }
    }

    func testBestAdapterIsTheLowestValidationAndEarlyStoppingResumes() throws {
        let base = FileManager.default.temporaryDirectory.appendingPathComponent("effilora-best-\(UUID().uuidString)").path
        addTeardownBlock { try? FileManager.default.removeItem(atPath: base) }
        let patience = 3

        let straight = try trainer(output: base + "/straight", patience: patience)
        try straight.run()
        let logged = try validations(base + "/straight")
        // Where the rule says the run stops: the first validation that is the `patience`-th in a
        // row not below the running minimum.
        var minimum = Double.infinity, without = 0, expectedStop: Int?
        for (step, loss) in logged {
            if loss < minimum { minimum = loss; without = 0 } else { without += 1 }
            if without == patience { expectedStop = step; break }
        }
        let stop = try XCTUnwrap(expectedStop, "the validation loss never turned up: \(logged)")
        XCTAssertTrue(straight.stoppedEarly)
        XCTAssertEqual(straight.step, stop)
        XCTAssertLessThan(stop, 40)
        XCTAssertEqual(logged.last?.step, stop, "no step after the stop")
        let best = logged.min { $0.loss < $1.loss }!
        XCTAssertEqual(straight.validationTracker.bestStep, best.step)
        XCTAssertEqual(straight.validationTracker.bestLoss, best.loss)
        XCTAssertNotEqual(best.step, stop)

        // adapter-best holds the parameters of the best step: its validation loss is the logged one.
        let decoder = straight.decoder
        let bestAdapter = try AdapterFile.load(from: straight.bestAdapterFolder, model: model)
        let data = Batcher(examples: examples(8, seed: 77), batchSize: 4, seed: 5)
        let (loss, _) = try meanLoss(data, pass: TrainingPass(decoder: decoder), adapter: bestAdapter, context: "test")
        XCTAssertEqual(loss, best.loss, accuracy: 1e-9 * best.loss)
        let finalAdapter = try AdapterFile.load(from: straight.adapterFolder, model: model)
        let (finalLoss, _) = try meanLoss(data, pass: TrainingPass(decoder: decoder), adapter: finalAdapter, context: "test")
        XCTAssertEqual(finalLoss, logged.last!.loss, accuracy: 1e-9 * finalLoss)

        // Interrupted before the stop and resumed from its last checkpoint: the same stop, the same best.
        let interruptedAt = stop - 1
        try trainer(output: base + "/resumed", patience: patience).run(stopAfter: interruptedAt)
        let resumed = try trainer(output: base + "/resumed", patience: patience)
        try resumed.resume(from: base + "/resumed")
        XCTAssertLessThan(resumed.step, interruptedAt + 1)
        try resumed.run()
        XCTAssertEqual(resumed.step, stop)
        XCTAssertEqual(resumed.validationTracker, straight.validationTracker)
        XCTAssertEqual(try validations(base + "/resumed").map(\.loss), logged.map(\.loss))
        let resumedBest = try AdapterFile.load(from: resumed.bestAdapterFolder, model: model)
        for (p, q) in zip(bestAdapter.parameters, resumedBest.parameters) { XCTAssertEqual(p.value.array, q.value.array, p.name) }

        // A run whose last step is where patience runs out ran all its steps: not stopped early.
        let complete = try trainer(output: base + "/complete", patience: patience, iterations: stop)
        try complete.run()
        XCTAssertFalse(complete.stoppedEarly)
        XCTAssertTrue(complete.isFinished)
        XCTAssertEqual(complete.validationTracker, straight.validationTracker)

        // A run resumed after it stopped does nothing more.
        let again = try trainer(output: base + "/straight", patience: patience)
        try again.resume(from: base + "/straight")
        XCTAssertEqual(again.step, stop)
        try again.run()
        XCTAssertEqual(again.step, stop)
    }
}
