import EffiCore
import Foundation

extension Decoder {
    /// log p(tokens[t+1] | tokens[...t]) for t in 0 ..< count − 1, one sequence.
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
                result.append(CrossEntropy.logProbability(row: logits.data + i * v, count: v, target: tokens[start + i + 1]))
            }
        }
        return result
    }
}
