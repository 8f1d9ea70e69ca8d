import HeapModule

/// Byte-pair encoding of one pre-tokenized piece: start from the piece's byte tokens and merge
/// the adjacent pair of lowest rank (leftmost first) until no ranked pair is left. Pairs wait in a
/// min-heap keyed by (rank, position) over a linked list of the piece's tokens, so a piece of n
/// bytes costs O(n log n) (as `tokenizers`' `Word::merge_all`), not O(n²).
struct BPE {
    struct Merge { let rank: Int32; let result: Int32 }

    /// (left id, right id) packed as left << 32 | right → the merge.
    let merges: [UInt64: Merge]
    /// The token of each byte value (its GPT-2 character spelling); −1 where the vocabulary has
    /// neither that byte nor an unknown token: the byte is then skipped, as `tokenizers` does.
    let byteTokens: [Int32]
    /// Llama 3 style: a piece that is itself in the vocabulary is one token, whatever the merges.
    let ignoreMerges: Bool

    static func key(_ left: Int32, _ right: Int32) -> UInt64 { UInt64(UInt32(left)) << 32 | UInt64(UInt32(right)) }

    /// A possible merge of the tokens at `position` and the next live one, as they were when queued.
    private struct Candidate: Comparable {
        let rank: Int32, position: Int32, left: Int32, right: Int32
        static func < (a: Candidate, b: Candidate) -> Bool { (a.rank, a.position) < (b.rank, b.position) }
    }

    func encode(_ bytes: some Collection<UInt8>, wholePiece: Int32?) -> [Int32] {
        if ignoreMerges, let wholePiece { return [wholePiece] }
        var ids = bytes.map { byteTokens[Int($0)] }.filter { $0 >= 0 }
        let n = ids.count
        guard n > 1 else { return ids }
        // next[i] / previous[i]: the live neighbours of token i (n and −1 at the ends).
        var next = Array(1...n), previous = Array(-1..<n - 1), live = [Bool](repeating: true, count: n)
        var heap = Heap<Candidate>()
        func queue(_ i: Int) {
            guard i >= 0, next[i] < n, let m = merges[Self.key(ids[i], ids[next[i]])] else { return }
            heap.insert(Candidate(rank: m.rank, position: Int32(i), left: ids[i], right: ids[next[i]]))
        }
        for i in 0..<n - 1 { queue(i) }
        while let c = heap.popMin() {
            let i = Int(c.position)
            // Skip candidates that earlier merges made stale.
            guard live[i], next[i] < n, ids[i] == c.left, ids[next[i]] == c.right else { continue }
            let j = next[i]
            ids[i] = merges[Self.key(c.left, c.right)]!.result
            live[j] = false
            next[i] = next[j]
            if next[j] < n { previous[next[j]] = i }
            queue(previous[i])
            queue(i)
        }
        return ids.indices.compactMap { live[$0] ? ids[$0] : nil }
    }
}
