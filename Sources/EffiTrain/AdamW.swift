import EffiAdapters
import EffiCore
import Foundation

/// AdamW as PyTorch implements it, on the trainable parameters:
///   p ← p − lr·wd·p;  m ← β1 m + (1−β1) g;  v ← β2 v + (1−β2) g²;
///   p ← p − lr · (m / (1−β1ᵗ)) / (√(v / (1−β2ᵗ)) + ε)
public final class AdamW {
    public struct Options: Codable, Sendable, Equatable {
        public var beta1: Float = 0.9
        public var beta2: Float = 0.999
        public var epsilon: Float = 1e-8
        public var weightDecay: Float = 0
        public init() {}
    }

    public let options: Options
    /// First and second moments by parameter (frozen parameters keep theirs until they train again).
    public private(set) var moments: [ParameterKey: (m: Tensor, v: Tensor)] = [:]
    public private(set) var steps = 0

    public init(options: Options) { self.options = options }

    public func step(_ parameters: [Parameter], gradients: Gradients, learningRate lr: Float) {
        steps += 1
        let o = options
        let c1 = 1 - powf(o.beta1, Float(steps)), c2 = 1 - powf(o.beta2, Float(steps))
        for p in parameters where p.trainable {
            if moments[p.key] == nil { moments[p.key] = (Tensor(shape: p.value.shape), Tensor(shape: p.value.shape)) }
            let (m, v) = moments[p.key]!
            let w = p.value.data, g = gradients[p].data
            for i in 0..<p.value.count {
                w[i] -= lr * o.weightDecay * w[i]
                m[i] = o.beta1 * m[i] + (1 - o.beta1) * g[i]
                v[i] = o.beta2 * v[i] + (1 - o.beta2) * g[i] * g[i]
                w[i] -= lr * (m[i] / c1) / ((v[i] / c2).squareRoot() + o.epsilon)
            }
        }
    }

    /// Restores a saved state (moments by parameter and the step count).
    public func restore(moments: [ParameterKey: (m: Tensor, v: Tensor)], steps: Int) {
        self.moments = moments
        self.steps = steps
    }
}

/// The learning rate at a step: linear warmup from 0, then constant, linear decay to 0, or
/// cosine decay to 0 over the remaining steps.
public struct LearningRateSchedule: Codable, Sendable, Equatable {
    public enum Kind: String, Codable, Sendable, CaseIterable { case constant, linear, cosine }
    public var kind: Kind = .cosine
    public var peak: Float = 1e-4
    public var warmup = 0
    public var total = 1

    public init(kind: Kind, peak: Float, warmup: Int, total: Int) {
        self.kind = kind; self.peak = peak; self.warmup = warmup; self.total = total
    }

    /// The rate of step `step` (counting from 0): warmup reaches the peak at its last step, the
    /// decay starts at the peak and ends just above 0 at step total − 1.
    public func rate(at step: Int) -> Float {
        if step < warmup { return peak * Float(step + 1) / Float(warmup) }
        let progress = Float(step - warmup) / Float(max(total - warmup, 1))
        switch kind {
        case .constant: return peak
        case .linear: return peak * max(0, 1 - progress)
        case .cosine: return peak * 0.5 * (1 + cosf(Float.pi * min(progress, 1)))
        }
    }
}
