/// The change in accuracy from one model to another on the same items, with the standard error
/// of the paired difference: per item d_i = after_i − before_i ∈ {−1, 0, 1}; on one task the gain
/// is mean(d) with standard error s_d / √n (s_d the sample standard deviation of d); over tasks
/// the gain is the mean of the tasks' gains (as the accuracy average is the tasks' mean) with
/// standard error √(Σ_t s_t² / n_t) / T. Pairing removes the items both get right or both wrong,
/// so the error is far smaller than that of two independent accuracies.
public struct PairedDifference: Codable, Sendable, Equatable {
    public var gain: Double
    public var stderr: Double
    /// Items right after and wrong before, and the reverse.
    public var gained: Int
    public var lost: Int

    /// One task; nil when the two lists are not of the same items (lengths differ).
    public init?(before: [Bool], after: [Bool]) {
        guard before.count == after.count, !before.isEmpty else { return nil }
        let d = zip(before, after).map { Double(($1 ? 1 : 0) - ($0 ? 1 : 0)) }
        let n = Double(d.count), mean = d.reduce(0, +) / n
        let variance = d.count > 1 ? d.reduce(0) { $0 + ($1 - mean) * ($1 - mean) } / (n - 1) : 0
        gain = mean
        stderr = (variance / n).squareRoot()
        gained = zip(before, after).filter { !$0 && $1 }.count
        lost = zip(before, after).filter { $0 && !$1 }.count
    }

    /// The average over tasks of their gains.
    public init?(tasks: [PairedDifference]) {
        guard !tasks.isEmpty else { return nil }
        let t = Double(tasks.count)
        gain = tasks.reduce(0) { $0 + $1.gain } / t
        stderr = tasks.reduce(0) { $0 + $1.stderr * $1.stderr }.squareRoot() / t
        gained = tasks.reduce(0) { $0 + $1.gained }
        lost = tasks.reduce(0) { $0 + $1.lost }
    }

    /// The gain over its standard error (∞ for a gain with no spread; 0 for none).
    public var zScore: Double { stderr > 0 ? gain / stderr : (gain == 0 ? 0 : gain.sign == .minus ? -.infinity : .infinity) }
}
