import CQuantDot

extension QuantizedMatrix {
    /// Rows of activations up to which the forward uses the int8 dot kernels instead of
    /// dequantized panels: decoding (one row per sequence) reads every weight once per token, so
    /// it is bound by memory, and the blocks are 4–8× smaller than their dequantized tile.
    public static let dotRowLimit = 4

    /// The instruction set of the dot kernels on this processor ("avx512-vnni", "avx2"), or
    /// "scalar" when there are none and products take the panel path.
    public static var dotKernels: String { String(cString: effi_dot_isa()) }

    /// Limits the dot kernels to `isa` ("avx2" where VNNI is present; tests and benchmarks);
    /// false when this processor has no such kernels.
    @discardableResult
    public static func limitDotKernels(to isa: String) -> Bool { effi_dot_limit_isa(isa) == 0 }

    /// y[M, rows] (+)= x[M, columns] · Wᵀ by dot products: each row of x is quantized to 8 bits
    /// per 32 values (d = max|x| / 127, q = round(x / d)), then every weight row's blocks are
    /// multiplied with it in integers and scaled per block in Float32 (the weight rows split over
    /// threads). Returns false, doing nothing, where no kernel serves this type or processor.
    func dotProduct(_ x: Tensor, into y: Tensor, accumulate: Bool) -> Bool {
        let n = columns, blocks = n / 32
        guard n % 32 == 0 else { return false }
        let q = UnsafeMutablePointer<Int8>.allocate(capacity: n), d = UnsafeMutablePointer<Float>.allocate(capacity: blocks)
        let sums = UnsafeMutablePointer<Int32>.allocate(capacity: 2 * blocks), row = UnsafeMutablePointer<Float>.allocate(capacity: rows)
        defer { q.deallocate(); d.deallocate(); sums.deallocate(); row.deallocate() }
        for i in 0..<x.rows {
            effi_quantize_activations(x.data + i * n, Int32(n), q, d, sums)
            var status: Int32 = 0
            Parallel.forRanges(rows, minimumChunk: 64) { part in
                let s = effi_dot_rows(Int32(type.rawValue), bytes, rowBytes, Int32(n), Int32(part.lowerBound), Int32(part.upperBound),
                                      q, d, sums, row + part.lowerBound)
                if s != 0 { status = s }  // every part fails alike: same type, same processor
            }
            if status != 0 { return false }
            let out = y.data + i * y.columns
            if accumulate { for r in 0..<rows { out[r] += row[r] } } else { out.update(from: row, count: rows) }
        }
        return true
    }
}
