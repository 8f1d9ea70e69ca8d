import XCTest
import Foundation
import EffiCore
@testable import EffiModel
@testable import EffiAdapters

/// Stacked adapters against fusing each of them into the weights.
extension AdapterExchangeTests {
    func testStackingTwoAdaptersEqualsFusingBoth() throws {
        let lm = try tinyModel()
        let first = try randomAdapter(lm.decoder.config, method: .effilora)
        let second = try randomAdapter(lm.decoder.config, method: .vera, targets: [.q, .v, .down], rank: 6)
        let stack = try StackedLoRA([("first", first, 0.5), ("second", second, 1.5)])
        let stacked = logits(lm, stack)
        XCTAssertGreaterThan(maxDifference(stacked, logits(lm, first)), 0.05, "the second adapter changes the scores")
        // Fused one after the other, each at its scale (scaling B scales the update).
        for (adapters, scale) in [(first, Float(0.5)), (second, 1.5)] {
            for p in adapters.parameters where p.name.hasSuffix(".B") || p.name.hasSuffix("vera_b") { for i in 0..<p.value.count { p.value[i] *= scale } }
            try adapters.fuse(into: lm.decoder.weights)
        }
        assertBaseScores(lm, equal: stacked, "stacked vs both fused")
    }

    func testStackingRefusesUpdatesThatDoNotAdd() throws {
        let lm = try tinyModel()
        let lora = try randomAdapter(lm.decoder.config, method: .lora)
        var c = AdapterConfig()
        c.method = .dora
        let dora = try Adapters(config: c, model: lm.decoder.config, weights: lm.decoder.weights)
        XCTAssertThrowsError(try StackedLoRA([("a", lora, 1), ("b.dora", dora, 1)])) {
            XCTAssertTrue("\($0)".contains("b.dora") && "\($0)".contains("cannot be stacked"), "\($0)")
        }
        let routed = try randomAdapter(lm.decoder.config, method: .hydralora, experts: 2)
        XCTAssertThrowsError(try StackedLoRA([("a", lora, 1), ("c.hydra", routed, 1)])) {
            XCTAssertTrue("\($0)".contains("c.hydra") && "\($0)".contains("router") && "\($0)".contains("only additive adapters stack"), "\($0)")
        }
    }
}
