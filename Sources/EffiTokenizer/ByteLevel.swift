/// GPT-2's reversible byte ↔ character map: every byte becomes one printable Unicode character,
/// so byte-level BPE vocabularies can be stored as strings. Printable Latin-1 bytes map to
/// themselves; the other 68 bytes map to U+0100, U+0101, … in byte order.
enum ByteLevel {
    static let characterOfByte: [Character] = {
        let printable = Set(Array(33...126) + Array(161...172) + Array(174...255))
        var next: UInt32 = 256
        return (0...255).map { byte in
            if printable.contains(byte) { return Character(Unicode.Scalar(UInt8(byte))) }
            defer { next += 1 }
            return Character(Unicode.Scalar(next)!)
        }
    }()

    static let byteOfScalar: [UInt32: UInt8] = {
        var table: [UInt32: UInt8] = [:]
        for (byte, character) in characterOfByte.enumerated() {
            table[character.unicodeScalars.first!.value] = UInt8(byte)
        }
        return table
    }()

    /// The vocabulary spelling of raw bytes.
    static func encode<Bytes: Sequence<UInt8>>(_ bytes: Bytes) -> String {
        var s = ""
        for b in bytes { s.append(characterOfByte[Int(b)]) }
        return s
    }

    /// The raw bytes of a vocabulary spelling, or nil when it holds a character outside the map.
    static func decode(_ token: String) -> [UInt8]? {
        var bytes: [UInt8] = []
        bytes.reserveCapacity(token.unicodeScalars.count)
        for scalar in token.unicodeScalars {
            guard let b = byteOfScalar[scalar.value] else { return nil }
            bytes.append(b)
        }
        return bytes
    }
}
