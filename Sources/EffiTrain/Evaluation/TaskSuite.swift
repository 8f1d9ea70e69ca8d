import EffiFormats
import Foundation

/// The commonsense benchmark's tasks as `scripts/prepare_data.py` lays them out in the cache:
/// `<data>/<task>/{train,valid,test}.{mc,instruct}.jsonl`.
public enum TaskSuite {
    /// The eight tasks of the commonsense benchmark (the paper's and LLM-Adapters').
    public static let commonsense = ["boolq", "piqa", "siqa", "hellaswag", "winogrande", "arc-easy", "arc-challenge", "openbookqa"]

    /// `<cache>/data`, where setup prepares the tasks.
    public static var defaultDataDirectory: String { PinnedFiles.cacheDirectory + "/data" }

    /// Task names from a list where `commonsense` stands for all eight; unknown names are errors.
    public static func expand(_ names: [String]) throws -> [String] {
        var tasks: [String] = []
        for name in names.flatMap({ $0.split(separator: ",").map(String.init) }) {
            let group = name == "commonsense" ? commonsense : [name]
            for task in group {
                guard commonsense.contains(task) else {
                    throw FormatError("--tasks", "unknown task \(task); known: \(commonsense.joined(separator: ", ")) or commonsense")
                }
                if !tasks.contains(task) { tasks.append(task) }
            }
        }
        return tasks
    }

    /// `<data>/<task>/<split>.<kind>.jsonl`, which must exist (setup prepares it).
    public static func file(task: String, split: String, kind: String, data: String = defaultDataDirectory) throws -> String {
        let path = "\(data)/\(task)/\(split).\(kind).jsonl"
        guard FileManager.default.fileExists(atPath: path) else {
            throw FormatError(path, "not found; scripts/setup.sh prepares the commonsense tasks (scripts/prepare_data.py \(task))")
        }
        return path
    }
}

/// The mean of per-task accuracies (each task weighs the same, as published tables average them)
/// and its standard error √(Σ se²) / n, the tasks being independent samples.
public struct TaskAverage: Codable, Sendable, Equatable {
    public var acc: Double
    public var accStderr: Double
    public var accNorm: Double
    public var accNormStderr: Double

    public init(_ scores: [MultipleChoiceScore]) {
        (acc, accStderr) = Self.mean(scores.map { ($0.acc, $0.accStderr) })
        (accNorm, accNormStderr) = Self.mean(scores.map { ($0.accNorm, $0.accNormStderr) })
    }

    /// The mean of per-task values and its standard error √(Σ se²) / n.
    public static func mean(_ values: [(value: Double, stderr: Double)]) -> (value: Double, stderr: Double) {
        let n = Double(max(values.count, 1))
        return (values.map(\.value).reduce(0, +) / n, values.map { $0.stderr * $0.stderr }.reduce(0, +).squareRoot() / n)
    }
}
