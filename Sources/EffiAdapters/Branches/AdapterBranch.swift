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
    /// y += Δy. y already holds what the decoder put there — W x (+ b) for q, k, v, gate, up; the
    /// residual stream plus W x for o and down — so a branch that rescales W x (DoRA) computes it
    /// from the input and its site's weight.
    func forward(_ input: BranchInput, into y: Tensor)
    /// Adds its parameters' gradients (when `gradients` is given and they train), ∂L/∂u into `du`,
    /// ∂L/∂w into `dRouterWeights` and any direct ∂L/∂x (a branch reading x itself) into `dx`;
    /// returns ⟨dy, Δy⟩ when `measuresDot`, else 0.
    func backward(_ b: BranchBackward) -> Double
    /// Its update as LoRA factors ΔW = scale · B A (`a`: the value of the A it reads), or an
    /// error saying why it is not one fixed low-rank matrix.
    func loraFactor(a: Tensor) throws -> (a: Tensor, b: Tensor, scale: Float)
    /// Folds its update into its site's weight w [d_out, d_in] (Float32, in place), so the model
    /// computes without the branch what it computed with it; the default adds scale · B A.
    func fold(into w: Tensor, a: Tensor) throws
    /// Whether its update at a token depends on the sequence's other tokens (default: no).
    var mixesTokensOfASequence: Bool { get }
    /// The output rows it owns (each permuted once however many sites share it) for moving q/k
    /// rows between the GGUF and Hugging Face orders, or why they cannot be moved.
    func outputRowParameters() throws -> [Parameter]
}

extension AdapterBranch {
    var mixesTokensOfASequence: Bool { false }

    func fold(into w: Tensor, a: Tensor) throws {
        let f = try loraFactor(a: a)
        MatMul.nn(f.b, f.a, into: w, alpha: f.scale, accumulate: true)
    }
}

/// What a branch reads, forward and backward: the site's input after the adapters' dropout
/// x [n, d_in] (x itself without dropout), u = A x [n, r] of the A it reads, its router's weights
/// [n, E] when it has one, and how the rows split into sequences and padding.
public struct BranchInput {
    public let x: Tensor, u: Tensor
    public let routerWeights: Tensor?
    public let rows: TokenRows
}

/// The inputs of a branch's backward.
public struct BranchBackward {
    public let input: BranchInput
    /// Where ∂L/∂x (of the input after dropout) is added.
    public let dx: Tensor
    /// ∂L/∂y of the site.
    public let dy: Tensor
    /// ∂L/∂u of the A it reads: added into.
    public let du: Tensor
    public let dRouterWeights: Tensor?
    public let gradients: Gradients?
    public let measuresDot: Bool

    public var x: Tensor { input.x }
    public var u: Tensor { input.u }
    public var routerWeights: Tensor? { input.routerWeights }
}

/// Σ_i a[i] · b[i], accumulated in Double.
func dot(_ a: Tensor, _ b: Tensor) -> Double {
    var sum = 0.0
    for i in 0..<a.count { sum += Double(a[i]) * Double(b[i]) }
    return sum
}
