import XCTest
@testable import EffiCore

/// Helpers shared by the kernel tests: seeded random tensors, and a directional finite-difference
/// check of a backward pass.
func randomTensor(_ shape: [Int], seed: UInt64, scale: Float = 1) -> Tensor {
    var rng = SplitMix64(seed: seed)
    let t = Tensor(shape: shape)
    for i in 0..<t.count { t[i] = rng.nextFloat(in: -scale...scale) }
    return t
}

/// ⟨a, b⟩ accumulated in Double.
func dot(_ a: Tensor, _ b: Tensor) -> Double {
    precondition(a.count == b.count)
    var s = 0.0
    for i in 0..<a.count { s += Double(a[i]) * Double(b[i]) }
    return s
}

/// Checks ⟨∇f(x), v⟩ against the central difference (f(x + εv) − f(x − εv)) / 2ε for several
/// random directions v. `f` must read `x` afresh on each call; `gradient` is the analytic ∇f at x.
func checkDirectionalDerivative(
    of f: () -> Double, input x: Tensor, gradient: Tensor, epsilon: Float = 1e-2,
    directions: Int = 4, tolerance: Double = 2e-3, seed: UInt64 = 99,
    file: StaticString = #filePath, line: UInt = #line
) {
    let saved = x.clone()
    for d in 0..<directions {
        let v = randomTensor(x.shape, seed: seed &+ UInt64(d))
        for i in 0..<x.count { x[i] = saved[i] + epsilon * v[i] }
        let plus = f()
        for i in 0..<x.count { x[i] = saved[i] - epsilon * v[i] }
        let minus = f()
        x.copy(from: saved)
        let numeric = (plus - minus) / (2 * Double(epsilon))
        let analytic = dot(gradient, v)
        let scale = max(abs(numeric), abs(analytic), 1e-3)
        XCTAssertLessThan(abs(numeric - analytic) / scale, tolerance,
                          "direction \(d): finite difference \(numeric) vs analytic \(analytic)", file: file, line: line)
    }
}

func assertClose(_ a: Tensor, _ b: [Double], tolerance: Double, _ message: String = "",
                 file: StaticString = #filePath, line: UInt = #line) {
    XCTAssertEqual(a.count, b.count, message, file: file, line: line)
    var worst = 0.0, at = 0
    for i in 0..<min(a.count, b.count) {
        let e = abs(Double(a[i]) - b[i]) / max(1, abs(b[i]))
        if e > worst { worst = e; at = i }
    }
    XCTAssertLessThan(worst, tolerance, "\(message): worst error \(worst) at \(at) (\(a[at]) vs \(b[at]))", file: file, line: line)
}
