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
///
/// Causal blocking: queries go in blocks of `queryBlock` rows; block [i0, i1) multiplies only
/// with keys 0 ..< i1, so the products skip the masked upper triangle but for the blocks on the
/// diagonal (T²/2 + T·block/2 scores per head instead of T²). Work is split by (batch row, KV
/// head) — each task owns its slices of dk and dv — across the bounded parallel loop, with BLAS
/// single-threaded inside.
public final class CausalAttention {
    public let heads: Int
    public let kvHeads: Int
    public let headDim: Int
    public let scale: Float
    public let queryBlock: Int
    /// The generation path's score rows (`forwardCached`).
    private(set) var scores = Tensor(shape: [0])

    public init(heads: Int, kvHeads: Int, headDim: Int, queryBlock: Int = 64) {
        precondition(kvHeads > 0 && heads % kvHeads == 0, "attention: \(heads) query heads are not a multiple of \(kvHeads) KV heads")
        precondition(queryBlock > 0, "attention: the query block must be positive")
        self.heads = heads
        self.kvHeads = kvHeads
        self.headDim = headDim
        self.scale = 1 / Float(headDim).squareRoot()
        self.queryBlock = queryBlock
    }

    /// `keyMask`: B·T flags, false for padding positions that no query may attend to. A query row
    /// with no visible key gets a zero output (and lse = −inf).
    public func forward(q: Tensor, k: Tensor, v: Tensor, batch: Int, seqLen: Int, keyMask: [Bool]? = nil,
                        out: Tensor, lse: Tensor) {
        checkShapes(q: q, k: k, v: v, batch: batch, seqLen: seqLen, keyMask: keyMask, out: out, lse: lse)
        let t = seqLen, d = headDim
        forEachGroup(.forward, batch: batch, seqLen: t, keyMask: keyMask) { b, h, block, s, _, mask in
            let (qh, kh, vh) = headPointers(q: q, k: k, v: v, b: b, h: h, t: t)
            let m = block.count, n = block.upperBound
            BLAS.gemm(transA: false, transB: true, m: m, n: n, k: d, alpha: scale,
                      a: qh + block.lowerBound * heads * d, lda: heads * d, b: kh, ldb: kvHeads * d, c: s, ldc: n)
            let rowLse = lse.data + (b * heads + h) * t + block.lowerBound
            for r in 0..<m {
                let row = s + r * n, visible = hideInvisibleKeys(row, query: block.lowerBound + r, n: n, mask: mask)
                rowLse[r] = softmax(row, visible)
            }
            BLAS.gemm(transA: false, transB: false, m: m, n: d, k: n, a: s, lda: n, b: vh, ldb: kvHeads * d,
                      c: out.data + (b * t + block.lowerBound) * heads * d + h * d, ldc: heads * d)
        }
    }

    /// Writes dq and overwrites dk, dv (the query heads of a group add into their KV head).
    public func backward(dOut: Tensor, q: Tensor, k: Tensor, v: Tensor, out: Tensor, lse: Tensor,
                         batch: Int, seqLen: Int, keyMask: [Bool]? = nil,
                         dq: Tensor, dk: Tensor, dv: Tensor) {
        checkShapes(q: q, k: k, v: v, batch: batch, seqLen: seqLen, keyMask: keyMask, out: out, lse: lse)
        precondition(dOut.count == out.count && dq.count == q.count && dk.count == k.count && dv.count == v.count,
                     "attention backward: gradient shapes do not match their inputs")
        let t = seqLen, d = headDim, qStride = heads * d, kvStride = kvHeads * d
        forEachGroup(.backward, batch: batch, seqLen: t, keyMask: keyMask) { b, h, block, p, ds, mask in
            let (qh, kh, vh) = headPointers(q: q, k: k, v: v, b: b, h: h, t: t)
            let kvh = h / (heads / kvHeads)
            let m = block.count, n = block.upperBound
            let rows = (b * t + block.lowerBound) * qStride + h * d, kvOffset = b * t * kvStride + kvh * d
            if h % (heads / kvHeads) == 0 && block.lowerBound == 0 {
                for j in 0..<t {
                    (dk.data + kvOffset + j * kvStride).update(repeating: 0, count: d)
                    (dv.data + kvOffset + j * kvStride).update(repeating: 0, count: d)
                }
            }
            // P of the block, recomputed from the saved lse.
            BLAS.gemm(transA: false, transB: true, m: m, n: n, k: d, alpha: scale,
                      a: qh + block.lowerBound * qStride, lda: qStride, b: kh, ldb: kvStride, c: p, ldc: n)
            let rowLse = lse.data + (b * heads + h) * t + block.lowerBound
            for r in 0..<m {
                let row = p + r * n, visible = hideInvisibleKeys(row, query: block.lowerBound + r, n: n, mask: mask)
                if rowLse[r] == -.infinity { row.update(repeating: 0, count: n) } else { _ = exponentiate(row, visible, subtracting: rowLse[r]) }
            }
            // dV[0:n] += Pᵀ dO
            BLAS.gemm(transA: true, transB: false, m: n, n: d, k: m, a: p, lda: n, b: dOut.data + rows, ldb: qStride,
                      beta: 1, c: dv.data + kvOffset, ldc: kvStride)
            // dP = dO V[0:n]ᵀ, then dS = P ∘ (dP − rowsum(dO ∘ O)) in place.
            BLAS.gemm(transA: false, transB: true, m: m, n: n, k: d, a: dOut.data + rows, lda: qStride, b: vh, ldb: kvStride,
                      c: ds, ldc: n)
            for r in 0..<m {
                let dot = dotProduct(dOut.data + rows + r * qStride, out.data + rows + r * qStride, d)
                softmaxBackward(p + r * n, ds + r * n, n, dot)
            }
            // dQ = scale · dS K[0:n];  dK[0:n] += scale · dSᵀ Q
            BLAS.gemm(transA: false, transB: false, m: m, n: d, k: n, alpha: scale, a: ds, lda: n, b: kh, ldb: kvStride,
                      c: dq.data + rows, ldc: qStride)
            BLAS.gemm(transA: true, transB: false, m: n, n: d, k: m, alpha: scale, a: ds, lda: n,
                      b: qh + block.lowerBound * qStride, ldb: qStride, beta: 1, c: dk.data + kvOffset, ldc: kvStride)
        }
    }

    /// Scores computed per head for one sequence of `t` tokens: Σ over query blocks [i0, i1) of
    /// (i1 − i0) · i1 — about T²/2 + T·block/2 (benchmarks count FLOPs from it).
    public func computedScores(seqLen t: Int) -> Int {
        let rows = Swift.min(queryBlock, t)
        return stride(from: 0, to: t, by: Swift.max(rows, 1)).reduce(0) { sum, start in
            let end = Swift.min(start + rows, t)
            return sum + (end - start) * end
        }
    }

    // MARK: - the loop

    /// Calls `body(b, h, queryBlock, scores, dScores, mask)` for every head and query block, the
    /// tasks (b, KV head) spread over the parallel loop, each task's query heads and blocks in order
    /// on one thread with its own score buffers ([block, T] each; dScores only for the backward).
    private enum Pass { case forward, backward }

    private typealias BlockBody = (Int, Int, Range<Int>, UnsafeMutablePointer<Float>, UnsafeMutablePointer<Float>, UnsafePointer<Bool>?) -> Void

    private func forEachGroup(_ pass: Pass, batch: Int, seqLen t: Int, keyMask: [Bool]?, _ body: BlockBody) {
        guard t > 0 else { return }
        StepProfile.measure(.attention) {
            withMask(keyMask) { mask in
                BLAS.singleThreaded {
                    Parallel.forRanges(batch * kvHeads, minimumChunk: 1) { tasks in
                        run(tasks, pass, seqLen: t, mask: mask, body)
                    }
                }
            }
        }
    }

    /// The tasks (b, KV head) `tasks` on this thread: each query head of the group, each block.
    private func run(_ tasks: Range<Int>, _ pass: Pass, seqLen t: Int, mask: UnsafePointer<Bool>?, _ body: BlockBody) {
        let group = heads / kvHeads, blockRows = Swift.min(queryBlock, t)
        let scratch = Tensor(shape: [(pass == .backward ? 2 : 1) * blockRows * t])
        let s = scratch.data, ds = pass == .backward ? scratch.data + blockRows * t : scratch.data
        for task in tasks {
            let b = task / kvHeads, kvh = task % kvHeads
            for h in kvh * group..<(kvh + 1) * group {
                for start in stride(from: 0, to: t, by: blockRows) {
                    body(b, h, start..<Swift.min(start + blockRows, t), s, ds, mask.map { $0 + b * t })
                }
            }
        }
    }

    // MARK: - rows

    /// Score row of query i over keys 0 ..< n: keys after i become 0 (they stay out of every sum),
    /// masked keys −inf; returns the count of keys that may be visible (i + 1).
    @inline(__always)
    private func hideInvisibleKeys(_ row: UnsafeMutablePointer<Float>, query i: Int, n: Int, mask: UnsafePointer<Bool>?) -> Int {
        if i + 1 < n { (row + i + 1).update(repeating: 0, count: n - i - 1) }
        if let mask { for j in 0...i where !mask[j] { row[j] = -.infinity } }
        return i + 1
    }

    /// row[0 ..< n] → softmax in place; returns log Σ exp (−inf, with the row zeroed, when every
    /// key is masked).
    func softmax(_ row: UnsafeMutablePointer<Float>, _ n: Int) -> Float {
        let m = maxOf(row, n)
        if m == -.infinity {
            row.update(repeating: 0, count: n)
            return -.infinity
        }
        let sum = exponentiate(row, n, subtracting: m)
        scaleRow(row, n, by: 1 / sum)
        return m + logf(sum)
    }

    /// ds[j] ← p[j] · (ds[j] − dot).
    @inline(__always)
    private func softmaxBackward(_ p: UnsafePointer<Float>, _ ds: UnsafeMutablePointer<Float>, _ n: Int, _ dot: Float) {
        let dv = F8(repeating: dot)
        var j = 0
        while j + 8 <= n { store8(load8(p + j) * (load8(ds + j) - dv), ds + j); j += 8 }
        while j < n { ds[j] = p[j] * (ds[j] - dot); j += 1 }
    }

    func maxOf(_ row: UnsafePointer<Float>, _ n: Int) -> Float {
        var acc = F8(repeating: -.infinity), j = 0
        while j + 8 <= n { acc = lanewiseMax(acc, load8(row + j)); j += 8 }
        var m = acc.max()
        while j < n { m = Swift.max(m, row[j]); j += 1 }
        return m
    }

    /// row[j] ← exp(row[j] − m) for j < n; returns the sum.
    func exponentiate(_ row: UnsafeMutablePointer<Float>, _ n: Int, subtracting m: Float) -> Float {
        let mv = F8(repeating: m)
        var acc = F8(), j = 0
        while j + 8 <= n { let e = exp8(load8(row + j) - mv); store8(e, row + j); acc += e; j += 8 }
        var sum = sum8(acc)
        while j < n { let e = exp1(row[j] - m); row[j] = e; sum += e; j += 1 }
        return sum
    }

    @inline(__always)
    private func scaleRow(_ row: UnsafeMutablePointer<Float>, _ n: Int, by factor: Float) {
        let f = F8(repeating: factor)
        var j = 0
        while j + 8 <= n { store8(load8(row + j) * f, row + j); j += 8 }
        while j < n { row[j] *= factor; j += 1 }
    }

    @inline(__always)
    private func dotProduct(_ a: UnsafePointer<Float>, _ b: UnsafePointer<Float>, _ n: Int) -> Float {
        var acc = F8(), j = 0
        while j + 8 <= n { acc = acc.addingProduct(load8(a + j), load8(b + j)); j += 8 }
        var s = sum8(acc)
        while j < n { s += a[j] * b[j]; j += 1 }
        return s
    }

    // MARK: - helpers

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

    /// Grows the generation path's score buffer to `count` values.
    func ensureScratch(_ count: Int) {
        if scores.count < count { scores = Tensor(shape: [count]) }
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
