/// Turns generated token ids into text as they arrive. A token may end inside a multi-byte UTF-8
/// character; those bytes are held back until the character is complete.
public struct TextStream {
    let tokenizer: Tokenizer
    var pending: [UInt8] = []

    public init(tokenizer: Tokenizer) { self.tokenizer = tokenizer }

    /// The text that `id` completes (possibly empty).
    public mutating func append(_ id: Int32) -> String {
        pending += tokenizer.bytes(of: id)
        let complete = pending.count - Self.incompleteSuffixLength(pending)
        defer { pending.removeFirst(complete) }
        return String(decoding: pending[..<complete], as: UTF8.self)
    }

    /// Whatever is left at the end (an incomplete character becomes U+FFFD).
    public mutating func finish() -> String {
        defer { pending.removeAll() }
        return String(decoding: pending, as: UTF8.self)
    }

    /// The length of a trailing UTF-8 sequence that has its lead byte but not all its bytes yet.
    static func incompleteSuffixLength(_ bytes: [UInt8]) -> Int {
        guard !bytes.isEmpty else { return 0 }
        for back in 1...min(3, bytes.count) {
            let b = bytes[bytes.count - back]
            if b & 0xC0 == 0x80 { continue }  // continuation byte: keep looking for the lead
            let needed = b >= 0xF0 ? 4 : b >= 0xE0 ? 3 : b >= 0xC0 ? 2 : 1
            return needed > back ? back : 0
        }
        return 0
    }
}
