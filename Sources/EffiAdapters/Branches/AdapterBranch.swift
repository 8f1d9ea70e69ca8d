import EffiCore
import EffiModel

/// One adapted linear site: its update Δy of the site's output, computed from u = A · dropout(x)
/// (the group computes u once for every site reading the same A), and the backward of that
/// update. A method builds one per site (see `AdapterMethod`).
public protocol AdapterBranch: AnyObject {
    var site: Site { get }
    /// The A whose u it reads.
    var projection: Parameter { get }
    /// The router whose per-token weights mix its experts, if any (its group computes them).
    var router: Parameter? { get }
    /// y += Δy, given u [n, r] and the router's weights [n, E] when it has one.
    func forward(u: Tensor, routerWeights: Tensor?, into y: Tensor)
    /// Adds its parameters' gradients (when `gradients` is given and they train), ∂L/∂u into `du`
    /// and ∂L/∂w into `dRouterWeights`; returns ⟨dy, Δy⟩ when `measuresDot`, else 0.
    func backward(_ b: BranchBackward) -> Double
    /// Its update as LoRA factors ΔW = scale · B A (`a`: the value of the A it reads), or an
    /// error saying why it is not one fixed low-rank matrix.
    func loraFactor(a: Tensor) throws -> (a: Tensor, b: Tensor, scale: Float)
    /// Rewrites its output rows (q/k rows between the GGUF and Hugging Face orders), or says why it cannot.
    func reorderOutputRows(_ reorder: (Tensor) -> Tensor) throws
}

/// The inputs of a branch's backward.
public struct BranchBackward {
    public let u: Tensor
    /// ∂L/∂y of the site.
    public let dy: Tensor
    /// ∂L/∂u of the A it reads: added into.
    public let du: Tensor
    public let routerWeights: Tensor?, dRouterWeights: Tensor?
    public let gradients: Gradients?
    public let measuresDot: Bool
}

/// Σ_i a[i] · b[i], accumulated in Double.
func dot(_ a: Tensor, _ b: Tensor) -> Double {
    var sum = 0.0
    for i in 0..<a.count { sum += Double(a[i]) * Double(b[i]) }
    return sum
}
