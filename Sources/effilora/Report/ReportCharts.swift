import EffiTrain
import Foundation

/// The report's sections: each a heading and its charts, built from the runs and comparisons.
struct ReportSection: Encodable {
    let title: String
    let charts: [ChartSpec]
}

extension ReportData {
    var sections: [ReportSection] {
        [training, cost, accuracy] + runs.flatMap { reducer($0) + routers($0) + analysis($0) }
    }

    private var training: ReportSection {
        let loss = runs.map { run in
            ChartSpec.Series(label: run.name, points: run.lines.compactMap { l in l.loss.map { [Double(l.step), $0] } })
        }
        let validation = runs.map { run in
            ChartSpec.Series(label: run.name, points: run.lines.compactMap { l in l.validationLoss.map { [Double(l.step), $0] } })
        }
        var charts: [ChartSpec] = [
            .line("Training loss per step", x: "step", y: "mean next-token loss", loss),
            .line("Validation loss (step 0: before training)", x: "step", y: "mean next-token loss", validation),
        ]
        // Beside several runs, their final validation losses side by side (the curves overlap).
        let finals = runs.compactMap { run in run.summary?.finalValidationLoss.map { (run.name, $0) } }
        if finals.count > 1 {
            charts.append(.bar("Validation loss at the end", y: "mean next-token loss", labels: finals.map(\.0),
                               [ChartSpec.Series(label: "validation loss", values: finals.map(\.1))]))
        }
        return ReportSection(title: "Training", charts: charts)
    }

    private var cost: ReportSection {
        let finished = runs.filter { $0.summary != nil }
        let names = finished.map(\.name)
        func bar(_ title: String, _ y: String, _ value: (RunSummary) -> Double) -> ChartSpec {
            .bar(title, y: y, labels: names, [ChartSpec.Series(label: y, values: finished.map { value($0.summary!) })])
        }
        return ReportSection(title: "Cost", charts: [
            bar("Training throughput", "tokens/s", \.tokensPerSecond),
            bar("Peak resident memory", "MiB", \.peakResidentMiB),
            bar("Trainable parameters", "parameters", { Double($0.parameters.trainable) }),
        ])
    }

    /// Accuracy per task with ± one standard error, per method of each comparison.
    private var accuracy: ReportSection {
        var charts: [ChartSpec] = []
        for report in comparisons {
            guard let tasks = report.methods.first?.evaluation.map(\.task) else { continue }
            for (metric, pick) in [("acc", { (s: MultipleChoiceScore) in (s.acc, s.accStderr) }), ("acc_norm", { ($0.accNorm, $0.accNormStderr) })] {
                // The average only beside several tasks (for one it repeats the task).
                let averaged = tasks.count > 1
                let series = report.methods.map { m in
                    let scores = m.evaluation.map { pick($0.score) }
                    let average = metric == "acc" ? (m.average.acc, m.average.accStderr) : (m.average.accNorm, m.average.accNormStderr)
                    return ChartSpec.Series(label: m.method, values: scores.map(\.0) + (averaged ? [average.0] : []),
                                            errors: scores.map(\.1) + (averaged ? [average.1] : []))
                }
                charts.append(.bar("\(metric) per task (± 1 standard error; \(report.split) split)", y: metric,
                                   labels: tasks + (averaged ? ["average"] : []), series))
            }
            let gains = report.methods.compactMap { m in m.gainOverBase.map { (m.method, $0.acc) } }
            if !gains.isEmpty {
                charts.append(.bar("Paired change in acc over base, same items (± 1 paired standard error)", y: "Δ acc",
                                   labels: gains.map(\.0), [ChartSpec.Series(label: "Δ acc", values: gains.map(\.1.gain), errors: gains.map(\.1.stderr))]))
            }
            if let tasks = report.methods.first(where: { $0.generation != nil })?.generation?.map(\.task) {
                let series = report.methods.compactMap { m in
                    m.generation.map { g in ChartSpec.Series(label: m.method, values: g.map(\.score.acc), errors: g.map(\.score.accStderr)) }
                }
                charts.append(.bar("Generation accuracy per task (± 1 standard error)", y: "acc", labels: tasks, series))
            }
        }
        return ReportSection(title: "Accuracy", charts: charts)
    }

    /// The Reducer's scores per layer and round, the layers it kept, and the trainable count.
    private func reducer(_ run: RunRecord) -> [ReportSection] {
        let rounds = run.lines.compactMap { line in line.reducer.map { (line.step, $0) } }
        guard let layers = rounds.first?.1.scores.count else { return [] }
        let columns = rounds.map { "step \($0.0)" }, rows = (0..<layers).map { "layer \($0)" }
        let scores = (0..<layers).map { l in rounds.map { $0.1.scores[l] } }
        let kept = (0..<layers).map { l in rounds.map { $0.1.active.contains(l) ? 1.0 : 0.0 } as [Double?] }
        let active = run.lines.compactMap { l in l.activeLayers.map { [Double(l.step), Double($0)] } }
        return [ReportSection(title: "Reducer: \(run.name)", charts: [
            .heatmap("Layer importance per scoring round", x: "round", y: "layer", columns: columns, rows: rows, cells: scores),
            .heatmap("Layers kept trainable per round (1: kept)", x: "round", y: "layer", columns: columns, rows: rows, cells: kept),
            .line("Trainable layers", x: "step", y: "layers", [ChartSpec.Series(label: run.name, points: active)]),
        ])]
    }

    /// Each router's mean expert shares at the last validation that reported them.
    private func routers(_ run: RunRecord) -> [ReportSection] {
        guard let routers = run.lines.last(where: { $0.routers != nil })?.routers, !routers.isEmpty else { return [] }
        let names = routers.keys.sorted()
        let experts = routers.values.map(\.meanShare.count).max() ?? 0
        let series = (0..<experts).map { e in
            ChartSpec.Series(label: "expert \(e)", values: names.map { routers[$0]!.meanShare.indices.contains(e) ? routers[$0]!.meanShare[e] : nil },
                             stack: "shares")
        }
        return [ReportSection(title: "Routers: \(run.name)", charts: [.bar("Mean expert share per router", y: "share", labels: names, series)])]
    }

    /// `analyze`'s similarity matrices between layers, and the importance distribution.
    private func analysis(_ run: RunRecord) -> [ReportSection] {
        guard let a = run.analysis else { return [] }
        var charts = a.matrices.map { m in
            // The diagonal (a layer with itself: 1) is left empty, so the colours show the pairs.
            ChartSpec.heatmap(String(format: "Similarity of %@ at %@ between layers: mean %.4f (random subspaces: %.4f)", m.quantity, m.site,
                                     m.meanOffDiagonal, m.randomBaseline),
                              x: "layer", y: "layer", columns: m.layers.map(String.init), rows: m.layers.map(String.init),
                              cells: m.values.enumerated().map { i, row in row.enumerated().map { j, v in i == j ? nil : v } })
        }
        for importance in a.importance {
            charts.append(.bar(String(format: "Layer importance, %@ (top 25 %% of layers carry %.0f %% of |score|)", importance.method,
                                      100 * importance.topQuarterShare),
                               y: "score", labels: importance.scores.indices.map { "\($0)" },
                               [ChartSpec.Series(label: importance.method, values: importance.scores)]))
        }
        return [ReportSection(title: "Adapter analysis: \(run.name)", charts: charts)]
    }
}
