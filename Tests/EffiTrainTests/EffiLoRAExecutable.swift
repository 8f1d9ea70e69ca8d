import Foundation
import XCTest

/// The release build of the command-line tool, which the tests of whole commands run
/// (scripts/test.sh builds it before the tests).
enum EffiLoRAExecutable {
    static var path: String {
        URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent(".build/release/effilora").path
    }

    static func require() throws {
        guard FileManager.default.isExecutableFile(atPath: path) else { throw XCTSkip("\(path) is missing: build first") }
    }

    /// Runs `effilora arguments` to the end; its exit status, what it printed (stdout, then stderr)
    /// and its standard output alone (where `--json` reports go; stderr says what precision runs).
    static func run(_ arguments: [String]) throws -> (status: Int32, output: String, standardOutput: String) {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: path)
        p.arguments = arguments
        let out = Pipe(), err = Pipe()
        p.standardOutput = out
        p.standardError = err
        try p.run()
        // stderr is read on its own thread so that neither pipe can fill and block the tool.
        nonisolated(unsafe) var errors = Data()
        let readErrors = Thread { errors = err.fileHandleForReading.readDataToEndOfFile() }
        readErrors.start()
        let standardOutput = String(decoding: out.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        p.waitUntilExit()
        while !readErrors.isFinished { usleep(1000) }
        return (p.terminationStatus, standardOutput + String(decoding: errors, as: UTF8.self), standardOutput)
    }
}
