import EffiCore
import Foundation

extension Decoder {
    /// log p(tokens[t+1] | tokens[...t]) for t in 0 ..< count − 1, one sequence:
    ///   log_softmax(z_t)[y] = z_t[y] − (max z_t + log Σ_j exp(z_t[j] − max z_t)).
    /// The output head runs on `chunk` rows at a time, so memory does not grow with T × vocabulary.
    public func nextTokenLogProbs(tokens: [Int32], chunk: Int = 256) -> [Double] {
        let t = tokens.count, v = config.vocabulary, d = config.modelWidth
        guard t >= 2 else { return [] }
        let hidden = hiddenStates(tokens: tokens, batch: 1, seqLen: t)
        var result: [Double] = []
        result.reserveCapacity(t - 1)
        for start in stride(from: 0, to: t - 1, by: chunk) {
            let rows = min(chunk, t - 1 - start)
            let slice = Tensor(shape: [rows, d])
            slice.data.update(from: hidden.data + start * d, count: rows * d)
            let logits = outputLogits(slice)
            for i in 0..<rows {
                let row = logits.data + i * v
                var m = -Float.infinity
                for j in 0..<v { m = max(m, row[j]) }
                var sum = 0.0
                for j in 0..<v { sum += Double(expf(row[j] - m)) }
                result.append(Double(row[Int(tokens[start + i + 1])]) - (Double(m) + log(sum)))
            }
        }
        return result
    }
}
