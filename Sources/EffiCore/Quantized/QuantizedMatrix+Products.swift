extension QuantizedMatrix {
    /// Values per dequantized panel: 2^20 (4 MiB in Float32, 2 in bf16), so a panel stays in cache
    /// between its dequantisation and its product (tests make it small to get many panels).
    nonisolated(unsafe) static var panelValues = 1 << 20

    /// Rows per panel (at least one).
    var panelRows: Int { Swift.min(rows, Swift.max(1, Self.panelValues / Swift.max(columns, 1))) }

    /// The weight's products with Float32 activations, a panel of rows at a time: the panel is
    /// dequantized into a dense tile of `precision` (in parallel), then multiplied by BLAS (f32)
    /// or oneDNN (bf16), each with all threads.
    ///   transposingWeight: c[M, rows] (+)= a[M, columns] · Wᵀ — panel p writes columns p of c
    ///                      (in bf16, a is rounded once for all the panels);
    ///   otherwise:         c[M, columns] (+)= a[M, rows] · W = Σ_p a[:, p] · W[p, :].
    func product(_ a: Tensor, transposingWeight: Bool, into c: Tensor, accumulate: Bool, precision: ComputePrecision) {
        let panel = panelRows, k = columns
        let tile32 = precision == .float32 ? UnsafeMutablePointer<Float>.allocate(capacity: panel * k) : nil
        let tile16 = precision == .bfloat16 ? UnsafeMutablePointer<UInt16>.allocate(capacity: panel * k) : nil
        let roundedA = tile16 != nil && transposingWeight ? UnsafeMutablePointer<UInt16>.allocate(capacity: a.count) : nil
        defer { tile32?.deallocate(); tile16?.deallocate(); roundedA?.deallocate() }
        if let roundedA { StepProfile.measure(.inputRounding) { BFloat16.round(a.data, rows: a.rows, columns: k, ld: k, into: roundedA) } }
        for start in stride(from: 0, to: rows, by: panel) {
            let range = start..<Swift.min(rows, start + panel), n = range.count
            StepProfile.measure(.dequantization) {
                if let tile32 { dequantize(rows: range, into: tile32) } else { dequantize(rows: range, intoBFloat16: tile16!) }
            }
            // The forward writes its own columns of c; the input gradient sums over the panels.
            let (m, outColumns, inner) = transposingWeight ? (a.rows, n, k) : (a.rows, k, n)
            let aStart = transposingWeight ? a.data : a.data + start
            let cStart = transposingWeight ? c.data + start : c.data
            let add = transposingWeight ? accumulate : accumulate || start > 0
            if let tile32 {
                MatMul.product(transA: false, transB: transposingWeight, m: m, n: outColumns, k: inner, alpha: 1,
                               a: aStart, lda: a.columns, b: tile32, ldb: k, accumulate: add, c: cStart, ldc: c.columns)
            } else if let roundedA {
                OneDNN.product(transB: true, m: m, n: outColumns, k: inner, roundedA: roundedA, b: tile16!, ldb: k,
                               accumulate: add, c: cStart, ldc: c.columns)
            } else {
                OneDNN.product(transB: transposingWeight, m: m, n: outColumns, k: inner, a: aStart, lda: a.columns,
                               b: tile16!, ldb: k, accumulate: add, c: cStart, ldc: c.columns)
            }
        }
    }
}
