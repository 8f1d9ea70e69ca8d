import ArgumentParser
import EffiAdapters
import EffiModel
import EffiTrain
import Foundation

struct Importance: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Score a trained adapter's layers offline (the Reducer's importance) and rank them.")

    @Option(help: "A GGUF file or a Hugging Face folder.") var model: String
    @OptionGroup var precision: PrecisionOptions
    @Option(help: "An adapter folder written by train.") var adapter: String
    @Option(help: "A JSONL file in a training format (e.g. valid.jsonl).") var data: String
    @Option(help: "suppression | taylor | both.") var method = "both"
    @Option(help: "Examples scored (the first N of the file).") var examples = 16
    @Flag(help: "Print JSON.") var json = false

    struct Report: Encodable {
        let layers: [Int]
        let suppression: [Double]?
        let taylor: [Double]?
        let suppressionRanking: [Int]?
        let taylorRanking: [Int]?
        let spearman: Double?
    }

    func validate() throws {
        guard ["suppression", "taylor", "both"].contains(method) else { throw ValidationError("--method is suppression, taylor or both") }
        guard examples > 0 else { throw ValidationError("--examples must be positive") }
    }

    func run() throws {
        let lm = try loadModel(model, adapters: try AdapterChoice.one(adapter), precision: precision)
        guard let adapters = lm.decoder.adapter as? Adapters else { throw ValidationError("no adapter loaded") }
        let scoring = try OfflineScoring(model: lm, adapters: adapters, data: data, examples: examples)
        let (reducer, layers, pass) = (scoring.reducer, scoring.layers, scoring.pass)
        let suppression = method == "taylor" ? nil : reducer.suppressionScores(layers: layers, pass: pass)
        let taylor = method == "suppression" ? nil : reducer.taylorScores(layers: layers, pass: pass, forceRefresh: true)
        func ranking(_ s: [Int: Double]?) -> [Int]? { s.map { s in layers.sorted { s[$0]! > s[$1]! } } }
        let rho = suppression.flatMap { s in taylor.map { t in spearmanCorrelation(layers.map { s[$0]! }, layers.map { t[$0]! }) } }
        let report = Report(layers: layers, suppression: suppression.map { s in layers.map { s[$0]! } },
                            taylor: taylor.map { t in layers.map { t[$0]! } }, suppressionRanking: ranking(suppression),
                            taylorRanking: ranking(taylor), spearman: rho)
        if json { return try printJSON(report) }
        print("layer  " + [suppression == nil ? nil : "suppression", taylor == nil ? nil : "taylor"].compactMap { $0 }.joined(separator: "   "))
        for l in layers {
            print(String(format: "%5d", l) + (suppression.map { String(format: "  %+.5f", $0[l]!) } ?? "") + (taylor.map { String(format: "  %+.5f", $0[l]!) } ?? ""))
        }
        if let r = ranking(suppression) { print("suppression ranking: \(r.map(String.init).joined(separator: " "))") }
        if let r = ranking(taylor) { print("taylor ranking:      \(r.map(String.init).joined(separator: " "))") }
        if let rho { print(String(format: "Spearman correlation: %.3f", rho)) }
    }
}
