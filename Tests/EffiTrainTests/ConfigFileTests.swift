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

    /// Config files that are not what they seem are refused before anything loads, naming the file
    /// (and the line or key): duplicate keys, values that would be read as options, nested mappings
    /// and aliases that expand a few hundred bytes into billions of values.
    func testMisleadingConfigFilesAreRefused() throws {
        try EffiLoRAExecutable.require()
        let base = FileManager.default.temporaryDirectory.appendingPathComponent("effilora-yaml-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: base, withIntermediateDirectories: true)
        addTeardownBlock { try? FileManager.default.removeItem(atPath: base) }
        var laughs = [#"a0: &a0 ["x", "x", "x", "x", "x", "x", "x", "x", "x"]"#]
        for i in 1..<10 { laughs.append("a\(i): &a\(i) [" + Array(repeating: "*a\(i - 1)", count: 9).joined(separator: ", ") + "]") }
        let cases: [(String, String)] = [
            ("rank: 4\niters: 2\nrank: 8\n", "duplicate.yaml:3: key rank appears twice"),
            (#"targets: [q, --learning-rate, "5"]"#, "targets: list value --learning-rate starts with \"-\""),
            ("lora:\n  rank: 4\n", "lora is a mapping; expected a value or a list"),
            (laughs.joined(separator: "\n"), "more than 100000 values once its aliases are expanded"),
            // Found by effilora-fuzz: a list as a key made Yams trap.
            ("[rank, iters]: 4\n", "case4.yaml:1: a key in the top level is not a plain name"),
            // Found by libFuzzer: a YAML 1.1 base-60 integer that overflows made Yams trap.
            ("rank: 99999999999:59:59:59:59:59:59:59:59\n", "case5.yaml:1: 99999999999:59:59:59:59:59:59:59:59 is not an integer that fits in 64 bits"),
        ]
        for (i, (text, expected)) in cases.enumerated() {
            let file = base + (i == 0 ? "/duplicate.yaml" : "/case\(i).yaml")
            try text.write(toFile: file, atomically: true, encoding: .utf8)
            let run = try EffiLoRAExecutable.run(["train", "--model", base + "/none.gguf", "--data", base, "-c", file])
            XCTAssertNotEqual(run.status, 0, text)
            XCTAssertTrue(run.output.contains(file) && run.output.contains(expected), "\(expected): \(run.output)")
        }
        // --config=FILE reads the file as -c FILE does (its iters: 0 is refused), and a value
        // starting with "-" stays a value (--warmup=-3 reaches train's own check).
        try "iters: 0\n".write(toFile: base + "/iters.yaml", atomically: true, encoding: .utf8)
        let equals = try EffiLoRAExecutable.run(["train", "--model", base + "/none.gguf", "--data", base, "--config=" + base + "/iters.yaml"])
        XCTAssertNotEqual(equals.status, 0)
        XCTAssertTrue(equals.output.contains("--iters, --batch-size, --grad-accumulation must be positive"), equals.output)
        try "warmup: -3\n".write(toFile: base + "/warmup.yaml", atomically: true, encoding: .utf8)
        let negative = try EffiLoRAExecutable.run(["train", "--model", base + "/none.gguf", "--data", base, "-c", base + "/warmup.yaml"])
        XCTAssertNotEqual(negative.status, 0)
        XCTAssertTrue(negative.output.contains("--warmup must be ≥ 0 and --learning-rate a positive number (got -3,"), negative.output)
    }
}
