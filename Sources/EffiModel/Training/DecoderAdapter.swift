import EffiCore

/// What the decoder's linear sites call during training and adapted inference. For the sites of
/// `layer` that read `input` (x [n, d_in], n = batch · seqLen rows), `forward` adds the adapters'
/// contributions into the sites' outputs, and `backward`, given ∂L/∂output for the same sites,
/// accumulates the adapters' parameter gradients and adds ∂L/∂x into `dx`. `keyMask` (n entries,
/// false on padding rows; nil: no padding) lets an adapter leave padding out of what it measures.
/// Sites without an adapter are absent from the dictionaries' use; the adapter ignores them.
/// Whatever a pass needs besides these arguments (training or not, where gradients go) is bound
/// into the adapter value the caller passes for that pass: the decoder holds no pass state.
public protocol DecoderAdapter: AnyObject {
    func forward(layer: Int, input: SiteInput, x: Tensor, outputs: [Site: Tensor], keyMask: [Bool]?)
    func backward(layer: Int, input: SiteInput, x: Tensor, outputGradients: [Site: Tensor], dx: Tensor, keyMask: [Bool]?)
    /// The lowest layer whose adapters need gradients: the backward pass stops there (nil: none).
    var lowestLayerNeedingGradients: Int? { get }
}
