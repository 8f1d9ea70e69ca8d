import EffiCore
import Foundation

/// The router of a multi-B adapter: per token, weights over E experts from logits z = R x.
///   soft:  w = softmax(z)
///   topk:  w = softmax over the k largest logits, 0 for the others
/// Backward (both): ∂z_e = w_e (∂w_e − Σ_j w_j ∂w_j)  (zero for unselected experts, whose w_e = 0).
enum Router {
    static func forward(x: Tensor, router: Tensor, kind: AdapterConfig.RouterKind, topK: Int, weights w: Tensor) {
        let e = router.rows
        MatMul.nt(x, router, into: w)
        for t in 0..<w.rows {
            let row = w.data + t * e
            var keep = [Bool](repeating: true, count: e)
            if kind == .topk && topK < e {
                let order = (0..<e).sorted { row[$0] > row[$1] }
                for j in order[topK...] { keep[j] = false }
            }
            var m = -Float.infinity
            for j in 0..<e where keep[j] { m = max(m, row[j]) }
            var sum: Float = 0
            for j in 0..<e { row[j] = keep[j] ? expf(row[j] - m) : 0; sum += row[j] }
            for j in 0..<e { row[j] /= sum }
        }
    }

    /// dR += ∂zᵀ x (into `gradient`, when the router trains),  dx += ∂z R.
    static func backward(x: Tensor, router: Tensor, gradient: Tensor?, weights w: Tensor, dWeights dw: Tensor, dx: Tensor) {
        let e = w.columns, dz = Tensor(shape: w.shape)
        for t in 0..<w.rows {
            var dot: Float = 0
            for j in 0..<e { dot += w[t * e + j] * dw[t * e + j] }
            for j in 0..<e { dz[t * e + j] = w[t * e + j] * (dw[t * e + j] - dot) }
        }
        if let gradient { MatMul.tn(dz, x, into: gradient, accumulate: true) }
        MatMul.nn(dz, router, into: dx, accumulate: true)
    }

    /// For expert e of a site:  du += w_e ∘ dz  and  ∂w[:, e] += ⟨dz_t, u_t⟩.
    static func accumulateExpertGradient(dz: Tensor, u: Tensor, weights w: Tensor, expert: Int, du: Tensor, dWeights dw: Tensor) {
        let r = u.columns, e = w.columns
        for t in 0..<u.rows {
            let f = w[t * e + expert]
            var dot: Float = 0
            for j in 0..<r {
                du[t * r + j] += f * dz[t * r + j]
                dot += dz[t * r + j] * u[t * r + j]
            }
            dw[t * e + expert] += dot
        }
    }

    /// E · Σ_e P_e² with P_e = (1/n) Σ_t w_te over the n real (not padding) tokens: 1 when the
    /// experts share the tokens evenly, E when one expert takes them all. The load-balancing loss
    /// is c times this.
    static func balanceLoss(_ w: Tensor, keyMask: [Bool]?) -> Float {
        Float(w.columns) * expertShares(w, keyMask: keyMask).reduce(0) { $0 + $1 * $1 }
    }

    /// ∂(c · E · Σ_e P_e²)/∂w_te = 2 c E P_e / n on real tokens (0 on padding), added into dw.
    static func addBalanceGradient(weights w: Tensor, keyMask: [Bool]?, coefficient c: Float, dWeights dw: Tensor) {
        let e = w.columns, share = expertShares(w, keyMask: keyMask), n = Float(max(realTokens(w.rows, keyMask), 1))
        for t in 0..<w.rows where keyMask?[t] ?? true { for j in 0..<e { dw[t * e + j] += 2 * c * Float(e) * share[j] / n } }
    }

    static func expertShares(_ w: Tensor, keyMask: [Bool]?) -> [Float] {
        let e = w.columns, n = Float(max(realTokens(w.rows, keyMask), 1))
        var share = [Float](repeating: 0, count: e)
        for t in 0..<w.rows where keyMask?[t] ?? true { for j in 0..<e { share[j] += w[t * e + j] / n } }
        return share
    }

    static func realTokens(_ rows: Int, _ keyMask: [Bool]?) -> Int { keyMask.map { $0.filter { $0 }.count } ?? rows }
}

/// Router health over the tokens seen since the last reset: the mean weight of each expert, and
/// the fraction of tokens whose top weight exceeds 0.95 (near one-hot routing: collapse when the
/// same expert wins everywhere).
public struct RouterStatistics: Sendable, Codable, Equatable {
    public var tokens = 0
    public var weightSums: [Double] = []
    public var confidentTokens = 0

    public var meanShare: [Double] { weightSums.map { $0 / Double(max(tokens, 1)) } }
    public var confidentFraction: Double { Double(confidentTokens) / Double(max(tokens, 1)) }

    public init() {}

    /// The statistics of one forward's weights w [n, E] over its real tokens (padding left out).
    init(_ w: Tensor, keyMask: [Bool]?) {
        let e = w.columns
        weightSums = [Double](repeating: 0, count: e)
        for t in 0..<w.rows where keyMask?[t] ?? true {
            var top: Float = 0
            for j in 0..<e { weightSums[j] += Double(w[t * e + j]); top = max(top, w[t * e + j]) }
            if top > 0.95 { confidentTokens += 1 }
            tokens += 1
        }
    }

    /// Adds another count (of the same router).
    public mutating func merge(_ other: RouterStatistics) {
        if weightSums.isEmpty { weightSums = [Double](repeating: 0, count: other.weightSums.count) }
        for j in other.weightSums.indices { weightSums[j] += other.weightSums[j] }
        tokens += other.tokens
        confidentTokens += other.confidentTokens
    }
}
