import EffiCore
import EffiModel

/// y += s · Σ_e w_e ∘ (B_e u): E B experts mixed per token by router weights w [n, E] (w_e
/// scales rows). EffiLoRA's multi-B (the router shared by the layer's sites reading one input)
/// and HydraLoRA (a router per site).
///   backward, with z_e = w_e ∘ u:  dB_e += s dyᵀ z_e,  dz_e = s dy B_e,  du += w_e ∘ dz_e,
///   ∂w[:, e] += ⟨dz_e, u⟩ per token
final class RoutedBranch: AdapterBranch {
    let site: Site
    let projection: Parameter
    let router: Parameter?
    let heads: [Parameter]
    let scale: Float

    init(site: Site, projection: Parameter, router: Parameter, heads: [Parameter], scale: Float) {
        self.site = site; self.projection = projection; self.router = router; self.heads = heads; self.scale = scale
    }

    func forward(_ input: BranchInput, into y: Tensor) {
        let u = input.u, w = input.routerWeights!, z = Tensor(shape: u.shape)
        for (e, head) in heads.enumerated() {
            scaleRows(u, by: w, column: e, into: z)
            MatMul.nt(z, head.value, into: y, alpha: scale, accumulate: true)
        }
    }

    func backward(_ g: BranchBackward) -> Double {
        let w = g.routerWeights!, z = Tensor(shape: g.u.shape), dz = Tensor(shape: g.u.shape)
        var branchDot = 0.0
        for (e, head) in heads.enumerated() {
            scaleRows(g.u, by: w, column: e, into: z)
            if let dh = g.gradients?.accumulator(head) { MatMul.tn(g.dy, z, into: dh, alpha: scale, accumulate: true) }
            MatMul.nn(g.dy, head.value, into: dz, alpha: scale)
            if g.measuresDot { branchDot += dot(dz, z) }  // ⟨dy, s B_e z_e⟩
            Router.accumulateExpertGradient(dz: dz, u: g.u, weights: w, expert: e, du: g.du, dWeights: g.dRouterWeights!)
        }
        return branchDot
    }

    func loraFactor(a: Tensor) throws -> (a: Tensor, b: Tensor, scale: Float) {
        throw AdapterError("\(heads.count) B experts mixed by an input-dependent router change the update token by token: it is not a LoRA and cannot be fused. Use it with effilora's own generate, score and eval")
    }

    func outputRowParameters() -> [Parameter] { heads }
}

/// z[t, :] = w[t, column] · u[t, :].
func scaleRows(_ u: Tensor, by w: Tensor, column: Int, into z: Tensor) {
    let r = u.columns, e = w.columns
    for t in 0..<u.rows {
        let f = w[t * e + column]
        for j in 0..<r { z[t * r + j] = f * u[t * r + j] }
    }
}
