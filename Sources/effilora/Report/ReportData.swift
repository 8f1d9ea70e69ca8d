import EffiFormats
import EffiTrain
import Foundation

/// One line of a run's `metrics.jsonl`, every field optional (step 0 holds only the validation loss).
struct MetricsLine: Decodable {
    let step: Int
    let loss: Double?
    let validationLoss: Double?
    let tokens: Int?
    let seconds: Double?
    let activeLayers: Int?
    let reducer: ReducerRound?
    let routers: [String: RouterSummary]?
}

/// What the report shows of one training run: its metrics, and its summary when it finished.
struct RunRecord {
    let name: String
    let folder: String
    let lines: [MetricsLine]
    let summary: RunSummary?
    /// `effilora analyze`'s result for the run's adapter, when it has been written.
    let analysis: AdapterAnalysis?

    /// Reads `folder`'s metrics.jsonl (a bad line names the file and line), summary.json and
    /// analysis.json when present.
    init(folder: String, name: String) throws {
        self.name = name
        self.folder = folder
        let metrics = (folder as NSString).appendingPathComponent("metrics.jsonl")
        lines = try readJSONLines(metrics).map { location, line in
            do { return try JSONDecoder().decode(MetricsLine.self, from: line) } catch {
                throw FormatError(location, "is not a metrics line: \(error)")
            }
        }
        summary = FileManager.default.fileExists(atPath: (folder as NSString).appendingPathComponent(RunSummary.fileName))
            ? try RunSummary.read(from: folder) : nil
        let analysisPath = (folder as NSString).appendingPathComponent(AdapterAnalysis.fileName)
        analysis = FileManager.default.fileExists(atPath: analysisPath) ? try AdapterAnalysis.read(analysisPath) : nil
    }
}

/// The runs and evaluations of the folders given to `report`: a run folder (metrics.jsonl) is one
/// run; a compare folder (compare.json) is each trained method's run and the accuracy table.
struct ReportData {
    var runs: [RunRecord] = []
    var comparisons: [Compare.Report] = []

    init(folders: [String]) throws {
        for folder in folders {
            let compare = (folder as NSString).appendingPathComponent("compare.json")
            if FileManager.default.fileExists(atPath: compare) {
                let report = try decodeJSONFile(Compare.Report.self, compare, as: "a compare report")
                comparisons.append(report)
                for method in report.methods where method.training != nil {
                    runs.append(try RunRecord(folder: (folder as NSString).appendingPathComponent(method.method), name: method.method))
                }
            } else if FileManager.default.fileExists(atPath: (folder as NSString).appendingPathComponent("metrics.jsonl")) {
                runs.append(try RunRecord(folder: folder, name: URL(fileURLWithPath: folder).standardizedFileURL.lastPathComponent))
            } else {
                throw FormatError(folder, "is neither a training run (metrics.jsonl) nor a comparison (compare.json)")
            }
        }
    }
}
