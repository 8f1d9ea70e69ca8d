import EffiFormats
@testable import EffiTrain
import Foundation
import XCTest

/// A run whose loss saturates at ln(vocabulary) or diverges stops with the step and a suggestion,
/// instead of exiting 0 with a useless adapter.
final class DivergenceTests: XCTestCase {
    func testTheGuardsRules() throws {
        let uniform = log(49152.0)
        // Saturation: three steps in a row at ln(V) with a zero gradient; a nonzero gradient resets the count.
        var saturating = DivergenceGuard(factor: 3, vocabulary: 49152)
        for (step, norm) in [(1, 0.0), (2, 0.0), (3, 0.5), (4, 0.0), (5, 0.0)] {
            XCTAssertNoThrow(try saturating.check(step: step, loss: uniform, gradientNorm: norm, learningRate: 1), "step \(step)")
        }
        XCTAssertThrowsError(try saturating.check(step: 6, loss: uniform, gradientNorm: 0, learningRate: 1)) {
            XCTAssertTrue("\($0)".hasPrefix("step 6: the model has saturated"), "\($0)")
        }
        // A healthy run with noisy batches (3 ± 1.5, decreasing) never trips the divergence test.
        var healthy = DivergenceGuard(factor: 3, vocabulary: 49152)
        for step in 1...400 {
            let noise = 1.5 * sin(Double(step) * 2.7)
            XCTAssertNoThrow(try healthy.check(step: step, loss: 3.5 - Double(step) / 400 + noise, gradientNorm: 1, learningRate: 1e-3))
        }
        // Divergence: the smoothed loss climbs from ~2 to past 3× that; it is caught on the way, not at once.
        var diverging = DivergenceGuard(factor: 3, vocabulary: 49152)
        for step in 1...30 { try diverging.check(step: step, loss: 2, gradientNorm: 1, learningRate: 1e-2) }
        var stoppedAt: Int?
        for step in 31...80 {
            do { try diverging.check(step: step, loss: 9, gradientNorm: 1, learningRate: 1e-2) } catch {
                XCTAssertTrue("\(error)".contains("the loss has diverged") && "\(error)".contains("lower the learning rate"), "\(error)")
                stoppedAt = step
                break
            }
        }
        // ℓ̄ after k steps at 9 from 2: 9 − 7 · 0.9^k > 6 ⇔ k > ln(3/7) / ln(0.9) = 8.04, so at k = 9.
        XCTAssertEqual(stoppedAt, 30 + 9)
        // A run memorising its data falls near 0; one harder batch triples the smoothed loss but
        // moves it far less than the 1-nat margin: not divergence.
        var memorising = DivergenceGuard(factor: 3, vocabulary: 49152)
        for step in 1...60 { XCTAssertNoThrow(try memorising.check(step: step, loss: step == 50 ? 0.3 : 0.01, gradientNorm: 1, learningRate: 1e-3)) }
        var off = DivergenceGuard(factor: 0, vocabulary: 49152)
        for step in 1...60 { XCTAssertNoThrow(try off.check(step: step, loss: step > 30 ? 9 : 2, gradientNorm: 1, learningRate: 1)) }
    }

    func testASaturatedRunStopsWithoutAnAdapter() throws {
        guard FileManager.default.fileExists(atPath: PinnedFiles.smolLM2) else { throw XCTSkip("run scripts/setup.sh") }
        try EffiLoRAExecutable.require()
        let base = FileManager.default.temporaryDirectory.appendingPathComponent("effilora-diverge-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: base + "/data", withIntermediateDirectories: true)
        addTeardownBlock { try? FileManager.default.removeItem(atPath: base) }
        let lines = (0..<8).map { #"{"text": "The quick brown fox jumps over the lazy dog number \#($0)."}"# }
        try lines.joined(separator: "\n").write(toFile: base + "/data/train.jsonl", atomically: true, encoding: .utf8)
        let run = try EffiLoRAExecutable.run(["train", "--model", PinnedFiles.smolLM2, "--data", base + "/data", "--output", base + "/run",
                                              "--iters", "8", "--batch-size", "2", "--learning-rate", "1e8", "--rank", "2", "--targets", "all"])
        XCTAssertNotEqual(run.status, 0)
        XCTAssertTrue(run.output.contains("the model has saturated: loss 10.8027 ≈ ln(49152) = 10.8027 with a zero gradient for 3 steps"), run.output)
        XCTAssertFalse(FileManager.default.fileExists(atPath: base + "/run/adapter"))
    }
}
