#if canImport(Accelerate)
import Accelerate
#else
import CBLAS
#endif

/// Row-major single-precision matrix products through CBLAS (OpenBLAS on Linux, Accelerate on
/// macOS). All products of the project go through `gemm`, so thread settings and the rule below
/// live in one place.
///
/// OpenBLAS 0.3.21 can corrupt results when multithreaded GEMMs with different transposes run
/// concurrently from several threads (upstream issue #5836): call `gemm` from one thread at a
/// time, or from several only inside `singleThreaded`.
public enum BLAS {
    /// Sets the number of threads BLAS uses for one product (no effect with Accelerate).
    public static func setThreads(_ n: Int) {
        #if !canImport(Accelerate)
        openblas_set_num_threads(Int32(n))
        #endif
    }

    /// Runs `body` with BLAS on one thread, so that several threads may call `gemm` at once
    /// (each product single-threaded; see the rule above), then restores the thread count.
    public static func singleThreaded<R>(_ body: () -> R) -> R {
        let n = threads
        if n == 1 { return body() }
        setThreads(1)
        defer { setThreads(n) }
        return body()
    }

    public static var threads: Int {
        #if canImport(Accelerate)
        return 1
        #else
        return Int(openblas_get_num_threads())
        #endif
    }

    /// The library and the kernel it chose for this processor, for benchmark reports.
    public static var description: String {
        #if canImport(Accelerate)
        return "Accelerate"
        #else
        let config = String(cString: openblas_get_config())
        let core = String(cString: openblas_get_corename())
        return "\(config) (\(core))"
        #endif
    }

    /// OpenBLAS's kernel family for this processor (e.g. "Haswell", "SkylakeX").
    public static var coreName: String {
        #if canImport(Accelerate)
        return "Accelerate"
        #else
        return String(cString: openblas_get_corename())
        #endif
    }

    /// C = alpha · op(A) · op(B) + beta · C, with op(A): M×K, op(B): K×N, C: M×N, all row-major.
    /// `lda`, `ldb`, `ldc` are row strides in elements, so a head's slice of a wider matrix can be
    /// passed without a copy.
    @inlinable
    public static func gemm(
        transA: Bool, transB: Bool, m: Int, n: Int, k: Int,
        alpha: Float = 1, a: UnsafePointer<Float>, lda: Int,
        b: UnsafePointer<Float>, ldb: Int,
        beta: Float = 0, c: UnsafeMutablePointer<Float>, ldc: Int
    ) {
        if m == 0 || n == 0 { return }
        cblas_sgemm(
            CblasRowMajor, transA ? CblasTrans : CblasNoTrans, transB ? CblasTrans : CblasNoTrans,
            Int32(m), Int32(n), Int32(k), alpha, a, Int32(lda), b, Int32(ldb), beta, c, Int32(ldc))
    }
}
