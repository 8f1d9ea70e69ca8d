import EffiCore
import Foundation

/// One tensor of a safetensors file.
public struct SafetensorsTensorInfo: Sendable, Equatable {
    public let name: String
    public let dtype: SafetensorsDType
    /// Row-major (PyTorch's order); [] is a scalar.
    public let shape: [Int]
    /// Byte offset from the start of the file.
    public let fileOffset: Int
    public let byteCount: Int

    public var elementCount: Int { shape.reduce(1, *) }
}

/// A safetensors file, memory-mapped: an 8-byte little-endian header length N, N bytes of JSON
/// mapping each tensor name to {"dtype", "shape", "data_offsets": [begin, end]} (offsets into the
/// data section that follows) plus an optional "__metadata__" object of strings, then the data.
///
/// Validated on open as strictly as the reference implementation (huggingface/safetensors
/// `Metadata::validate`): known dtypes, non-negative integer shapes, `end − begin` equal to the
/// dtype size × the element count, and the tensors, in offset order, tile the data section exactly
/// — no overlaps, no gaps, no trailing bytes. A bad file fails here, naming the tensor.
public final class SafetensorsFile: @unchecked Sendable {
    public let path: String
    public let metadata: [String: String]
    /// Byte offset of the data section (8 + N).
    public let dataOffset: Int
    private let file: MappedFile
    private let infos: [String: SafetensorsTensorInfo]

    /// The reference implementation's bound on N.
    public static let maxHeaderBytes = 100_000_000

    public convenience init(path: String) throws {
        try self.init(file: MappedFile(path: path))
    }

    init(file: MappedFile) throws {
        self.file = file
        let path = file.path
        self.path = path
        let bytes = file.bytes
        guard bytes.count >= 8 else {
            throw FormatError(path, "truncated: a safetensors file starts with an 8-byte header length; the file has \(bytes.count) bytes")
        }
        let n = UInt64(littleEndian: bytes.loadUnaligned(as: UInt64.self))
        guard n <= UInt64(Self.maxHeaderBytes) else {
            throw FormatError(path, "header length \(n) is larger than the limit of \(Self.maxHeaderBytes) bytes")
        }
        guard n <= UInt64(bytes.count - 8) else {
            throw FormatError(path, "header length \(n) runs past the end of the file (\(bytes.count) bytes, so at most \(bytes.count - 8))")
        }
        dataOffset = 8 + Int(n)
        let dataLength = bytes.count - dataOffset

        let headerData = Data(UnsafeRawBufferPointer(rebasing: bytes[8..<dataOffset]))
        let parsed: Any
        do {
            parsed = try JSONSerialization.jsonObject(with: headerData)
        } catch {
            throw FormatError(path, "the \(n)-byte header is not valid UTF-8 JSON")
        }
        guard let header = parsed as? [String: Any] else {
            throw FormatError(path, "the header is JSON but not an object of tensors")
        }

        var metadata: [String: String] = [:]
        if let raw = header["__metadata__"] {
            guard let object = raw as? [String: Any] else {
                throw FormatError(path, "__metadata__ is \(JSONKind.describe(raw)), expected an object of strings")
            }
            for (key, value) in object {
                guard let s = value as? String else {
                    throw FormatError(path, "__metadata__ key \(key) is \(JSONKind.describe(value)), expected a string")
                }
                metadata[key] = s
            }
        }
        self.metadata = metadata

        var infos: [String: SafetensorsTensorInfo] = [:]
        var spans: [(name: String, begin: Int, end: Int)] = []
        for (name, raw) in header where name != "__metadata__" {
            let (info, begin, end) = try Self.tensorInfo(name, raw, path: path, dataOffset: dataOffset, dataLength: dataLength)
            infos[name] = info
            spans.append((name, begin, end))
        }
        // As the reference: in offset order, each tensor starts where the previous one ended.
        spans.sort { ($0.begin, $0.end, $0.name) < ($1.begin, $1.end, $1.name) }
        var expected = 0, previous: String?
        for span in spans {
            if span.begin < expected {
                throw FormatError(path, "tensor \(span.name) (data offsets \(span.begin)..<\(span.end)) overlaps tensor \(previous!), which ends at \(expected)")
            }
            if span.begin > expected {
                throw FormatError(path, "tensor \(span.name) starts at data offset \(span.begin), expected \(expected): bytes \(expected)..<\(span.begin) belong to no tensor (the tensors must tile the data section)")
            }
            expected = span.end
            previous = span.name
        }
        guard expected == dataLength else {
            throw FormatError(path, "the tensors end at data offset \(expected) but the data section has \(dataLength) bytes (the tensors must tile it exactly)")
        }
        self.infos = infos
    }

    /// Parses and checks one header entry on its own: dtype, shape, offsets inside the data
    /// section, and a byte length that matches dtype × shape.
    private static func tensorInfo(_ name: String, _ raw: Any, path: String, dataOffset: Int, dataLength: Int) throws
        -> (SafetensorsTensorInfo, Int, Int)
    {
        guard let entry = raw as? [String: Any] else {
            throw FormatError(path, "tensor \(name): header entry is \(JSONKind.describe(raw)), expected an object with dtype, shape and data_offsets")
        }
        guard let dtypeName = entry["dtype"] as? String else {
            throw FormatError(path, "tensor \(name): dtype is \(JSONKind.describe(entry["dtype"])), expected a string")
        }
        guard let dtype = SafetensorsDType(rawValue: dtypeName) else {
            throw FormatError(path, "tensor \(name) has dtype \(dtypeName), which is not a safetensors dtype (known: \(SafetensorsDType.allCases.map(\.rawValue).joined(separator: ", ")))")
        }
        guard let shapeValues = entry["shape"] as? [Any] else {
            throw FormatError(path, "tensor \(name): shape is \(JSONKind.describe(entry["shape"])), expected an array of non-negative integers")
        }
        var shape: [Int] = []
        for value in shapeValues {
            guard let d = JSONKind.nonNegativeInt(value) else {
                throw FormatError(path, "tensor \(name): shape \(JSONKind.render(shapeValues)) has \(JSONKind.describe(value)), expected non-negative integers")
            }
            shape.append(d)
        }
        guard let offsets = entry["data_offsets"] as? [Any], offsets.count == 2,
              let begin = JSONKind.nonNegativeInt(offsets[0]), let end = JSONKind.nonNegativeInt(offsets[1])
        else {
            throw FormatError(path, "tensor \(name): data_offsets is \(JSONKind.render(entry["data_offsets"])), expected [begin, end] as two non-negative integers")
        }
        guard begin <= end else {
            throw FormatError(path, "tensor \(name): data_offsets [\(begin), \(end)] end before they begin")
        }
        guard end <= dataLength else {
            throw FormatError(path, "tensor \(name): data_offsets [\(begin), \(end)] run past the end of the data section (\(dataLength) bytes)")
        }
        var byteCount = dtype.size
        for d in shape {
            let (product, overflow) = byteCount.multipliedReportingOverflow(by: d)
            guard !overflow else { throw FormatError(path, "tensor \(name): shape \(shape) of \(dtypeName) overflows a byte count") }
            byteCount = product
        }
        guard end - begin == byteCount else {
            throw FormatError(path, "tensor \(name): \(dtypeName) \(shape) needs \(byteCount) bytes, but data_offsets [\(begin), \(end)] hold \(end - begin)")
        }
        let info = SafetensorsTensorInfo(name: name, dtype: dtype, shape: shape, fileOffset: dataOffset + begin, byteCount: byteCount)
        return (info, begin, end)
    }

    /// Tensor names, sorted.
    public var names: [String] { infos.keys.sorted() }

    public func info(_ name: String) -> SafetensorsTensorInfo? { infos[name] }

    /// The raw bytes of a tensor, in place in the mapping.
    public func bytes(of tensor: SafetensorsTensorInfo) -> UnsafeRawBufferPointer {
        UnsafeRawBufferPointer(rebasing: file.bytes[tensor.fileOffset..<tensor.fileOffset + tensor.byteCount])
    }

    public var fileSize: Int { file.bytes.count }

    /// Converts tensor `name` (F32, F16 or BF16) to Float32 into `out`, which holds `count`
    /// values; `count` must be the tensor's element count.
    public func readFloats(_ name: String, into out: UnsafeMutablePointer<Float>, count: Int) throws {
        guard let info = infos[name] else { throw FormatError(path, "tensor \(name) is not in the file") }
        guard info.elementCount == count else {
            throw FormatError(path, "tensor \(name) has shape \(info.shape) (\(info.elementCount) values), expected \(count) values")
        }
        guard count > 0 else { return }
        let raw = bytes(of: info)
        switch info.dtype {
        case .f32:
            UnsafeMutableRawPointer(out).copyMemory(from: raw.baseAddress!, byteCount: raw.count)
        case .f16, .bf16:
            // Dequantize already converts ggml's F16 and BF16, which are these same bit layouts.
            Dequantize.values(info.dtype == .f16 ? .f16 : .bf16, elements: count, bytes: raw, into: out)
        default:
            throw FormatError(path, "tensor \(name) is \(info.dtype.rawValue); only F32, F16 and BF16 can be read as floats")
        }
    }
}
