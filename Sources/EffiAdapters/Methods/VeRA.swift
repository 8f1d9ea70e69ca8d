import EffiCore
import EffiModel

/// VeRA: y = W x + b ∘ (B (d ∘ (A x))) with A [r, d_in] and B [d_out, r] frozen, random and shared
/// by every site of the same widths; d [r] and b [d_out] train (d starts at `veraInitialScale`,
/// b at zero).
enum VeRA: AdapterMethod {
    static func branch(for slot: SiteSlot, _ builder: AdapterBuilder) -> AdapterBranch {
        let r = slot.rank, din = slot.inputWidth, dout = slot.outputWidth, initialScale = slot.config.veraInitialScale
        let a = builder.parameter(.veraShared(.a, width: din), shape: [r, din], trainable: false) { t, rng in
            Initializer.uniform(t, bound: 1 / Float(din).squareRoot(), rng: &rng)
        }
        let b = builder.parameter(.veraShared(.b, width: dout), shape: [dout, r], trainable: false) { t, rng in
            Initializer.uniform(t, bound: 1 / Float(r).squareRoot(), rng: &rng)
        }
        let d = builder.parameter(slot.key(.veraD), shape: [r], trainable: true) { t, _ in
            t.data.update(repeating: initialScale, count: t.count)
        }
        return VeRABranch(site: slot.site, projection: a, sharedB: b, d: d,
                          b: builder.parameter(slot.key(.veraB), shape: [dout], trainable: true) { _, _ in })
    }
}

/// VeRA's update with p = B (d ∘ u):  y += b ∘ p.
///   backward:  db = Σ_t dy ∘ p,  dt = (dy ∘ b) B,  dd = Σ_t dt ∘ u,  du += dt ∘ d
final class VeRABranch: AdapterBranch {
    let site: Site
    let projection: Parameter
    let sharedB: Parameter, d: Parameter, b: Parameter
    var router: Parameter? { nil }

    init(site: Site, projection: Parameter, sharedB: Parameter, d: Parameter, b: Parameter) {
        self.site = site; self.projection = projection; self.sharedB = sharedB; self.d = d; self.b = b
    }

    /// p = B (d ∘ u): [n, d_out].
    private func product(_ u: Tensor) -> Tensor {
        let t = Tensor(shape: u.shape), p = Tensor(shape: [u.rows, sharedB.value.rows])
        scaleColumns(u, d.value, into: t)
        MatMul.nt(t, sharedB.value, into: p)
        return p
    }

    func forward(_ input: BranchInput, into y: Tensor) {
        addScaledColumns(product(input.u), b.value, into: y)
    }

    func backward(_ g: BranchBackward) -> Double {
        let n = g.u.rows, p = product(g.u)
        if let db = g.gradients?.accumulator(b) { addColumnSums(g.dy, times: p, into: db) }
        let dp = Tensor(shape: g.dy.shape)
        scaleColumns(g.dy, b.value, into: dp)
        let dt = Tensor(shape: [n, g.u.columns])
        MatMul.nn(dp, sharedB.value, into: dt)
        if let dd = g.gradients?.accumulator(d) { addColumnSums(dt, times: g.u, into: dd) }
        addScaledColumns(dt, d.value, into: g.du)
        return g.measuresDot ? dot(dp, p) : 0  // ⟨dy, b ∘ p⟩
    }

    /// b ∘ (B (d ∘ (A x))) = B' A' x with B' = diag(b) B, A' = diag(d) A, scale 1.
    func loraFactor(a: Tensor) throws -> (a: Tensor, b: Tensor, scale: Float) {
        let B = sharedB.value, a2 = Tensor(shape: a.shape), b2 = Tensor(shape: B.shape)
        for i in 0..<a.rows { for j in 0..<a.columns { a2[i * a.columns + j] = d.value[i] * a[i * a.columns + j] } }
        for i in 0..<B.rows { for j in 0..<B.columns { b2[i * B.columns + j] = b.value[i] * B[i * B.columns + j] } }
        return (a2, b2, 1)
    }

    func outputRowParameters() throws -> [Parameter] {
        throw AdapterError("a VeRA adapter on \(site.rawValue) cannot be moved between the GGUF and Hugging Face Q/K row orders (its B is shared with other sites); export it as PEFT LoRA instead")
    }
}

/// out[t, j] = a[t, j] · v[j].
func scaleColumns(_ a: Tensor, _ v: Tensor, into out: Tensor) {
    let c = a.columns
    for t in 0..<a.rows { for j in 0..<c { out[t * c + j] = a[t * c + j] * v[j] } }
}

/// y[t, j] += a[t, j] · v[j].
func addScaledColumns(_ a: Tensor, _ v: Tensor, into y: Tensor) {
    let c = a.columns
    for t in 0..<a.rows { for j in 0..<c { y[t * c + j] += a[t * c + j] * v[j] } }
}

/// g[j] += Σ_t a[t, j] · b[t, j].
func addColumnSums(_ a: Tensor, times b: Tensor, into g: Tensor) {
    let c = a.columns
    for t in 0..<a.rows { for j in 0..<c { g[j] += a[t * c + j] * b[t * c + j] } }
}
