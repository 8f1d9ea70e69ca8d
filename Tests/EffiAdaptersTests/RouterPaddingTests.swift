import XCTest
import EffiCore
@testable import EffiModel
@testable import EffiAdapters

/// Router statistics and the load-balancing loss count the real tokens only: what padding rows
/// hold (pad tokens, or the activation cache's zeros) changes neither.
final class RouterPaddingTests: XCTestCase {
    let model = ModelConfig(layers: 2, modelWidth: 16, ffnWidth: 24, heads: 4, kvHeads: 2, vocabulary: 40)

    func testPaddingIsLeftOutOfRouterStatisticsAndBalanceLoss() throws {
        var c = AdapterConfig()
        c.method = .effilora; c.rank = 3; c.experts = 3; c.balance = 0.1
        let a = try Adapters(config: c, model: model)
        var rng = SplitMix64(seed: 11)
        for p in a.parameters { for i in 0..<p.value.count { p.value[i] = rng.nextFloat(in: -0.5...0.5) } }
        let decoder = Decoder(config: model, weights: .random(config: model, seed: 5))
        let tokens: [Int32] = [3, 9, 1, 30, 7, 2, 5, 8, 21, 6, 0, 0]
        let targets: [Int32] = [9, 1, 30, 7, 2, -100, 8, 21, 6, -100, -100, -100]
        let mask = (0..<12).map { $0 < 10 }
        /// The padded batch (rows of 6, the second example 4 tokens long) with `pad` in its padding.
        func results(pad: Int32) -> PassResults {
            var t = tokens
            t[10] = pad; t[11] = pad
            let pass = a.pass(.training, gradients: nil)
            TrainingPass(decoder: decoder).run(TrainingBatch(tokens: t, targets: targets, keyMask: mask, batch: 2, seqLen: 6),
                                               adapter: pass, lossScale: 0, backward: false)
            return pass.results
        }
        /// One example alone, unpadded.
        func alone(_ rows: Range<Int>) -> PassResults {
            let pass = a.pass(.training, gradients: nil)
            TrainingPass(decoder: decoder).run(TrainingBatch(tokens: Array(tokens[rows]), targets: Array(targets[rows]), keyMask: nil,
                                                             batch: 1, seqLen: rows.count), adapter: pass, lossScale: 0, backward: false)
            return pass.results
        }
        let zeros = results(pad: 0), other = results(pad: 37)
        XCTAssertEqual(zeros.auxiliaryLoss, other.auxiliaryLoss, "the padding's tokens do not move the balance loss")
        XCTAssertGreaterThan(zeros.auxiliaryLoss, 0)
        let first = alone(0..<6), second = alone(6..<10)
        XCTAssertEqual(zeros.routerStatistics.count, 8, "a router per layer and input tensor")
        for (slot, s) in zeros.routerStatistics {
            XCTAssertEqual(s.tokens, 10, "\(slot.key.name): the 10 real tokens")
            XCTAssertEqual(other.routerStatistics[slot]!.weightSums, s.weightSums, slot.key.name)
            let expected = zip(first.routerStatistics[slot]!.weightSums, second.routerStatistics[slot]!.weightSums).map { $0 + $1 }
            for (x, y) in zip(s.weightSums, expected) { XCTAssertEqual(x, y, accuracy: 1e-5, slot.key.name) }
        }
    }
}
