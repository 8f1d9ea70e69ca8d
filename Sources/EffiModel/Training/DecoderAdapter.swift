import EffiCore

/// What the decoder's linear sites call during training and adapted inference. For the sites of
/// `layer` that read `input` (x [n, d_in]), `forward` adds the adapters' contributions into the
/// sites' outputs, and `backward`, given ∂L/∂output for the same sites, accumulates the adapters'
/// parameter gradients and adds ∂L/∂x into `dx`. Sites without an adapter are absent from the
/// dictionaries' use; the adapter ignores them.
public protocol DecoderAdapter: AnyObject {
    func forward(layer: Int, input: SiteInput, x: Tensor, outputs: [Site: Tensor])
    func backward(layer: Int, input: SiteInput, x: Tensor, outputGradients: [Site: Tensor], dx: Tensor)
    /// The lowest layer whose adapters need gradients: the backward pass stops there (nil: none).
    var lowestLayerNeedingGradients: Int? { get }
}
