import ArgumentParser
import EffiAdapters
import EffiFormats
import EffiModel
import EffiTrain
import Foundation

/// `analyze`'s result, written as `analysis.json` into the adapter's run folder (the report draws it).
struct AdapterAnalysis: Codable {
    static let fileName = "analysis.json"

    struct ImportanceDistribution: Codable {
        /// Where the scores come from: "reducer" (recorded with the adapter) or "suppression" (--data).
        let method: String
        /// Per layer (nil: not adapted or not scored).
        let scores: [Double?]
        /// The share of Σ|score| carried by the top quarter of the scored layers (rounded up: 8 of
        /// 30, so 8/30 = 26.7 % if every layer mattered equally).
        let topQuarterShare: Double

        init(method: String, scores: [Double?]) {
            self.method = method
            self.scores = scores
            let magnitudes = scores.compactMap { $0.map(abs) }.sorted(by: >)
            let total = magnitudes.reduce(0, +), top = (magnitudes.count + 3) / 4
            topQuarterShare = total > 0 ? magnitudes.prefix(top).reduce(0, +) / total : 0
        }
    }

    let adapter: String
    let method: String
    let rank: Int
    let matrices: [LayerSimilarity]
    /// Suppression and taylor with --data, else the Reducer's stored scores (or none).
    let importance: [ImportanceDistribution]

    static func read(_ path: String) throws -> AdapterAnalysis { try decodeJSONFile(AdapterAnalysis.self, path, as: "an analysis") }
}

struct Analyze: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "How similar a trained adapter's layers are: subspaces of A, A − A0 and B between layers; the importance distribution.",
        discussion: """
        Per site, the Grassmann similarity ‖U1ᵀU2‖²_F / r (the mean squared cosine of the principal angles) between every \
        pair of adapted layers: of A's row spaces, of the learned change A − A0 (A0 rebuilt from the adapter's seed), and \
        of B's column spaces, beside r / d, the similarity random r-dimensional subspaces have on average. With --data, \
        each layer's suppression and taylor importance on the first --examples examples (else the Reducer's scores stored with the \
        adapter) and the share of Σ|score| its top quarter of layers carries. Writes analysis.json beside the adapter \
        (its run folder) for `effilora report`. A − A0 assumes the adapter was trained here from its seed (not imported).
        Example: effilora analyze --adapter out/piqa-lora/adapter --model $M --data $D/valid.jsonl
        """)

    @Option(help: "An adapter folder written by train.") var adapter: String
    @Option(help: "The base model (needed for --data and for adapters that do not record their model's shape).") var model: String?
    @OptionGroup var precision: PrecisionOptions
    @Option(help: "A JSONL file in a training format to score the layers' importance on (suppression and taylor).") var data: String?
    @Option(help: "Examples scored with --data (the first N of the file).") var examples = 16
    @Option(help: "Where to write the analysis (default: analysis.json in the adapter's parent folder).") var out: String?
    @Flag(help: "Print JSON.") var json = false

    func validate() throws {
        guard examples > 0 else { throw ValidationError("--examples must be positive") }
        guard data == nil || model != nil else { throw ValidationError("--data needs --model") }
    }

    func run() throws {
        let lm = try model.map { try loadModel($0, adapters: try AdapterChoice.one(adapter), precision: precision) }
        let adapters: Adapters
        if let lm {
            guard let loaded = lm.decoder.adapter as? Adapters else { throw ValidationError("\(adapter): not an effilora adapter") }
            adapters = loaded
        } else {
            guard let shape = try AdapterFile.trainedModel(of: adapter) else {
                throw ValidationError("\(adapter) does not record its model's Q/K row order: give --model")
            }
            adapters = try AdapterFile.load(from: adapter, model: shape)
        }
        // A0: the adapter as its seed initialises it.
        let initial = try Adapters(config: adapters.config, model: adapters.modelConfig, weights: lm?.decoder.weights)
        let matrices = adapters.layerSimilarities(initial: initial)
        var importance: [AdapterAnalysis.ImportanceDistribution] = []
        if let data, let lm {
            let scoring = try OfflineScoring(model: lm, adapters: adapters, data: data, examples: examples)
            let scores = scoring.reducer.suppressionScores(layers: scoring.layers, pass: scoring.pass)
            let taylor = scoring.reducer.taylorScores(layers: scoring.layers, pass: scoring.pass, forceRefresh: true)
            importance = [.init(method: "suppression", scores: (0..<adapters.modelConfig.layers).map { scores[$0] }),
                          .init(method: "taylor", scores: (0..<adapters.modelConfig.layers).map { taylor[$0] })]
        } else if let stored = try AdapterFile.layerScores(of: adapter) {
            importance = [.init(method: "reducer", scores: stored)]
        }
        let analysis = AdapterAnalysis(adapter: adapter, method: adapters.config.method.rawValue, rank: adapters.config.rank,
                                       matrices: matrices, importance: importance)
        let path = out ?? (URL(fileURLWithPath: adapter).standardizedFileURL.deletingLastPathComponent().path as NSString)
            .appendingPathComponent(AdapterAnalysis.fileName)
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        try writeAtomically(try encoder.encode(analysis), to: path)
        if json { return try printJSON(analysis) }
        var table = Table(["site", "quantity", "layers", "mean similarity", "adjacent", "distant (> 5)", "random r/d", "‖A − A0‖ / ‖A0‖"])
        func figure(_ x: Double?) -> String { x.map { String(format: "%.4f", $0) } ?? "–" }
        for m in matrices {
            table.add([m.site, m.quantity, "\(m.layers.count)", figure(m.meanOffDiagonal), figure(m.meanAdjacent), figure(m.meanDistant),
                       figure(m.randomBaseline), figure(m.relativeChange)])
        }
        print(table.text())
        for importance in importance {
            print(String(format: "importance (%@): the top quarter of the layers carries %.1f%% of Σ|score|", importance.method, 100 * importance.topQuarterShare))
        }
        emit("analysis: \(path)")
    }
}
