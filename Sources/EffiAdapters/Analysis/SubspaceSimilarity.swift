import EffiCore
import EffiModel

/// Similarity of the subspaces that low-rank factors span (the question behind sharing A: do
/// per-layer A's span the same directions?). A subspace is given by an orthonormal basis, one
/// vector per row.
public enum SubspaceSimilarity {
    /// An orthonormal basis of the span of `vectors` (modified Gram–Schmidt in Float64, each
    /// vector orthogonalised twice); a vector whose remainder is below 1e-9 of its norm adds nothing.
    public static func orthonormalBasis(_ vectors: [[Double]]) -> [[Double]] {
        var basis: [[Double]] = []
        for v in vectors {
            let norm0 = norm(v)
            guard norm0 > 0 else { continue }
            var w = v
            for _ in 0..<2 {
                for u in basis {
                    let c = dot(w, u)
                    for i in w.indices { w[i] -= c * u[i] }
                }
            }
            let n = norm(w)
            if n > 1e-9 * norm0 { basis.append(w.map { $0 / n }) }
        }
        return basis
    }

    /// Grassmann similarity ‖U₁ U₂ᵀ‖²_F / min(k₁, k₂) of two subspaces given by orthonormal bases
    /// (k₁, k₂ rows): the mean squared cosine of their principal angles. 1 when one contains the
    /// other, 0 when they are orthogonal, k / d on average for random k-dimensional subspaces of R^d.
    public static func grassmann(_ u1: [[Double]], _ u2: [[Double]]) -> Double {
        guard !u1.isEmpty, !u2.isEmpty else { return 0 }
        var sum = 0.0
        for a in u1 { for b in u2 { let c = dot(a, b); sum += c * c } }
        return sum / Double(min(u1.count, u2.count))
    }

    /// The matrix of Grassmann similarities between every pair of subspaces.
    public static func matrix(_ bases: [[[Double]]]) -> [[Double]] {
        bases.map { u in bases.map { grassmann(u, $0) } }
    }

    /// The mean of the entries off the diagonal (0 for fewer than two subspaces).
    public static func meanOffDiagonal(_ m: [[Double]]) -> Double {
        let n = m.count
        guard n > 1 else { return 0 }
        var sum = 0.0
        for i in 0..<n { for j in 0..<n where i != j { sum += m[i][j] } }
        return sum / Double(n * (n - 1))
    }

    /// The rows of a [rows, columns] tensor (the row space of A [r, d_in]).
    public static func rows(_ t: Tensor) -> [[Double]] {
        (0..<t.rows).map { r in (0..<t.columns).map { Double(t.data[r * t.columns + $0]) } }
    }

    /// The columns of a [rows, columns] tensor (the column space of B [d_out, r]).
    public static func columns(_ t: Tensor) -> [[Double]] {
        (0..<t.columns).map { c in (0..<t.rows).map { Double(t.data[$0 * t.columns + c]) } }
    }

    static func dot(_ a: [Double], _ b: [Double]) -> Double {
        var s = 0.0
        for i in a.indices { s += a[i] * b[i] }
        return s
    }

    static func norm(_ a: [Double]) -> Double { dot(a, a).squareRoot() }
}

/// The similarity between layers of one quantity (A, A − A₀ or B) at one site.
public struct LayerSimilarity: Codable, Sendable, Equatable {
    public let site: String
    /// "A" (row spaces), "A - A0" (row spaces of the learned change), "B" or expert e's "B.e" (column spaces).
    public let quantity: String
    public let layers: [Int]
    public let values: [[Double]]
    public let meanOffDiagonal: Double
    /// k / d: the expected similarity of random k-dimensional subspaces of the same space.
    public let randomBaseline: Double
}

extension Adapters {
    /// For each site with a per-layer A (LoRA's) or B: the Grassmann similarity between every pair
    /// of adapted layers of the row spaces of A and of A − A₀ (`initial` holds A₀, the adapter as
    /// its seed initialises it) and of the column spaces of B. Shared A's (EffiLoRA) are one matrix,
    /// trivially similar to itself, and are left out.
    public func layerSimilarities(initial: Adapters?) -> [LayerSimilarity] {
        var result: [LayerSimilarity] = []
        let layers = adaptedLayers
        for site in Site.allCases {
            func similarity(_ quantity: String, _ spaces: [(layer: Int, vectors: [[Double]])]) {
                guard spaces.count > 1, let first = spaces.first?.vectors else { return }
                let bases = spaces.map { SubspaceSimilarity.orthonormalBasis($0.vectors) }
                let values = SubspaceSimilarity.matrix(bases)
                let k = bases.map(\.count).min() ?? 0, d = first.first?.count ?? 1
                result.append(LayerSimilarity(site: site.rawValue, quantity: quantity, layers: spaces.map(\.layer), values: values,
                                              meanOffDiagonal: SubspaceSimilarity.meanOffDiagonal(values), randomBaseline: Double(k) / Double(d)))
            }
            let a = layers.compactMap { l in parameter(.site(layer: l, site: site, role: .a)).map { (l, $0) } }
            similarity("A", a.map { ($0.0, SubspaceSimilarity.rows($0.1.value)) })
            if let initial {
                similarity("A - A0", a.compactMap { l, p in
                    initial.parameter(.site(layer: l, site: site, role: .a)).map { a0 in
                        (l, zip(SubspaceSimilarity.rows(p.value), SubspaceSimilarity.rows(a0.value)).map { zip($0, $1).map { $0 - $1 } })
                    }
                })
            }
            // One B per site, or expert e's ("B.e") of several.
            for (name, expert) in [("B", nil)] + (0..<config.experts).map({ ("B.\($0)", Optional($0)) }) {
                let b = layers.compactMap { l in parameter(.site(layer: l, site: site, role: .b(expert: expert))).map { (l, $0) } }
                similarity(name, b.map { ($0.0, SubspaceSimilarity.columns($0.1.value)) })
            }
        }
        return result
    }
}
