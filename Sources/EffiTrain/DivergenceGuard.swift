import Foundation

/// Stops a run whose loss has left training instead of letting it finish and write a useless
/// adapter. Two signs, both far from what a healthy run shows:
/// - saturation: the loss sits at ln(vocabulary) (a uniform prediction) with a zero gradient
///   norm for `saturatedSteps` steps in a row, so AdamW can no longer move anything;
/// - divergence: after `warmup` steps, the smoothed loss ℓ̄ₜ = 0.9 ℓ̄ₜ₋₁ + 0.1 ℓₜ rises above
///   `factor` × its lowest value so far and at least `margin` nats above it (single steps vary
///   too much between batches to judge; the margin keeps a run that memorises its data, where
///   the lowest is near 0, from tripping on one harder batch).
/// NaN and infinity are caught earlier, by the training step itself.
public struct DivergenceGuard: Sendable {
    /// 0 turns the divergence test off (saturation is always tested).
    public var factor: Double
    public let vocabulary: Int
    public static let warmup = 20, saturatedSteps = 3
    public static let margin = 1.0

    private var smoothed: Double?
    private var lowest = Double.infinity
    private var steps = 0, saturated = 0

    public init(factor: Double, vocabulary: Int) {
        self.factor = factor
        self.vocabulary = vocabulary
    }

    public mutating func check(step: Int, loss: Double, gradientNorm: Double, learningRate: Float) throws {
        let uniform = log(Double(vocabulary))
        saturated = gradientNorm == 0 && loss >= 0.98 * uniform ? saturated + 1 : 0
        if saturated >= Self.saturatedSteps {
            throw TrainingError(description: String(format: "step %d: the model has saturated: loss %.4f ≈ ln(%d) = %.4f with a zero gradient for %d steps; lower the learning rate (now %g)",
                                                    step, loss, vocabulary, uniform, saturated, learningRate))
        }
        steps += 1
        let s = smoothed.map { 0.9 * $0 + 0.1 * loss } ?? loss
        smoothed = s
        guard steps > Self.warmup else { return }
        lowest = min(lowest, s)
        if factor > 0, s > factor * lowest, s > lowest + Self.margin {
            throw TrainingError(description: String(format: "step %d: the loss has diverged: smoothed loss %.4f is over %g× its lowest, %.4f; lower the learning rate (now %g)",
                                                    step, s, factor, lowest, learningRate))
        }
    }
}
