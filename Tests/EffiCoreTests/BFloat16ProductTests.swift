import XCTest
@testable import EffiCore

/// bf16 storage and oneDNN's bf16 products against Float64 loops.
final class BFloat16ProductTests: XCTestCase {
    func testVectorRoundingMatchesTheScalarRule() {
        var values: [Float] = [0, -0, 1, -1, .infinity, -.infinity, .nan, Float(bitPattern: 0x7F80_0001), .greatestFiniteMagnitude,
                               .leastNonzeroMagnitude, Float(bitPattern: 0x3F80_8000), Float(bitPattern: 0x3F81_8000),
                               Float(bitPattern: 0x3F80_7FFF), Float(bitPattern: 0x3F80_8001)]
        var rng = SplitMix64(seed: 3)
        for _ in 0..<1000 { values.append(Float(bitPattern: UInt32(truncatingIfNeeded: rng.next()))) }
        var rounded = [UInt16](repeating: 0, count: values.count)
        BFloat16.round(values, into: &rounded, count: values.count)
        for (x, h) in zip(values, rounded) {
            XCTAssertEqual(h, BFloat16.round(x), "\(x) (bits \(String(x.bitPattern, radix: 16)))")
            if x.isNaN { XCTAssertTrue(BFloat16.widen(h).isNaN, "NaN stays NaN") }
        }
        // Ties go to even: 1 + 2^-8 (halfway between 1 and 1 + 2^-7) rounds down, 1 + 3·2^-8 up.
        XCTAssertEqual(BFloat16.round(Float(bitPattern: 0x3F80_8000)), 0x3F80)
        XCTAssertEqual(BFloat16.round(Float(bitPattern: 0x3F81_8000)), 0x3F82)
        XCTAssertEqual(BFloat16.widen(BFloat16.round(3.140625)), 3.140625, "exactly representable")
    }

    /// ours vs Σ_k a·b in Float64 at the model's shapes and odd ones, for the forward x·Wᵀ and the
    /// input gradient dy·W, with and without accumulation. Against bf16-rounded inputs the only
    /// error is the Float32 accumulation; against the unrounded inputs it is ≤ 1e-2 of Σ|a·b|
    /// per output (two roundings of 2^-9 each).
    func testProductsAgainstAFloat64Loop() throws {
        try XCTSkipUnless(OneDNN.supportsBFloat16, "bf16 products need oneDNN with AVX-512")
        let shapes = [(m: 64, out: 1536, inWidth: 576), (m: 37, out: 192, inWidth: 576), (m: 17, out: 576, inWidth: 1536),
                      (m: 5, out: 7, inWidth: 3), (m: 1, out: 49, inWidth: 130)]
        for (m, out, inWidth) in shapes {
            for accumulate in [false, true] {
                let w = randomTensor([out, inWidth], seed: UInt64(out * 31 + inWidth))
                let label = "\(m)×\(out)×\(inWidth) accumulate \(accumulate)"
                for expected in frozenProducts(FrozenLinear(w, precision: .bfloat16), values: w, rows: m, accumulate: accumulate,
                                               seed: UInt64(m), label: label) {
                    compare(expected)
                }
            }
        }
    }

    private func compare(_ e: ExpectedProduct) {
        func bf(_ v: Float) -> Double { Double(BFloat16.widen(BFloat16.round(v))) }
        var worstRounded = 0.0, worstExact = 0.0
        for i in 0..<e.result.rows {
            for j in 0..<e.columns {
                var rounded = 0.0, exact = 0.0, magnitude = 0.0
                for p in 0..<e.k {
                    let (a, b) = e.term(i, j, p)
                    rounded += bf(a) * bf(b)
                    exact += Double(a) * Double(b)
                    magnitude += abs(Double(a) * Double(b))
                }
                let offset = Double(e.base?[i * e.columns + j] ?? 0), ours = Double(e.result[i * e.columns + j]) - offset
                worstRounded = max(worstRounded, abs(ours - rounded) / magnitude)
                worstExact = max(worstExact, abs(ours - exact) / magnitude)
            }
        }
        XCTAssertLessThanOrEqual(worstRounded, 1e-5, "\(e.label): against bf16-rounded inputs")
        XCTAssertLessThanOrEqual(worstExact, 1e-2, "\(e.label): against the Float32 inputs")
    }

    /// More shapes than the primitive cache keeps (it is emptied and refilled on the way): every
    /// product still right.
    func testManyShapesPastThePrimitiveCache() throws {
        try XCTSkipUnless(OneDNN.supportsBFloat16, "bf16 products need oneDNN with AVX-512")
        let w = randomTensor([3, 5], seed: 21), frozen = FrozenLinear(w, precision: .bfloat16)
        func bf(_ v: Float) -> Double { Double(BFloat16.widen(BFloat16.round(v))) }
        for m in 1...300 {
            let x = randomTensor([m, 5], seed: UInt64(m)), y = Tensor(shape: [m, 3])
            frozen.forward(x, into: y)
            for i in [0, m - 1] {
                for j in 0..<3 {
                    let expected = (0..<5).reduce(0.0) { $0 + bf(x[i * 5 + $1]) * bf(w[j * 5 + $1]) }
                    XCTAssertEqual(Double(y[i * 3 + j]), expected, accuracy: 1e-5, "m \(m), row \(i), column \(j)")
                }
            }
        }
    }

    func testAutoPicksBFloat16OnlyWithNativeSupport() {
        XCTAssertEqual(ComputePrecision(.auto, cpuFlags: ["avx2", "avx512f"]), .float32)
        XCTAssertEqual(ComputePrecision(.auto, cpuFlags: ["avx512f", "avx512_bf16"]), OneDNN.supportsBFloat16 ? .bfloat16 : .float32)
        XCTAssertEqual(ComputePrecision(.auto, cpuFlags: ["amx_bf16", "amx_tile"]), OneDNN.supportsBFloat16 ? .bfloat16 : .float32)
        XCTAssertEqual(ComputePrecision(.bf16, cpuFlags: []), .bfloat16, "asked for explicitly: runs emulated")
        XCTAssertEqual(ComputePrecision(.f32, cpuFlags: ["avx512_bf16"]), .float32)
    }

    func testWidenedWeightsAreTheRoundedOnes() {
        let w = randomTensor([9, 13], seed: 4)
        let widened = FrozenLinear(w, precision: .bfloat16).values()
        for i in 0..<w.count { XCTAssertEqual(widened[i], BFloat16.widen(BFloat16.round(w[i]))) }
        XCTAssertTrue(FrozenLinear(w).float32 === w, "Float32 storage is the tensor itself")
    }
}
