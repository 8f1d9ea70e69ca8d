import Foundation
import XCTest

/// Headless Chromium (Debian's `chromium`, installed by scripts/setup.sh) opening a report file:
/// the markers its script sets on <body> once every chart is built, and a screenshot.
enum Chromium {
    static let path = "/usr/bin/chromium"

    struct Page {
        /// Charts the page built, charts whose canvas holds pixels, canvases in the DOM.
        let charts: Int, drawn: Int, canvases: Int
        let errors: String
        let headings: [String]
    }

    static func require() throws {
        guard FileManager.default.isExecutableFile(atPath: path) else { throw XCTSkip("\(path) is missing: run scripts/setup.sh") }
    }

    struct Failure: Error, CustomStringConvertible { let description: String }

    /// Opens `file` offline (`--no-sandbox`: the tests may run as root) and reads the DOM after load.
    static func open(_ file: String, screenshot: String? = nil) throws -> Page {
        let url = URL(fileURLWithPath: file).absoluteString
        let profile = NSTemporaryDirectory() + "effilora-chromium-\(UUID().uuidString)"
        defer { try? FileManager.default.removeItem(atPath: profile) }
        let common = ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--hide-scrollbars", "--user-data-dir=" + profile]
        let dom = try run(common + ["--dump-dom", url])
        if let screenshot { _ = try run(common + ["--window-size=1000,2400", "--screenshot=" + screenshot, url]) }
        func attribute(_ name: String) -> String? {
            guard let body = dom.range(of: "<body"), let end = dom[body.upperBound...].firstIndex(of: ">") else { return nil }
            let tag = dom[body.upperBound..<end]
            guard let start = tag.range(of: "data-\(name)=\"") else { return nil }
            return String(tag[start.upperBound...].prefix { $0 != "\"" })
        }
        let headings = dom.components(separatedBy: "<h2>").dropFirst().map { String($0.prefix { $0 != "<" }) }
        return Page(charts: Int(attribute("charts") ?? "") ?? -1, drawn: Int(attribute("drawn") ?? "") ?? -1,
                    canvases: dom.components(separatedBy: "<canvas").count - 1, errors: attribute("errors") ?? "(no marker)",
                    headings: headings)
    }

    /// Runs chromium, killed after `timeout` seconds; a failure or a timeout is an error (not a skip).
    private static func run(_ arguments: [String], timeout: Double = 120) throws -> String {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: path)
        p.arguments = arguments
        let out = Pipe()
        p.standardOutput = out
        p.standardError = FileHandle.nullDevice
        try p.run()
        nonisolated(unsafe) var data = Data()
        let reader = Thread { data = out.fileHandleForReading.readDataToEndOfFile() }
        reader.start()
        let deadline = Date().addingTimeInterval(timeout)
        while p.isRunning && Date() < deadline { usleep(20_000) }
        if p.isRunning {
            p.terminate()
            throw Failure(description: "chromium did not finish within \(Int(timeout)) s: \(arguments.last ?? "")")
        }
        while !reader.isFinished && Date() < deadline.addingTimeInterval(5) { usleep(1000) }
        guard p.terminationStatus == 0 else { throw Failure(description: "chromium exited with status \(p.terminationStatus)") }
        return String(decoding: data, as: UTF8.self)
    }
}
