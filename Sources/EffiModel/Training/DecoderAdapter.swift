import EffiCore

/// What the decoder's linear sites call during training and adapted inference. For the sites of
/// `layer` that read `input` (x [n, d_in], n = batch · seqLen rows), `forward` adds the adapters'
/// contributions into the sites' outputs, and `backward`, given ∂L/∂output for the same sites,
/// accumulates the adapters' parameter gradients and adds ∂L/∂x into `dx`. `rows` says which
/// rows are which sequence's and which are padding, so an adapter can leave padding out of what it
/// measures or averages.
/// Sites without an adapter are absent from the dictionaries' use; the adapter ignores them.
/// Whatever a pass needs besides these arguments (training or not, where gradients go) is bound
/// into the adapter value the caller passes for that pass: the decoder holds no pass state.
public protocol DecoderAdapter: AnyObject {
    func forward(layer: Int, input: SiteInput, x: Tensor, outputs: [Site: Tensor], rows: TokenRows)
    func backward(layer: Int, input: SiteInput, x: Tensor, outputGradients: [Site: Tensor], dx: Tensor, rows: TokenRows)
    /// The lowest layer whose adapters need gradients: the backward pass stops there (nil: none).
    var lowestLayerNeedingGradients: Int? { get }
    /// Whether a token's update depends on the other tokens of its sequence (Lily's router averages
    /// over them): a sequence fed in parts through a KV cache then gets other numbers than one pass
    /// over the whole of it, so scorers must run whole sequences.
    var mixesTokensOfASequence: Bool { get }
}

/// How the n rows of a site's input are laid out: `sequences` sequences of n / sequences tokens
/// each, one after another; `keyMask` (n entries) is false on padding rows (nil: no padding).
public struct TokenRows: Sendable {
    public let sequences: Int
    public let keyMask: [Bool]?

    public init(sequences: Int, keyMask: [Bool]?) {
        self.sequences = sequences
        self.keyMask = keyMask
    }
}
