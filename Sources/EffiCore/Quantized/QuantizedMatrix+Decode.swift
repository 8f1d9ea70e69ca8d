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

    /// Whether `dotProducts` serves this weight here (its type, on this processor).
    var hasDotKernel: Bool { effi_dot_supports(Int32(type.rawValue), Int32(columns)) != 0 }

    /// y_i[M, rows_i] (+)= x[M, columns] · W_iᵀ for weights sharing their input (q, k, v; gate, up)
    /// by dot products: each row of x is quantized once to 8 bits per 32 values (d = max|x| / 127,
    /// q = round(x / d)), then every weight row's blocks are multiplied with it in integers and
    /// scaled per block in Float32, the rows of all the weights split over threads in one loop.
    /// Every weight must have `hasDotKernel` and x's width.
    static func dotProducts(_ x: Tensor, _ products: [(weight: QuantizedMatrix, output: Tensor)], accumulate: Bool) {
        let n = x.columns, blocks = n / 32
        precondition(products.allSatisfy { $0.weight.columns == n && $0.weight.hasDotKernel }, "dotProducts: weights without a kernel")
        let starts = products.reduce(into: [0]) { $0.append($0.last! + $1.weight.rows) }, total = starts.last!
        let q = UnsafeMutablePointer<Int8>.allocate(capacity: n), d = UnsafeMutablePointer<Float>.allocate(capacity: blocks)
        let dsums = UnsafeMutablePointer<Float>.allocate(capacity: blocks), y = UnsafeMutablePointer<Float>.allocate(capacity: total)
        defer { q.deallocate(); d.deallocate(); dsums.deallocate(); y.deallocate() }
        for i in 0..<x.rows {
            effi_quantize_activations(x.data + i * n, Int32(n), q, d, dsums)
            Parallel.forRanges(total, minimumChunk: 64) { part in
                // the part of each weight's rows that falls in `part`
                for (index, (w, _)) in products.enumerated() {
                    let lower = Swift.max(part.lowerBound, starts[index]), upper = Swift.min(part.upperBound, starts[index + 1])
                    guard lower < upper else { continue }
                    let status = effi_dot_rows(Int32(w.type.rawValue), w.bytes, w.rowBytes, Int32(n), Int32(lower - starts[index]),
                                               Int32(upper - starts[index]), q, d, dsums, y + lower)
                    precondition(status == 0, "no dot kernel for \(w.type.name)")
                }
            }
            for (index, (w, output)) in products.enumerated() {
                let out = output.data + i * output.columns, part = y + starts[index]
                if accumulate { for r in 0..<w.rows { out[r] += part[r] } } else { out.update(from: part, count: w.rows) }
            }
        }
    }
}
