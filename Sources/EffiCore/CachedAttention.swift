extension CausalAttention {
    /// Attention for generation (batch 1): `newCount` queries at positions past ..< past + newCount
    /// over the first past + newCount rows of a key/value cache; query i sees keys j ≤ past + i.
    ///   q, out: [newCount, Hq·D];  keys, values: [capacity, Hkv·D].
    public func forwardCached(q: Tensor, keys: Tensor, values: Tensor, past: Int, newCount m: Int, out: Tensor) {
        let n = past + m, d = headDim
        precondition(q.count == m * heads * d && out.count == q.count, "cached attention: q \(q.shape) is not [\(m), \(heads * d)]")
        precondition(keys.columns == kvHeads * d && values.shape == keys.shape && keys.rows >= n,
                     "cached attention: cache \(keys.shape) cannot hold \(n) positions of \(kvHeads * d)")
        ensureScratch(m * n)
        let s = scores.data
        for h in 0..<heads {
            let kvh = h / (heads / kvHeads)
            BLAS.gemm(transA: false, transB: true, m: m, n: n, k: d, alpha: scale,
                      a: q.data + h * d, lda: heads * d, b: keys.data + kvh * d, ldb: kvHeads * d, c: s, ldc: n)
            Parallel.forRanges(m, minimumChunk: 32) { rows in
                for i in rows {
                    let row = s + i * n, visible = past + i + 1
                    _ = softmax(row, visible)
                    if visible < n { (row + visible).update(repeating: 0, count: n - visible) }
                }
            }
            BLAS.gemm(transA: false, transB: false, m: m, n: d, k: n, a: s, lda: n,
                      b: values.data + kvh * d, ldb: kvHeads * d, c: out.data + h * d, ldc: heads * d)
        }
    }
}
