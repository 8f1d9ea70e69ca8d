import EffiCore
import EffiFormats
import EffiModel
import Foundation

/// An instruction-style item for `eval --mode generate`: `{"prompt", "choices": [labels], "gold": i, …}`
/// (the `.instruct.jsonl` files; other keys such as "completion" are ignored). The model answers the
/// prompt greedily and the answer is the label it names first.
public struct GenerationItem: Sendable, Equatable {
    public var prompt: String
    public var labels: [String]
    public var gold: Int

    public init(prompt: String, labels: [String], gold: Int) {
        self.prompt = prompt
        self.labels = labels
        self.gold = gold
    }

    public static func load(_ path: String) throws -> [GenerationItem] {
        try readJSONLines(path).map { location, line in
            guard let object = (try? JSONSerialization.jsonObject(with: line)) as? [String: Any],
                  let prompt = object["prompt"] as? String, let labels = object["choices"] as? [String], labels.count >= 2,
                  let gold = object["gold"] as? Int, labels.indices.contains(gold) else {
                throw FormatError(location, "expected {\"prompt\": string, \"choices\": [≥ 2 answer labels], \"gold\": index of a label}")
            }
            return GenerationItem(prompt: prompt, labels: labels, gold: gold)
        }
    }

    /// The index of the label that occurs first in `answer` as a whole word, ignoring case
    /// (LLM-Adapters' extraction: "the correct answer is solution2" → solution2); nil when none does.
    public func extract(_ answer: String) -> Int? {
        let text = answer.lowercased()
        var best: (position: String.Index, label: Int)?
        for (i, label) in labels.enumerated() {
            var searchRange = text.startIndex..<text.endIndex
            while let found = text.range(of: label.lowercased(), range: searchRange) {
                let before = found.lowerBound == text.startIndex ? nil : text[text.index(before: found.lowerBound)]
                let after = found.upperBound == text.endIndex ? nil : text[found.upperBound]
                let isWord = { (c: Character?) in c.map { $0.isLetter || $0.isNumber } ?? false }
                if !isWord(before) && !isWord(after) {
                    if best == nil || found.lowerBound < best!.position { best = (found.lowerBound, i) }
                    break
                }
                searchRange = found.upperBound..<text.endIndex
            }
        }
        return best?.label
    }
}

/// Accuracy of generated answers: right / items, with the items whose answer named no label counted
/// wrong and reported.
public struct GenerationScore: Codable, Sendable, Equatable {
    public var count: Int
    public var acc: Double
    public var accStderr: Double
    public var unanswered: Int

    public init(items: [GenerationItem], answers: [Int?]) {
        precondition(items.count == answers.count && !items.isEmpty, "one answer per item")
        count = items.count
        acc = Double(zip(items, answers).filter { $0.gold == $1 }.count) / Double(count)
        accStderr = proportionStandardError(acc, count: count)
        unanswered = answers.filter { $0 == nil }.count
    }
}

extension GenerationItem {
    /// The model's greedy answers to `items`, `width` generated together (at most `maxTokens`
    /// tokens each; BOS first when the tokenizer adds one), and the tokens generated; `onAnswer`
    /// is called as each item is answered.
    public static func answers(_ items: [GenerationItem], with model: LanguageModel, maxTokens: Int, width: Int,
                               onAnswer: () -> Void = {}) throws -> (texts: [String], tokens: Int) {
        let tokenizer = model.tokenizer
        let bos: [Int32] = tokenizer.addsBOS ? tokenizer.bosID.map { [$0] } ?? [] : []
        var samplers = items.map { _ in Sampler() }
        let results = try Generator(model: model).generate(prompts: items.map { bos + tokenizer.encode($0.prompt) }, maxTokens: maxTokens,
                                                           samplers: &samplers, width: width, onFinish: { _ in onAnswer() })
        return (results.map { tokenizer.decode($0.tokens) }, results.reduce(0) { $0 + $1.tokens.count })
    }
}
