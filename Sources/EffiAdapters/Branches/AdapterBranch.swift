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
    /// y += Δy, given the site's input x [n, d_in] (before dropout), u [n, r] and the router's
    /// weights [n, E] when it has one. y already holds what the decoder put there — W x (+ b) for
    /// q, k, v, gate, up; the residual stream plus W x for o and down — so a branch that rescales
    /// W x (DoRA) computes it from x and its site's weight.
    func forward(x: Tensor, u: Tensor, routerWeights: Tensor?, into y: Tensor)
    /// Adds its parameters' gradients (when `gradients` is given and they train), ∂L/∂u into `du`,
    /// ∂L/∂w into `dRouterWeights` and any direct ∂L/∂x (a branch reading x itself) into `dx`;
    /// returns ⟨dy, Δy⟩ when `measuresDot`, else 0.
    func backward(_ b: BranchBackward) -> Double
    /// Its update as LoRA factors ΔW = scale · B A (`a`: the value of the A it reads), or an
    /// error saying why it is not one fixed low-rank matrix.
    func loraFactor(a: Tensor) throws -> (a: Tensor, b: Tensor, scale: Float)
    /// Rewrites its output rows (q/k rows between the GGUF and Hugging Face orders), or says why it cannot.
    func reorderOutputRows(_ reorder: (Tensor) -> Tensor) throws
}

/// The inputs of a branch's backward.
public struct BranchBackward {
    /// The site's input (before dropout) and where ∂L/∂x is added.
    public let x: Tensor, dx: Tensor
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
