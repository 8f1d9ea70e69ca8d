/// Float32 → ggml block formats, as ggml's reference quantizers do (ggml-quants.c).
public enum Quantize {
    /// Types with a quantizer here.
    public static let supported: Set<GGMLType> = [.q8_0]

    /// `count` values (a whole number of blocks) into `out`, block after block.
    public static func values(_ x: UnsafePointer<Float>, count: Int, as type: GGMLType, into out: UnsafeMutableRawPointer) {
        precondition(supported.contains(type), "quantizing to \(type.name) is not implemented (only \(supported.map(\.name).sorted()))")
        precondition(count % type.blockSize == 0, "\(count) values are not a whole number of \(type.blockSize)-value blocks")
        Parallel.forRanges(count / type.blockSize, minimumChunk: 1024) { blocks in
            for b in blocks { q8_0(x + b * 32, out + b * type.blockBytes) }
        }
    }

    /// { d: f16, qs: [32] int8 }: d = max|x| / 127, q = round(x / d) (halves away from zero).
    static func q8_0(_ x: UnsafePointer<Float>, _ p: UnsafeMutableRawPointer) {
        var amax: Float = 0
        for j in 0..<32 { amax = Swift.max(amax, abs(x[j])) }
        let d = amax / 127, inverse: Float = d == 0 ? 0 : 1 / d
        p.storeBytes(of: halfBits(d).littleEndian, as: UInt16.self)
        for j in 0..<32 { p.storeBytes(of: Int8((x[j] * inverse).rounded()), toByteOffset: 2 + j, as: Int8.self) }
    }

    /// Float → IEEE binary16 bits, rounded to nearest even (Dequantize.half is the inverse).
    public static func halfBits(_ x: Float) -> UInt16 { Float16(x).bitPattern }
}
