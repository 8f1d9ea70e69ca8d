import XCTest
import Foundation
import EffiFormats
@testable import EffiTrain

/// `effilora train` killed (SIGKILL) in the middle of a run and resumed with `--resume` writes the
/// same loss trajectory as an uninterrupted run, bit for bit — on the real SmolLM2 model.
final class KillResumeTests: XCTestCase {
    var executable: String { EffiLoRAExecutable.path }

    func launch(_ arguments: [String]) throws -> Process {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: executable)
        p.arguments = arguments
        p.standardOutput = FileHandle.nullDevice
        p.standardError = FileHandle.nullDevice
        try p.run()
        return p
    }

    func losses(_ output: String) throws -> [String] {
        // Compared as the JSON text of each step's loss, so "equal" means bit for bit.
        let text = try String(contentsOfFile: output + "/metrics.jsonl", encoding: .utf8)
        return text.split(separator: "\n").filter { $0.contains("\"loss\"") }.map { line in
            String(line.split(separator: ",").first { $0.contains("\"loss\"") } ?? "")
        }
    }

    func testKilledRunResumesBitForBit() throws {
        guard FileManager.default.fileExists(atPath: PinnedFiles.smolLM2) else { throw XCTSkip("run scripts/setup.sh") }
        guard FileManager.default.isExecutableFile(atPath: executable) else { return XCTFail("\(executable) is missing: build first") }
        let base = FileManager.default.temporaryDirectory.appendingPathComponent("effilora-kill-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: base + "/data", withIntermediateDirectories: true)
        addTeardownBlock { try? FileManager.default.removeItem(atPath: base) }
        let lines = (0..<24).map { #"{"prompt": "Question: what is \#($0) plus \#($0)?\nAnswer:", "completion": " \#(2 * $0)"}"# }
        try lines.joined(separator: "\n").write(toFile: base + "/data/train.jsonl", atomically: true, encoding: .utf8)
        try lines.prefix(4).joined(separator: "\n").write(toFile: base + "/data/valid.jsonl", atomically: true, encoding: .utf8)
        let common = ["train", "--model", PinnedFiles.smolLM2, "--data", base + "/data", "--iters", "10", "--batch-size", "2",
                      "--num-layers", "2", "--max-seq-length", "32", "--save-every", "2", "--steps-per-eval", "5",
                      "--learning-rate", "1e-3", "--dropout", "0.1", "--experts", "2", "--balance", "0.01",
                      "--grad-accumulation", "2"]
        let straight = try launch(common + ["--output", base + "/straight"])
        straight.waitUntilExit()
        XCTAssertEqual(straight.terminationStatus, 0)

        let killed = try launch(common + ["--output", base + "/killed"])
        let deadline = Date().addingTimeInterval(120)
        while !FileManager.default.fileExists(atPath: base + "/killed/checkpoints/step-000004") && Date() < deadline {
            usleep(20_000)
        }
        kill(killed.processIdentifier, SIGKILL)
        killed.waitUntilExit()
        XCTAssertEqual(killed.terminationReason, .uncaughtSignal, "the run was killed before it finished")

        let resumed = try launch(common + ["--output", base + "/killed", "--resume", base + "/killed"])
        resumed.waitUntilExit()
        XCTAssertEqual(resumed.terminationStatus, 0)
        let a = try losses(base + "/straight"), b = try losses(base + "/killed")
        XCTAssertEqual(a.count, 10)
        XCTAssertEqual(a, b)
        XCTAssertTrue(FileManager.default.fileExists(atPath: base + "/killed/adapter/adapters.safetensors"))
    }
}
