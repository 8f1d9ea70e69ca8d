import XCTest
import EffiCore
@testable import EffiAdapters
@testable import EffiTrain

final class OptimizerTests: XCTestCase {
    /// Three steps against torch.optim.AdamW(lr=0.1, betas=(0.9, 0.99), eps=1e-6, weight_decay=0.05)
    /// in float64 (PyTorch 2.13).
    func testAdamWMatchesPyTorch() {
        let p = Parameter(key: .site(layer: 0, site: .q, role: .b(expert: nil)), shape: [4], trainable: true)
        let gradients = Gradients([p])
        for (i, v) in [0.5, -1.0, 2.0, 0.0].enumerated() { p.value[i] = Float(v) }
        var options = AdamW.Options()
        options.beta1 = 0.9; options.beta2 = 0.99; options.epsilon = 1e-6; options.weightDecay = 0.05
        let adam = AdamW(options: options)
        let grads: [[Float]] = [[0.1, -0.2, 0.3, 0.0], [1.0, 0.5, -0.5, 2.0], [-0.3, 0.2, 0.1, -1.0]]
        let expected: [[Double]] = [
            [0.3975009999900001, -0.8950004999975, 1.8900003333322222, 0.0],
            [0.3149831351931967, -0.9346746629300351, 1.9098751834872967, -0.07424592647196268],
            [0.2719234158636003, -0.9842960013476459, 1.9118987397162663, -0.09671832370701366],
        ]
        for (g, e) in zip(grads, expected) {
            for i in 0..<4 { gradients[p][i] = g[i] }
            adam.step([p], gradients: gradients, learningRate: 0.1)
            for i in 0..<4 { XCTAssertEqual(Double(p.value[i]), e[i], accuracy: 2e-6) }
        }
    }

    func testSchedules() {
        let cosine = LearningRateSchedule(kind: .cosine, peak: 1, warmup: 2, total: 6)
        // Warmup 0.5, 1; then 0.5 (1 + cos(π k / 4)) for k = 0…3.
        let expected: [Float] = [0.5, 1] + (0..<4).map { Float(0.5 * (1 + cos(Double.pi * Double($0) / 4))) }
        for (i, e) in expected.enumerated() { XCTAssertEqual(cosine.rate(at: i), e, accuracy: 1e-6, "step \(i)") }
        let linear = LearningRateSchedule(kind: .linear, peak: 2, warmup: 0, total: 4)
        XCTAssertEqual((0..<4).map { linear.rate(at: $0) }, [2, 1.5, 1, 0.5])
        XCTAssertEqual(LearningRateSchedule(kind: .constant, peak: 3, warmup: 1, total: 9).rate(at: 5), 3)
    }
}
