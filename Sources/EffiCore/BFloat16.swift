/// bfloat16: the top 16 bits of a Float32 (sign, 8 exponent bits, 7 mantissa bits).
public enum BFloat16 {
    /// Float32 → bfloat16 bits, rounded to nearest even: bits + 0x7FFF + (bit 16 of bits), then
    /// the top half. NaNs stay NaNs (a quiet bit is set so rounding cannot carry them to ±inf).
    @inline(__always)
    public static func round(_ x: Float) -> UInt16 {
        let bits = x.bitPattern
        if x.isNaN { return UInt16(truncatingIfNeeded: (bits >> 16) | 0x40) }
        return UInt16(truncatingIfNeeded: (bits &+ 0x7FFF &+ ((bits >> 16) & 1)) >> 16)
    }

    @inline(__always)
    public static func widen(_ h: UInt16) -> Float { Float(bitPattern: UInt32(h) << 16) }

    /// Rounds `count` floats to bfloat16, eight lanes at a time (the same rule as `round`).
    public static func round(_ source: UnsafePointer<Float>, into target: UnsafeMutablePointer<UInt16>, count: Int) {
        var i = 0
        while i + 8 <= count {
            let x = load8(source + i)
            let bits = unsafeBitCast(x, to: SIMD8<UInt32>.self)
            var rounded = (bits &+ 0x7FFF &+ ((bits &>> 16) & 1)) &>> 16
            rounded.replace(with: (bits &>> 16) | 0x40, where: x .!= x)
            UnsafeMutableRawPointer(target + i).storeBytes(of: SIMD8<UInt16>(truncatingIfNeeded: rounded), as: SIMD8<UInt16>.self)
            i += 8
        }
        while i < count { target[i] = round(source[i]); i += 1 }
    }

    /// Rounds a row-major [rows, columns] matrix with row stride `ld` into a dense one.
    public static func round(_ source: UnsafePointer<Float>, rows: Int, columns: Int, ld: Int, into target: UnsafeMutablePointer<UInt16>) {
        Parallel.forRanges(rows, minimumChunk: Swift.max(1, 16_384 / Swift.max(columns, 1))) { range in
            for r in range { round(source + r * ld, into: target + r * columns, count: columns) }
        }
    }
}

/// A dense row-major [rows, columns] matrix of bfloat16 values (owned storage).
public final class BFloat16Matrix: @unchecked Sendable {
    public let rows: Int, columns: Int
    public let data: UnsafeMutablePointer<UInt16>

    /// `source` rounded to bfloat16.
    public init(rounding source: Tensor) {
        rows = source.rows
        columns = source.columns
        data = .allocate(capacity: Swift.max(rows * columns, 1))
        BFloat16.round(source.data, rows: rows, columns: columns, ld: columns, into: data)
    }

    deinit { data.deallocate() }

    /// The values widened back to Float32.
    public func widened() -> Tensor {
        let t = Tensor(shape: [rows, columns])
        for i in 0..<(rows * columns) { t.data[i] = BFloat16.widen(data[i]) }
        return t
    }
}
