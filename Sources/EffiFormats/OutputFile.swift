#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A file written beside its destination under a temporary name and renamed into place by
/// `commit()`, so readers never see half a file; `discard()` (or an error) removes it. Float32
/// values can be written as F32, F16 or BF16 (rounded to nearest, ties to even).
public final class OutputFile {
    public let path: String
    let temporary: String
    private var handle: UnsafeMutablePointer<FILE>?
    private var chunk = [UInt8](repeating: 0, count: 1 << 20)

    public init(path: String) throws {
        self.path = path
        let directory = path.contains("/") ? String(path[..<path.lastIndex(of: "/")!]) : "."
        let base = path.split(separator: "/").last.map(String.init) ?? path
        temporary = "\(directory)/.\(base).\(getpid()).\(UInt32.random(in: 0...UInt32.max)).tmp"
        guard let f = fopen(temporary, "wb") else {
            throw FormatError(path, "cannot create \(temporary): \(String(cString: strerror(errno)))")
        }
        handle = f
    }

    deinit { discard() }

    /// Bytes written so far.
    public var offset: Int { handle.map { Int(ftell($0)) } ?? 0 }

    public func write(_ p: UnsafeRawPointer, _ count: Int) throws {
        guard let f = handle else { throw FormatError(path, "written after commit or discard") }
        guard count == 0 || fwrite(p, 1, count, f) == count else {
            throw FormatError(path, "cannot write \(temporary): \(String(cString: strerror(errno)))")
        }
    }

    public func write(_ bytes: [UInt8]) throws {
        try bytes.withUnsafeBytes { try write($0.baseAddress!, $0.count) }
    }

    public func write<T: FixedWidthInteger>(littleEndian value: T) throws {
        var v = value.littleEndian
        try write(&v, MemoryLayout<T>.size)
    }

    /// Zero bytes up to the next multiple of `alignment`.
    public func pad(to alignment: Int) throws {
        let n = (alignment - offset % alignment) % alignment
        try write([UInt8](repeating: 0, count: n))
    }

    /// `count` Float32 values as little-endian F32, F16 or BF16.
    public func write(floats src: UnsafePointer<Float>, count: Int, as dtype: SafetensorsDType) throws {
        precondition(dtype.isFloatConvertible, "write(floats:) as \(dtype.rawValue)")
        #if _endian(little)
        if dtype == .f32 { return try write(src, count * 4) }
        #endif
        let per = chunk.count / dtype.size
        var start = 0
        while start < count {
            let end = min(start + per, count)
            let bytes = chunk.withUnsafeMutableBytes { out -> Int in
                for i in start..<end {
                    switch dtype {
                    case .f16: out.storeBytes(of: SafetensorsDType.halfBits(src[i]).littleEndian, toByteOffset: (i - start) * 2, as: UInt16.self)
                    case .bf16: out.storeBytes(of: SafetensorsDType.bfloat16Bits(src[i]).littleEndian, toByteOffset: (i - start) * 2, as: UInt16.self)
                    default: out.storeBytes(of: src[i].bitPattern.littleEndian, toByteOffset: (i - start) * 4, as: UInt32.self)
                    }
                }
                return (end - start) * dtype.size
            }
            try chunk.withUnsafeBytes { try write($0.baseAddress!, bytes) }
            start = end
        }
    }

    /// Flushes, syncs and renames the file into place.
    public func commit() throws {
        guard let f = handle else { throw FormatError(path, "committed twice") }
        handle = nil
        do {
            guard fflush(f) == 0, fsync(fileno(f)) == 0 else {
                fclose(f)
                throw FormatError(path, "cannot write \(temporary): \(String(cString: strerror(errno)))")
            }
            guard fclose(f) == 0 else { throw FormatError(path, "cannot close \(temporary): \(String(cString: strerror(errno)))") }
            guard rename(temporary, path) == 0 else {
                throw FormatError(path, "cannot rename \(temporary) into place: \(String(cString: strerror(errno)))")
            }
        } catch {
            unlink(temporary)
            throw error
        }
    }

    /// Closes and removes the temporary file (nothing after a commit).
    public func discard() {
        guard let f = handle else { return }
        handle = nil
        fclose(f)
        unlink(temporary)
    }
}
