/// A frozen linear weight W [out, in] and its two products: the forward y (+)= x Wᵀ and the input
/// gradient dx (+)= dy W (the base is frozen: no weight gradient). Stored once, in the precision
/// its products run in: Float32 through BLAS, or bfloat16 through oneDNN.
public final class FrozenLinear: @unchecked Sendable {
    public enum Storage {
        case float32(Tensor)
        case bfloat16(BFloat16Matrix)
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

    public var precision: ComputePrecision {
        switch storage {
        case .float32: .float32
        case .bfloat16: .bfloat16
        }
    }

    /// The Float32 weight itself when stored so (fuse changes it in place), else nil.
    public var float32: Tensor? {
        if case .float32(let t) = storage { return t }
        return nil
    }

    /// The values as Float32: the weight itself, or a widened copy of the bf16 one.
    public func values() -> Tensor {
        switch storage {
        case .float32(let t): t
        case .bfloat16(let h): h.widened()
        }
    }

    /// y[M, out] (+)= x[M, in] · Wᵀ.
    public func forward(_ x: Tensor, into y: Tensor, accumulate: Bool = false) {
        precondition(x.columns == columns && y.rows == x.rows && y.columns == rows,
                     "FrozenLinear.forward: \(x.shape) · \(shape)ᵀ -> \(y.shape) do not match")
        product(x, transposingWeight: true, into: y, accumulate: accumulate)
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
            }
        }
    }
}
