import XCTest
import Foundation
@testable import EffiCore

final class RoPETests: XCTestCase {
    let batch = 2, seqLen = 5, heads = 3, headDim = 8, base = 10_000.0

    /// Pair i of a head: adjacent (2i, 2i+1), rotate-half (i, i + D/2); θ = pos · base^(−2i/D).
    func reference(_ x: Tensor, layout: RoPELayout, offset: Int) -> [Double] {
        var out = x.array.map(Double.init)
        let half = headDim / 2
        for b in 0..<batch {
            for t in 0..<seqLen {
                for h in 0..<heads {
                    let o = ((b * seqLen + t) * heads + h) * headDim
                    for i in 0..<half {
                        let (p, q) = layout == .adjacentPairs ? (2 * i, 2 * i + 1) : (i, i + half)
                        let theta = Double(offset + t) * Foundation.pow(base, -2 * Double(i) / Double(headDim))
                        let a = Double(x[o + p]), c = Double(x[o + q])
                        out[o + p] = a * Foundation.cos(theta) - c * Foundation.sin(theta)
                        out[o + q] = a * Foundation.sin(theta) + c * Foundation.cos(theta)
                    }
                }
            }
        }
        return out
    }

    func testForwardBothLayouts() {
        for layout in [RoPELayout.adjacentPairs, .rotateHalf] {
            for offset in [0, 7] {
                let x = randomTensor([batch, seqLen, heads, headDim], seed: 1)
                let expected = reference(x, layout: layout, offset: offset)
                let rope = RoPE(headDim: headDim, base: base, maxPositions: 16, layout: layout)
                rope.forward(x, batch: batch, seqLen: seqLen, heads: heads, positionOffset: offset)
                assertClose(x, expected, tolerance: 1e-6, "\(layout) offset \(offset)")
            }
        }
    }

    func testBackwardAgainstFiniteDifferences() {
        for layout in [RoPELayout.adjacentPairs, .rotateHalf] {
            let rope = RoPE(headDim: headDim, base: base, maxPositions: 16, layout: layout)
            let x = randomTensor([batch, seqLen, heads, headDim], seed: 2)
            let probe = randomTensor(x.shape, seed: 3)
            let f = { () -> Double in
                let y = x.clone()
                rope.forward(y, batch: self.batch, seqLen: self.seqLen, heads: self.heads, positionOffset: 3)
                return dot(probe, y)
            }
            let dx = probe.clone()
            rope.backward(dx, batch: batch, seqLen: seqLen, heads: heads, positionOffset: 3)
            checkDirectionalDerivative(of: f, input: x, gradient: dx)
        }
    }
}
