#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Rotary position embedding. Pair i of a head (i < D/2) is rotated by θ = pos · base^(−2i/D):
///   (a, b) → (a cos θ − b sin θ, a sin θ + b cos θ).
/// The layouts differ only in which elements form pair i.
public enum RoPELayout: String, Sendable {
    /// (x[2i], x[2i+1]) — GGUF llama files, whose Q/K rows are permuted for it.
    case adjacentPairs
    /// (x[i], x[i + D/2]) — Hugging Face folders and qwen2 ("NeoX" style).
    case rotateHalf
}

public struct RoPE: Sendable {
    public let headDim: Int
    public let layout: RoPELayout
    public let maxPositions: Int
    private let cosTable: [Float]  // [maxPositions, headDim/2]
    private let sinTable: [Float]

    public init(headDim: Int, base: Double, maxPositions: Int, layout: RoPELayout) {
        precondition(headDim % 2 == 0, "RoPE needs an even head dimension, got \(headDim)")
        self.headDim = headDim
        self.layout = layout
        self.maxPositions = maxPositions
        let half = headDim / 2
        var c = [Float](repeating: 0, count: maxPositions * half)
        var s = c
        for pos in 0..<maxPositions {
            for i in 0..<half {
                let theta = Double(pos) * pow(base, -2 * Double(i) / Double(headDim))
                c[pos * half + i] = Float(cos(theta))
                s[pos * half + i] = Float(sin(theta))
            }
        }
        cosTable = c
        sinTable = s
    }

    /// Rotates x: [B, T, H, D] in place; token t has position `positionOffset + t`.
    public func forward(_ x: Tensor, batch: Int, seqLen: Int, heads: Int, positionOffset: Int = 0) {
        rotate(x, batch: batch, seqLen: seqLen, heads: heads, positionOffsets: Array(repeating: positionOffset, count: batch), direction: 1)
    }

    /// Rotates x: [B, T, H, D] in place; token t of sequence b has position `positionOffsets[b] + t`.
    public func forward(_ x: Tensor, batch: Int, seqLen: Int, heads: Int, positionOffsets: [Int]) {
        rotate(x, batch: batch, seqLen: seqLen, heads: heads, positionOffsets: positionOffsets, direction: 1)
    }

    /// The backward is the transpose of a rotation: rotate dy by −θ, in place.
    public func backward(_ dx: Tensor, batch: Int, seqLen: Int, heads: Int, positionOffset: Int = 0) {
        rotate(dx, batch: batch, seqLen: seqLen, heads: heads, positionOffsets: Array(repeating: positionOffset, count: batch), direction: -1)
    }

    private func rotate(_ x: Tensor, batch: Int, seqLen: Int, heads: Int, positionOffsets: [Int], direction: Float) {
        precondition(x.count == batch * seqLen * heads * headDim,
                     "RoPE: tensor \(x.shape) is not [\(batch), \(seqLen), \(heads), \(headDim)]")
        precondition(positionOffsets.count == batch, "RoPE: \(positionOffsets.count) position offsets for \(batch) sequences")
        let last = (positionOffsets.max() ?? 0) + seqLen - 1
        precondition(last < maxPositions, "RoPE: position \(last) beyond the table of \(maxPositions)")
        let d = headDim, half = d / 2
        // Element offsets of the two members of pair i.
        let (stride, second) = layout == .adjacentPairs ? (2, 1) : (1, half)
        let p = x.data
        cosTable.withUnsafeBufferPointer { ct in
            sinTable.withUnsafeBufferPointer { st in
                let cp = ct.baseAddress!, sp = st.baseAddress!
                Parallel.forRanges(batch * seqLen, minimumChunk: 16) { tokens in
                    for token in tokens {
                        let pos = positionOffsets[token / seqLen] + token % seqLen
                        let cr = cp + pos * half, sr = sp + pos * half
                        for h in 0..<heads {
                            let v = p + (token * heads + h) * d
                            for i in 0..<half {
                                let a = v[i * stride], b = v[i * stride + second]
                                let c = cr[i], s = sr[i] * direction
                                v[i * stride] = a * c - b * s
                                v[i * stride + second] = a * s + b * c
                            }
                        }
                    }
                }
            }
        }
    }
}
