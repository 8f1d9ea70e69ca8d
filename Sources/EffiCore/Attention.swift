#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Causal grouped-query attention with an optional key padding mask.
///
/// Layouts (row-major): q, out: [B, T, Hq, D]; k, v: [B, T, Hkv, D]; query head h reads key/value
/// head h / (Hq / Hkv). For each batch row b and head h:
///   S = scale · Q Kᵀ,  P = softmax(S) over keys j ≤ i that the mask keeps,  O = P V.
/// The forward saves only lse[b, h, i] = log Σ_j exp(S_ij); the backward recomputes P from it
/// (as FlashAttention does) so no [T, T] matrix per head is kept between the passes:
///   dV += Pᵀ dO,  dP = dO Vᵀ,  dS = P ∘ (dP − rowsum(dO ∘ O)),  dQ = scale · dS K,  dK += scale · dSᵀ Q.
/// Products run one after another on the caller's thread (BLAS threads inside each); the softmax
/// rows run on the bounded parallel loop.
public final class CausalAttention {
    public let heads: Int
    public let kvHeads: Int
    public let headDim: Int
    public let scale: Float
    private(set) var scores = Tensor(shape: [0])
    private var dScores = Tensor(shape: [0])

    public init(heads: Int, kvHeads: Int, headDim: Int) {
        precondition(kvHeads > 0 && heads % kvHeads == 0, "attention: \(heads) query heads are not a multiple of \(kvHeads) KV heads")
        self.heads = heads
        self.kvHeads = kvHeads
        self.headDim = headDim
        self.scale = 1 / Float(headDim).squareRoot()
    }

    /// `keyMask`: B·T flags, false for padding positions that no query may attend to. A query row
    /// with no visible key gets a zero output (and lse = −inf).
    public func forward(q: Tensor, k: Tensor, v: Tensor, batch: Int, seqLen: Int, keyMask: [Bool]? = nil,
                        out: Tensor, lse: Tensor) {
        checkShapes(q: q, k: k, v: v, batch: batch, seqLen: seqLen, keyMask: keyMask, out: out, lse: lse)
        let t = seqLen, d = headDim
        ensureScratch(t * t)
        for b in 0..<batch {
            for h in 0..<heads {
                let (qh, kh, vh) = headPointers(q: q, k: k, v: v, b: b, h: h, t: t)
                BLAS.gemm(transA: false, transB: true, m: t, n: t, k: d, alpha: scale,
                          a: qh, lda: heads * d, b: kh, ldb: kvHeads * d, c: scores.data, ldc: t)
                softmaxRows(lse: lse.data + (b * heads + h) * t, t: t, mask: keyMask, maskOffset: b * t)
                BLAS.gemm(transA: false, transB: false, m: t, n: d, k: t,
                          a: scores.data, lda: t, b: vh, ldb: kvHeads * d,
                          c: out.data + b * t * heads * d + h * d, ldc: heads * d)
            }
        }
    }

    /// Writes dq and overwrites dk, dv (the query heads of a group add into their KV head).
    public func backward(dOut: Tensor, q: Tensor, k: Tensor, v: Tensor, out: Tensor, lse: Tensor,
                         batch: Int, seqLen: Int, keyMask: [Bool]? = nil,
                         dq: Tensor, dk: Tensor, dv: Tensor) {
        checkShapes(q: q, k: k, v: v, batch: batch, seqLen: seqLen, keyMask: keyMask, out: out, lse: lse)
        precondition(dOut.count == out.count && dq.count == q.count && dk.count == k.count && dv.count == v.count,
                     "attention backward: gradient shapes do not match their inputs")
        let t = seqLen, d = headDim
        ensureScratch(t * t, backward: true)
        dk.zero()
        dv.zero()
        for b in 0..<batch {
            for h in 0..<heads {
                let (qh, kh, vh) = headPointers(q: q, k: k, v: v, b: b, h: h, t: t)
                let headOffset = b * t * heads * d + h * d
                let kvOffset = b * t * kvHeads * d + (h / (heads / kvHeads)) * d
                let rowLse = lse.data + (b * heads + h) * t
                // P, recomputed from the saved lse.
                BLAS.gemm(transA: false, transB: true, m: t, n: t, k: d, alpha: scale,
                          a: qh, lda: heads * d, b: kh, ldb: kvHeads * d, c: scores.data, ldc: t)
                recomputeProbabilities(lse: rowLse, t: t, mask: keyMask, maskOffset: b * t)
                // dV += Pᵀ dO
                BLAS.gemm(transA: true, transB: false, m: t, n: d, k: t,
                          a: scores.data, lda: t, b: dOut.data + headOffset, ldb: heads * d,
                          beta: 1, c: dv.data + kvOffset, ldc: kvHeads * d)
                // dP = dO Vᵀ, then dS = P ∘ (dP − rowsum(dO ∘ O)) in place.
                BLAS.gemm(transA: false, transB: true, m: t, n: t, k: d,
                          a: dOut.data + headOffset, lda: heads * d, b: vh, ldb: kvHeads * d,
                          c: dScores.data, ldc: t)
                softmaxBackwardRows(dOut: dOut.data + headOffset, out: out.data + headOffset, t: t)
                // dQ = scale · dS K;  dK += scale · dSᵀ Q
                BLAS.gemm(transA: false, transB: false, m: t, n: d, k: t, alpha: scale,
                          a: dScores.data, lda: t, b: kh, ldb: kvHeads * d,
                          c: dq.data + headOffset, ldc: heads * d)
                BLAS.gemm(transA: true, transB: false, m: t, n: d, k: t, alpha: scale,
                          a: dScores.data, lda: t, b: qh, ldb: heads * d,
                          beta: 1, c: dk.data + kvOffset, ldc: kvHeads * d)
            }
        }
    }

    // MARK: - rows

    /// scores row i → softmax over the visible keys (j ≤ i, mask kept), zero elsewhere; lse saved.
    private func softmaxRows(lse: UnsafeMutablePointer<Float>, t: Int, mask: [Bool]?, maskOffset: Int) {
        forEachVisibleRow(t: t, mask: mask, maskOffset: maskOffset) { i, row in
            let m = maxOf(row, i + 1)
            if m == -.infinity {
                lse[i] = -.infinity
                row.update(repeating: 0, count: t)
                return
            }
            let sum = expInPlace(row, i + 1, subtracting: m)
            let inv = 1 / sum
            for j in 0...i { row[j] *= inv }
            lse[i] = m + logf(sum)
        }
    }

    /// scores row i → P_i = exp(S_i − lse_i) over the visible keys, zero elsewhere.
    private func recomputeProbabilities(lse: UnsafePointer<Float>, t: Int, mask: [Bool]?, maskOffset: Int) {
        forEachVisibleRow(t: t, mask: mask, maskOffset: maskOffset) { i, row in
            if lse[i] == -.infinity {
                row.update(repeating: 0, count: t)
            } else {
                _ = expInPlace(row, i + 1, subtracting: lse[i])
            }
        }
    }

    /// Calls `body(i, row)` for each score row on the parallel loop, after hiding the keys row i
    /// may not see: keys after i (causal) become 0 — they stay out of every sum — and masked keys −inf.
    private func forEachVisibleRow(t: Int, mask: [Bool]?, maskOffset: Int,
                                   _ body: (Int, UnsafeMutablePointer<Float>) -> Void) {
        let s = scores.data
        withMask(mask) { mp in
            Parallel.forRanges(t, minimumChunk: 32) { rows in
                for i in rows {
                    let row = s + i * t
                    if i + 1 < t { (row + i + 1).update(repeating: 0, count: t - i - 1) }
                    if let mp { for j in 0...i where !mp[maskOffset + j] { row[j] = -.infinity } }
                    body(i, row)
                }
            }
        }
    }

    /// dScores row i ← P_i ∘ (dP_i − Σ_d dO_i ∘ O_i).
    private func softmaxBackwardRows(dOut: UnsafePointer<Float>, out: UnsafePointer<Float>, t: Int) {
        let p = scores.data, ds = dScores.data, d = headDim, stride = heads * d
        Parallel.forRanges(t, minimumChunk: 32) { rows in
            for i in rows {
                var dot: Float = 0
                for e in 0..<d { dot += dOut[i * stride + e] * out[i * stride + e] }
                let pr = p + i * t, dr = ds + i * t
                let dv = F8(repeating: dot)
                var j = 0
                while j + 8 <= t { store8(load8(pr + j) * (load8(dr + j) - dv), dr + j); j += 8 }
                while j < t { dr[j] = pr[j] * (dr[j] - dot); j += 1 }
            }
        }
    }

    // MARK: - helpers

    func maxOf(_ row: UnsafePointer<Float>, _ n: Int) -> Float {
        var m = -Float.infinity
        for j in 0..<n { m = Swift.max(m, row[j]) }
        return m
    }

    /// row[j] ← exp(row[j] − m) for j < n; returns the sum.
    func expInPlace(_ row: UnsafeMutablePointer<Float>, _ n: Int, subtracting m: Float) -> Float {
        let mv = F8(repeating: m)
        var acc = F8(), j = 0
        while j + 8 <= n { let e = exp8(load8(row + j) - mv); store8(e, row + j); acc += e; j += 8 }
        var sum = sum8(acc)
        while j < n { let e = exp1(row[j] - m); row[j] = e; sum += e; j += 1 }
        return sum
    }

    private func withMask(_ mask: [Bool]?, _ body: (UnsafePointer<Bool>?) -> Void) {
        if let mask { mask.withUnsafeBufferPointer { body($0.baseAddress) } } else { body(nil) }
    }

    private func headPointers(q: Tensor, k: Tensor, v: Tensor, b: Int, h: Int, t: Int)
        -> (UnsafePointer<Float>, UnsafePointer<Float>, UnsafePointer<Float>) {
        let d = headDim
        let kvh = h / (heads / kvHeads)
        return (UnsafePointer(q.data + b * t * heads * d + h * d),
                UnsafePointer(k.data + b * t * kvHeads * d + kvh * d),
                UnsafePointer(v.data + b * t * kvHeads * d + kvh * d))
    }

    /// Grows the score buffer (and, for the backward, the score-gradient buffer) to `count` values.
    func ensureScratch(_ count: Int, backward: Bool = false) {
        if scores.count < count { scores = Tensor(shape: [count]) }
        if backward && dScores.count < count { dScores = Tensor(shape: [count]) }
    }

    private func checkShapes(q: Tensor, k: Tensor, v: Tensor, batch: Int, seqLen: Int, keyMask: [Bool]?,
                             out: Tensor, lse: Tensor) {
        let qn = batch * seqLen * heads * headDim, kn = batch * seqLen * kvHeads * headDim
        precondition(q.count == qn && out.count == qn, "attention: q \(q.shape) / out \(out.shape) are not [\(batch), \(seqLen), \(heads), \(headDim)]")
        precondition(k.count == kn && v.count == kn, "attention: k \(k.shape) / v \(v.shape) are not [\(batch), \(seqLen), \(kvHeads), \(headDim)]")
        precondition(lse.count == batch * heads * seqLen, "attention: lse \(lse.shape) is not [\(batch), \(heads), \(seqLen)]")
        precondition(keyMask == nil || keyMask!.count == batch * seqLen, "attention: key mask has \(keyMask!.count) flags, expected \(batch * seqLen)")
    }
}
