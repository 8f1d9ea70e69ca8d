/// The 64-bit FNV-1a hash, for seeds derived from names and for fingerprints of data
/// (not cryptographic): h ← (h ⊕ byte) · 0x100000001b3 over the bytes added.
public struct FNV1a: Sendable {
    public private(set) var value: UInt64 = 0xcbf2_9ce4_8422_2325

    public init() {}

    public mutating func add(_ text: String) {
        for byte in text.utf8 { addByte(byte) }
    }

    /// The integer's little-endian bytes.
    public mutating func add<T: FixedWidthInteger>(_ v: T) {
        withUnsafeBytes(of: v.littleEndian) { for byte in $0 { addByte(byte) } }
    }

    private mutating func addByte(_ byte: UInt8) { value = (value ^ UInt64(byte)) &* 0x100_0000_01b3 }
}
