/// Follows the validation losses of a run: the lowest one and its step (the best adapter), and
/// early stopping's count of validations that did not improve on the reference by more than
/// `minDelta` (Keras' rule: improvement means loss < reference − minDelta, which then becomes
/// the reference). The first validation after training starts both; the step-0 loss of the
/// untrained model counts for neither. Saved in checkpoints, so a resumed run stops where the
/// uninterrupted one would.
public struct ValidationTracker: Codable, Sendable, Equatable {
    public private(set) var bestLoss: Double?
    public private(set) var bestStep: Int?
    public private(set) var reference: Double?
    public private(set) var validationsWithoutImprovement = 0

    public init() {}

    /// Records a validation; `isBest` when it is the lowest loss so far (strictly).
    public mutating func record(loss: Double, step: Int, minDelta: Double) -> (isBest: Bool, improved: Bool) {
        let isBest = bestLoss.map { loss < $0 } ?? true
        if isBest { bestLoss = loss; bestStep = step }
        let improved = reference.map { loss < $0 - minDelta } ?? true
        if improved { reference = loss; validationsWithoutImprovement = 0 } else { validationsWithoutImprovement += 1 }
        return (isBest, improved)
    }

    /// Early stopping is due: `patience` (> 0) validations in a row without improvement.
    public func shouldStop(patience: Int) -> Bool { patience > 0 && validationsWithoutImprovement >= patience }
}
