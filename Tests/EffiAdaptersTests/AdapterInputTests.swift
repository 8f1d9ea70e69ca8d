import XCTest
import Foundation
import EffiCore
import EffiFormats
import EffiTestSupport
@testable import EffiModel
@testable import EffiAdapters

/// Adapter files and options that are damaged or absurd are refused with the file, key or tensor
/// at fault, before they allocate, hang, or load as a different adapter.
final class AdapterInputTests: XCTestCase {
    func temporary() -> String {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("effilora-adapter-input-\(UUID().uuidString)").path
        addTeardownBlock { try? FileManager.default.removeItem(atPath: path) }
        return path
    }

    func tinyConfig() throws -> ModelConfig {
        let path = try TinyGGUFModel().write(seed: 11)
        addTeardownBlock { try? FileManager.default.removeItem(atPath: path) }
        return try ModelConfig(gguf: try GGUFFile(path: path))
    }

    func lora(_ model: ModelConfig) throws -> Adapters {
        var c = AdapterConfig()
        c.method = .lora; c.rank = 4; c.alpha = 8; c.targets = [.q, .v]; c.seed = 5
        let a = try Adapters(config: c, model: model)
        for p in a.parameters where p.trainable { for i in 0..<p.value.count { p.value[i] = 0.01 * Float(i % 7) } }
        return a
    }

    func assertThrows(_ expected: String, file: StaticString = #filePath, line: UInt = #line, _ body: () throws -> Void) {
        XCTAssertThrowsError(try body(), file: file, line: line) { error in
            XCTAssertTrue("\(error)".contains(expected), "\"\(error)\" should mention \"\(expected)\"", file: file, line: line)
        }
    }

    func testSizesBeyondTheModelAreRefused() throws {
        let model = try tinyConfig()   // width 32
        var c = AdapterConfig()
        c.rank = 1_000_000_000
        assertThrows("rank must be in 1...32 (the model width), got 1000000000") { try c.validate(for: model) }
        c.rank = 4; c.method = .effilora; c.experts = 1_000_000_000
        assertThrows("experts must be ≤ 64, got 1000000000") { try c.validate(for: model) }
        c.experts = 1; c.alpha = .infinity
        assertThrows("alpha must be a finite number") { try c.validate(for: model) }
        // A range is checked before it is expanded (this one would be two billion layers).
        assertThrows("layer 2000000000 does not exist; the model has layers 0...29") { _ = try AdapterConfig.parseLayers("0-2000000000", count: 30) }
        XCTAssertEqual(try AdapterConfig.parseLayers("2-4,7", count: 30), [2, 3, 4, 7])
    }

    func testNonFiniteTensorsAndForeignFormatsAreRefused() throws {
        let model = try tinyConfig()
        let folder = temporary()
        let a = try lora(model)
        let b = try XCTUnwrap(a.parameters.first { $0.name.hasSuffix(".B") })
        b.value[3] = .nan
        try AdapterFile.save(a, to: folder)
        assertThrows("\(folder)/adapters.safetensors: tensor \(b.name) holds 1 NaN or infinite values") { _ = try AdapterFile.load(from: folder, model: model) }

        // The same through PEFT's format, and through llama.cpp's.
        let peft = temporary()
        try a.exportPEFT(to: peft, baseModel: "tiny")
        assertThrows("adapter_model.safetensors: tensor") { _ = try Adapters.importPEFT(folder: peft, model: model) }
        assertThrows("NaN or infinite values") { _ = try Adapters.importPEFT(folder: peft, model: model) }

        b.value[3] = 0
        try AdapterFile.save(a, to: folder)
        XCTAssertNoThrow(try AdapterFile.load(from: folder, model: model))
        let configPath = folder + "/adapter_config.json"
        for (key, value, expected) in [("format", "\"other-adapter\"" as String, "format \"other-adapter\" version 1: expected \"effilora-adapter\" version 1"),
                                       ("version", "7", "format \"effilora-adapter\" version 7")] {
            var json = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: configPath))) as? [String: Any])
            let original = json[key]
            json[key] = try JSONSerialization.jsonObject(with: Data(value.utf8), options: .fragmentsAllowed)
            try JSONSerialization.data(withJSONObject: json).write(to: URL(fileURLWithPath: configPath))
            assertThrows("\(configPath): \(expected)") { _ = try AdapterFile.load(from: folder, model: model) }
            json[key] = original
            try JSONSerialization.data(withJSONObject: json).write(to: URL(fileURLWithPath: configPath))
        }
    }

    func testPEFTConfigFieldsThisToolDoesNotImplementAreRefused() throws {
        let model = try tinyConfig()
        let peft = temporary()
        try lora(model).exportPEFT(to: peft, baseModel: "tiny")
        let configPath = peft + "/adapter_config.json"
        let original = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: configPath))) as? [String: Any])
        XCTAssertNoThrow(try Adapters.importPEFT(folder: peft, model: model))
        let cases: [(String, Any, String)] = [
            ("bias", 1, "bias 1 is not supported"),
            ("modules_to_save", "lm_head", "modules_to_save \"lm_head\" is not supported"),
            ("task_type", "SEQ_CLS", "task_type \"SEQ_CLS\" is not supported"),
            ("lora_alpha", 1e39, "alpha must be a finite number"),
            ("r", 1_000_000_000, "rank must be in 1...32"),
            ("rank_pattern", ["q_proj[": 2], "rank_pattern key \"q_proj[\": not a valid regular expression"),
            ("rank_pattern", ["(.*.*.*.*.*.*.*.*.*.*.*.*)*X": 2], "a repeated group that holds a repetition or an alternation"),
            ("rank_pattern", ["(.|.)*z": 2], "a repeated group that holds a repetition or an alternation"),
            ("alpha_pattern", [".*.*.*.*.*X": 2.0], "more than 4 repetitions"),
        ]
        for (key, value, expected) in cases {
            var json = original
            json[key] = value
            try JSONSerialization.data(withJSONObject: json).write(to: URL(fileURLWithPath: configPath))
            assertThrows(expected) { _ = try Adapters.importPEFT(folder: peft, model: model) }
        }
        // Patterns PEFT users write are accepted and matched as PEFT matches them.
        var json = original
        json["rank_pattern"] = ["layers\\.\\d+\\.self_attn\\.q_proj": 4, "model.layers.1.self_attn.v_proj": 4, "(?:q|v)_proj": 4]
        try JSONSerialization.data(withJSONObject: json).write(to: URL(fileURLWithPath: configPath))
        XCTAssertNoThrow(try Adapters.importPEFT(folder: peft, model: model))
    }
}
