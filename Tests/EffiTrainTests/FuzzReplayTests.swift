import Foundation
import XCTest

/// The fuzz targets (effilora-fuzz) on their seed corpus and 2,000 seeded truncations and byte
/// changes of each seed: every input must be parsed or refused, none may trap. The long runs
/// under libFuzzer are scripts/fuzz.sh's.
final class FuzzReplayTests: XCTestCase {
    func testEveryTargetSurvivesItsMutatedSeeds() throws {
        let tool = (EffiLoRAExecutable.path as NSString).deletingLastPathComponent + "/effilora-fuzz"
        guard FileManager.default.isExecutableFile(atPath: tool) else { throw XCTSkip("\(tool) is missing: build first") }
        let seeds = FileManager.default.temporaryDirectory.appendingPathComponent("effilora-seeds-\(UUID().uuidString)").path
        addTeardownBlock { try? FileManager.default.removeItem(atPath: seeds) }
        func run(_ arguments: [String]) throws -> (Int32, String) {
            let p = Process()
            p.executableURL = URL(fileURLWithPath: tool)
            p.arguments = arguments
            let pipe = Pipe()
            p.standardOutput = pipe
            p.standardError = pipe
            try p.run()
            let output = String(decoding: pipe.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
            p.waitUntilExit()
            return (p.terminationStatus, output)
        }
        let (status, output) = try run(["seeds", seeds])
        XCTAssertEqual(status, 0, output)
        for target in ["gguf", "safetensors", "tokenizer-json", "jsonl", "yaml", "adapter-config"] {
            let files = try FileManager.default.contentsOfDirectory(atPath: seeds + "/" + target)
            XCTAssertFalse(files.isEmpty, target)
            let (status, output) = try run([target, seeds + "/" + target, "--mutations", "2000"])
            XCTAssertEqual(status, 0, "\(target): \(output.suffix(3000))")
            XCTAssertTrue(output.contains("\(target): \(files.count * 2001) inputs from \(files.count) files ran to completion"), output)
        }
    }
}
