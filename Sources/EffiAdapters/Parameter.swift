import EffiCore

/// An adapter tensor and what it is. Frozen parameters (LoRA-FA's A, VeRA's matrices, B's the
/// Reducer froze) take part in the forward but get no gradient and no update. Gradients live
/// outside it, in the `Gradients` of the pass that computes them.
public final class Parameter {
    public let key: ParameterKey
    public let value: Tensor
    public var trainable: Bool
    /// Frozen at a seeded random value (LoRA-FA's A, VeRA's A and B): rebuilt from the seed when
    /// an adapter is loaded, so never stored in adapter files.
    public let regenerable: Bool

    public init(key: ParameterKey, shape: [Int], trainable: Bool) {
        self.key = key
        value = Tensor(shape: shape)
        self.trainable = trainable
        regenerable = !trainable
    }

    /// Its tensor name in files.
    public var name: String { key.name }
}

/// Deterministic initial values: each parameter draws from its own stream, seeded by the run's
/// seed and the parameter's file name, so values do not depend on creation order (and match
/// the files of earlier versions).
enum Initializer {
    static func stream(seed: UInt64, name: String) -> SplitMix64 {
        var hash = FNV1a()
        hash.add(name)
        return SplitMix64(seed: seed ^ hash.value)
    }

    /// U(−bound, bound).
    static func uniform(_ t: Tensor, bound: Float, rng: inout SplitMix64) {
        for i in 0..<t.count { t[i] = rng.nextFloat(in: -bound...bound) }
    }

    static func gaussian(_ t: Tensor, std: Float, rng: inout SplitMix64) {
        for i in 0..<t.count { t[i] = std * rng.nextGaussian() }
    }

    /// Orthonormal rows (Gram–Schmidt on Gaussian rows; needs rows ≤ columns).
    static func orthogonalRows(_ t: Tensor, rng: inout SplitMix64) {
        let r = t.rows, c = t.columns
        gaussian(t, std: 1, rng: &rng)
        for i in 0..<r {
            let row = t.data + i * c
            for j in 0..<i {
                let other = t.data + j * c
                var dot: Float = 0
                for e in 0..<c { dot += row[e] * other[e] }
                for e in 0..<c { row[e] -= dot * other[e] }
            }
            var norm: Float = 0
            for e in 0..<c { norm += row[e] * row[e] }
            let inv = 1 / norm.squareRoot()
            for e in 0..<c { row[e] *= inv }
        }
    }

    /// A projection [r, d_in] by the configured method.
    static func projection(_ t: Tensor, method: AdapterConfig.Initialisation, rank: Int, rng: inout SplitMix64) {
        switch method {
        case .kaiming: uniform(t, bound: 1 / Float(t.columns).squareRoot(), rng: &rng)
        case .gaussian: gaussian(t, std: 1 / Float(rank), rng: &rng)
        case .orthogonal: orthogonalRows(t, rng: &rng)
        }
    }
}
