import XCTest
import Foundation
import EffiFormats

/// `effilora train -c config.yaml`: the file's keys are the long options with underscores; the
/// command line wins over the file (checked through the run.json the command writes).
final class ConfigFileTests: XCTestCase {
    func testYAMLOptionsAndCommandLineOverrides() throws {
        guard FileManager.default.fileExists(atPath: PinnedFiles.smolLM2) else { throw XCTSkip("run scripts/setup.sh") }
        let executable = EffiLoRAExecutable.path
        guard FileManager.default.isExecutableFile(atPath: executable) else { return XCTFail("\(executable) is missing: build first") }
        let base = FileManager.default.temporaryDirectory.appendingPathComponent("effilora-yaml-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: base + "/data", withIntermediateDirectories: true)
        addTeardownBlock { try? FileManager.default.removeItem(atPath: base) }
        try #"{"text": "one two three"}"#.write(toFile: base + "/data/train.jsonl", atomically: true, encoding: .utf8)
        try """
        method: lora
        rank: 4
        targets: [q, v_proj]
        learning_rate: 5.0e-4
        mask_prompt: false
        num_layers: 1
        iters: 1
        """.write(toFile: base + "/config.yaml", atomically: true, encoding: .utf8)
        let p = Process()
        p.executableURL = URL(fileURLWithPath: executable)
        p.arguments = ["train", "--model", PinnedFiles.smolLM2, "--data", base + "/data", "-c", base + "/config.yaml",
                       "--rank", "2", "--output", base + "/out"]
        p.standardOutput = FileHandle.nullDevice
        try p.run()
        p.waitUntilExit()
        XCTAssertEqual(p.terminationStatus, 0)
        let run = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: base + "/out/run.json"))) as? [String: Any])
        let adapter = try XCTUnwrap(run["adapter"] as? [String: Any]), training = try XCTUnwrap(run["training"] as? [String: Any])
        XCTAssertEqual(adapter["method"] as? String, "lora")
        XCTAssertEqual(adapter["rank"] as? Int, 2, "the command line wins")
        XCTAssertEqual(adapter["targets"] as? [String], ["q", "v"])
        XCTAssertEqual(adapter["layers"] as? [Int], [29])
        XCTAssertEqual((training["learningRate"] as? Double) ?? 0, 5e-4, accuracy: 1e-9)
        XCTAssertEqual(training["maskPrompt"] as? Bool, false)
        XCTAssertEqual(training["iterations"] as? Int, 1)
    }
}
