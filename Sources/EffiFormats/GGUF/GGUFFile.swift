import EffiCore
/// One tensor of a GGUF file. `dimensions` are ggml's: the first is the fastest-varying, so a
/// PyTorch weight [out, in] is stored with dimensions [in, out].
public struct GGUFTensorInfo: Sendable {
    public let name: String
    public let dimensions: [Int]
    public let type: GGMLType
    /// Byte offset from the start of the file.
    public let fileOffset: Int
    public let byteCount: Int

    public var elementCount: Int { dimensions.reduce(1, *) }
    /// The shape in row-major order (PyTorch's): dimensions reversed.
    public var shape: [Int] { dimensions.reversed() }
}

/// A GGUF v2/v3 file, memory-mapped: header, metadata, tensor infos, and the data section.
/// Everything is validated on open — offsets inside the file, sizes that match type × shape,
/// known types, no overlapping tensors — so a bad file fails here, naming the tensor.
public final class GGUFFile: @unchecked Sendable {
    public let path: String
    public let version: UInt32
    public let metadata: [String: GGUFValue]
    /// Metadata keys in file order.
    public let metadataKeys: [String]
    /// The stored type of each metadata value (for copying values into another file unchanged).
    public let metadataTypes: [String: GGUFType]
    public let tensors: [GGUFTensorInfo]
    public let alignment: Int
    public let dataOffset: Int
    private let file: MappedFile
    private let index: [String: Int]

    public convenience init(path: String) throws {
        try self.init(file: MappedFile(path: path))
    }

    init(file: MappedFile) throws {
        self.file = file
        path = file.path
        var r = ByteReader(bytes: file.bytes, path: file.path)
        let magic = try r.read(UInt32.self, "magic")
        guard magic == 0x4655_4747 else {  // "GGUF" little-endian
            throw FormatError(path, "not a GGUF file: magic bytes are \(String(magic, radix: 16)), expected 46554747 (\"GGUF\")")
        }
        version = try r.read(UInt32.self, "version")
        guard version == 2 || version == 3 else {
            throw FormatError(path, "GGUF version \(version) is not supported (2 or 3 expected)")
        }
        let tensorCount = try r.read(UInt64.self, "tensor count")
        let kvCount = try r.read(UInt64.self, "metadata count")
        // Each entry takes at least 8+4 bytes (key length, type); reject absurd counts early.
        guard kvCount <= UInt64(file.bytes.count / 12), tensorCount <= UInt64(file.bytes.count / 24) else {
            throw FormatError(path, "header claims \(kvCount) metadata entries and \(tensorCount) tensors, more than the file of \(file.bytes.count) bytes can hold")
        }
        var metadata: [String: GGUFValue] = [:]
        var keys: [String] = []
        var types: [String: GGUFType] = [:]
        for i in 0..<Int(kvCount) {
            let key = try r.readString("metadata key #\(i)", maxLength: Self.maximumKeyLength)
            // Errors quote a key's beginning only.
            let shown = key.utf8.count > 80 ? String(key.prefix(77)) + "…" : key
            let type = try r.read(UInt32.self, "type of metadata \(shown)")
            let start = r.offset
            guard metadata[key] == nil else { throw FormatError(path, "metadata \(shown) appears twice") }
            metadata[key] = try Self.readValue(&r, type: type, key: shown, depth: 0)
            // An array's element type is the first field of its value.
            types[key] = GGUFType(code: type, element: type == 9 ? r.bytes.loadUnaligned(fromByteOffset: start, as: UInt32.self).littleEndian : nil)
            keys.append(key)
        }
        self.metadata = metadata
        metadataKeys = keys
        metadataTypes = types

        let alignmentValue: Int
        if let stated = metadata["general.alignment"] {
            guard let value = stated.int, value > 0, value <= 1 << 16, value & (value - 1) == 0 else {
                throw FormatError(path, "general.alignment is \(stated.summary), expected a power of two up to 65536")
            }
            alignmentValue = value
        } else {
            alignmentValue = 32
        }
        alignment = alignmentValue

        var raw: [(String, [Int], UInt32, UInt64)] = []
        for i in 0..<Int(tensorCount) {
            let name = try r.readString("name of tensor #\(i)", maxLength: Self.maximumNameLength)
            let nDims = try r.read(UInt32.self, "dimension count of tensor \(name)")
            guard (1...4).contains(nDims) else {
                throw FormatError(path, "tensor \(name) has \(nDims) dimensions, expected 1 to 4")
            }
            var dims: [Int] = []
            for d in 0..<Int(nDims) {
                let n = try r.read(UInt64.self, "dimension \(d) of tensor \(name)")
                guard n > 0, n < 1 << 40 else { throw FormatError(path, "tensor \(name) has dimension \(d) of size \(n)") }
                dims.append(Int(n))
            }
            let type = try r.read(UInt32.self, "type of tensor \(name)")
            let offset = try r.read(UInt64.self, "offset of tensor \(name)")
            raw.append((name, dims, type, offset))
        }
        dataOffset = (r.offset + alignment - 1) / alignment * alignment

        var infos: [GGUFTensorInfo] = []
        var index: [String: Int] = [:]
        for (name, dims, typeCode, offset) in raw {
            guard let type = GGMLType(rawValue: typeCode) else {
                throw FormatError(path, "tensor \(name) has ggml type \(typeCode), which is not supported (known: \(GGMLType.allCases.map(\.name).joined(separator: ", ")))")
            }
            guard let rowBytes = type.rowBytes(dims[0]) else {
                throw FormatError(path, "tensor \(name): first dimension \(dims[0]) is not a multiple of \(type.name)'s block of \(type.blockSize)")
            }
            // Overflow-checked: each dimension is < 2⁴⁰ but their product need not fit in an Int.
            var byteCount = rowBytes
            for n in dims.dropFirst() {
                let (product, overflow) = byteCount.multipliedReportingOverflow(by: n)
                guard !overflow, product <= file.bytes.count else {
                    throw FormatError(path, "tensor \(name): \(type.name) \(dims) needs more bytes than the file has (\(file.bytes.count))")
                }
                byteCount = product
            }
            guard offset % UInt64(alignment) == 0 else {
                throw FormatError(path, "tensor \(name): offset \(offset) is not aligned to \(alignment)")
            }
            guard offset <= UInt64(file.bytes.count), dataOffset + Int(offset) + byteCount <= file.bytes.count else {
                throw FormatError(path, "tensor \(name): \(byteCount) bytes of \(type.name) \(dims) at data offset \(offset) run past the end of the file (\(file.bytes.count) bytes)")
            }
            guard index[name] == nil else { throw FormatError(path, "tensor \(name) appears twice") }
            index[name] = infos.count
            infos.append(GGUFTensorInfo(name: name, dimensions: dims, type: type,
                                        fileOffset: dataOffset + Int(offset), byteCount: byteCount))
        }
        let sorted = infos.sorted { $0.fileOffset < $1.fileOffset }
        for (a, b) in zip(sorted, sorted.dropFirst()) where a.fileOffset + a.byteCount > b.fileOffset {
            throw FormatError(path, "tensors \(a.name) and \(b.name) overlap")
        }
        // Nothing after the data but the padding to the alignment (a longer tail is a damaged or
        // concatenated file).
        let end = (sorted.last.map { $0.fileOffset + $0.byteCount } ?? r.offset)
        let paddedEnd = (end + alignment - 1) / alignment * alignment
        guard file.bytes.count <= paddedEnd else {
            throw FormatError(path, "\(file.bytes.count - end) bytes follow the last tensor's data at byte \(end); expected at most the padding to \(alignment)")
        }
        tensors = infos
        self.index = index
    }

    /// GGUF's limits: a metadata key is at most 65535 bytes, a tensor name at most 64 (ggml's GGML_MAX_NAME).
    public static let maximumKeyLength = 65_535, maximumNameLength = 64

    public func tensor(_ name: String) -> GGUFTensorInfo? { index[name].map { tensors[$0] } }

    /// The raw bytes of a tensor, in place in the mapping.
    public func bytes(of tensor: GGUFTensorInfo) -> UnsafeRawBufferPointer {
        UnsafeRawBufferPointer(rebasing: file.bytes[tensor.fileOffset..<tensor.fileOffset + tensor.byteCount])
    }

    /// A tensor's values dequantized to Float32 into `out` (`tensor.elementCount` of them).
    public func values(of tensor: GGUFTensorInfo, into out: UnsafeMutablePointer<Float>) {
        Dequantize.values(tensor.type, elements: tensor.elementCount, bytes: bytes(of: tensor), into: out)
    }

    public var fileSize: Int { file.bytes.count }

    // MARK: - typed metadata

    public var architecture: String? { metadata["general.architecture"]?.string }

    /// `{architecture}.{key}`, e.g. "llama.block_count".
    public func architectureValue(_ key: String) -> GGUFValue? {
        architecture.flatMap { metadata["\($0).\(key)"] }
    }

    // MARK: - values

    private static func readValue(_ r: inout ByteReader, type: UInt32, key: String, depth: Int) throws -> GGUFValue {
        let what = "metadata \(key)"
        switch type {
        case 0: return .uint(UInt64(try r.read(UInt8.self, what)))
        case 1: return .int(Int64(try r.read(Int8.self, what)))
        case 2: return .uint(UInt64(try r.read(UInt16.self, what)))
        case 3: return .int(Int64(try r.read(Int16.self, what)))
        case 4: return .uint(UInt64(try r.read(UInt32.self, what)))
        case 5: return .int(Int64(try r.read(Int32.self, what)))
        case 6: return .float(Double(try r.readFloat(what)))
        case 7:
            let b = try r.read(UInt8.self, what)
            guard b <= 1 else { throw FormatError(r.path, "metadata \(key): bool byte \(b) at \(r.offset - 1) is neither 0 nor 1") }
            return .bool(b == 1)
        case 8: return .string(try r.readString(what))
        case 9:
            guard depth == 0 else { throw FormatError(r.path, "metadata \(key): nested arrays are not supported") }
            let elementType = try r.read(UInt32.self, "element type of \(key)")
            let count = try r.read(UInt64.self, "length of \(key)")
            guard count <= UInt64(r.bytes.count - r.offset) else {
                throw FormatError(r.path, "metadata \(key): array of \(count) values cannot fit in the \(r.bytes.count - r.offset) bytes left")
            }
            var values: [GGUFValue] = []
            values.reserveCapacity(Int(count))
            for _ in 0..<Int(count) { values.append(try readValue(&r, type: elementType, key: key, depth: depth + 1)) }
            return .array(values)
        case 10: return .uint(try r.read(UInt64.self, what))
        case 11: return .int(try r.read(Int64.self, what))
        case 12: return .float(try r.readDouble(what))
        default:
            throw FormatError(r.path, "metadata \(key): unknown value type \(type) at byte \(r.offset - 4)")
        }
    }
}
