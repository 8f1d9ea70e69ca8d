import XCTest
@testable import EffiModel

final class SamplerTests: XCTestCase {
    let logits: [Float] = [1.0, 3.0, 2.0, 0.5, -1.0, 2.5]

    func draw(_ sampler: Sampler, _ n: Int) -> [Int] {
        var s = sampler, counts = [Int](repeating: 0, count: logits.count)
        logits.withUnsafeBufferPointer { for _ in 0..<n { counts[Int(s.next($0)!)] += 1 } }
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

    /// NaN and infinite logits are never chosen; when none is finite there is no token.
    func testNonFiniteLogits() {
        let mixed: [Float] = [.nan, 1, .infinity, 2, -.infinity]
        var greedy = Sampler(), sampling = Sampler(temperature: 1, seed: 1)
        mixed.withUnsafeBufferPointer { row in
            XCTAssertEqual(greedy.next(row), 3)
            for _ in 0..<200 { XCTAssertTrue([1, 3].contains(sampling.next(row)!)) }
        }
        [Float.nan, .infinity].withUnsafeBufferPointer { XCTAssertNil(greedy.next($0)) }
        // top-p below the best token's share still keeps the best token.
        var tiny = Sampler(temperature: 1, topP: 1e-6, seed: 2)
        logits.withUnsafeBufferPointer { XCTAssertEqual(tiny.next($0), 1) }
    }

    func testTheSeedMakesDrawsReproducible() {
        XCTAssertEqual(draw(Sampler(temperature: 1, seed: 9), 500), draw(Sampler(temperature: 1, seed: 9), 500))
        XCTAssertNotEqual(draw(Sampler(temperature: 1, seed: 9), 500), draw(Sampler(temperature: 1, seed: 10), 500))
    }
}
