import EffiFormats
import EffiTestSupport
import Foundation
import XCTest

/// Commands given a damaged model file: `info` still lists what the file holds, then refuses it
/// with the key at fault (it used to exit 0 on metadata that crashes every other command).
final class DamagedModelTests: XCTestCase {
    func testInfoListsADamagedFileAndRefusesIt() throws {
        try EffiLoRAExecutable.require()
        var model = TinyGGUFModel()
        model.editMetadata = { $0.replace("llama.attention.head_count", type: 4, value: GGUFBuilder.u32(0)) }
        let path = try model.write(seed: 5)
        addTeardownBlock { try? FileManager.default.removeItem(atPath: path) }
        let run = try EffiLoRAExecutable.run(["info", "--model", path])
        XCTAssertNotEqual(run.status, 0, run.output)
        XCTAssertTrue(run.output.contains("heads: 0"), "the listing comes first: \(run.output)")
        XCTAssertTrue(run.output.contains("\(path): llama.attention.head_count is 0, expected 1…1024"), run.output)

        let intact = try TinyGGUFModel().write(seed: 5)
        addTeardownBlock { try? FileManager.default.removeItem(atPath: intact) }
        let good = try EffiLoRAExecutable.run(["info", "--model", intact])
        XCTAssertEqual(good.status, 0, good.output)
    }

    /// A FIFO given as the model or as data is refused at once (opening it would block forever).
    func testAFIFOIsRefusedNotOpened() throws {
        try EffiLoRAExecutable.require()
        let base = FileManager.default.temporaryDirectory.appendingPathComponent("effilora-fifo-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: base + "/data", withIntermediateDirectories: true)
        addTeardownBlock { try? FileManager.default.removeItem(atPath: base) }
        XCTAssertEqual(mkfifo(base + "/model.gguf", 0o644), 0)
        XCTAssertEqual(mkfifo(base + "/data/train.jsonl", 0o644), 0)
        let info = try EffiLoRAExecutable.run(["info", "--model", base + "/model.gguf"])
        XCTAssertNotEqual(info.status, 0)
        XCTAssertTrue(info.output.contains("\(base)/model.gguf: is a FIFO, expected a regular file"), info.output)
        if FileManager.default.fileExists(atPath: PinnedFiles.smolLM2) {
            let train = try EffiLoRAExecutable.run(["train", "--model", PinnedFiles.smolLM2, "--data", base + "/data", "--output", base + "/run"])
            XCTAssertNotEqual(train.status, 0)
            XCTAssertTrue(train.output.contains("\(base)/data/train.jsonl: is a FIFO, expected a regular file"), train.output)
        }
    }
}
