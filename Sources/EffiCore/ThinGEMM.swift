public enum ThinGEMM {
    public static let maxRank = 64
    @inlinable static func handles(transA: Bool, transB: Bool, m: Int, n: Int, k: Int) -> Bool { false }
    @inlinable static func run(transA: Bool, transB: Bool, m: Int, n: Int, k: Int, alpha: Float,
                               a: UnsafePointer<Float>, lda: Int, b: UnsafePointer<Float>, ldb: Int,
                               accumulate: Bool, c: UnsafeMutablePointer<Float>, ldc: Int) {}
}
