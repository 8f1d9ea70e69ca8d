import EffiCore
import EffiModel

/// Length-bucketed batches: each epoch shuffles the examples (seeded by seed and epoch), sorts
/// windows of 16 batches by length so a batch holds similar lengths (little padding), and
/// shuffles the batch order. Batches are a pure function of (seed, epoch), so a resumed run
/// sees exactly the batches the interrupted one would have.
public struct Batcher: Sendable {
    public let examples: [Example]
    public let batchSize: Int
    public let seed: UInt64

    public init(examples: [Example], batchSize: Int, seed: UInt64) {
        self.examples = examples
        self.batchSize = batchSize
        self.seed = seed
    }

    public var batchesPerEpoch: Int { (examples.count + batchSize - 1) / batchSize }

    /// The example indices of every batch of `epoch`.
    public func batches(epoch: Int) -> [[Int]] {
        var rng = SplitMix64(seed: seed &+ UInt64(epoch) &* 0x9E37_79B9_7F4A_7C15)
        var order = Array(examples.indices)
        order.shuffle(using: &rng)
        var batches: [[Int]] = []
        let window = batchSize * 16
        for start in stride(from: 0, to: order.count, by: window) {
            let sorted = order[start..<min(order.count, start + window)].sorted { examples[$0].tokens.count < examples[$1].tokens.count }
            for b in stride(from: 0, to: sorted.count, by: batchSize) { batches.append(Array(sorted[b..<min(sorted.count, b + batchSize)])) }
        }
        batches.shuffle(using: &rng)
        return batches
    }

    /// Real tokens / computed tokens (rows padded to their batch's longest) over the batches of `epoch`.
    public func paddingEfficiency(epoch: Int = 0) -> Double {
        let batches = batches(epoch: epoch)
        let real = batches.joined().reduce(0) { $0 + examples[$1].tokens.count }
        let computed = batches.reduce(0) { $0 + $1.count * $1.map { examples[$0].tokens.count }.max()! }
        return Double(real) / Double(max(computed, 1))
    }

    /// Rows padded to the longest example; targets[t] = tokens[t + 1] where that token is a
    /// target of its example, else the ignore index; padding is hidden from attention.
    public func makeBatch(_ indices: [Int]) -> TrainingBatch {
        let length = indices.map { examples[$0].tokens.count }.max()!
        var tokens: [Int32] = [], targets: [Int32] = [], mask: [Bool] = []
        for i in indices {
            let e = examples[i], isTarget = e.targetFlags
            for t in 0..<length {
                tokens.append(t < e.tokens.count ? e.tokens[t] : 0)
                mask.append(t < e.tokens.count)
                let next = t + 1
                targets.append(next < e.tokens.count && isTarget[next] ? e.tokens[next] : CrossEntropy.ignoreIndex)
            }
        }
        return TrainingBatch(tokens: tokens, targets: targets, keyMask: mask.allSatisfy { $0 } ? nil : mask,
                             batch: indices.count, seqLen: length)
    }
}
