import EffiFormats
import EffiTrain
import Foundation
import XCTest

/// Outputs belong to one command and are never written over their own input: a run folder holds
/// one run (a second run into it is refused, a new run needs --overwrite), and import/export
/// refuse an output that is their input, however it is spelled.
final class OutputOwnershipTests: XCTestCase {
    func temporary() throws -> String {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("effilora-ownership-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        addTeardownBlock { try? FileManager.default.removeItem(atPath: path) }
        return path
    }

    /// A temporary folder with data/train.jsonl (one example, no valid.jsonl).
    func folderWithData() throws -> String {
        guard FileManager.default.fileExists(atPath: PinnedFiles.smolLM2) else { throw XCTSkip("run scripts/setup.sh") }
        try EffiLoRAExecutable.require()
        let base = try temporary()
        try FileManager.default.createDirectory(atPath: base + "/data", withIntermediateDirectories: true)
        try #"{"text": "one two three"}"#.write(toFile: base + "/data/train.jsonl", atomically: true, encoding: .utf8)
        return base
    }

    func train(_ base: String, _ extra: [String] = []) throws -> (status: Int32, output: String, standardOutput: String) {
        try EffiLoRAExecutable.run(["train", "--model", PinnedFiles.smolLM2, "--data", base + "/data", "--output", base + "/run",
                                    "--rank", "2", "--num-layers", "1", "--targets", "q", "--iters", "1", "--batch-size", "1"] + extra)
    }

    func testARunFolderHoldsOneRun() throws {
        let base = try folderWithData()
        let first = try train(base)
        XCTAssertEqual(first.status, 0, first.output)
        XCTAssertTrue(first.output.contains("data: no \(base)/data/valid.jsonl: the run reports no validation loss"), first.output)

        let again = try train(base)
        XCTAssertNotEqual(again.status, 0)
        XCTAssertTrue(again.output.contains("\(base)/run: already holds") && again.output.contains("--resume") && again.output.contains("--overwrite"), again.output)
        let metrics = try String(contentsOfFile: base + "/run/metrics.jsonl", encoding: .utf8)

        try "a log of my own".write(toFile: base + "/run/notes.txt", atomically: true, encoding: .utf8)
        let over = try train(base, ["--overwrite"])
        XCTAssertEqual(over.status, 0, over.output)
        XCTAssertTrue(FileManager.default.fileExists(atPath: base + "/run/notes.txt"), "--overwrite removes only a run's own files")
        // A run folder that holds the training data is refused before anything is removed.
        let inside = try EffiLoRAExecutable.run(["train", "--model", PinnedFiles.smolLM2, "--data", base + "/data", "--output", base,
                                                 "--overwrite", "--iters", "1"])
        XCTAssertNotEqual(inside.status, 0)
        XCTAssertTrue(inside.output.contains("which this command reads"), inside.output)
        XCTAssertTrue(FileManager.default.fileExists(atPath: base + "/data/train.jsonl"))
        XCTAssertEqual(try String(contentsOfFile: base + "/run/metrics.jsonl", encoding: .utf8).split(separator: "\n").count,
                       metrics.split(separator: "\n").count, "the new run's lines only, not appended to the old ones")

        // A run holding the folder (this process, through the same lock) makes a second one fail at once.
        let lock = try RunFolderLock(base + "/run")
        let concurrent = try train(base, ["--overwrite"])
        XCTAssertNotEqual(concurrent.status, 0)
        XCTAssertTrue(concurrent.output.contains("\(base)/run: is in use by another run (process \(getpid())"), concurrent.output)
        withExtendedLifetime(lock) {}
    }

    func testImportAndExportRefuseToWriteOverTheirInput() throws {
        let base = try folderWithData()
        XCTAssertEqual(try train(base).status, 0)
        let adapter = base + "/run/adapter"
        let peft = base + "/peft"
        let exported = try EffiLoRAExecutable.run(["export", "--adapter", adapter, "--out", peft])
        XCTAssertEqual(exported.status, 0, exported.output)
        try FileManager.default.createSymbolicLink(atPath: base + "/alias", withDestinationPath: adapter)
        let config = try Data(contentsOf: URL(fileURLWithPath: adapter + "/adapter_config.json"))
        for (command, out) in [(["export", "--adapter", adapter], adapter), (["export", "--adapter", adapter], base + "/alias"),
                               (["export", "--adapter", adapter], base + "/run"),
                               (["import", "--peft", peft, "--model", PinnedFiles.smolLM2], peft)] {
            let run = try EffiLoRAExecutable.run(command + ["--out", out])
            XCTAssertNotEqual(run.status, 0, "\(command) → \(out)")
            XCTAssertTrue(run.output.contains("which this command reads; write to another path"), run.output)
        }
        XCTAssertEqual(try Data(contentsOf: URL(fileURLWithPath: adapter + "/adapter_config.json")), config, "the adapter is untouched")
        XCTAssertEqual(try EffiLoRAExecutable.run(["score", "--model", PinnedFiles.smolLM2, "--adapter", peft, "--text", "one two"]).status, 0)
    }
}
