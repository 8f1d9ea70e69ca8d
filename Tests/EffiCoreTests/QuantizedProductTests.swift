import XCTest
import CQuantDot
@testable import EffiCore

/// Products with a weight kept in ggml blocks against a Float64 loop over the dequantized weight
/// (Dequantize itself is checked against the gguf package in EffiFormatsTests).
final class QuantizedProductTests: XCTestCase {
    /// Random blocks of `type`: random quant bytes, the f16 scale fields set to finite halves.
    static func randomMatrix(_ type: GGMLType, rows: Int, columns: Int, seed: UInt64) -> QuantizedMatrix {
        var rng = SplitMix64(seed: seed)
        let rowBytes = type.rowBytes(columns)!, blocks = rows * columns / type.blockSize
        var bytes = (0..<(rows * rowBytes)).map { _ in UInt8(truncatingIfNeeded: rng.next()) }
        let halfOffsets: [Int] = switch type {
        case .q8_0, .q4_0, .q5_0: [0]
        case .q4_1, .q4_K: [0, 2]
        case .q6_K: [208]
        default: []
        }
        for b in 0..<blocks {
            for offset in halfOffsets {
                let scale = Float(rng.next() % 1000 + 1) / 1000 * (type == .q8_0 ? 0.01 : 0.05)
                let bits = Quantize.halfBits(scale)
                bytes[b * type.blockBytes + offset] = UInt8(bits & 0xFF)
                bytes[b * type.blockBytes + offset + 1] = UInt8(bits >> 8)
            }
        }
        let storage = UnsafeMutableRawBufferPointer.allocate(byteCount: bytes.count, alignment: 1)
        storage.copyBytes(from: bytes)
        return QuantizedMatrix(type: type, rows: rows, columns: columns, bytes: UnsafeRawBufferPointer(storage), owner: Owner(storage))
    }

    final class Owner {
        let storage: UnsafeMutableRawBufferPointer
        init(_ storage: UnsafeMutableRawBufferPointer) { self.storage = storage }
        deinit { storage.deallocate() }
    }

    static let types: [GGMLType] = [.q4_0, .q4_1, .q5_0, .q8_0, .q4_K, .q6_K]

    /// Both orientations, with and without accumulation, odd row counts, one panel and several:
    /// the panel size shrunk to 5 rows (input gradient in column panels of one or two blocks) and
    /// to 64 values (input gradient in row panels, as for a vocabulary-sized head). Within 1e-5 of
    /// Σ|a·w| in Float32, and against bf16-rounded inputs within the same in bf16.
    func testProductsAgainstAFloat64Loop() throws {
        let saved = QuantizedMatrix.panelValues
        defer { QuantizedMatrix.panelValues = saved }
        var precisions: [ComputePrecision] = [.float32]
        if OneDNN.supportsBFloat16 { precisions.append(.bfloat16) }
        for type in Self.types {
            let columns = type.blockSize == 256 ? 512 : 96, rows = 23, m = 7
            let q = Self.randomMatrix(type, rows: rows, columns: columns, seed: UInt64(type.rawValue))
            let w = q.dequantized()
            XCTAssertTrue(w.buffer.allSatisfy(\.isFinite), "\(type.name): finite values")
            for panel in [1 << 20, 5 * columns, 64] {
                QuantizedMatrix.panelValues = panel
                for precision in precisions {
                    for accumulate in [false, true] {
                        let label = "\(type.name) \(precision.rawValue) panel of \(panel) values, accumulate \(accumulate)"
                        for expected in frozenProducts(FrozenLinear(q, precision: precision), values: w, rows: m, accumulate: accumulate,
                                                       seed: 1, label: label) {
                            compare(expected, precision: precision)
                        }
                    }
                }
            }
        }
    }

    /// Decoding's int8 dot products (up to `dotRowLimit` rows of activations) against a Float64
    /// loop over the dequantized weight. Quantizing x to 8 bits moves each x_j by at most half a
    /// step (d_x / 2 of its 32-value block), so |ours − exact| ≤ Σ_j |w_j| · d_x(j) / 2 (+ Float32
    /// rounding); the measured error must also be well inside it on average.
    func testDotProductsForDecoding() throws {
        let best = QuantizedMatrix.dotKernels
        try XCTSkipIf(best == "scalar", "no int8 dot kernels on this processor")
        try checkDotProducts(label: best)
        if best != "avx2" {
            XCTAssertTrue(QuantizedMatrix.limitDotKernels(to: "avx2"))
            defer { QuantizedMatrix.limitDotKernels(to: best) }
            try checkDotProducts(label: "avx2")
        }
    }

    func checkDotProducts(label: String) throws {
        XCTAssertEqual(QuantizedMatrix.dotKernels, label)
        for type in Self.types {
            let columns = type.blockSize == 256 ? 768 : 96, rows = 131
            let q = Self.randomMatrix(type, rows: rows, columns: columns, seed: UInt64(type.rawValue) + 40), w = q.dequantized()
            for m in 1...QuantizedMatrix.dotRowLimit {
                let x = randomTensor([m, columns], seed: UInt64(m)), y = randomTensor([m, rows], seed: 9), y0 = y.clone()
                XCTAssertTrue(q.hasDotKernel, "\(type.name): a kernel exists")
                QuantizedMatrix.dotProducts(x, [(q, y)], accumulate: m % 2 == 0)
                var errorSum = 0.0, boundSum = 0.0
                for i in 0..<m {
                    let steps = (0..<(columns / 32)).map { b in Double((0..<32).map { abs(x[i * columns + b * 32 + $0]) }.max()!) / 127 }
                    for r in 0..<rows {
                        var exact = 0.0, bound = 0.0
                        for j in 0..<columns {
                            let wj = Double(w[r * columns + j])
                            exact += wj * Double(x[i * columns + j])
                            bound += abs(wj) * steps[j / 32] / 2
                        }
                        let ours = Double(y[i * rows + r]) - (m % 2 == 0 ? Double(y0[i * rows + r]) : 0)
                        XCTAssertLessThanOrEqual(abs(ours - exact), bound * 1.001 + 1e-4, "\(label) \(type.name) m \(m) row \(r)")
                        errorSum += abs(ours - exact)
                        boundSum += bound
                    }
                }
                XCTAssertLessThan(errorSum, 0.25 * boundSum, "\(label) \(type.name) m \(m): rounding errors mostly cancel")
            }
        }
    }

    private func compare(_ e: ExpectedProduct, precision: ComputePrecision) {
        func round(_ v: Float) -> Double { precision == .bfloat16 ? Double(BFloat16.widen(BFloat16.round(v))) : Double(v) }
        var worst = 0.0
        for i in 0..<e.result.rows {
            for j in 0..<e.columns {
                var expected = 0.0, magnitude = 0.0
                for p in 0..<e.k {
                    let (a, b) = e.term(i, j, p)
                    expected += round(a) * round(b)
                    magnitude += abs(Double(a) * Double(b))
                }
                let ours = Double(e.result[i * e.columns + j]) - Double(e.base?[i * e.columns + j] ?? 0)
                worst = max(worst, abs(ours - expected) / max(magnitude, 1e-30))
            }
        }
        XCTAssertLessThanOrEqual(worst, 1e-5, e.label)
    }

    /// The kernels' bf16 dequantisation (the tiles of bf16 products) is the Float32 one rounded by
    /// BFloat16.round, bit for bit, for both instruction sets.
    func testBFloat16DequantisationIsTheRoundedFloat32One() throws {
        let best = QuantizedMatrix.dotKernels
        try XCTSkipIf(best == "scalar", "no vector kernels on this processor")
        defer { QuantizedMatrix.limitDotKernels(to: best) }
        for isa in Set(["avx2", best]) where QuantizedMatrix.limitDotKernels(to: isa) {
            for type in Self.types {
                let q = Self.randomMatrix(type, rows: 3, columns: 512, seed: 70), w = q.dequantized()
                var expected = [UInt16](repeating: 0, count: w.count), ours = [UInt16](repeating: 0, count: w.count)
                BFloat16.round(w.data, into: &expected, count: w.count)
                for r in 0..<3 {
                    XCTAssertEqual(effi_dequantize_row_bf16(Int32(type.rawValue), q.bytes + r * q.rowBytes, 512, &ours[r * 512]), 0)
                }
                XCTAssertEqual(ours, expected, "\(isa) \(type.name)")
            }
        }
    }

    /// Rows looked up one at a time equal the dequantized matrix's rows; Q8_0 quantization
    /// round-trips within half a step d/2 plus the f16 rounding of d (≤ 2^-11·d) times |q| ≤ 127.
    func testRowsAndQ8_0Quantization() {
        for type in Self.types {
            let q = Self.randomMatrix(type, rows: 5, columns: 256, seed: 9), w = q.dequantized()
            let row = [Float](unsafeUninitializedCapacity: 256) { buffer, n in q.row(3, into: buffer.baseAddress!); n = 256 }
            XCTAssertEqual(row, Array(w.array[(3 * 256)..<(4 * 256)]), type.name)
        }
        let x = randomTensor([3, 64], seed: 5)
        let q = QuantizedMatrix(quantizing: x, as: .q8_0), back = q.dequantized()
        for block in 0..<(x.count / 32) {
            let values = (0..<32).map { x[block * 32 + $0] }, step = values.map(abs).max()! / 127
            for j in 0..<32 {
                XCTAssertEqual(back[block * 32 + j], values[j], accuracy: step * (0.5 + 127.0 / 2048) + 1e-7, "block \(block) value \(j)")
            }
        }
    }
}
