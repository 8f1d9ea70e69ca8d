import XCTest
import Foundation
@testable import EffiCore

final class CrossEntropyTests: XCTestCase {
    let rows = 6, vocab = 45
    let targets: [Int32] = [3, CrossEntropy.ignoreIndex, 44, 0, CrossEntropy.ignoreIndex, 17]

    func testForwardMatchesFormulaAndSkipsIgnored() {
        let z = randomTensor([rows, vocab], seed: 1, scale: 10)
        let lse = Tensor(shape: [rows])
        let (sum, count) = CrossEntropy.forward(logits: z, targets: targets, lse: lse)
        var expected = 0.0
        for (r, t) in targets.enumerated() where t != CrossEntropy.ignoreIndex {
            let row = (0..<vocab).map { Double(z[r * vocab + $0]) }
            let m = row.max()!
            let l = m + Foundation.log(row.map { Foundation.exp($0 - m) }.reduce(0, +))
            expected += l - row[Int(t)]
        }
        XCTAssertEqual(count, 4)
        XCTAssertEqual(sum, expected, accuracy: 1e-4 * abs(expected))
    }

    func testBackwardAgainstFiniteDifferences() {
        let z = randomTensor([rows, vocab], seed: 2, scale: 3)
        let lse = Tensor(shape: [rows]), dz = Tensor(shape: z.shape)
        let f = { () -> Double in
            let (s, c) = CrossEntropy.forward(logits: z, targets: self.targets, lse: lse)
            return s / Double(c)
        }
        _ = f()
        CrossEntropy.backward(logits: z, targets: targets, lse: lse, scale: 1 / 4, dLogits: dz)
        checkDirectionalDerivative(of: f, input: z, gradient: dz, epsilon: 1e-2)
        for c in 0..<vocab { XCTAssertEqual(dz[1 * vocab + c], 0, "ignored row has no gradient") }
        // Each counted row's gradient sums to zero (softmax minus one-hot).
        var rowSum: Float = 0
        for c in 0..<vocab { rowSum += dz[c] }
        XCTAssertEqual(rowSum, 0, accuracy: 1e-6)
    }

    func testBackwardMayOverwriteLogits() {
        let z = randomTensor([rows, vocab], seed: 3), copy = z.clone()
        let lse = Tensor(shape: [rows]), dz = Tensor(shape: z.shape)
        _ = CrossEntropy.forward(logits: z, targets: targets, lse: lse)
        CrossEntropy.backward(logits: copy, targets: targets, lse: lse, scale: 0.5, dLogits: dz)
        CrossEntropy.backward(logits: z, targets: targets, lse: lse, scale: 0.5, dLogits: z)
        XCTAssertEqual(z.array, dz.array)
    }
}
