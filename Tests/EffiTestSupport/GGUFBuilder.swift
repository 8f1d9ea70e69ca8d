import Foundation
@testable import EffiFormats

/// Builds small GGUF files byte by byte for the reader's tests, including broken ones.
struct GGUFBuilder {
    var version: UInt32 = 3
    var metadata: [(String, UInt32, Data)] = []  // key, value type, encoded value
    var tensors: [(name: String, dims: [UInt64], type: UInt32, offset: UInt64, data: Data)] = []
    var alignment = 32

    static func u32(_ v: UInt32) -> Data { withUnsafeBytes(of: v.littleEndian) { Data($0) } }
    static func u64(_ v: UInt64) -> Data { withUnsafeBytes(of: v.littleEndian) { Data($0) } }
    static func string(_ s: String) -> Data { u64(UInt64(s.utf8.count)) + Data(s.utf8) }

    mutating func add(_ key: String, uint32 v: UInt32) { metadata.append((key, 4, Self.u32(v))) }
    mutating func add(_ key: String, string s: String) { metadata.append((key, 8, Self.string(s))) }
    mutating func add(_ key: String, float v: Float) { metadata.append((key, 6, Self.u32(v.bitPattern))) }
    mutating func add(_ key: String, strings: [String]) {
        metadata.append((key, 9, Self.u32(8) + Self.u64(UInt64(strings.count)) + strings.map(Self.string).reduce(Data(), +)))
    }

    /// Appends an F32 tensor of the given ggml dimensions at the next aligned offset.
    mutating func addF32(_ name: String, dims: [UInt64], values: [Float]) {
        let data = values.map { Self.u32($0.bitPattern) }.reduce(Data(), +)
        let end = tensors.last.map { Int($0.offset) + $0.data.count } ?? 0
        let offset = (end + alignment - 1) / alignment * alignment
        tensors.append((name, dims, 0, UInt64(offset), data))
    }

    func build() -> Data {
        var d = Data("GGUF".utf8) + Self.u32(version) + Self.u64(UInt64(tensors.count)) + Self.u64(UInt64(metadata.count))
        for (key, type, value) in metadata { d += Self.string(key) + Self.u32(type) + value }
        for t in tensors {
            d += Self.string(t.name) + Self.u32(UInt32(t.dims.count)) + t.dims.map(Self.u64).reduce(Data(), +)
            d += Self.u32(t.type) + Self.u64(t.offset)
        }
        let dataStart = (d.count + alignment - 1) / alignment * alignment
        d += Data(count: dataStart - d.count)
        for t in tensors {
            let at = dataStart + Int(t.offset)
            if d.count < at { d += Data(count: at - d.count) }
            d += t.data
        }
        return d
    }

    func write() throws -> String {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("effilora-\(UUID().uuidString).gguf").path
        try build().write(to: URL(fileURLWithPath: path))
        return path
    }
}
