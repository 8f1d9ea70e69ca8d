import ArgumentParser
import EffiAdapters
import EffiTrain
import Foundation

/// `summary.json` in a training run's folder, written when `train` finishes: what the run cost and
/// reached (`compare` reads it). Throughput counts the training steps' time only (validation and
/// checkpoints excluded); the wall time counts everything; the peak RSS is the whole process's.
struct RunSummary: Codable {
    /// At the end of the run (the Reducer's frozen or dropped layers no longer count as trainable).
    let parameters: ParameterReport
    /// Steps run by this invocation (fewer than --iters when resumed).
    let steps: Int
    let tokens: Int
    let stepSeconds: Double
    let wallSeconds: Double
    let peakResidentMiB: Double
    let initialValidationLoss: Double?
    let finalValidationLoss: Double?
    /// The validation with the lowest loss (its adapter is `adapter-best/` unless --no-keep-best).
    let bestStep: Int?
    let bestValidationLoss: Double?
    /// Where early stopping ended the run (nil when it ran all its steps).
    let stoppedEarlyAtStep: Int?
    /// The Reducer's outcome (nil without --reducer-keep, and in summaries written before it was kept).
    var reducer: ReducerOutcome?

    struct ReducerOutcome: Codable {
        let rounds: Int
        /// Time spent scoring layers, within `wallSeconds`.
        let scoringSeconds: Double
        /// The layers still training at the end.
        let activeLayers: [Int]
    }

    var tokensPerSecond: Double { Double(tokens) / max(stepSeconds, 1e-9) }

    static let fileName = "summary.json"

    func write(to folder: String) throws {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        try writeAtomically(try encoder.encode(self), to: (folder as NSString).appendingPathComponent(Self.fileName))
    }

    static func read(from folder: String) throws -> RunSummary {
        let path = (folder as NSString).appendingPathComponent(fileName)
        guard let data = FileManager.default.contents(atPath: path) else { throw ValidationError("\(path): not found (did the run finish?)") }
        do { return try JSONDecoder().decode(RunSummary.self, from: data) } catch { throw ValidationError("\(path): \(error)") }
    }
}
