import XCTest
import Foundation
@testable import EffiCore

final class SwiGLUTests: XCTestCase {
    func testForwardMatchesFormula() {
        let g = randomTensor([3, 1029], seed: 1, scale: 8), u = randomTensor([3, 1029], seed: 2)
        let h = Tensor(shape: g.shape)
        SwiGLU.forward(gate: g, up: u, out: h)
        let expected = (0..<g.count).map { i -> Double in
            let x = Double(g[i])
            return x / (1 + Foundation.exp(-x)) * Double(u[i])
        }
        assertClose(h, expected, tolerance: 1e-6, "swiglu forward")
    }

    func testBackwardAgainstFiniteDifferences() {
        let g = randomTensor([4, 19], seed: 3, scale: 4), u = randomTensor([4, 19], seed: 4)
        let probe = randomTensor([4, 19], seed: 5)
        let h = Tensor(shape: g.shape), dg = Tensor(shape: g.shape), du = Tensor(shape: g.shape)
        let f = { () -> Double in
            SwiGLU.forward(gate: g, up: u, out: h)
            return dot(probe, h)
        }
        SwiGLU.backward(dOut: probe, gate: g, up: u, dGate: dg, dUp: du)
        checkDirectionalDerivative(of: f, input: g, gradient: dg)
        checkDirectionalDerivative(of: f, input: u, gradient: du)
    }
}
