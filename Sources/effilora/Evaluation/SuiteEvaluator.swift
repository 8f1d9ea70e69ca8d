import EffiCore
import EffiFormats
import EffiModel
import EffiTrain
import Foundation

/// What to evaluate: a task of the commonsense suite (its split's file, few-shot examples from its
/// train split) or any file.
struct EvalSource {
    let name: String
    let file: String
    let fewShotFile: String?

    static func tasks(_ names: [String], split: String, kind: String, data: String, fewShot: Bool) throws -> [EvalSource] {
        try TaskSuite.expand(names).map { task in
            EvalSource(name: task, file: try TaskSuite.file(task: task, split: split, kind: kind, data: data),
                       fewShotFile: fewShot ? try TaskSuite.file(task: task, split: "train", kind: kind, data: data) : nil)
        }
    }
}

struct ChoiceResult: Codable {
    let task: String, file: String, shots: Int
    let score: MultipleChoiceScore
    let seconds: Double
}

struct GenerationResult: Codable {
    let task: String, file: String
    let score: GenerationScore
    let seconds: Double
    /// Tokens generated (prompt excluded), and per second of the task's time.
    let generatedTokens: Int
    var tokensPerSecond: Double { Double(generatedTokens) / max(seconds, 1e-9) }
}

/// Runs the log-likelihood or the generation evaluation over sources, with one progress bar for all.
struct SuiteEvaluator {
    let model: LanguageModel
    /// Items per source (0: all).
    let limit: Int
    let shots: Int
    /// Items answered together in generation mode.
    var generationBatch = 8

    /// Each source's items (the first `limit`); a source without items is an error naming its file.
    private func itemSets<Item>(_ sources: [EvalSource], load: (String) throws -> [Item]) throws -> [[Item]] {
        let sets = try sources.map { source in
            let items = try load(source.file)
            return limit > 0 ? Array(items.prefix(limit)) : items
        }
        for (source, items) in zip(sources, sets) where items.isEmpty { throw FormatError(source.file, "has no items") }
        return sets
    }

    func choices(_ sources: [EvalSource], report: (ChoiceResult) -> Void = { _ in }) throws -> [ChoiceResult] {
        let itemSets = try itemSets(sources, load: MultipleChoiceItem.load)
        var progress = ItemProgress(total: itemSets.map(\.count).reduce(0, +))
        let scorer = ChoiceScorer(decoder: model.decoder, tokenizer: model.tokenizer)
        return try zip(sources, itemSets).map { source, items in
            let start = monotonicSeconds()
            var sampler = try FewShotSampler(pool: shots > 0 ? try MultipleChoiceItem.load(source.fewShotFile ?? "") : [], shots: shots)
            let logLikelihoods = try items.map { item in
                defer { progress.advance(source.name) }
                return try scorer.logLikelihoods(sampler.prompt(item))
            }
            let result = ChoiceResult(task: source.name, file: source.file, shots: shots,
                                      score: MultipleChoiceScore(items: items, logLikelihoods: logLikelihoods),
                                      seconds: monotonicSeconds() - start)
            report(result)
            return result
        }
    }

    func generate(_ sources: [EvalSource], maxTokens: Int, report: (GenerationResult) -> Void = { _ in }) throws -> [GenerationResult] {
        let itemSets = try itemSets(sources, load: GenerationItem.load)
        var progress = ItemProgress(total: itemSets.map(\.count).reduce(0, +))
        return try zip(sources, itemSets).map { source, items in
            let start = monotonicSeconds()
            let (texts, generated) = try GenerationItem.answers(items, with: model, maxTokens: maxTokens, width: generationBatch) {
                progress.advance(source.name)
            }
            let answers = zip(items, texts).map { $0.extract($1) }
            let result = GenerationResult(task: source.name, file: source.file, score: GenerationScore(items: items, answers: answers),
                                          seconds: monotonicSeconds() - start, generatedTokens: generated)
            report(result)
            return result
        }
    }

    static func choiceTable(_ results: [ChoiceResult]) -> Table {
        var table = Table(["task", "items", "acc", "acc_norm", "seconds"])
        for r in results {
            table.add([r.task, "\(r.score.count)", withError(r.score.acc, r.score.accStderr),
                       withError(r.score.accNorm, r.score.accNormStderr), String(format: "%.0f", r.seconds)])
        }
        if results.count > 1 {
            let average = TaskAverage(results.map(\.score))
            table.add(["average", "\(results.map(\.score.count).reduce(0, +))", withError(average.acc, average.accStderr),
                       withError(average.accNorm, average.accNormStderr), String(format: "%.0f", results.map(\.seconds).reduce(0, +))])
        }
        return table
    }

    static func generationTable(_ results: [GenerationResult]) -> Table {
        var table = Table(["task", "items", "acc", "unanswered", "seconds", "tok/s"])
        for r in results {
            table.add([r.task, "\(r.score.count)", withError(r.score.acc, r.score.accStderr), "\(r.score.unanswered)",
                       String(format: "%.0f", r.seconds), String(format: "%.1f", r.tokensPerSecond)])
        }
        return table
    }
}
