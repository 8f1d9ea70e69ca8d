import CQuantDot

/// Dequantisation of ggml's block formats to Float32, block by block, as ggml lays them out
/// (ggml-common.h / ggml-quants.c). `d`, `m`, `dmin` are IEEE half floats.
public enum Dequantize {
    /// Dequantizes `elements` values of `type` (a whole number of blocks filling `bytes`) into `out`.
    public static func values(_ type: GGMLType, elements: Int, bytes: UnsafeRawBufferPointer, into out: UnsafeMutablePointer<Float>) {
        precondition(elements % type.blockSize == 0 && bytes.count == elements / type.blockSize * type.blockBytes,
                     "\(elements) \(type.name) values do not fill \(bytes.count) bytes")
        guard elements > 0 else { return }
        let blocks = elements / type.blockSize
        let base = bytes.baseAddress!
        let blockBytes = type.blockBytes, blockSize = type.blockSize
        Parallel.forRanges(blocks, minimumChunk: 256) { range in
            // a run of whole blocks is dequantized like one row
            row(type, base + range.lowerBound * blockBytes, columns: range.count * blockSize, into: out + range.lowerBound * blockSize)
        }
    }

    /// One row of `columns` values (a whole number of blocks) starting at `p`: by the vector
    /// kernels of CQuantDot where they serve the type (the same values: multiply, then add), else
    /// block by block here.
    public static func row(_ type: GGMLType, _ p: UnsafeRawPointer, columns: Int, into y: UnsafeMutablePointer<Float>) {
        if type.blockSize > 1 && effi_dequantize_row(Int32(type.rawValue), p, Int32(columns), y) == 0 { return }
        let blockBytes = type.blockBytes, blockSize = type.blockSize
        switch type {
        case .f32: UnsafeMutableRawPointer(y).copyMemory(from: p, byteCount: columns * 4)
        default: for b in 0..<(columns / blockSize) { block(type, p + b * blockBytes, y + b * blockSize) }
        }
    }

    /// One block of `type` at `p` into `y` (`type.blockSize` values).
    public static func block(_ type: GGMLType, _ p: UnsafeRawPointer, _ y: UnsafeMutablePointer<Float>) {
        switch type {
        case .f32: y[0] = p.loadUnaligned(as: Float.self)
        case .f16: y[0] = half(p, 0)
        case .bf16: y[0] = BFloat16.widen(p.loadUnaligned(as: UInt16.self))
        case .q8_0: q8_0(p, y)
        case .q4_0: q4_0(p, y)
        case .q4_1: q4_1(p, y)
        case .q5_0: q5_0(p, y)
        case .q4_K: q4_K(p, y)
        case .q6_K: q6_K(p, y)
        case .q5_1, .q8_1, .q2_K, .q3_K, .q5_K, .q8_K:
            preconditionFailure("dequantisation of \(type.name) is not implemented")
        }
    }

    /// Types this reader can turn into Float32.
    public static let supported: Set<GGMLType> = [.f32, .f16, .bf16, .q8_0, .q4_0, .q4_1, .q5_0, .q4_K, .q6_K]

    // MARK: - 32-element blocks

    /// { d: f16, qs: [32] int8 }:  y = d · q
    static func q8_0(_ p: UnsafeRawPointer, _ y: UnsafeMutablePointer<Float>) {
        let d = half(p, 0)
        for j in 0..<32 { y[j] = d * Float(p.load(fromByteOffset: 2 + j, as: Int8.self)) }
    }

    /// { d: f16, qs: [16] u8 }:  y[j] = d · (low nibble − 8),  y[j+16] = d · (high nibble − 8)
    static func q4_0(_ p: UnsafeRawPointer, _ y: UnsafeMutablePointer<Float>) {
        let d = half(p, 0)
        for j in 0..<16 {
            let q = p.load(fromByteOffset: 2 + j, as: UInt8.self)
            y[j] = d * Float(Int(q & 0x0F) - 8)
            y[j + 16] = d * Float(Int(q >> 4) - 8)
        }
    }

    /// { d: f16, m: f16, qs: [16] u8 }:  y[j] = d · low nibble + m,  y[j+16] = d · high nibble + m
    static func q4_1(_ p: UnsafeRawPointer, _ y: UnsafeMutablePointer<Float>) {
        let d = half(p, 0), m = half(p, 2)
        for j in 0..<16 {
            let q = p.load(fromByteOffset: 4 + j, as: UInt8.self)
            y[j] = d * Float(q & 0x0F) + m
            y[j + 16] = d * Float(q >> 4) + m
        }
    }

    /// { d: f16, qh: u32 (the 5th bits), qs: [16] u8 }:  y = d · (5-bit value − 16); bit j of qh
    /// belongs to element j, bit j+16 to element j+16.
    static func q5_0(_ p: UnsafeRawPointer, _ y: UnsafeMutablePointer<Float>) {
        let d = half(p, 0)
        let qh = UInt32(littleEndian: p.loadUnaligned(fromByteOffset: 2, as: UInt32.self))
        for j in 0..<16 {
            let q = p.load(fromByteOffset: 6 + j, as: UInt8.self)
            let lo = Int(q & 0x0F) | Int((qh >> UInt32(j)) & 1) << 4
            let hi = Int(q >> 4) | Int((qh >> UInt32(j + 16)) & 1) << 4
            y[j] = d * Float(lo - 16)
            y[j + 16] = d * Float(hi - 16)
        }
    }

    // MARK: - 256-element K-quant super-blocks

    /// { d: f16, dmin: f16, scales: [12] u8 (8 six-bit scales and 8 six-bit mins), qs: [128] u8 }.
    /// Sub-block s of 32 values: y = d · sc_s · q − dmin · m_s; each 32 bytes of qs hold two
    /// sub-blocks, low nibbles first.
    static func q4_K(_ p: UnsafeRawPointer, _ y: UnsafeMutablePointer<Float>) {
        let d = half(p, 0), dmin = half(p, 2)
        let scales = p + 4, qs = p + 16
        for pair in 0..<4 {
            let (sc0, m0) = scaleMinK4(2 * pair, scales)
            let (sc1, m1) = scaleMinK4(2 * pair + 1, scales)
            let d0 = d * Float(sc0), d1 = d * Float(sc1), n0 = dmin * Float(m0), n1 = dmin * Float(m1)
            for l in 0..<32 {
                let q = qs.load(fromByteOffset: pair * 32 + l, as: UInt8.self)
                y[pair * 64 + l] = d0 * Float(q & 0x0F) - n0
                y[pair * 64 + 32 + l] = d1 * Float(q >> 4) - n1
            }
        }
    }

    /// The 6-bit scale and min of sub-block j from Q4_K/Q5_K's 12 packed bytes: j < 4 in the low
    /// six bits of bytes j and j+4; j ≥ 4 split between byte j+4's nibbles and the top two bits
    /// of bytes j−4 and j.
    static func scaleMinK4(_ j: Int, _ q: UnsafeRawPointer) -> (UInt8, UInt8) {
        func b(_ i: Int) -> UInt8 { q.load(fromByteOffset: i, as: UInt8.self) }
        if j < 4 { return (b(j) & 63, b(j + 4) & 63) }
        return ((b(j + 4) & 0x0F) | ((b(j - 4) >> 6) << 4), (b(j + 4) >> 4) | ((b(j) >> 6) << 4))
    }

    /// { ql: [128] u8 (low 4 bits), qh: [64] u8 (high 2 bits), scales: [16] int8, d: f16 }.
    /// Each half of 128 values uses 64 bytes of ql and 32 of qh; value = (low | high << 4) − 32,
    /// y = d · scale_{16-value group} · value.
    static func q6_K(_ p: UnsafeRawPointer, _ y: UnsafeMutablePointer<Float>) {
        let d = half(p, 208)
        for half in 0..<2 {
            let ql = p + half * 64, qh = p + 128 + half * 32, sc = p + 192 + half * 8
            let out = y + half * 128
            func scale(_ i: Int) -> Float { Float(sc.load(fromByteOffset: i, as: Int8.self)) }
            for l in 0..<32 {
                let is_ = l / 16
                let a = ql.load(fromByteOffset: l, as: UInt8.self), b = ql.load(fromByteOffset: l + 32, as: UInt8.self)
                let h = qh.load(fromByteOffset: l, as: UInt8.self)
                let q1 = Int((a & 0x0F) | ((h >> 0) & 3) << 4) - 32
                let q2 = Int((b & 0x0F) | ((h >> 2) & 3) << 4) - 32
                let q3 = Int((a >> 4) | ((h >> 4) & 3) << 4) - 32
                let q4 = Int((b >> 4) | ((h >> 6) & 3) << 4) - 32
                out[l] = d * scale(is_) * Float(q1)
                out[l + 32] = d * scale(is_ + 2) * Float(q2)
                out[l + 64] = d * scale(is_ + 4) * Float(q3)
                out[l + 96] = d * scale(is_ + 6) * Float(q4)
            }
        }
    }

    // MARK: - half floats

    /// IEEE binary16 at byte `offset` → Float (subnormals, infinities and NaN included).
    static func half(_ p: UnsafeRawPointer, _ offset: Int) -> Float {
        let h = UInt32(UInt16(littleEndian: p.loadUnaligned(fromByteOffset: offset, as: UInt16.self)))
        let sign = (h & 0x8000) << 16, exponent = (h >> 10) & 0x1F, mantissa = h & 0x3FF
        if exponent == 0 {
            // ±0 or subnormal: mantissa · 2^−24
            let v = Float(mantissa) * 5.960464477539063e-08
            return sign != 0 ? -v : v
        }
        if exponent == 31 { return Float(bitPattern: sign | 0x7F80_0000 | (mantissa << 13)) }
        return Float(bitPattern: sign | ((exponent + 112) << 23) | (mantissa << 13))
    }
}
