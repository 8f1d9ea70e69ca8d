import EffiFormats
import EffiTrain
import Foundation
import XCTest

/// The report of a single run with the Reducer, router and `analyze`'s matrices, opened offline in
/// headless Chromium: every chart built and drawn, no script error.
final class ReportTests: XCTestCase {
    func testReducerRunReportDrawsEveryChartInChromium() throws {
        guard FileManager.default.fileExists(atPath: PinnedFiles.smolLM2),
              FileManager.default.fileExists(atPath: TaskSuite.defaultDataDirectory + "/piqa/train.jsonl") else { throw XCTSkip("run scripts/setup.sh") }
        try EffiLoRAExecutable.require()
        try Chromium.require()
        let base = FileManager.default.temporaryDirectory.appendingPathComponent("effilora-report-\(UUID().uuidString)").path
        addTeardownBlock { try? FileManager.default.removeItem(atPath: base) }
        let run = base + "/run"
        let train = try EffiLoRAExecutable.run(["train", "--model", PinnedFiles.smolLM2, "--data", TaskSuite.defaultDataDirectory + "/piqa",
                                                "--output", run, "--method", "effilora", "--experts", "2", "--rank", "2", "--num-layers", "4",
                                                "--targets", "q,v", "--iters", "4", "--batch-size", "2", "--steps-per-eval", "2", "--val-batches", "1",
                                                "--reducer-keep", "2", "--reducer-every", "2", "--reducer-warmup", "1"])
        XCTAssertEqual(train.status, 0, train.output)
        XCTAssertTrue(train.output.contains("report: \(run)/report.html"), train.output)
        // summary.json keeps the Reducer's outcome: the 2 layers of the top 4 that train at the end, as the log says.
        let reducer = try XCTUnwrap(try readJSONObject(run + "/summary.json")["reducer"] as? [String: Any])
        let active = try XCTUnwrap(reducer["activeLayers"] as? [Int])
        XCTAssertEqual(active.count, 2)
        XCTAssertTrue(Set(active).isSubset(of: 26...29), "\(active)")
        XCTAssertTrue(train.output.contains("reducer: \(try XCTUnwrap(reducer["rounds"] as? Int)) rounds"), train.output)
        XCTAssertTrue(train.output.contains("active layers \(active.map(String.init).joined(separator: ","))"), train.output)
        let analyze = try EffiLoRAExecutable.run(["analyze", "--adapter", run + "/adapter"])
        XCTAssertEqual(analyze.status, 0, analyze.output)
        XCTAssertTrue(FileManager.default.fileExists(atPath: run + "/analysis.json"))
        let report = try EffiLoRAExecutable.run(["report", run, "--out", base + "/report.html"])
        XCTAssertEqual(report.status, 0, report.output)

        let page = try Chromium.open(base + "/report.html", screenshot: base + "/report.png")
        XCTAssertEqual(page.errors, "")
        XCTAssertEqual(page.headings, ["Training", "Cost", "Reducer: run", "Routers: run", "Adapter analysis: run"])
        // Training 2, cost 3, Reducer 3, routers 1, analysis: experts 0 and 1 of B at q and v (EffiLoRA's A is
        // shared) and the importance.
        XCTAssertEqual(page.charts, 2 + 3 + 3 + 1 + 4 + 1)
        XCTAssertEqual(page.canvases, page.charts)
        XCTAssertEqual(page.drawn, page.charts, "every chart drawn")
        let screenshot = try FileManager.default.attributesOfItem(atPath: base + "/report.png")[.size] as? Int ?? 0
        XCTAssertGreaterThan(screenshot, 10_000)

        // A page whose chart cannot be built says so in its marker (the check can fail).
        let html = try String(contentsOfFile: base + "/report.html", encoding: .utf8)
            .replacingOccurrences(of: "\"kind\":\"heatmap\"", with: "\"kind\":\"heatmap\",\"cells\":null")
        try html.write(toFile: base + "/broken.html", atomically: true, encoding: .utf8)
        let broken = try Chromium.open(base + "/broken.html")
        XCTAssertNotEqual(broken.errors, "")
        XCTAssertLessThan(broken.drawn, page.charts)
    }
}
