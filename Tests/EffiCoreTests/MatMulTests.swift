import XCTest
@testable import EffiCore

/// Products against a Float64 triple loop, over the three layouts, odd sizes, thin (adapter) ranks,
/// alpha and accumulation — whichever path (BLAS or the thin kernels) serves the shape.
final class MatMulTests: XCTestCase {
    enum Op: CaseIterable { case nt, nn, tn }

    func reference(_ op: Op, _ a: Tensor, _ b: Tensor, m: Int, n: Int, k: Int) -> [Double] {
        var c = [Double](repeating: 0, count: m * n)
        for i in 0..<m {
            for j in 0..<n {
                var s = 0.0
                for p in 0..<k {
                    let av = op == .tn ? a[p * m + i] : a[i * k + p]
                    let bv = op == .nt ? b[j * k + p] : b[p * n + j]
                    s += Double(av) * Double(bv)
                }
                c[i * n + j] = s
            }
        }
        return c
    }

    func check(_ op: Op, m: Int, n: Int, k: Int, alpha: Float = 1, accumulate: Bool = false) {
        let seed = UInt64(m * 7919 + n * 31 + k)
        let a = randomTensor(op == .tn ? [k, m] : [m, k], seed: seed)
        let b = randomTensor(op == .nt ? [n, k] : [k, n], seed: seed + 1)
        let c = randomTensor([m, n], seed: seed + 2)
        let before = c.clone()
        switch op {
        case .nt: MatMul.nt(a, b, into: c, alpha: alpha, accumulate: accumulate)
        case .nn: MatMul.nn(a, b, into: c, alpha: alpha, accumulate: accumulate)
        case .tn: MatMul.tn(a, b, into: c, alpha: alpha, accumulate: accumulate)
        }
        var expected = reference(op, a, b, m: m, n: n, k: k).map { $0 * Double(alpha) }
        if accumulate { for i in 0..<expected.count { expected[i] += Double(before[i]) } }
        // Float32 sums of k terms of size ≤ 1: error grows like sqrt(k)·ulp; relative to max(1, |c|).
        assertClose(c, expected, tolerance: 2e-5 * Double(max(k, 1)).squareRoot() + 1e-6,
                    "\(op) \(m)×\(n)×\(k) alpha \(alpha) accumulate \(accumulate)")
    }

    func testGeneralShapes() {
        for op in Op.allCases {
            check(op, m: 1, n: 1, k: 1)
            check(op, m: 37, n: 53, k: 29)
            check(op, m: 128, n: 96, k: 200)
            check(op, m: 64, n: 130, k: 7, alpha: 0.5, accumulate: true)
            check(op, m: 301, n: 517, k: 577)  // past OpenBLAS's blocking edges, several threads
        }
    }

    func testAdapterShapes() {
        for r in [1, 4, 8, 13, 16, 24] {
            for op in Op.allCases {
                check(op, m: 203, n: r, k: 150)  // u = x Aᵀ, du = dy B, dB = dyᵀ u
                check(op, m: 203, n: r, k: 150, alpha: 2, accumulate: true)
                check(op, m: r, n: 150, k: 203)  // dA = duᵀ x
                check(op, m: 203, n: 150, k: r, alpha: 0.25, accumulate: true)  // y += s·u Bᵀ
            }
        }
    }

    func testSingleRowForGeneration() {
        for op in Op.allCases {
            check(op, m: 1, n: 8, k: 576)
            check(op, m: 1, n: 576, k: 8)
        }
    }
}
