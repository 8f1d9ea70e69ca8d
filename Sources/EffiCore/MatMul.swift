/// The three products of a frozen linear layer and its adapters, on tensors viewed as matrices
/// (every dimension but the last is rows). `accumulate` adds into `out` instead of overwriting.
public enum MatMul {
    /// out[M,N] (+)= a[M,K] · b[N,K]ᵀ — the forward of y = x Wᵀ with W stored [out, in].
    public static func nt(_ a: Tensor, _ b: Tensor, into out: Tensor, alpha: Float = 1, accumulate: Bool = false) {
        let m = a.rows, k = a.columns, n = b.rows
        check(b.columns == k && out.rows == m && out.columns == n, "nt", a, b, out)
        product(transA: false, transB: true, m: m, n: n, k: k, alpha: alpha,
                a: a.data, lda: k, b: b.data, ldb: k, accumulate: accumulate, c: out.data, ldc: n)
    }

    /// out[M,N] (+)= a[M,K] · b[K,N] — the input gradient dx = dy W.
    public static func nn(_ a: Tensor, _ b: Tensor, into out: Tensor, alpha: Float = 1, accumulate: Bool = false) {
        let m = a.rows, k = a.columns, n = b.columns
        check(b.rows == k && out.rows == m && out.columns == n, "nn", a, b, out)
        product(transA: false, transB: false, m: m, n: n, k: k, alpha: alpha,
                a: a.data, lda: k, b: b.data, ldb: n, accumulate: accumulate, c: out.data, ldc: n)
    }

    /// out[M,N] (+)= a[K,M]ᵀ · b[K,N] — a weight gradient dW = dyᵀ x (adapters only).
    public static func tn(_ a: Tensor, _ b: Tensor, into out: Tensor, alpha: Float = 1, accumulate: Bool = false) {
        let k = a.rows, m = a.columns, n = b.columns
        check(b.rows == k && out.rows == m && out.columns == n, "tn", a, b, out)
        product(transA: true, transB: false, m: m, n: n, k: k, alpha: alpha,
                a: a.data, lda: m, b: b.data, ldb: n, accumulate: accumulate, c: out.data, ldc: n)
    }

    /// Routes one product: thin shapes (a dimension no larger than `ThinGEMM.maxRank`) to the
    /// project's own kernels, the rest to BLAS.
    @inlinable
    static func product(
        transA: Bool, transB: Bool, m: Int, n: Int, k: Int, alpha: Float,
        a: UnsafePointer<Float>, lda: Int, b: UnsafePointer<Float>, ldb: Int,
        accumulate: Bool, c: UnsafeMutablePointer<Float>, ldc: Int
    ) {
        if ThinGEMM.handles(transA: transA, transB: transB, m: m, n: n, k: k) {
            ThinGEMM.run(transA: transA, transB: transB, m: m, n: n, k: k, alpha: alpha,
                         a: a, lda: lda, b: b, ldb: ldb, accumulate: accumulate, c: c, ldc: ldc)
        } else {
            BLAS.gemm(transA: transA, transB: transB, m: m, n: n, k: k, alpha: alpha,
                      a: a, lda: lda, b: b, ldb: ldb, beta: accumulate ? 1 : 0, c: c, ldc: ldc)
        }
    }

    private static func check(_ ok: Bool, _ name: String, _ a: Tensor, _ b: Tensor, _ out: Tensor) {
        precondition(ok, "MatMul.\(name): shapes \(a.shape), \(b.shape) -> \(out.shape) do not match")
    }
}
