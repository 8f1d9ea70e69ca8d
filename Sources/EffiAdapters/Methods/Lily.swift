import EffiCore
import Foundation
import EffiModel

/// PEFT 0.21's Lily: per module type, one A [r, d_in] per `strideA` adjacent adapted layers (kept
/// under the first layer's name), `numB` B experts [d_out, r] shared by every layer, and a router
/// R [numB, r] per site on u = A x.
enum Lily: AdapterMethod {
    static func branch(for slot: SiteSlot, _ builder: AdapterBuilder) -> AdapterBranch {
        let options = slot.config.lily ?? AdapterConfig.LilyOptions(), r = slot.rank
        let adapted = slot.config.adaptedLayers(of: slot.model), index = adapted.firstIndex(of: slot.layer)!
        let leader = adapted[index / options.strideA * options.strideA]
        let a = builder.projection(.site(layer: leader, site: slot.site, role: .a), inputWidth: slot.inputWidth, trainable: true)
        // PEFT's kaiming_uniform_(a = √5) on an nn.Linear(r, numB): U(−1/√r, 1/√r).
        let router = builder.parameter(slot.key(.router), shape: [options.numB, r], trainable: true) { t, rng in
            Initializer.uniform(t, bound: 1 / Float(r).squareRoot(), rng: &rng)
        }
        let heads = (0..<options.numB).map { e in
            builder.parameter(.sharedHead(slot.site, expert: e), shape: [slot.outputWidth, r], trainable: true) { _, _ in }
        }
        return LilyBranch(site: slot.site, projection: a, lilyRouter: router, heads: heads, scale: slot.config.scale)
    }
}

/// Lily's update. Per sequence q (its rows t; N_q its real, non-padding tokens), with u = A x:
///   w_t = softmax(R u_t),  p_q = (1/N_q) Σ_{t real} w_t,  C_q = Σ_e p_qe B_e,  Δy_t = s C_q u_t
/// (every row of q, padding too, as PEFT adds it). PEFT averages w over the whole batch, padding
/// included: the same for one unpadded sequence.
///   backward:  G_q = s Σ_t dy_tᵀ u_t,  dB_e += Σ_q p_qe G_q,  dp_qe = ⟨G_q, B_e⟩,
///              dz_t = w_t ∘ (dp_q / N_q − ⟨dp_q / N_q, w_t⟩) for real t,
///              dR += Σ_t dz_tᵀ u_t,   du_t += s dy_t C_q + dz_t R
final class LilyBranch: AdapterBranch {
    let site: Site
    let projection: Parameter
    let lilyRouter: Parameter
    let heads: [Parameter]
    let scale: Float
    /// Its router reads u, not x, and is averaged per sequence: the branch runs it itself.
    var router: Parameter? { nil }
    var mixesTokensOfASequence: Bool { true }

    init(site: Site, projection: Parameter, lilyRouter: Parameter, heads: [Parameter], scale: Float) {
        self.site = site; self.projection = projection; self.lilyRouter = lilyRouter; self.heads = heads; self.scale = scale
    }

    /// One sequence's rows, its router weights w [T, E] and expert mix p [E].
    private struct Sequence {
        let rows: Range<Int>, real: [Int], weights: Tensor, mix: [Float]
    }

    private func sequences(_ input: BranchInput) -> [Sequence] {
        let u = input.u, n = u.rows, count = max(input.rows.sequences, 1), length = n / count, e = heads.count
        precondition(length * count == n, "\(n) rows do not split into \(count) sequences")
        let w = Tensor(shape: [n, e])
        MatMul.nt(u, lilyRouter.value, into: w)
        return (0..<count).map { q in
            let rows = q * length..<(q + 1) * length
            for t in rows { softmaxRow(w, t) }
            let real = rows.filter { input.rows.keyMask?[$0] ?? true }
            var mix = [Float](repeating: 0, count: e)
            for t in real { for j in 0..<e { mix[j] += w[t * e + j] / Float(real.count) } }
            return Sequence(rows: rows, real: real, weights: w, mix: mix)
        }
    }

    /// C = Σ_e p_e B_e [d_out, r].
    private func combined(_ mix: [Float]) -> Tensor {
        let c = Tensor(shape: heads[0].value.shape)
        for (e, head) in heads.enumerated() { for i in 0..<c.count { c[i] += mix[e] * head.value[i] } }
        return c
    }

    func forward(_ input: BranchInput, into y: Tensor) {
        for q in sequences(input) {
            MatMul.nt(rowsOf(input.u, q.rows), combined(q.mix), into: rowsOf(y, q.rows), alpha: scale, accumulate: true)
        }
    }

    func backward(_ g: BranchBackward) -> Double {
        let e = heads.count
        var branchDot = 0.0
        for q in sequences(g.input) {
            let u = rowsOf(g.u, q.rows), dy = rowsOf(g.dy, q.rows), du = rowsOf(g.du, q.rows), c = combined(q.mix)
            let gq = Tensor(shape: c.shape)
            MatMul.tn(dy, u, into: gq, alpha: scale)
            MatMul.nn(dy, c, into: du, alpha: scale, accumulate: true)
            if g.measuresDot { branchDot += dot(gq, c) }  // ⟨dy, s C u⟩ = ⟨G, C⟩
            var dMix = [Float](repeating: 0, count: e)
            for (j, head) in heads.enumerated() {
                dMix[j] = Float(dot(gq, head.value)) / Float(max(q.real.count, 1))
                if let dh = g.gradients?.accumulator(head) { for i in 0..<dh.count { dh[i] += q.mix[j] * gq[i] } }
            }
            // Through the mean and the softmax: dz_t = w_t ∘ (dp/N − ⟨dp/N, w_t⟩), zero on padding.
            let dz = Tensor(shape: [q.rows.count, e])
            for t in q.real {
                let w = q.weights.data + t * e, out = dz.data + (t - q.rows.lowerBound) * e
                var inner: Float = 0
                for j in 0..<e { inner += dMix[j] * w[j] }
                for j in 0..<e { out[j] = w[j] * (dMix[j] - inner) }
            }
            if let dRouter = g.gradients?.accumulator(lilyRouter) { MatMul.tn(dz, u, into: dRouter, accumulate: true) }
            MatMul.nn(dz, lilyRouter.value, into: du, accumulate: true)
        }
        return branchDot
    }

    func loraFactor(a: Tensor) throws -> (a: Tensor, b: Tensor, scale: Float) {
        throw AdapterError("Lily mixes its \(heads.count) shared B experts by a router averaged over each sequence, so its update changes with the input: it is not a LoRA and cannot be fused. Use it with effilora's own generate, score and eval, or export it with --format peft")
    }

    func outputRowParameters() -> [Parameter] { heads }
}

/// Rows `range` of a [n, c] tensor, as a view.
func rowsOf(_ t: Tensor, _ range: Range<Int>) -> Tensor {
    t.view(offset: range.lowerBound * t.columns, shape: [range.count, t.columns])
}

/// Row t of w [n, E] ← softmax of itself.
func softmaxRow(_ w: Tensor, _ t: Int) {
    let e = w.columns, row = w.data + t * e
    var top = -Float.infinity
    for j in 0..<e { top = max(top, row[j]) }
    var sum: Float = 0
    for j in 0..<e { row[j] = expf(row[j] - top); sum += row[j] }
    for j in 0..<e { row[j] /= sum }
}
