import EffiCore
/// The element types of the safetensors format, spelled as in its header ("F32", "BF16", …).
/// Every type the reference implementation (huggingface/safetensors) knows can be listed in a
/// file; only F32, F16 and BF16 can be read as or written from Float32.
public enum SafetensorsDType: String, Sendable, CaseIterable {
    case bool = "BOOL", u8 = "U8", i8 = "I8", f8E5M2 = "F8_E5M2", f8E4M3 = "F8_E4M3"
    case i16 = "I16", u16 = "U16", f16 = "F16", bf16 = "BF16"
    case i32 = "I32", u32 = "U32", f32 = "F32"
    case f64 = "F64", i64 = "I64", u64 = "U64"

    /// Bytes per element.
    public var size: Int {
        switch self {
        case .bool, .u8, .i8, .f8E5M2, .f8E4M3: 1
        case .i16, .u16, .f16, .bf16: 2
        case .i32, .u32, .f32: 4
        case .f64, .i64, .u64: 8
        }
    }

    /// Whether `SafetensorsFile.readFloats` and `SafetensorsWriter` handle this type.
    public var isFloatConvertible: Bool { self == .f32 || self == .f16 || self == .bf16 }

    // MARK: - Float32 → 16-bit encodings

    /// IEEE binary16 bits of `x`, rounded to nearest, ties to even; overflow gives ±infinity,
    /// values below half the smallest subnormal give ±0, NaN stays a (quiet) NaN.
    public static func halfBits(_ x: Float) -> UInt16 {
        let b = x.bitPattern
        let sign = UInt16(truncatingIfNeeded: (b >> 16) & 0x8000)
        let exponent = Int((b >> 23) & 0xFF)
        let mantissa = b & 0x7F_FFFF
        if exponent == 0xFF {
            return sign | 0x7C00 | (mantissa == 0 ? 0 : 0x200 | UInt16(truncatingIfNeeded: mantissa >> 13))
        }
        let e = exponent - 127 + 15  // the binary16 biased exponent
        if e >= 31 { return sign | 0x7C00 }
        if e <= 0 {
            // Subnormal in binary16. With the implicit bit, m = 1.mantissa · 2^23 and the value is
            // m · 2^(e − 38), that is m >> (14 − e) units of 2^−24; round the bits shifted out.
            if e < -10 { return sign }
            let m = mantissa | 0x80_0000
            let shift = UInt32(14 - e)
            var h = m >> shift
            let rest = m & ((1 << shift) - 1), halfway = UInt32(1) << (shift - 1)
            if rest > halfway || (rest == halfway && h & 1 == 1) { h += 1 }
            return sign | UInt16(h)  // a carry into bit 10 is the smallest normal, as it should be
        }
        var h = UInt32(e) << 10 | mantissa >> 13
        let rest = mantissa & 0x1FFF
        if rest > 0x1000 || (rest == 0x1000 && h & 1 == 1) { h += 1 }  // a carry may reach infinity
        return sign | UInt16(h)
    }

    /// bfloat16 bits of `x` (the top half of its Float32 bits), rounded to nearest, ties to even;
    /// NaN stays a quiet NaN.
    public static func bfloat16Bits(_ x: Float) -> UInt16 { BFloat16.round(x) }
}
