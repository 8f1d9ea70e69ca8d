/// SIMD8 helpers shared by the element-wise kernels: unaligned loads and stores, and a vector exp.
public typealias F8 = SIMD8<Float>

@inline(__always)
func load8(_ p: UnsafePointer<Float>) -> F8 {
    UnsafeRawPointer(p).loadUnaligned(as: F8.self)
}

@inline(__always)
func store8(_ v: F8, _ p: UnsafeMutablePointer<Float>) {
    UnsafeMutableRawPointer(p).storeBytes(of: v, as: F8.self)
}

/// Lane-wise maximum (`pointwiseMax` is not inlined; `replacing(with:where:)` is).
@inline(__always)
func lanewiseMax(_ a: F8, _ b: F8) -> F8 { a.replacing(with: b, where: b .> a) }

@inline(__always)
func sum8(_ v: F8) -> Float { v.sum() }

/// e^x for eight lanes, within 2 ulp over the Float range; 0 below −87.3 (so exp(−inf) = 0) and
/// +inf above 88.376 (where 2^n would leave the exponent range). Range reduction x = n·ln2 + r
/// with |r| ≤ ln2/2, e^r by Cephes's degree-6 polynomial, then 2^n assembled in the exponent bits.
@inline(__always)
func exp8(_ x: F8) -> F8 {
    let hi: Float = 88.37626, lo: Float = -87.33654
    let xc = x.replacing(with: hi, where: x .> hi).replacing(with: lo, where: x .< lo)
    // n = round(x / ln2), by adding and subtracting 1.5·2^23 (the low mantissa bits hold n).
    let magic: Float = 12_582_912
    let t = xc * 1.442695040888963 + magic
    let n = t - magic
    let r = xc - n * 0.693359375 + n * 2.12194440e-4
    var p = F8(repeating: 1.3981999507e-3).addingProduct(r, 1.9875691500e-4)
    p = F8(repeating: 8.3334519073e-3).addingProduct(p, r)
    p = F8(repeating: 4.1665795894e-2).addingProduct(p, r)
    p = F8(repeating: 1.6666665459e-1).addingProduct(p, r)
    p = F8(repeating: 5.0000001201e-1).addingProduct(p, r)
    let er = (r + 1).addingProduct(p, r * r)
    // 2^n: (n + 127) << 23 as the bits of a Float; n ∈ [-126, 128] after clamping.
    let nBits = unsafeBitCast(t, to: SIMD8<Int32>.self) &- Int32(bitPattern: magic.bitPattern)
    let twoN = unsafeBitCast((nBits &+ 127) &<< 23, to: F8.self)
    var y = er * twoN
    y.replace(with: 0, where: x .< lo)
    y.replace(with: Float.infinity, where: x .> hi)
    return y
}

/// Scalar e^x with the same formula, for loop tails, so a row's lanes and tail agree.
@inline(__always)
func exp1(_ x: Float) -> Float { exp8(F8(repeating: x))[0] }

/// σ(x) = 1 / (1 + e^(−x)) for eight lanes.
@inline(__always)
func sigmoid8(_ x: F8) -> F8 { 1 / (1 + exp8(-x)) }
