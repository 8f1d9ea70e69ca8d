import EffiCore
import EffiFormats
import Foundation

/// A multiple-choice item (DESIGN.md §3). Each candidate is a (context, continuation) pair scored by
/// log p(continuation | context). The usual item shares one context among its choices,
/// `{"query", "choices": [...], "gold": i}`; WinoGrande's partial scoring (as lm-evaluation-harness
/// does it) shares one continuation among its contexts, `{"contexts": [...], "continuation", "gold": i}`.
public struct MultipleChoiceItem: Sendable, Equatable {
    public struct Candidate: Sendable, Equatable {
        public var context: String
        public var continuation: String
    }

    public var candidates: [Candidate]
    public var gold: Int

    public init(query: String, choices: [String], gold: Int) {
        candidates = choices.map { Candidate(context: query, continuation: $0) }
        self.gold = gold
    }

    public init(contexts: [String], continuation: String, gold: Int) {
        candidates = contexts.map { Candidate(context: $0, continuation: continuation) }
        self.gold = gold
    }

    /// The text of a solved example: the right candidate's context and continuation.
    public var solved: String { candidates[gold].context + candidates[gold].continuation }

    /// The item with `prefix` (few-shot examples) before every context.
    public func prefixed(_ prefix: String) -> MultipleChoiceItem {
        var item = self
        for i in item.candidates.indices { item.candidates[i].context = prefix + item.candidates[i].context }
        return item
    }

    /// Every line of a JSONL file; a malformed line is an error naming the file and line.
    public static func load(_ path: String) throws -> [MultipleChoiceItem] {
        try readJSONLines(path).map { location, line in
            guard let object = (try? JSONSerialization.jsonObject(with: line)) as? [String: Any] else {
                throw FormatError(location, "is not a JSON object")
            }
            let item: MultipleChoiceItem
            if let query = object["query"] as? String, let choices = object["choices"] as? [String], let gold = object["gold"] as? Int {
                item = MultipleChoiceItem(query: query, choices: choices, gold: gold)
            } else if let contexts = object["contexts"] as? [String], let continuation = object["continuation"] as? String,
                      let gold = object["gold"] as? Int {
                item = MultipleChoiceItem(contexts: contexts, continuation: continuation, gold: gold)
            } else {
                throw FormatError(location, "expected {\"query\": string, \"choices\": [strings], \"gold\": index} or {\"contexts\": [strings], \"continuation\": string, \"gold\": index}")
            }
            guard item.candidates.count >= 2, item.candidates.indices.contains(item.gold) else {
                throw FormatError(location, "expected ≥ 2 choices and gold an index of one, found \(item.candidates.count) and gold \(item.gold)")
            }
            return item
        }
    }
}

/// Accuracy as lm-evaluation-harness reports it: `acc` picks the candidate with the highest summed
/// log-likelihood, `acc_norm` the highest log-likelihood per character of its continuation; standard
/// errors are the sample standard deviation / √n.
public struct MultipleChoiceScore: Codable, Sendable, Equatable {
    public var count: Int
    public var acc: Double
    public var accStderr: Double
    public var accNorm: Double
    public var accNormStderr: Double
    /// Per item, whether acc and acc_norm count it right (for paired comparisons of two models on
    /// the same items; nil in reports written before they were kept).
    public var correct: [Bool]?
    public var correctNorm: [Bool]?

    /// `logLikelihoods[i][c]`: log p(continuation c | context c) of item i.
    public init(items: [MultipleChoiceItem], logLikelihoods: [[Double]]) {
        precondition(items.count == logLikelihoods.count && !items.isEmpty, "one score list per item")
        var correct: [Bool] = [], correctNorm: [Bool] = []
        for (item, ll) in zip(items, logLikelihoods) {
            correct.append(ll.indices.max(by: { ll[$0] < ll[$1] }) == item.gold)
            let normalized = ll.indices.map { ll[$0] / Double(max(item.candidates[$0].continuation.count, 1)) }
            correctNorm.append(normalized.indices.max(by: { normalized[$0] < normalized[$1] }) == item.gold)
        }
        self.correct = correct
        self.correctNorm = correctNorm
        count = items.count
        acc = Double(correct.filter { $0 }.count) / Double(count)
        accNorm = Double(correctNorm.filter { $0 }.count) / Double(count)
        accStderr = proportionStandardError(acc, count: count)
        accNormStderr = proportionStandardError(accNorm, count: count)
    }
}

/// The standard error of a proportion p measured on n items, with the sample standard deviation:
/// √(p(1 − p) / (n − 1)), as lm-evaluation-harness reports it.
public func proportionStandardError(_ p: Double, count: Int) -> Double {
    count > 1 ? (p * (1 - p) / Double(count - 1)).squareRoot() : 0
}
