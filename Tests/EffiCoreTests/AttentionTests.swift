import XCTest
import Foundation
@testable import EffiCore

/// Causal grouped-query attention against a Float64 loop, and its backward against finite
/// differences for q, k and v — with GQA head sharing and a padding mask, in one query block and
/// in blocks of 4 (11 = 4 + 4 + 3 rows: the causal blocking and a partial last block).
final class AttentionTests: XCTestCase {
    let batch = 2, seqLen = 11, heads = 4, kvHeads = 2, headDim = 8

    func reference(q: Tensor, k: Tensor, v: Tensor, mask: [Bool]?) -> [Double] {
        var out = [Double](repeating: 0, count: q.count)
        let group = heads / kvHeads, scale = 1 / Double(headDim).squareRoot()
        for b in 0..<batch {
            for h in 0..<heads {
                let kvh = h / group
                for i in 0..<seqLen {
                    let qo = ((b * seqLen + i) * heads + h) * headDim
                    var scores: [(Int, Double)] = []
                    for j in 0...i where mask?[b * seqLen + j] ?? true {
                        let ko = ((b * seqLen + j) * kvHeads + kvh) * headDim
                        var s = 0.0
                        for d in 0..<headDim { s += Double(q[qo + d]) * Double(k[ko + d]) }
                        scores.append((j, s * scale))
                    }
                    guard let m = scores.map(\.1).max() else { continue }
                    let z = scores.map { Foundation.exp($0.1 - m) }.reduce(0, +)
                    for (j, s) in scores {
                        let p = Foundation.exp(s - m) / z
                        let vo = ((b * seqLen + j) * kvHeads + kvh) * headDim
                        for d in 0..<headDim { out[qo + d] += p * Double(v[vo + d]) }
                    }
                }
            }
        }
        return out
    }

    func makeInputs(seed: UInt64) -> (Tensor, Tensor, Tensor) {
        (randomTensor([batch, seqLen, heads, headDim], seed: seed, scale: 2),
         randomTensor([batch, seqLen, kvHeads, headDim], seed: seed + 1, scale: 2),
         randomTensor([batch, seqLen, kvHeads, headDim], seed: seed + 2))
    }

    /// Batch row 0 fully visible; batch row 1 with its first key and last two keys padded, so
    /// query 0 of row 1 sees no key at all.
    var paddingMask: [Bool] {
        (0..<batch * seqLen).map { i in
            let b = i / seqLen, t = i % seqLen
            return b == 0 || (t != 0 && t < seqLen - 2)
        }
    }

    /// Without and with the padding mask, each in one query block and in blocks of 4.
    var cases: [(mask: [Bool]?, block: Int)] { [nil, paddingMask].flatMap { mask in [64, 4].map { (mask, $0) } } }

    func testForwardMatchesReference() {
        for (mask, block) in cases {
            let (q, k, v) = makeInputs(seed: 1)
            let attention = CausalAttention(heads: heads, kvHeads: kvHeads, headDim: headDim, queryBlock: block)
            let out = Tensor(shape: q.shape), lse = Tensor(shape: [batch, heads, seqLen])
            attention.forward(q: q, k: k, v: v, batch: batch, seqLen: seqLen, keyMask: mask, out: out, lse: lse)
            assertClose(out, reference(q: q, k: k, v: v, mask: mask), tolerance: 2e-6, "mask \(mask != nil), block \(block)")
        }
    }

    func testFullyMaskedRowIsZero() {
        let (q, k, v) = makeInputs(seed: 2)
        let attention = CausalAttention(heads: heads, kvHeads: kvHeads, headDim: headDim)
        let out = Tensor(shape: q.shape), lse = Tensor(shape: [batch, heads, seqLen])
        attention.forward(q: q, k: k, v: v, batch: batch, seqLen: seqLen, keyMask: paddingMask, out: out, lse: lse)
        let row = (1 * seqLen + 0) * heads * headDim
        for i in 0..<heads * headDim { XCTAssertEqual(out[row + i], 0) }
    }

    func testBackwardAgainstFiniteDifferences() {
        for (mask, block) in cases {
            let (q, k, v) = makeInputs(seed: 3)
            let probe = randomTensor(q.shape, seed: 9)
            let attention = CausalAttention(heads: heads, kvHeads: kvHeads, headDim: headDim, queryBlock: block)
            let out = Tensor(shape: q.shape), lse = Tensor(shape: [batch, heads, seqLen])
            let f = { () -> Double in
                attention.forward(q: q, k: k, v: v, batch: self.batch, seqLen: self.seqLen, keyMask: mask, out: out, lse: lse)
                return dot(probe, out)
            }
            _ = f()
            let dq = Tensor(shape: q.shape), dk = Tensor(shape: k.shape), dv = Tensor(shape: v.shape)
            attention.backward(dOut: probe, q: q, k: k, v: v, out: out, lse: lse, batch: batch, seqLen: seqLen,
                               keyMask: mask, dq: dq, dk: dk, dv: dv)
            checkDirectionalDerivative(of: f, input: q, gradient: dq)
            checkDirectionalDerivative(of: f, input: k, gradient: dk)
            checkDirectionalDerivative(of: f, input: v, gradient: dv)
            if mask != nil {
                // A padded key receives no gradient: nothing attends to it.
                let padded = (1 * seqLen + seqLen - 1) * kvHeads * headDim
                for i in 0..<kvHeads * headDim {
                    XCTAssertEqual(dk[padded + i], 0)
                    XCTAssertEqual(dv[padded + i], 0)
                }
            }
        }
    }

    func testComputedScoresCountTheCausalBlocks() {
        // T = 11 in blocks of 4: rows 0–3 see keys 0–3, rows 4–7 keys 0–7, rows 8–10 keys 0–10.
        XCTAssertEqual(CausalAttention(heads: 1, kvHeads: 1, headDim: 8, queryBlock: 4).computedScores(seqLen: 11), 4 * 4 + 4 * 8 + 3 * 11)
        XCTAssertEqual(CausalAttention(heads: 1, kvHeads: 1, headDim: 8, queryBlock: 64).computedScores(seqLen: 11), 11 * 11)
        XCTAssertEqual(CausalAttention(heads: 1, kvHeads: 1, headDim: 8).computedScores(seqLen: 256), 64 * (64 + 128 + 192 + 256))
    }

    /// At SmolLM2's head shapes (9 heads / 3 KV, 64 wide) and T = 150: causal blocks of 64 (64 +
    /// 64 + 22 rows) against one block over all rows (the unblocked computation), forward, lse
    /// and every gradient within 1e-5, with padding in one batch row.
    func testCausalBlocksMatchOneBlockAtModelShapes() {
        let b = 2, t = 150, hq = 9, hkv = 3, d = 64
        let q = randomTensor([b, t, hq, d], seed: 11, scale: 2), k = randomTensor([b, t, hkv, d], seed: 12, scale: 2)
        let v = randomTensor([b, t, hkv, d], seed: 13), dOut = randomTensor([b, t, hq, d], seed: 14)
        let mask = (0..<b * t).map { $0 < t || $0 % t < t - 9 }
        func run(_ block: Int) -> [Tensor] {
            let attention = CausalAttention(heads: hq, kvHeads: hkv, headDim: d, queryBlock: block)
            let out = Tensor(shape: q.shape), lse = Tensor(shape: [b, hq, t])
            attention.forward(q: q, k: k, v: v, batch: b, seqLen: t, keyMask: mask, out: out, lse: lse)
            let dq = Tensor(shape: q.shape), dk = Tensor(shape: k.shape), dv = Tensor(shape: v.shape)
            attention.backward(dOut: dOut, q: q, k: k, v: v, out: out, lse: lse, batch: b, seqLen: t, keyMask: mask,
                               dq: dq, dk: dk, dv: dv)
            return [out, lse, dq, dk, dv]
        }
        let blocked = run(64), whole = run(t)
        for (name, (x, y)) in zip(["out", "lse", "dq", "dk", "dv"], zip(blocked, whole)) {
            assertClose(x, y.array.map(Double.init), tolerance: 1e-5, name)
        }
    }
}
