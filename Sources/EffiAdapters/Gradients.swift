import EffiCore

/// Gradient buffers for a set of parameters, owned by whoever runs the passes that fill them
/// (the training step; a probe that wants gradients of its own makes its own).
public final class Gradients {
    private var buffers: [ObjectIdentifier: Tensor] = [:]

    /// Zeroed buffers for every parameter given (shaped like its value).
    public init(_ parameters: [Parameter]) {
        for p in parameters { buffers[ObjectIdentifier(p)] = Tensor(shape: p.value.shape) }
    }

    /// The gradient of `p`.
    public subscript(_ p: Parameter) -> Tensor {
        guard let t = buffers[ObjectIdentifier(p)] else { preconditionFailure("no gradient buffer for \(p.name)") }
        return t
    }

    /// Where a backward adds the gradient of `p`: nil when `p` is frozen (it gets none).
    public func accumulator(_ p: Parameter) -> Tensor? { p.trainable ? self[p] : nil }

    public func zero() { for t in buffers.values { t.zero() } }
}
