import EffiCore
import EffiFormats

/// k-shot prompts as lm-evaluation-harness builds them: k solved examples drawn from a pool (the
/// task's train split; never the items evaluated), each its right context + continuation, joined and
/// followed by a blank line ("\n\n") before the item's own context. The draws are seeded, different
/// for each item, and the same from run to run.
public struct FewShotSampler {
    public let pool: [MultipleChoiceItem]
    public let shots: Int
    private var random: SplitMix64

    public init(pool: [MultipleChoiceItem], shots: Int, seed: UInt64 = 1234) throws {
        guard shots >= 0, shots <= pool.count else {
            throw FormatError("--num-fewshot", "\(shots) examples asked for, the few-shot pool has \(pool.count)")
        }
        self.pool = pool
        self.shots = shots
        random = SplitMix64(seed: seed)
    }

    /// The item preceded by `shots` distinct solved examples (the item itself when shots is 0).
    public mutating func prompt(_ item: MultipleChoiceItem) -> MultipleChoiceItem {
        guard shots > 0 else { return item }
        var chosen: [Int] = []
        while chosen.count < shots {
            let i = Int(random.next() % UInt64(pool.count))
            if !chosen.contains(i) { chosen.append(i) }
        }
        return item.prefixed(chosen.map { pool[$0].solved }.joined(separator: "\n\n") + "\n\n")
    }
}
