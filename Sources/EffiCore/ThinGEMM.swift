/// Products whose output is thin — C[M, N] with N ≤ 16 or M ≤ 16, an adapter's rank — and whose
/// inner dimension K is long: u = x Aᵀ, du = dy B, dB = dyᵀ u and dA = duᵀ x. OpenBLAS reaches only 13–44 GFLOP/s
/// on these shapes (see `effilora bench kernels`); this kernel keeps a block of C in registers:
///   C[i, :] = alpha · Σ_k A(i, k) · P[k, :]  (+ C[i, :] when accumulating),
/// where P is op(B) packed as K rows of 8 or 16 floats (zero-padded past N), and
/// A(i, k) = a[i·lda + k], or a[k·lda + i] when A is transposed. A product with M ≤ 16 is run
/// as its transpose, Cᵀ = op(B)ᵀ op(A)ᵀ, written back transposed.
/// Rows of C are independent and split over the bounded parallel loop; no BLAS call is made, so
/// the rule against concurrent OpenBLAS products is kept.
public enum ThinGEMM {
    public static let maxColumns = 16

    @inlinable
    static func handles(transA: Bool, transB: Bool, m: Int, n: Int, k: Int) -> Bool {
        (n <= maxColumns || m <= maxColumns) && k >= 16
    }

    @usableFromInline
    static func run(transA: Bool, transB: Bool, m: Int, n: Int, k: Int, alpha: Float,
                    a: UnsafePointer<Float>, lda: Int, b: UnsafePointer<Float>, ldb: Int,
                    accumulate: Bool, c: UnsafeMutablePointer<Float>, ldc: Int) {
        if n <= maxColumns {
            thin(transA: transA, transB: transB, m: m, n: n, k: k, a: a, lda: lda, b: b, ldb: ldb,
                 output: Output(base: c, ldc: ldc, columns: n, alpha: alpha, accumulate: accumulate, transposed: false))
        } else {
            thin(transA: !transB, transB: !transA, m: n, n: m, k: k, a: b, lda: ldb, b: a, ldb: lda,
                 output: Output(base: c, ldc: ldc, columns: m, alpha: alpha, accumulate: accumulate, transposed: true))
        }
    }

    private static func thin(transA: Bool, transB: Bool, m: Int, n: Int, k: Int,
                             a: UnsafePointer<Float>, lda: Int, b: UnsafePointer<Float>, ldb: Int, output: Output) {
        let width = n <= 8 ? 8 : 16
        let panel = UnsafeMutablePointer<Float>.allocate(capacity: k * width)
        defer { panel.deallocate() }
        for p in 0..<k {
            for j in 0..<width {
                panel[p * width + j] = j < n ? (transB ? b[j * ldb + p] : b[p * ldb + j]) : 0
            }
        }
        let operand = Operand(base: a, rowStride: transA ? 1 : lda, columnStride: transA ? lda : 1)
        Parallel.forRanges(m, minimumChunk: 64) { rows in
            var i = rows.lowerBound
            if width == 8 {
                while i + 8 <= rows.upperBound { rows8Width8(i, k, operand, panel, output); i += 8 }
            } else {
                while i + 4 <= rows.upperBound { rows4Width16(i, k, operand, panel, output); i += 4 }
            }
            while i < rows.upperBound { row1(i, k, width, operand, panel, output); i += 1 }
        }
    }

    /// A(i, k) = base[i·rowStride + k·columnStride].
    @usableFromInline
    struct Operand {
        let base: UnsafePointer<Float>
        let rowStride: Int
        let columnStride: Int

        @inline(__always) func row(_ i: Int) -> UnsafePointer<Float> { base + i * rowStride }
    }

    @usableFromInline
    struct Output {
        let base: UnsafeMutablePointer<Float>
        let ldc: Int
        let columns: Int
        let alpha: Float
        let accumulate: Bool
        /// Row i of the computed product is column i of the caller's C.
        let transposed: Bool

        @inline(__always) func write(row i: Int, _ lo: F8, _ hi: F8 = F8()) {
            let (start, step) = transposed ? (i, ldc) : (i * ldc, 1)
            for j in 0..<columns {
                let v = alpha * (j < 8 ? lo[j] : hi[j - 8])
                let o = start + j * step
                base[o] = accumulate ? base[o] + v : v
            }
        }
    }

    /// Eight rows of C, one vector of P per k: 8 accumulators, 1 load + 8 broadcasts per k.
    private static func rows8Width8(_ i: Int, _ k: Int, _ a: Operand, _ panel: UnsafePointer<Float>, _ out: Output) {
        let r0 = a.row(i), r1 = a.row(i + 1), r2 = a.row(i + 2), r3 = a.row(i + 3)
        let r4 = a.row(i + 4), r5 = a.row(i + 5), r6 = a.row(i + 6), r7 = a.row(i + 7)
        var c0 = F8(), c1 = F8(), c2 = F8(), c3 = F8(), c4 = F8(), c5 = F8(), c6 = F8(), c7 = F8()
        let cs = a.columnStride
        for p in 0..<k {
            let b = load8(panel + p * 8), o = p * cs
            c0.addProduct(r0[o], b); c1.addProduct(r1[o], b); c2.addProduct(r2[o], b); c3.addProduct(r3[o], b)
            c4.addProduct(r4[o], b); c5.addProduct(r5[o], b); c6.addProduct(r6[o], b); c7.addProduct(r7[o], b)
        }
        out.write(row: i, c0); out.write(row: i + 1, c1); out.write(row: i + 2, c2); out.write(row: i + 3, c3)
        out.write(row: i + 4, c4); out.write(row: i + 5, c5); out.write(row: i + 6, c6); out.write(row: i + 7, c7)
    }

    /// Four rows of C, two vectors of P per k: 8 accumulators, 2 loads + 4 broadcasts per k.
    private static func rows4Width16(_ i: Int, _ k: Int, _ a: Operand, _ panel: UnsafePointer<Float>, _ out: Output) {
        let r0 = a.row(i), r1 = a.row(i + 1), r2 = a.row(i + 2), r3 = a.row(i + 3)
        var l0 = F8(), l1 = F8(), l2 = F8(), l3 = F8(), h0 = F8(), h1 = F8(), h2 = F8(), h3 = F8()
        let cs = a.columnStride
        for p in 0..<k {
            let bl = load8(panel + p * 16), bh = load8(panel + p * 16 + 8), o = p * cs
            let a0 = r0[o], a1 = r1[o], a2 = r2[o], a3 = r3[o]
            l0.addProduct(a0, bl); h0.addProduct(a0, bh); l1.addProduct(a1, bl); h1.addProduct(a1, bh)
            l2.addProduct(a2, bl); h2.addProduct(a2, bh); l3.addProduct(a3, bl); h3.addProduct(a3, bh)
        }
        out.write(row: i, l0, h0); out.write(row: i + 1, l1, h1); out.write(row: i + 2, l2, h2); out.write(row: i + 3, l3, h3)
    }

    /// One row of C (the remainder of a block).
    private static func row1(_ i: Int, _ k: Int, _ width: Int, _ a: Operand, _ panel: UnsafePointer<Float>, _ out: Output) {
        let r = a.row(i), cs = a.columnStride
        var lo = F8(), hi = F8()
        for p in 0..<k {
            let x = r[p * cs]
            lo.addProduct(x, load8(panel + p * width))
            if width == 16 { hi.addProduct(x, load8(panel + p * width + 8)) }
        }
        out.write(row: i, lo, hi)
    }
}
