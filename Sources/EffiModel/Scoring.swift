import EffiCore
import Foundation

extension Decoder {
    /// log p(tokens[t+1] | tokens[...t]) for t in 0 ..< count − 1, one sequence:
    ///   log_softmax(z_t)[y] = z_t[y] − (max z_t + log Σ_j exp(z_t[j] − max z_t)).
    public func nextTokenLogProbs(tokens: [Int32]) -> [Double] {
        let t = tokens.count, v = config.vocabulary
        let logits = self.logits(tokens: tokens, batch: 1, seqLen: t)
        return (0..<t - 1).map { i in
            let row = logits.data + i * v
            var m = -Float.infinity
            for j in 0..<v { m = max(m, row[j]) }
            var sum = 0.0
            for j in 0..<v { sum += Double(expf(row[j] - m)) }
            return Double(row[Int(tokens[i + 1])]) - (Double(m) + log(sum))
        }
    }
}
