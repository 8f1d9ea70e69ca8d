import EffiCore

/// Writes a GGUF v3 file: metadata with explicit GGUF types, and Float32 tensors stored as F32,
/// F16, BF16 or Q8_0 (quantized as ggml's reference quantizer does). Tensors are given in row-major shape (PyTorch's [out, in]) and stored with ggml's
/// dimensions (reversed), each at an offset aligned to `alignment` within the data section. The
/// file is written under a temporary name and renamed into place.
public struct GGUFWriter {
    public struct Entry {
        public let key: String
        public let value: GGUFValue
        public let type: GGUFType
        public init(key: String, value: GGUFValue, type: GGUFType) {
            self.key = key; self.value = value; self.type = type
        }
    }

    struct TensorEntry {
        let name: String
        let tensor: Tensor
        let type: GGMLType
    }

    public var alignment = 32
    public private(set) var metadata: [Entry] = []
    private(set) var tensors: [TensorEntry] = []

    public init() {}

    /// Adds (or replaces, keeping its position) a metadata value stored as `type`.
    public mutating func set(_ key: String, _ value: GGUFValue, as type: GGUFType) {
        let entry = Entry(key: key, value: value, type: type)
        if let i = metadata.firstIndex(where: { $0.key == key }) { metadata[i] = entry } else { metadata.append(entry) }
    }

    public mutating func set(_ key: String, uint32 v: UInt32) { set(key, .uint(UInt64(v)), as: .uint32) }
    public mutating func set(_ key: String, float32 v: Float) { set(key, .float(Double(v)), as: .float32) }
    public mutating func set(_ key: String, string v: String) { set(key, .string(v), as: .string) }
    public mutating func set(_ key: String, bool v: Bool) { set(key, .bool(v), as: .bool) }

    public mutating func remove(_ key: String) { metadata.removeAll { $0.key == key } }

    /// Adds a tensor (its storage is read when the file is written) to be stored as F32, F16, BF16 or Q8_0.
    public mutating func add(_ name: String, _ tensor: Tensor, as type: GGMLType) {
        tensors.append(TensorEntry(name: name, tensor: tensor, type: type))
    }

    public func write(to path: String) throws {
        var seen = Set<String>()
        for t in tensors {
            guard seen.insert(t.name).inserted else { throw FormatError(path, "tensor \(t.name) was added twice") }
            guard Self.storage(t.type) != nil || Quantize.supported.contains(t.type) else {
                throw FormatError(path, "tensor \(t.name): cannot write \(t.type.name) (F32, F16, BF16 or Q8_0)")
            }
            guard t.type.rowBytes(t.tensor.columns) != nil else {
                throw FormatError(path, "tensor \(t.name) has rows of \(t.tensor.columns) values, not a whole number of \(t.type.name)'s \(t.type.blockSize)-value blocks")
            }
            guard !t.tensor.shape.isEmpty, t.tensor.shape.count <= 4 else {
                throw FormatError(path, "tensor \(t.name) has shape \(t.tensor.shape); GGUF holds 1 to 4 dimensions")
            }
        }
        guard alignment > 0, alignment & (alignment - 1) == 0 else { throw FormatError(path, "alignment \(alignment) is not a power of two") }
        var entries = metadata
        if alignment != 32 { entries.append(Entry(key: "general.alignment", value: .uint(UInt64(alignment)), type: .uint32)) }

        let file = try OutputFile(path: path)
        try file.write(Array("GGUF".utf8))
        try file.write(littleEndian: UInt32(3))
        try file.write(littleEndian: UInt64(tensors.count))
        try file.write(littleEndian: UInt64(entries.count))
        for e in entries {
            try Self.writeString(e.key, to: file)
            try file.write(littleEndian: e.type.code)
            try Self.writeValue(e.value, as: e.type, key: e.key, to: file)
        }
        var offset = 0
        for t in tensors {
            try Self.writeString(t.name, to: file)
            try file.write(littleEndian: UInt32(t.tensor.shape.count))
            for d in t.tensor.shape.reversed() { try file.write(littleEndian: UInt64(d)) }
            try file.write(littleEndian: t.type.rawValue)
            try file.write(littleEndian: UInt64(offset))
            offset += (Self.byteCount(t) + alignment - 1) / alignment * alignment
        }
        try file.pad(to: alignment)
        for t in tensors {
            if let dtype = Self.storage(t.type) {
                try file.write(floats: t.tensor.data, count: t.tensor.count, as: dtype)
            } else {
                let blocks = UnsafeMutableRawPointer.allocate(byteCount: Swift.max(Self.byteCount(t), 1), alignment: 16)
                defer { blocks.deallocate() }
                Quantize.values(t.tensor.data, count: t.tensor.count, as: t.type, into: blocks)
                try file.write(blocks, Self.byteCount(t))
            }
            try file.pad(to: alignment)
        }
        try file.commit()
    }

    static func byteCount(_ t: TensorEntry) -> Int { t.tensor.count / t.type.blockSize * t.type.blockBytes }

    static func storage(_ type: GGMLType) -> SafetensorsDType? {
        switch type {
        case .f32: .f32
        case .f16: .f16
        case .bf16: .bf16
        default: nil
        }
    }

    static func writeString(_ s: String, to file: OutputFile) throws {
        let bytes = Array(s.utf8)
        try file.write(littleEndian: UInt64(bytes.count))
        try file.write(bytes)
    }

    /// Encodes `value` as `type`, failing (naming the key) when it does not fit.
    static func writeValue(_ value: GGUFValue, as type: GGUFType, key: String, to file: OutputFile) throws {
        func fail() -> FormatError { FormatError(file.path, "metadata \(key): \(value.summary) cannot be stored as \(type)") }
        func integer<T: FixedWidthInteger>(_: T.Type) throws {
            let v: T?
            switch value {
            case .uint(let u): v = T(exactly: u)
            case .int(let i): v = T(exactly: i)
            default: v = nil
            }
            guard let v else { throw fail() }
            try file.write(littleEndian: v)
        }
        switch type.code {
        case 0: try integer(UInt8.self)
        case 1: try integer(Int8.self)
        case 2: try integer(UInt16.self)
        case 3: try integer(Int16.self)
        case 4: try integer(UInt32.self)
        case 5: try integer(Int32.self)
        case 10: try integer(UInt64.self)
        case 11: try integer(Int64.self)
        case 6:
            guard case .float(let d) = value else { throw fail() }
            try file.write(littleEndian: Float(d).bitPattern)
        case 12:
            guard case .float(let d) = value else { throw fail() }
            try file.write(littleEndian: d.bitPattern)
        case 7:
            guard case .bool(let b) = value else { throw fail() }
            try file.write([b ? 1 : 0])
        case 8:
            guard case .string(let s) = value else { throw fail() }
            try writeString(s, to: file)
        case 9:
            guard case .array(let items) = value, let element = type.element, element != 9 else { throw fail() }
            try file.write(littleEndian: element)
            try file.write(littleEndian: UInt64(items.count))
            for item in items { try writeValue(item, as: GGUFType(code: element), key: key, to: file) }
        default:
            throw fail()
        }
    }
}
