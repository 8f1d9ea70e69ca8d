/// Byte-pair encoding of one pre-tokenized piece: start from the piece's byte tokens and merge
/// the adjacent pair of lowest rank (leftmost first) until no ranked pair is left.
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

    func encode(_ bytes: some Collection<UInt8>, wholePiece: Int32?) -> [Int32] {
        if ignoreMerges, let wholePiece { return [wholePiece] }
        var ids = bytes.map { byteTokens[Int($0)] }.filter { $0 >= 0 }
        while ids.count > 1 {
            var best: (index: Int, merge: Merge)?
            for i in 0..<ids.count - 1 {
                if let m = merges[Self.key(ids[i], ids[i + 1])], m.rank < (best?.merge.rank ?? .max) { best = (i, m) }
            }
            guard let best else { break }
            ids[best.index] = best.merge.result
            ids.remove(at: best.index + 1)
        }
        return ids
    }
}
