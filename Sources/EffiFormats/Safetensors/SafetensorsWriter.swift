import EffiCore

/// Writes Float32 tensors to a safetensors file as F32, F16 or BF16 (16-bit types rounded to
/// nearest, ties to even), with optional "__metadata__".
///
/// The header is compact JSON with every object's keys sorted, padded with spaces to a multiple
/// of 8 bytes. The data follow contiguously in the reference writer's order — larger element
/// types first, then by name (so, in a file of one dtype, sorted by name) — which keeps every
/// tensor aligned to its element size. The file is written beside its destination under a
/// temporary name and renamed into place, so readers never see half a file.
public struct SafetensorsWriter {
    struct Entry {
        let name: String
        let tensor: Tensor
        let dtype: SafetensorsDType
    }

    public var metadata: [String: String]
    private(set) var entries: [Entry] = []

    public init(metadata: [String: String] = [:]) {
        self.metadata = metadata
    }

    /// Adds `tensor` (its shape and values; the storage is read when the file is written, not
    /// copied now) to be stored as `dtype`.
    public mutating func add(_ name: String, _ tensor: Tensor, as dtype: SafetensorsDType = .f32) {
        entries.append(Entry(name: name, tensor: tensor, dtype: dtype))
    }

    /// Adds values with an explicit shape ([] is a scalar of one value).
    public mutating func add(_ name: String, shape: [Int], values: [Float], as dtype: SafetensorsDType = .f32) {
        add(name, Tensor(shape: shape, values: values), as: dtype)
    }

    /// The tensors in data order.
    private var ordered: [Entry] {
        entries.sorted { ($0.dtype.size, $1.name) > ($1.dtype.size, $0.name) }
    }

    /// The padded header JSON, and the data offsets it assigns.
    func header(path: String) throws -> [UInt8] {
        var seen = Set<String>()
        for e in entries {
            guard e.name != "__metadata__" else { throw FormatError(path, "__metadata__ cannot be a tensor name") }
            guard seen.insert(e.name).inserted else { throw FormatError(path, "tensor \(e.name) was added twice") }
            guard e.dtype.isFloatConvertible else {
                throw FormatError(path, "tensor \(e.name): cannot write Float32 values as \(e.dtype.rawValue) (F32, F16 or BF16)")
            }
        }
        var objects: [(String, String)] = []
        if !metadata.isEmpty {
            let pairs = metadata.keys.sorted().map { "\(Self.quoted($0)):\(Self.quoted(metadata[$0]!))" }
            objects.append(("__metadata__", "{" + pairs.joined(separator: ",") + "}"))
        }
        var offset = 0
        for e in ordered {
            let end = offset + e.tensor.count * e.dtype.size
            let shape = e.tensor.shape.map(String.init).joined(separator: ",")
            objects.append((e.name, "{\"data_offsets\":[\(offset),\(end)],\"dtype\":\"\(e.dtype.rawValue)\",\"shape\":[\(shape)]}"))
            offset = end
        }
        objects.sort { Array($0.0.utf8).lexicographicallyPrecedes(Array($1.0.utf8)) }
        var json = Array(("{" + objects.map { "\(Self.quoted($0.0)):\($0.1)" }.joined(separator: ",") + "}").utf8)
        json += [UInt8](repeating: UInt8(ascii: " "), count: (8 - json.count % 8) % 8)
        return json
    }

    /// Writes the file atomically (temporary file in the same folder, then rename).
    public func write(to path: String) throws {
        let json = try header(path: path)
        let file = try OutputFile(path: path)
        try file.write(littleEndian: UInt64(json.count))
        try file.write(json)
        for e in ordered { try file.write(floats: e.tensor.data, count: e.tensor.count, as: e.dtype) }
        try file.commit()
    }

    /// A JSON string literal: quotes, backslashes and control characters escaped, the rest as
    /// UTF-8.
    static func quoted(_ s: String) -> String {
        var out = "\""
        for scalar in s.unicodeScalars {
            switch scalar {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\r": out += "\\r"
            case "\t": out += "\\t"
            case _ where scalar.value < 0x20:
                let hex = String(scalar.value, radix: 16)
                out += "\\u" + String(repeating: "0", count: 4 - hex.count) + hex
            default: out.unicodeScalars.append(scalar)
            }
        }
        return out + "\""
    }
}
