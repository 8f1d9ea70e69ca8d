import EffiCore
import EffiFormats
import EffiModel
import EffiTokenizer

/// Scores the candidates of items: each distinct context runs once through the KV cache and every
/// continuation that shares it continues from there (the cache is cut back between them). With an
/// adapter whose update mixes a sequence's tokens (Lily), each candidate's whole sequence runs in
/// one pass instead, so the context and continuation are one sequence as in training.
public struct ChoiceScorer {
    public let decoder: Decoder
    public let tokenizer: Tokenizer

    public init(decoder: Decoder, tokenizer: Tokenizer) {
        self.decoder = decoder
        self.tokenizer = tokenizer
    }

    /// log p(continuation | context) = Σ over the continuation's tokens of the log-softmax at the
    /// position before each. Context and continuation are encoded separately (BOS first when the
    /// tokenizer adds one).
    public func logLikelihoods(_ item: MultipleChoiceItem) throws -> [Double] {
        let bos: [Int32] = tokenizer.addsBOS ? tokenizer.bosID.map { [$0] } ?? [] : []
        var scores = [Double](repeating: 0, count: item.candidates.count)
        var contexts: [String] = []
        for candidate in item.candidates where !contexts.contains(candidate.context) { contexts.append(candidate.context) }
        for context in contexts {
            let members = item.candidates.indices.filter { item.candidates[$0].context == context }
            let prefix = bos + tokenizer.encode(context)
            let continuations = members.map { tokenizer.encode(item.candidates[$0].continuation) }
            let longest = continuations.map(\.count).max() ?? 0
            guard !prefix.isEmpty, continuations.allSatisfy({ !$0.isEmpty }) else {
                throw FormatError("multiple choice", "a context or a continuation encodes to no tokens: \(context.prefix(60))")
            }
            guard prefix.count + longest <= decoder.config.contextLength else {
                throw FormatError("multiple choice", "context and continuation need \(prefix.count + longest) tokens; the model's context holds \(decoder.config.contextLength)")
            }
            if decoder.adapter?.mixesTokensOfASequence == true {
                for (member, tokens) in zip(members, continuations) { scores[member] = wholeSequenceScore(prefix: prefix, continuation: tokens) }
                continue
            }
            let cache = KVCache(config: decoder.config, capacity: prefix.count + longest)
            let afterContext = decoder.logitsOfNext(tokens: prefix, cache: cache)
            let vocabulary = decoder.config.vocabulary
            for (member, tokens) in zip(members, continuations) {
                decoder.truncate(cache, to: prefix.count)
                var total = CrossEntropy.logProbability(row: afterContext.data, count: vocabulary, target: tokens[0])
                if tokens.count > 1 {
                    let logits = decoder.logitsOfNext(tokens: Array(tokens.dropLast()), cache: cache, allPositions: true)
                    for i in 1..<tokens.count {
                        total += CrossEntropy.logProbability(row: logits.data + (i - 1) * vocabulary, count: vocabulary, target: tokens[i])
                    }
                }
                scores[member] = total
            }
        }
        return scores
    }

    /// Σ log p(continuation[i] | prefix, continuation[..<i]) from one forward over prefix + continuation minus its last token.
    private func wholeSequenceScore(prefix: [Int32], continuation: [Int32]) -> Double {
        let tokens = prefix + continuation.dropLast(), vocabulary = decoder.config.vocabulary
        let logits = decoder.logits(tokens: tokens, batch: 1, seqLen: tokens.count)
        var total = 0.0
        for (i, target) in continuation.enumerated() {
            total += CrossEntropy.logProbability(row: logits.data + (prefix.count - 1 + i) * vocabulary, count: vocabulary, target: target)
        }
        return total
    }
}
