import EffiCore
import EffiModel

/// y += s · B u with u = A x: LoRA (s = alpha / r, rsLoRA alpha / √r), LoRA-FA (A frozen) and
/// EffiLoRA with one B per site (u from the shared A).
///   backward:  dB += s dyᵀ u,  du += s dy B
final class LowRankBranch: AdapterBranch {
    let site: Site
    let projection: Parameter
    let b: Parameter
    let scale: Float
    var router: Parameter? { nil }

    init(site: Site, projection: Parameter, b: Parameter, scale: Float) {
        self.site = site; self.projection = projection; self.b = b; self.scale = scale
    }

    func forward(_ input: BranchInput, into y: Tensor) {
        MatMul.nt(input.u, b.value, into: y, alpha: scale, accumulate: true)
    }

    func backward(_ g: BranchBackward) -> Double {
        if let db = g.gradients?.accumulator(b) { MatMul.tn(g.dy, g.u, into: db, alpha: scale, accumulate: true) }
        guard g.measuresDot else {
            MatMul.nn(g.dy, b.value, into: g.du, alpha: scale, accumulate: true)
            return 0
        }
        // ⟨dy, s B u⟩ = ⟨s dy B, u⟩, from the product du needs anyway.
        let part = Tensor(shape: g.u.shape)
        MatMul.nn(g.dy, b.value, into: part, alpha: scale)
        for i in 0..<part.count { g.du[i] += part[i] }
        return dot(part, g.u)
    }

    func loraFactor(a: Tensor) throws -> (a: Tensor, b: Tensor, scale: Float) { (a, b.value, scale) }

    func outputRowParameters() -> [Parameter] { [b] }
}
