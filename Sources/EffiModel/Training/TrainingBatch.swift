/// A batch for the training pass: `batch` rows of `seqLen` token ids, next-token targets aligned
/// with them (targets[t] is the id expected after tokens[t], or `CrossEntropy.ignoreIndex`), and
/// a key mask that is false on padding.
public struct TrainingBatch: Sendable {
    public var tokens: [Int32]
    public var targets: [Int32]
    public var keyMask: [Bool]?
    public var batch: Int
    public var seqLen: Int

    public init(tokens: [Int32], targets: [Int32], keyMask: [Bool]?, batch: Int, seqLen: Int) {
        precondition(tokens.count == batch * seqLen && targets.count == tokens.count, "batch \(batch) × \(seqLen): \(tokens.count) tokens, \(targets.count) targets")
        self.tokens = tokens
        self.targets = targets
        self.keyMask = keyMask
        self.batch = batch
        self.seqLen = seqLen
    }

    /// Targets that count in the loss.
    public var targetCount: Int { targets.reduce(0) { $0 + ($1 >= 0 ? 1 : 0) } }
}
