import XCTest
@testable import EffiModel

final class SamplerTests: XCTestCase {
    let logits: [Float] = [1.0, 3.0, 2.0, 0.5, -1.0, 2.5]

    func draw(_ sampler: Sampler, _ n: Int) -> [Int] {
        var s = sampler, counts = [Int](repeating: 0, count: logits.count)
        logits.withUnsafeBufferPointer { for _ in 0..<n { counts[Int(s.next($0))] += 1 } }
        return counts
    }

    func testGreedyIsTheArgmax() {
        XCTAssertEqual(draw(Sampler(), 10), [0, 10, 0, 0, 0, 0])
        XCTAssertEqual(draw(Sampler(temperature: 1, topK: 1, seed: 3), 10), [0, 10, 0, 0, 0, 0])
    }

    /// Frequencies of 20,000 draws match softmax(logits / T) within 4 standard errors.
    func testFrequenciesFollowTheSoftmax() {
        let n = 20_000, temperature: Float = 0.7
        let weights = logits.map { exp(Double($0 / temperature)) }, total = weights.reduce(0, +)
        let counts = draw(Sampler(temperature: temperature, seed: 42), n)
        for (i, w) in weights.enumerated() {
            let p = w / total, se = (p * (1 - p) / Double(n)).squareRoot()
            XCTAssertEqual(Double(counts[i]) / Double(n), p, accuracy: 4 * se + 1e-4, "token \(i)")
        }
    }

    /// top-k keeps the k best; top-p keeps the smallest head of the sorted distribution reaching p.
    func testTopKAndTopPRestrictTheCandidates() {
        XCTAssertEqual(draw(Sampler(temperature: 1, topK: 2, seed: 1), 2000).enumerated().filter { $0.element > 0 }.map(\.offset), [1, 5])
        // Softmax at T = 1: p(1) ≈ 0.44, p(5) ≈ 0.27, p(2) ≈ 0.16: 0.44 + 0.27 < 0.8 ≤ 0.87.
        XCTAssertEqual(draw(Sampler(temperature: 1, topP: 0.8, seed: 1), 4000).enumerated().filter { $0.element > 0 }.map(\.offset), [1, 2, 5])
        XCTAssertEqual(draw(Sampler(temperature: 1, topP: 0.3, seed: 1), 100), [0, 100, 0, 0, 0, 0])
    }

    func testTheSeedMakesDrawsReproducible() {
        XCTAssertEqual(draw(Sampler(temperature: 1, seed: 9), 500), draw(Sampler(temperature: 1, seed: 9), 500))
        XCTAssertNotEqual(draw(Sampler(temperature: 1, seed: 9), 500), draw(Sampler(temperature: 1, seed: 10), 500))
    }
}
