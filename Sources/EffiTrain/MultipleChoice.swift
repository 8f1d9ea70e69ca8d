import EffiCore
import EffiFormats
import EffiModel
import EffiTokenizer
import Foundation

/// A multiple-choice item (DESIGN.md §3): `{"query", "choices": [...], "gold": i}`.
public struct MultipleChoiceItem: Sendable, Equatable {
    public var query: String
    public var choices: [String]
    public var gold: Int

    /// Every line of a JSONL file; a malformed line is an error naming the file and line.
    public static func load(_ path: String) throws -> [MultipleChoiceItem] {
        var items: [MultipleChoiceItem] = []
        for (location, line) in try readJSONLines(path) {
            guard let object = (try? JSONSerialization.jsonObject(with: line)) as? [String: Any] else {
                throw FormatError(location, "is not a JSON object")
            }
            guard let query = object["query"] as? String, let choices = object["choices"] as? [String], choices.count >= 2,
                  let gold = object["gold"] as? Int, choices.indices.contains(gold) else {
                throw FormatError(location, "expected {\"query\": string, \"choices\": [≥ 2 strings], \"gold\": index of a choice}")
            }
            items.append(MultipleChoiceItem(query: query, choices: choices, gold: gold))
        }
        return items
    }
}

/// Accuracy as lm-evaluation-harness reports it: `acc` picks the choice with the highest summed
/// log-likelihood, `acc_norm` the highest log-likelihood per character of the choice; standard
/// errors are the sample standard deviation / √n.
public struct MultipleChoiceScore: Codable, Sendable, Equatable {
    public var count: Int
    public var acc: Double
    public var accStderr: Double
    public var accNorm: Double
    public var accNormStderr: Double

    /// `logLikelihoods[i][c]`: log p(choice c | query) of item i.
    public init(items: [MultipleChoiceItem], logLikelihoods: [[Double]]) {
        precondition(items.count == logLikelihoods.count && !items.isEmpty, "one score list per item")
        var right = 0, rightNorm = 0
        for (item, ll) in zip(items, logLikelihoods) {
            if ll.indices.max(by: { ll[$0] < ll[$1] }) == item.gold { right += 1 }
            let normalized = ll.indices.map { ll[$0] / Double(max(item.choices[$0].count, 1)) }
            if normalized.indices.max(by: { normalized[$0] < normalized[$1] }) == item.gold { rightNorm += 1 }
        }
        func stderr(_ p: Double) -> Double { items.count > 1 ? (p * (1 - p) / Double(items.count - 1)).squareRoot() : 0 }
        count = items.count
        acc = Double(right) / Double(count)
        accNorm = Double(rightNorm) / Double(count)
        accStderr = stderr(acc)
        accNormStderr = stderr(accNorm)
    }
}

/// Scores the choices of items: the query runs once through the KV cache and every choice
/// continues from it (the cache is cut back to the query between choices).
public struct ChoiceScorer {
    public let decoder: Decoder
    public let tokenizer: Tokenizer

    public init(decoder: Decoder, tokenizer: Tokenizer) {
        self.decoder = decoder
        self.tokenizer = tokenizer
    }

    /// log p(choice | query) = Σ over the choice's tokens of log softmax at the position before each.
    public func logLikelihoods(_ item: MultipleChoiceItem) throws -> [Double] {
        let bos: [Int32] = tokenizer.addsBOS ? tokenizer.bosID.map { [$0] } ?? [] : []
        let query = bos + tokenizer.encode(item.query)
        let choices = item.choices.map { tokenizer.encode($0) }
        let longest = choices.map(\.count).max() ?? 0
        guard !query.isEmpty, choices.allSatisfy({ !$0.isEmpty }) else {
            throw FormatError("multiple choice", "a query or a choice encodes to no tokens: \(item.query.prefix(60))")
        }
        guard query.count + longest <= decoder.config.contextLength else {
            throw FormatError("multiple choice", "query and choice need \(query.count + longest) tokens; the context holds \(decoder.config.contextLength)")
        }
        let cache = KVCache(config: decoder.config, capacity: query.count + longest)
        let afterQuery = decoder.logitsOfNext(tokens: query, cache: cache)
        return choices.map { tokens in
            decoder.truncate(cache, to: query.count)
            var total = CrossEntropy.logProbability(row: afterQuery.data, count: decoder.config.vocabulary, target: tokens[0])
            if tokens.count > 1 {
                let logits = decoder.logitsOfNext(tokens: Array(tokens.dropLast()), cache: cache, allPositions: true)
                for i in 1..<tokens.count { total += CrossEntropy.logProbability(row: logits.data + (i - 1) * decoder.config.vocabulary, count: decoder.config.vocabulary, target: tokens[i]) }
            }
            return total
        }
    }
}
