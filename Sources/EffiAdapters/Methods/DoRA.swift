import EffiCore
import EffiModel

/// DoRA as PEFT 0.21 computes it (`use_dora`): the weight becomes m ∘ V / ‖V‖_row with
/// V = W + s B A, a trainable magnitude m [d_out] that starts at ‖W‖_row (B starts at zero), and
/// the norm treated as a constant — recomputed from the current B and A every pass but detached
/// from the gradient (DoRA §4.3).
enum DoRA: AdapterMethod {
    static func branch(for slot: SiteSlot, _ builder: AdapterBuilder) -> AdapterBranch {
        let a = builder.projection(slot.key(.a), inputWidth: slot.inputWidth, trainable: true)
        let b = builder.zeroB(slot.key(.b(expert: nil)), outputWidth: slot.outputWidth)
        let weight = slot.baseWeight
        // From the weight as stored (dequantized or widened); without it (counting, exporting) the
        // magnitude is only a placeholder until a file's values are read into it.
        let magnitude = builder.parameter(slot.key(.magnitude), shape: [slot.outputWidth], trainable: true) { m, _ in
            if let weight { DoRABranch.rowNorms(weight, plus: nil, into: m) } else { m.data.update(repeating: 1, count: m.count) }
        }
        return DoRABranch(site: slot.site, layer: slot.layer, projection: a, b: b, magnitude: magnitude, scale: slot.config.scale, weight: weight)
    }
}

/// DoRA's update, added to y = W x (x after dropout, as PEFT applies it to both terms), with the
/// per-row gain g = m / n, n = ‖W + s B A‖_row:
///   Δy = (g − 1) ∘ W x + g ∘ s B u                       (u = A x)
///   backward (n constant):  dm = Σ_t dy ∘ (W x + s B u) / n,   dB += s (g ∘ dy)ᵀ u,
///                           du += s (g ∘ dy) B,   dx += Wᵀ ((g − 1) ∘ dy)
final class DoRABranch: AdapterBranch {
    let site: Site, layer: Int
    let projection: Parameter
    let b: Parameter, magnitude: Parameter
    let scale: Float
    /// The site's frozen weight; nil when the adapters were built from the model's shape alone.
    let weight: FrozenLinear?
    var router: Parameter? { nil }

    init(site: Site, layer: Int, projection: Parameter, b: Parameter, magnitude: Parameter, scale: Float, weight: FrozenLinear?) {
        self.site = site; self.layer = layer; self.projection = projection; self.b = b; self.magnitude = magnitude
        self.scale = scale; self.weight = weight
    }

    private var base: FrozenLinear {
        guard let weight else {
            preconditionFailure("DoRA at layer \(layer) \(site.rawValue) runs on its base weight: build the adapters with the model's weights")
        }
        return weight
    }

    /// out[i] = ‖W_i + s (B A)_i‖ (without `plus`: ‖W_i‖), accumulated in Double.
    static func rowNorms(_ w: FrozenLinear, plus lowRank: (b: Tensor, a: Tensor, scale: Float)?, into out: Tensor) {
        let c = w.columns, update = lowRank.map { f -> Tensor in
            let t = Tensor(shape: [w.rows, c])
            MatMul.nn(f.b, f.a, into: t, alpha: f.scale)
            return t
        }
        Parallel.forRanges(w.rows, minimumChunk: 16) { range in
            let row = UnsafeMutablePointer<Float>.allocate(capacity: c)
            defer { row.deallocate() }
            for i in range {
                w.row(i, into: row)
                if let update { for j in 0..<c { row[j] += update[i * c + j] } }
                var sum = 0.0
                for j in 0..<c { sum += Double(row[j]) * Double(row[j]) }
                out[i] = Float(sum.squareRoot())
            }
        }
    }

    /// n = ‖W + s B A‖_row, kept with a hash of the B and A it came from: recomputed when they
    /// change (an optimiser step, a file read), not at every forward.
    private var normCache: (key: UInt64, norm: Tensor)?

    /// n for the current B and A, and g = m / n.
    private func gains() -> (gain: Tensor, norm: Tensor) {
        var hash = FNV1a()
        for t in [b.value, projection.value] { for i in 0..<t.count { hash.add(t[i].bitPattern) } }
        let norm: Tensor
        if let cached = normCache, cached.key == hash.value {
            norm = cached.norm
        } else {
            norm = Tensor(shape: [base.rows])
            Self.rowNorms(base, plus: (b.value, projection.value, scale), into: norm)
            normCache = (hash.value, norm)
        }
        let gain = Tensor(shape: [base.rows])
        for i in 0..<gain.count { gain[i] = magnitude.value[i] / norm[i] }
        return (gain, norm)
    }

    /// W x and B u, each [n, d_out].
    private func terms(_ input: BranchInput) -> (wx: Tensor, bu: Tensor) {
        let wx = Tensor(shape: [input.x.rows, base.rows]), bu = Tensor(shape: wx.shape)
        base.forward(input.x, into: wx)
        MatMul.nt(input.u, b.value, into: bu)
        return (wx, bu)
    }

    func forward(_ input: BranchInput, into y: Tensor) {
        let g = gains().gain, (wx, bu) = terms(input), d = g.count
        for t in 0..<y.rows {
            for i in 0..<d { y[t * d + i] += (g[i] - 1) * wx[t * d + i] + g[i] * scale * bu[t * d + i] }
        }
    }

    func backward(_ g: BranchBackward) -> Double {
        let (gain, norm) = gains(), (wx, bu) = terms(g.input), n = g.dy.rows, d = gain.count
        let dyGain = Tensor(shape: g.dy.shape), dyRest = Tensor(shape: g.dy.shape)
        var branchDot = 0.0
        let dm = g.gradients?.accumulator(magnitude)
        for t in 0..<n {
            for i in 0..<d {
                let e = t * d + i, dy = g.dy[e], full = wx[e] + scale * bu[e]
                dyGain[e] = gain[i] * dy
                dyRest[e] = (gain[i] - 1) * dy
                if let dm { dm[i] += dy * full / norm[i] }
                if g.measuresDot { branchDot += Double(dy) * Double((gain[i] - 1) * wx[e] + gain[i] * scale * bu[e]) }
            }
        }
        if let db = g.gradients?.accumulator(b) { MatMul.tn(dyGain, g.u, into: db, alpha: scale, accumulate: true) }
        MatMul.nn(dyGain, b.value, into: g.du, alpha: scale, accumulate: true)
        base.inputGradient(dyRest, into: g.dx, accumulate: true)
        return branchDot
    }

    func loraFactor(a: Tensor) throws -> (a: Tensor, b: Tensor, scale: Float) { (a, b.value, scale) }

    /// W ← m ∘ V / ‖V‖_row with V = W + s B A (PEFT's merge: the norm of the unmerged W plus the update).
    func fold(into w: Tensor, a: Tensor) throws {
        MatMul.nn(b.value, a, into: w, alpha: scale, accumulate: true)  // w = V = W + s B A
        let norms = Tensor(shape: [w.rows])
        Self.rowNorms(FrozenLinear(w), plus: nil, into: norms)
        let c = w.columns
        for i in 0..<w.rows {
            let gain = magnitude.value[i] / norms[i]
            for j in 0..<c { w[i * c + j] *= gain }
        }
        normCache = nil  // w may be the very weight the norms were taken from
    }

    func outputRowParameters() -> [Parameter] { [b, magnitude] }
}
