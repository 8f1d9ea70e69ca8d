/// One chart of the report, as data; the page's script (`ReportPage.script`) turns it into a
/// Chart.js configuration. Lines take (x, y) points per series; bars take one value per label
/// per series, with optional ± errors drawn as whiskers; heatmaps take a value per cell
/// (rows × labels; nil cells stay empty).
struct ChartSpec: Encodable {
    enum Kind: String, Encodable { case line, bar, heatmap }

    struct Series: Encodable {
        let label: String
        var points: [[Double]]?
        var values: [Double?]?
        var errors: [Double?]?
        /// Series with the same stack name are stacked (bars).
        var stack: String?
    }

    let kind: Kind
    let title: String
    var xLabel = ""
    var yLabel = ""
    var labels: [String]?
    var rowLabels: [String]?
    var series: [Series] = []
    var cells: [[Double?]]?

    static func line(_ title: String, x: String, y: String, _ series: [Series]) -> ChartSpec {
        ChartSpec(kind: .line, title: title, xLabel: x, yLabel: y, series: series)
    }

    static func bar(_ title: String, y: String, labels: [String], _ series: [Series]) -> ChartSpec {
        ChartSpec(kind: .bar, title: title, yLabel: y, labels: labels, series: series)
    }

    static func heatmap(_ title: String, x: String, y: String, columns: [String], rows: [String], cells: [[Double?]]) -> ChartSpec {
        ChartSpec(kind: .heatmap, title: title, xLabel: x, yLabel: y, labels: columns, rowLabels: rows, cells: cells)
    }

    /// Whether the chart has anything to draw (a report leaves out empty charts).
    var hasData: Bool {
        switch kind {
        case .line: series.contains { !($0.points ?? []).isEmpty }
        case .bar: series.contains { ($0.values ?? []).contains { $0 != nil } }
        case .heatmap: (cells ?? []).contains { $0.contains { $0 != nil } }
        }
    }
}
