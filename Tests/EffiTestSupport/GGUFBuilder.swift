import EffiCore
import Foundation
import EffiFormats

/// Builds small GGUF files byte by byte for the tests, including broken ones.
public struct GGUFBuilder {
    public var version: UInt32 = 3
    public var metadata: [(String, UInt32, Data)] = []  // key, value type, encoded value
    public var tensors: [(name: String, dims: [UInt64], type: UInt32, offset: UInt64, data: Data)] = []
    public var alignment = 32

    public init() {}

    public static func u32(_ v: UInt32) -> Data { withUnsafeBytes(of: v.littleEndian) { Data($0) } }
    public static func u64(_ v: UInt64) -> Data { withUnsafeBytes(of: v.littleEndian) { Data($0) } }
    public static func string(_ s: String) -> Data { u64(UInt64(s.utf8.count)) + Data(s.utf8) }

    /// Replaces a key's value and type (or adds the key): `type` is GGUF's value type code.
    public mutating func replace(_ key: String, type: UInt32, value: Data) {
        metadata.removeAll { $0.0 == key }
        metadata.append((key, type, value))
    }
    public mutating func add(_ key: String, uint32 v: UInt32) { metadata.append((key, 4, Self.u32(v))) }
    public mutating func add(_ key: String, string s: String) { metadata.append((key, 8, Self.string(s))) }
    public mutating func add(_ key: String, float v: Float) { metadata.append((key, 6, Self.u32(v.bitPattern))) }
    public mutating func add(_ key: String, bool v: Bool) { metadata.append((key, 7, Data([v ? 1 : 0]))) }
    public mutating func add(_ key: String, int32s: [Int32]) {
        metadata.append((key, 9, Self.u32(5) + Self.u64(UInt64(int32s.count)) + int32s.map { Self.u32(UInt32(bitPattern: $0)) }.reduce(Data(), +)))
    }
    public mutating func add(_ key: String, strings: [String]) {
        metadata.append((key, 9, Self.u32(8) + Self.u64(UInt64(strings.count)) + strings.map(Self.string).reduce(Data(), +)))
    }

    /// Appends an F32 tensor of the given ggml dimensions (fastest-varying first, so a row-major
    /// [out, in] weight has dims [in, out]) at the next aligned offset.
    public mutating func addF32(_ name: String, dims: [UInt64], values: [Float]) {
        var data = Data(capacity: values.count * 4)
        for v in values { withUnsafeBytes(of: v.bitPattern.littleEndian) { data.append(contentsOf: $0) } }
        addTensor(name, dims: dims, type: GGMLType.f32.rawValue, data: data)
    }

    /// Appends a tensor of any ggml type with its raw bytes at the next aligned offset.
    public mutating func addTensor(_ name: String, dims: [UInt64], type: UInt32, data: Data) {
        let end = tensors.last.map { Int($0.offset) + $0.data.count } ?? 0
        let offset = (end + alignment - 1) / alignment * alignment
        tensors.append((name, dims, type, UInt64(offset), data))
    }

    public func build() -> Data {
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

    /// Writes the file under the temporary folder with a unique name and returns its path.
    public func write() throws -> String {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("effilora-\(UUID().uuidString).gguf").path
        try build().write(to: URL(fileURLWithPath: path))
        return path
    }
}
