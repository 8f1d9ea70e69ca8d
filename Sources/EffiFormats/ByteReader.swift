/// Little-endian reads with bounds checks: running past the end is an error that says at which
/// byte and while reading what, never a crash.
struct ByteReader {
    let bytes: UnsafeRawBufferPointer
    let path: String
    var offset = 0

    mutating func read<T: FixedWidthInteger>(_: T.Type, _ what: @autoclosure () -> String) throws -> T {
        try need(MemoryLayout<T>.size, what())
        let v = T(littleEndian: bytes.loadUnaligned(fromByteOffset: offset, as: T.self))
        offset += MemoryLayout<T>.size
        return v
    }

    mutating func readFloat(_ what: @autoclosure () -> String) throws -> Float {
        Float(bitPattern: try read(UInt32.self, what()))
    }

    mutating func readDouble(_ what: @autoclosure () -> String) throws -> Double {
        Double(bitPattern: try read(UInt64.self, what()))
    }

    /// A GGUF string: u64 length, then UTF-8 bytes; at most `maxLength` bytes (keys and names
    /// have limits of their own, far below what the file could hold).
    mutating func readString(_ what: @autoclosure () -> String, maxLength: Int = .max) throws -> String {
        let length = try read(UInt64.self, "length of \(what())")
        guard length <= UInt64(bytes.count - offset) else {
            throw FormatError(path, "\(what()) at byte \(offset) claims \(length) bytes; only \(bytes.count - offset) remain")
        }
        guard length <= UInt64(maxLength) else {
            throw FormatError(path, "\(what()) at byte \(offset) claims \(length) bytes; at most \(maxLength) are allowed")
        }
        let s = String(decoding: UnsafeRawBufferPointer(rebasing: bytes[offset..<offset + Int(length)]), as: UTF8.self)
        offset += Int(length)
        return s
    }

    func need(_ count: Int, _ what: @autoclosure () -> String) throws {
        guard count <= bytes.count - offset else {
            throw FormatError(path, "truncated: \(what()) at byte \(offset) needs \(count) bytes; the file has \(bytes.count)")
        }
    }
}
