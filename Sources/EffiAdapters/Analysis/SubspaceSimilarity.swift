import EffiCore
import EffiModel

/// Similarity of the subspaces that low-rank factors span (the question behind sharing A: do
/// per-layer A's span the same directions?). A subspace is given by an orthonormal basis, one
/// vector per row.
public enum SubspaceSimilarity {
    /// An orthonormal basis of the span of `vectors` (modified Gram–Schmidt in Float64, each
    /// vector orthogonalised twice); a vector whose remainder is below 1e-6 of its norm (dependent
    /// within Float32 precision) adds nothing.
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
            if n > 1e-6 * norm0 { basis.append(w.map { $0 / n }) }
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

    /// ‖M‖_F of a matrix given by its rows.
    public static func frobenius(_ rows: [[Double]]) -> Double { rows.reduce(0) { $0 + dot($1, $1) }.squareRoot() }

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
    /// "A" (row spaces), "A0" (A as initialised: before training), "A - A0" (row spaces of the
    /// learned change), "B" or expert e's "B.e" (column spaces).
    public let quantity: String
    /// The layers compared (a layer whose factor spans nothing, e.g. a B still at zero, is left out).
    public let layers: [Int]
    public let values: [[Double]]
    public let meanOffDiagonal: Double
    /// Over pairs of neighbouring layers (|i − j| = 1) and of distant ones (|i − j| > 5); nil when there are none.
    public let meanAdjacent: Double?
    public let meanDistant: Double?
    /// The expected similarity of random subspaces of the same dimensions: the mean over pairs of
    /// max(k_i, k_j) / d (with the score divided by min(k_i, k_j)); r / d when every layer has rank r.
    public let randomBaseline: Double
    /// For "A - A0": the mean over layers of ‖A − A₀‖_F / ‖A₀‖_F, how far A moved from its start.
    public var relativeChange: Double?

    init(site: String, quantity: String, layers: [Int], bases: [[[Double]]], dimension d: Int) {
        self.site = site
        self.quantity = quantity
        self.layers = layers
        values = SubspaceSimilarity.matrix(bases)
        meanOffDiagonal = SubspaceSimilarity.meanOffDiagonal(values)
        func mean(where keep: (Int, Int) -> Bool, _ value: (Int, Int) -> Double) -> Double? {
            var sum = 0.0, n = 0
            for i in layers.indices { for j in layers.indices where i != j && keep(abs(layers[i] - layers[j]), j) { sum += value(i, j); n += 1 } }
            return n > 0 ? sum / Double(n) : nil
        }
        let matrix = values
        meanAdjacent = mean(where: { distance, _ in distance == 1 }) { matrix[$0][$1] }
        meanDistant = mean(where: { distance, _ in distance > 5 }) { matrix[$0][$1] }
        randomBaseline = mean(where: { _, _ in true }) { Double(max(bases[$0].count, bases[$1].count)) / Double(d) } ?? 0
    }
}

extension Adapters {
    /// For each site with a per-layer A (LoRA's) or B: the Grassmann similarity between every pair
    /// of adapted layers (the Reducer's dropped layers left out) of the row spaces of A and of
    /// A − A₀ (`initial` holds A₀, the adapter as its seed initialises it; left out where A does
    /// not train, as in LoRA-FA) and of the column spaces of B. Shared A's (EffiLoRA) are one
    /// matrix, trivially similar to itself, and are left out.
    public func layerSimilarities(initial: Adapters?) -> [LayerSimilarity] {
        var result: [LayerSimilarity] = []
        let layers = adaptedLayers.filter { layerModes[$0] != .dropped }
        for site in Site.allCases {
            func similarity(_ quantity: String, _ spaces: [(layer: Int, vectors: [[Double]])]) {
                let kept = spaces.map { ($0.layer, SubspaceSimilarity.orthonormalBasis($0.vectors)) }.filter { !$0.1.isEmpty }
                guard kept.count > 1, let d = spaces.first?.vectors.first?.count else { return }
                result.append(LayerSimilarity(site: site.rawValue, quantity: quantity, layers: kept.map(\.0), bases: kept.map(\.1), dimension: d))
            }
            let a = layers.compactMap { l in parameter(.site(layer: l, site: site, role: .a)).map { (l, $0) } }
            similarity("A", a.map { ($0.0, SubspaceSimilarity.rows($0.1.value)) })
            if let initial {
                let starts = a.compactMap { l, _ in initial.parameter(.site(layer: l, site: site, role: .a)).map { (l, SubspaceSimilarity.rows($0.value)) } }
                similarity("A0", starts)
                if a.contains(where: { $0.1.trainable }) {
                    let changes = zip(a, starts).map { trained, start in
                        (trained.0, zip(SubspaceSimilarity.rows(trained.1.value), start.1).map { zip($0, $1).map { $0 - $1 } })
                    }
                    similarity("A - A0", changes)
                    let ratios = zip(changes, starts).map { change, start in
                        SubspaceSimilarity.frobenius(change.1) / max(SubspaceSimilarity.frobenius(start.1), .leastNonzeroMagnitude)
                    }
                    if let last = result.indices.last, result[last].site == site.rawValue, result[last].quantity == "A - A0" {
                        result[last].relativeChange = ratios.reduce(0, +) / Double(ratios.count)
                    }
                }
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
