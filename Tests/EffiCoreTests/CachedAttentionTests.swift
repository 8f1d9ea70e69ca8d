import XCTest
@testable import EffiCore

/// Generation's attention over a KV cache must equal the full causal attention's last rows.
final class CachedAttentionTests: XCTestCase {
    func testCachedRowsEqualFullAttention() {
        let heads = 4, kvHeads = 2, d = 16, t = 11
        let attention = CausalAttention(heads: heads, kvHeads: kvHeads, headDim: d)
        let q = randomTensor([t, heads * d], seed: 1), k = randomTensor([t, kvHeads * d], seed: 2)
        let v = randomTensor([t, kvHeads * d], seed: 3)
        let full = Tensor(shape: [t, heads * d])
        attention.forward(q: q, k: k, v: v, batch: 1, seqLen: t, out: full, lse: Tensor(shape: [1, heads, t]))
        // A cache larger than needed: rows past t must not be read.
        let keys = Tensor(shape: [t + 5, kvHeads * d]), values = Tensor(shape: [t + 5, kvHeads * d])
        keys.data.update(from: k.data, count: k.count)
        values.data.update(from: v.data, count: v.count)
        (keys.data + k.count).update(repeating: .nan, count: 5 * kvHeads * d)
        (values.data + v.count).update(repeating: .nan, count: 5 * kvHeads * d)
        for past in [0, 6, t - 1] {
            let m = t - past
            let newQ = Tensor(shape: [m, heads * d]), out = Tensor(shape: [m, heads * d])
            newQ.data.update(from: q.data + past * heads * d, count: m * heads * d)
            attention.forwardCached(q: newQ, keys: keys, values: values, past: past, newCount: m, out: out)
            for i in 0..<out.count { XCTAssertEqual(out[i], full[past * heads * d + i], accuracy: 1e-5, "past \(past), element \(i)") }
        }
    }
}
