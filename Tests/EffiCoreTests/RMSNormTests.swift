import XCTest
@testable import EffiCore

final class RMSNormTests: XCTestCase {
    let rows = 5, cols = 37, eps: Float = 1e-5

    func testForwardMatchesFormula() {
        let x = randomTensor([rows, cols], seed: 1), w = randomTensor([cols], seed: 2)
        let y = Tensor(shape: x.shape), rstd = Tensor(shape: [rows])
        RMSNorm.forward(x: x, weight: w, eps: eps, out: y, rstd: rstd)
        var expected: [Double] = []
        for r in 0..<rows {
            var ss = 0.0
            for c in 0..<cols { ss += Double(x[r * cols + c]) * Double(x[r * cols + c]) }
            let inv = 1 / (ss / Double(cols) + Double(eps)).squareRoot()
            for c in 0..<cols { expected.append(Double(x[r * cols + c]) * inv * Double(w[c])) }
        }
        assertClose(y, expected, tolerance: 1e-6, "rmsnorm forward")
    }

    func testBackwardAgainstFiniteDifferences() {
        let x = randomTensor([rows, cols], seed: 3), w = randomTensor([cols], seed: 4)
        let probe = randomTensor([rows, cols], seed: 5)  // f(x) = ⟨probe, y(x)⟩
        let y = Tensor(shape: x.shape), rstd = Tensor(shape: [rows]), dx = Tensor(shape: x.shape)
        let f = { () -> Double in
            RMSNorm.forward(x: x, weight: w, eps: self.eps, out: y, rstd: rstd)
            return dot(probe, y)
        }
        _ = f()
        RMSNorm.backward(dy: probe, x: x, weight: w, rstd: rstd, dx: dx)
        checkDirectionalDerivative(of: f, input: x, gradient: dx)
        _ = f()  // the check leaves rstd of a perturbed x behind

        // accumulate adds onto what is there.
        let acc = randomTensor(x.shape, seed: 6), expected = acc.clone()
        for i in 0..<acc.count { expected[i] += dx[i] }
        RMSNorm.backward(dy: probe, x: x, weight: w, rstd: rstd, dx: acc, accumulate: true)
        assertClose(acc, expected.array.map(Double.init), tolerance: 1e-6, "accumulate")
    }
}
