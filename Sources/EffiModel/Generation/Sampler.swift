import EffiCore
import Foundation

/// Picks the next token from logits: greedy (temperature 0), or a draw from
/// softmax(logits / temperature) restricted to the top-k tokens and then to the smallest set
/// whose probability reaches top-p (the order Hugging Face `generate` applies them in).
public struct Sampler {
    public var temperature: Float
    public var topK: Int
    public var topP: Float
    var random: SplitMix64

    /// Tokens whose logit is this far below the best have probability < e⁻³⁰ of the best and are
    /// left out before sorting (together < vocabulary · 1e-13 of the mass).
    static let negligibleLogitGap: Float = 30

    public init(temperature: Float = 0, topK: Int = 0, topP: Float = 1, seed: UInt64 = 0) {
        self.temperature = temperature
        self.topK = topK
        self.topP = topP
        random = SplitMix64(seed: seed)
    }

    /// The next token, or nil when the logits hold no finite value (NaN and ±inf are never chosen).
    public mutating func next(_ logits: UnsafeBufferPointer<Float>) -> Int32? {
        guard var best = logits.firstIndex(where: \.isFinite) else { return nil }
        for i in logits.indices where logits[i].isFinite && logits[i] > logits[best] { best = i }
        guard temperature > 0 else { return Int32(best) }
        let floor = logits[best] - Self.negligibleLogitGap * temperature
        var candidates = logits.indices.filter { logits[$0].isFinite && logits[$0] >= floor }.sorted { logits[$0] > logits[$1] }
        if topK > 0 && candidates.count > topK { candidates.removeLast(candidates.count - topK) }
        var probabilities = candidates.map { expf((logits[$0] - logits[best]) / temperature) }
        let total = probabilities.reduce(0, +)
        if topP < 1 {
            // The smallest head reaching top-p, and never less than the best token.
            var kept = 1, mass = probabilities[0]
            while kept < probabilities.count && mass < topP * total { mass += probabilities[kept]; kept += 1 }
            candidates.removeLast(candidates.count - kept)
            probabilities.removeLast(probabilities.count - kept)
        }
        var u = random.nextFloat(in: 0...1) * probabilities.reduce(0, +)
        for (i, p) in probabilities.enumerated() {
            u -= p
            if u <= 0 { return Int32(candidates[i]) }
        }
        return Int32(candidates[candidates.count - 1])
    }
}
