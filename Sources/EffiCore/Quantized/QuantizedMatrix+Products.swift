extension QuantizedMatrix {
    /// Values per dequantized panel: 2^20 (4 MiB in Float32, 2 in bf16), so a panel stays in cache
    /// between its dequantisation and its product (tests make it small to get many panels).
    nonisolated(unsafe) static var panelValues = 1 << 20

    /// The weight's products with Float32 activations, a panel at a time: the panel is dequantized
    /// into a dense tile of `precision` (in parallel), then multiplied by BLAS (f32) or oneDNN
    /// (bf16), each with all threads; in bf16 activations used by every panel are rounded once.
    ///   transposingWeight: c[M, rows] (+)= a[M, columns] · Wᵀ, panels of rows: panel p writes
    ///                      columns p of c;
    ///   otherwise:         c[M, columns] (+)= a[M, rows] · W, panels of whole-block columns: panel
    ///                      q writes columns q of c, so c is written once; a weight too tall for
    ///                      a one-block column panel (a vocabulary-sized head) takes panels of
    ///                      rows, c = Σ_p a[:, p] · W[p, :].
    func product(_ a: Tensor, transposingWeight: Bool, into c: Tensor, accumulate: Bool, precision: ComputePrecision) {
        let rowPanel = Swift.min(rows, Swift.max(1, Self.panelValues / Swift.max(columns, 1)))
        let blockColumns = Swift.max(1, Self.panelValues / Swift.max(rows, 1)) / type.blockSize * type.blockSize
        let columnPanel = Swift.min(columns, Swift.max(type.blockSize, blockColumns))
        let byColumns = !transposingWeight && rows * columnPanel <= 4 * Self.panelValues
        let tile = Tile(values: byColumns ? rows * columnPanel : rowPanel * columns, precision: precision)
        // Activations every panel reads whole: rounded once in bf16.
        let rounded = precision == .bfloat16 && (transposingWeight || byColumns) ? tile.rounded(a) : nil
        defer { rounded?.deallocate() }
        if byColumns {
            for start in stride(from: 0, to: columns, by: columnPanel) {
                let panel = start..<Swift.min(columns, start + columnPanel)
                dequantize(rows: 0..<rows, columns: panel, into: tile)
                tile.multiply(transB: false, m: a.rows, n: panel.count, k: rows, a: a.data, lda: a.columns, rounded: rounded,
                              ldb: panel.count, accumulate: accumulate, c: c.data + start, ldc: c.columns)
            }
            return
        }
        for start in stride(from: 0, to: rows, by: rowPanel) {
            let panel = start..<Swift.min(rows, start + rowPanel)
            dequantize(rows: panel, columns: 0..<columns, into: tile)
            if transposingWeight {
                tile.multiply(transB: true, m: a.rows, n: panel.count, k: columns, a: a.data, lda: a.columns, rounded: rounded,
                              ldb: columns, accumulate: accumulate, c: c.data + start, ldc: c.columns)
            } else {
                tile.multiply(transB: false, m: a.rows, n: columns, k: panel.count, a: a.data + start, lda: a.columns, rounded: nil,
                              ldb: columns, accumulate: accumulate || start > 0, c: c.data, ldc: c.columns)
            }
        }
    }

    /// W[rows, columns] into the tile, dense with row stride columns.count.
    private func dequantize(rows range: Range<Int>, columns: Range<Int>, into tile: Tile) {
        StepProfile.measure(.dequantization) {
            if let f32 = tile.f32 { dequantize(rows: range, columns: columns, into: f32) } else { dequantize(rows: range, columns: columns, intoBFloat16: tile.bf16!) }
        }
    }
}

/// A dense panel of a quantized weight in the compute precision, and its product.
private final class Tile {
    let f32: UnsafeMutablePointer<Float>?
    let bf16: UnsafeMutablePointer<UInt16>?

    init(values: Int, precision: ComputePrecision) {
        f32 = precision == .float32 ? .allocate(capacity: values) : nil
        bf16 = precision == .bfloat16 ? .allocate(capacity: values) : nil
    }

    deinit { f32?.deallocate(); bf16?.deallocate() }

    /// `a` rounded to bf16 (the caller deallocates it).
    func rounded(_ a: Tensor) -> UnsafeMutablePointer<UInt16> {
        let r = UnsafeMutablePointer<UInt16>.allocate(capacity: Swift.max(a.count, 1))
        StepProfile.measure(.inputRounding) { BFloat16.round(a.data, rows: a.rows, columns: a.columns, ld: a.columns, into: r) }
        return r
    }

    /// c[M, N] (+)= a[M, K] · op(tile), the tile [N, K] (transB) or [K, N] with row stride ldb;
    /// in bf16 from `rounded` (a dense [M, K]) when given, else rounding a here.
    func multiply(transB: Bool, m: Int, n: Int, k: Int, a: UnsafePointer<Float>, lda: Int, rounded: UnsafePointer<UInt16>?,
                  ldb: Int, accumulate: Bool, c: UnsafeMutablePointer<Float>, ldc: Int) {
        if let f32 {
            MatMul.product(transA: false, transB: transB, m: m, n: n, k: k, alpha: 1, a: a, lda: lda, b: f32, ldb: ldb,
                           accumulate: accumulate, c: c, ldc: ldc)
        } else if let rounded {
            OneDNN.product(transB: transB, m: m, n: n, k: k, roundedA: rounded, b: bf16!, ldb: ldb, accumulate: accumulate, c: c, ldc: ldc)
        } else {
            OneDNN.product(transB: transB, m: m, n: n, k: k, a: a, lda: lda, b: bf16!, ldb: ldb, accumulate: accumulate, c: c, ldc: ldc)
        }
    }
}
