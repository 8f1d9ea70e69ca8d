import ArgumentParser
import EffiAdapters
import EffiFormats
import EffiTrain
import Foundation

struct ReportCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "report",
        abstract: "One self-contained HTML page of plots for training runs and comparisons (opens offline).",
        discussion: """
        Each folder is a training run (metrics.jsonl) or a comparison (compare.json, its methods' runs beside it). \
        The page draws the training and validation loss per step of every run, throughput, peak memory and trainable \
        parameters, accuracy per task with standard-error bars, the Reducer's layer importance per round and the layers it \
        kept, router expert shares, and the similarity matrices of `effilora analyze` where analysis.json exists. \
        train and compare write it at the end of a run. Charts use Debian's Chart.js (libjs-chart.js), inlined.
        Example: effilora report out/piqa-compare --out piqa.html
        """)

    @Argument(help: "Run or comparison folders.") var folders: [String]
    @Option(help: "The HTML file to write (default: report.html in the first folder).") var out: String?

    func run() throws {
        let path = try Self.write(folders: folders, to: out)
        print("report: \(path)")
    }

    /// Writes the report of `folders` (to `out`, or report.html in the first) and returns its path.
    static func write(folders: [String], to out: String? = nil) throws -> String {
        let data = try ReportData(folders: folders)
        let path = out ?? (folders[0] as NSString).appendingPathComponent("report.html")
        let title = "effilora: " + folders.map { URL(fileURLWithPath: $0).standardizedFileURL.lastPathComponent }.joined(separator: ", ")
        let html = try ReportPage.html(title: title, sections: data.sections, tables: data.summaryTable)
        try writeAtomically(Data(html.utf8), to: path)
        return path
    }

    /// At the end of `train` or `compare`: the report, or a line saying why there is none (a run
    /// never fails for its report).
    static func writeAfterRun(_ folder: String) {
        do { emit("report: \(try write(folders: [folder]))") } catch { emit("report: not written: \(error)") }
    }
}

extension ReportData {
    /// The runs' figures as an HTML table above the charts.
    var summaryTable: String {
        let rows = runs.map { run -> String in
            var cells = [run.name]
            if let s = run.summary {
                cells += ["\(s.parameters.trainable)", "\(s.steps)", String(format: "%.0f", s.tokensPerSecond), String(format: "%.0f", s.peakResidentMiB)]
                cells.append(s.finalValidationLoss.map { String(format: "%.4f", $0) } ?? "–")
                cells.append(s.bestValidationLoss.map { String(format: "%.4f (step %d)", $0, s.bestStep ?? 0) } ?? "–")
            } else {
                cells += Array(repeating: "–", count: 6)
            }
            return "<tr>" + cells.map { "<td>\(ReportPage.escape($0))</td>" }.joined() + "</tr>"
        }
        guard !rows.isEmpty else { return "" }
        let header = ["run", "trainable", "steps", "tok/s", "peak MiB", "final val loss", "best val loss"].map { "<th>\($0)</th>" }.joined()
        return "<table><tr>\(header)</tr>\n" + rows.joined(separator: "\n") + "</table>"
    }
}
