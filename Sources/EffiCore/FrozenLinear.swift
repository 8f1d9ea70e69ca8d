/// A frozen linear weight W [out, in] and its two products: the forward y (+)= x Wᵀ and the input
/// gradient dx (+)= dy W (the base is frozen: no weight gradient). Stored once: dense in the
/// precision its products run in (Float32 through BLAS, bfloat16 through oneDNN), or quantized as
/// in its file, dequantized a panel at a time into a tile of the compute precision.
public final class FrozenLinear: @unchecked Sendable {
    public enum Storage {
        case float32(Tensor)
        case bfloat16(BFloat16Matrix)
        /// Blocks kept as stored; products run in `compute`.
        case quantized(QuantizedMatrix, compute: ComputePrecision)
    }

    public let storage: Storage
    public let rows: Int, columns: Int
    public var shape: [Int] { [rows, columns] }

    public init(_ weight: Tensor, precision: ComputePrecision = .float32) {
        precondition(weight.shape.count == 2, "a linear weight is [out, in], not \(weight.shape)")
        rows = weight.rows
        columns = weight.columns
        storage = precision == .float32 ? .float32(weight) : .bfloat16(BFloat16Matrix(rounding: weight))
    }

    public init(_ weight: QuantizedMatrix, precision: ComputePrecision) {
        rows = weight.rows
        columns = weight.columns
        storage = .quantized(weight, compute: precision)
    }

    /// The precision the products run in.
    public var precision: ComputePrecision {
        switch storage {
        case .float32: .float32
        case .bfloat16: .bfloat16
        case .quantized(_, let compute): compute
        }
    }

    /// How the weight is held: "F32", "BF16", or its block type ("Q4_1").
    public var storageName: String {
        switch storage {
        case .float32: "F32"
        case .bfloat16: "BF16"
        case .quantized(let q, _): q.type.name
        }
    }

    /// Bytes the weight occupies (in memory or in its mapped file).
    public var byteCount: Int {
        switch storage {
        case .float32: rows * columns * 4
        case .bfloat16: rows * columns * 2
        case .quantized(let q, _): q.byteCount
        }
    }

    /// The Float32 weight itself when stored so (fuse changes it in place), else nil.
    public var float32: Tensor? {
        if case .float32(let t) = storage { return t }
        return nil
    }

    /// The values as Float32: the weight itself, or a widened or dequantized copy.
    public func values() -> Tensor {
        switch storage {
        case .float32(let t): t
        case .bfloat16(let h): h.widened()
        case .quantized(let q, _): q.dequantized()
        }
    }

    /// Row r (an embedding lookup) as Float32 into `out` (`columns` values).
    public func row(_ r: Int, into out: UnsafeMutablePointer<Float>) {
        precondition((0..<rows).contains(r), "row \(r) of a weight with \(rows) rows")
        switch storage {
        case .float32(let t): out.update(from: t.data + r * columns, count: columns)
        case .bfloat16(let h): for j in 0..<columns { out[j] = BFloat16.widen(h.data[r * columns + j]) }
        case .quantized(let q, _): q.row(r, into: out)
        }
    }

    /// y[M, out] (+)= x[M, in] · Wᵀ.
    public func forward(_ x: Tensor, into y: Tensor, accumulate: Bool = false) {
        Self.forward(x, [(self, y)], accumulate: accumulate)
    }

    /// y_i (+)= x · W_iᵀ for weights that share their input x (q, k, v; gate, up). Quantized
    /// weights decoding a few rows take one pass (x quantized once, one parallel loop over all
    /// their rows); otherwise each product runs on its own.
    public static func forward(_ x: Tensor, _ products: [(weight: FrozenLinear, output: Tensor)], accumulate: Bool = false) {
        for (w, y) in products {
            precondition(x.columns == w.columns && y.rows == x.rows && y.columns == w.rows,
                         "FrozenLinear.forward: \(x.shape) · \(w.shape)ᵀ -> \(y.shape) do not match")
        }
        if x.rows <= QuantizedMatrix.dotRowLimit {
            let quantized = products.compactMap { w, y -> (weight: QuantizedMatrix, output: Tensor)? in
                if case .quantized(let q, _) = w.storage, q.hasDotKernel { return (q, y) }
                return nil
            }
            if quantized.count == products.count {
                StepProfile.measure(.baseProducts) { QuantizedMatrix.dotProducts(x, quantized, accumulate: accumulate) }
                return
            }
        }
        for (w, y) in products { w.product(x, transposingWeight: true, into: y, accumulate: accumulate) }
    }

    /// dx[M, in] (+)= dy[M, out] · W.
    public func inputGradient(_ dy: Tensor, into dx: Tensor, accumulate: Bool = false) {
        precondition(dy.columns == rows && dx.rows == dy.rows && dx.columns == columns,
                     "FrozenLinear.inputGradient: \(dy.shape) · \(shape) -> \(dx.shape) do not match")
        product(dy, transposingWeight: false, into: dx, accumulate: accumulate)
    }

    /// c (+)= a · Wᵀ or a · W, in the storage's precision.
    private func product(_ a: Tensor, transposingWeight: Bool, into c: Tensor, accumulate: Bool) {
        StepProfile.measure(.baseProducts) {
            switch storage {
            case .float32(let w):
                if transposingWeight { MatMul.nt(a, w, into: c, accumulate: accumulate) } else { MatMul.nn(a, w, into: c, accumulate: accumulate) }
            case .bfloat16(let w):
                OneDNN.product(transB: transposingWeight, m: a.rows, n: c.columns, k: a.columns, a: a.data, lda: a.columns,
                               b: w.data, ldb: columns, accumulate: accumulate, c: c.data, ldc: c.columns)
            case .quantized(let w, let compute):
                w.product(a, transposingWeight: transposingWeight, into: c, accumulate: accumulate, precision: compute)
            }
        }
    }
}
