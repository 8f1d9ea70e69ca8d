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

    /// Runs `effilora arguments` to the end; its exit status and what it printed (stdout and stderr).
    static func run(_ arguments: [String]) throws -> (status: Int32, output: String) {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: path)
        p.arguments = arguments
        let pipe = Pipe()
        p.standardOutput = pipe
        p.standardError = pipe
        try p.run()
        let output = pipe.fileHandleForReading.readDataToEndOfFile()
        p.waitUntilExit()
        return (p.terminationStatus, String(decoding: output, as: UTF8.self))
    }
}
