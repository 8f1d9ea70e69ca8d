import CQuantDot

/// A [rows, columns] weight kept in a ggml block format and read in place: each row is
/// columns / blockSize blocks, rows one after another (GGUF's layout for a [out, in] weight). The
/// bytes usually lie in a memory-mapped GGUF file, which `owner` keeps mapped.
public final class QuantizedMatrix: @unchecked Sendable {
    public let type: GGMLType
    public let rows: Int, columns: Int
    /// Bytes of one row: columns / blockSize blocks of blockBytes.
    public let rowBytes: Int
    public let bytes: UnsafeRawPointer
    private let owner: AnyObject?

    public init(type: GGMLType, rows: Int, columns: Int, bytes: UnsafeRawBufferPointer, owner: AnyObject?) {
        guard let rowBytes = type.rowBytes(columns) else {
            preconditionFailure("a \(type.name) row of \(columns) values is not a whole number of \(type.blockSize)-value blocks")
        }
        precondition(bytes.count == rows * rowBytes, "\(rows) × \(columns) \(type.name) values need \(rows * rowBytes) bytes, not \(bytes.count)")
        precondition(Dequantize.supported.contains(type), "\(type.name) cannot be dequantized")
        self.type = type
        self.rows = rows
        self.columns = columns
        self.rowBytes = rowBytes
        self.bytes = bytes.baseAddress ?? UnsafeRawPointer(bitPattern: 1)!
        self.owner = owner
    }

    /// The quantized copy of a Float32 matrix, in a block type that has a quantizer (Q8_0).
    public convenience init(quantizing w: Tensor, as type: GGMLType) {
        let rowBytes = type.rowBytes(w.columns) ?? 0
        let storage = UnsafeMutableRawBufferPointer.allocate(byteCount: Swift.max(w.rows * rowBytes, 1), alignment: 64)
        Quantize.values(w.data, count: w.count, as: type, into: storage.baseAddress!)
        self.init(type: type, rows: w.rows, columns: w.columns,
                  bytes: UnsafeRawBufferPointer(rebasing: storage[0..<(w.rows * rowBytes)]), owner: OwnedBytes(storage))
    }

    public var byteCount: Int { rows * rowBytes }

    /// Row `r` as Float32 into `out` (`columns` values).
    public func row(_ r: Int, into out: UnsafeMutablePointer<Float>) {
        precondition((0..<rows).contains(r), "row \(r) of a matrix with \(rows) rows")
        Dequantize.row(type, bytes + r * rowBytes, columns: columns, into: out)
    }

    /// W[rows, columns] (columns a whole-block range, all by default) as a dense row-major Float32
    /// matrix with row stride columns.count, in parallel.
    public func dequantize(rows range: Range<Int>, columns: Range<Int>? = nil, into out: UnsafeMutablePointer<Float>) {
        forEachRow(range, columns ?? 0..<self.columns) { source, width, i, _ in Dequantize.row(type, source, columns: width, into: out + i * width) }
    }

    /// The same rounded to bfloat16 (straight from the blocks where the vector kernels serve the type).
    public func dequantize(rows range: Range<Int>, columns: Range<Int>? = nil, intoBFloat16 out: UnsafeMutablePointer<UInt16>) {
        forEachRow(range, columns ?? 0..<self.columns) { source, width, i, scratch in
            if effi_dequantize_row_bf16(Int32(type.rawValue), source, Int32(width), out + i * width) != 0 {
                Dequantize.row(type, source, columns: width, into: scratch)
                BFloat16.round(scratch, into: out + i * width, count: width)
            }
        }
    }

    /// `body(first byte, width, i, scratch)` for rows range.lowerBound + i, over threads; `scratch`
    /// holds `width` floats per thread.
    private func forEachRow(_ range: Range<Int>, _ columns: Range<Int>,
                            _ body: (UnsafeRawPointer, Int, Int, UnsafeMutablePointer<Float>) -> Void) {
        let width = columns.count, offset = columns.lowerBound / type.blockSize * type.blockBytes
        precondition(columns.lowerBound % type.blockSize == 0 && columns.upperBound % type.blockSize == 0,
                     "columns \(columns) are not whole \(type.name) blocks")
        Parallel.forRanges(range.count, minimumChunk: Swift.max(1, 8192 / Swift.max(width, 1))) { part in
            let scratch = UnsafeMutablePointer<Float>.allocate(capacity: Swift.max(width, 1))
            defer { scratch.deallocate() }
            for i in part { body(bytes + (range.lowerBound + i) * rowBytes + offset, width, i, scratch) }
        }
    }

    /// All values as a Float32 tensor [rows, columns].
    public func dequantized() -> Tensor {
        let t = Tensor(shape: [rows, columns])
        dequantize(rows: 0..<rows, into: t.data)
        return t
    }
}

/// Memory this process allocated for a quantized matrix (not a mapping), freed with it.
private final class OwnedBytes {
    let storage: UnsafeMutableRawBufferPointer
    init(_ storage: UnsafeMutableRawBufferPointer) { self.storage = storage }
    deinit { storage.deallocate() }
}
