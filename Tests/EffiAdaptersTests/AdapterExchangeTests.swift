import XCTest
import Foundation
import EffiCore
import EffiFormats
import EffiTestSupport
@testable import EffiModel
@testable import EffiAdapters

/// PEFT export and import, and fusing adapters into Hugging Face folders and GGUF files, on tiny
/// random GGUF models (written by the tests' own GGUFBuilder) with a tiny byte-level tokenizer.
final class AdapterExchangeTests: XCTestCase {
    let tokens: [Int32] = [5, 17, 256, 100, 3, 259, 42, 8, 200, 77]
    let text = "the cat sat on the mat, 42 times."

    func temporary(_ suffix: String = "") -> String {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("effilora-exchange-\(UUID().uuidString)\(suffix)").path
        addTeardownBlock { try? FileManager.default.removeItem(atPath: path) }
        return path
    }

    func tinyModel(_ architecture: String = "llama", tied: Bool = false) throws -> LanguageModel {
        let path = try TinyGGUFModel(architecture: architecture, tied: tied).write(seed: 11)
        addTeardownBlock { try? FileManager.default.removeItem(atPath: path) }
        return try LanguageModel.load(path)
    }

    /// An adapter with every trainable parameter random (B ≠ 0, so it changes the outputs).
    func randomAdapter(_ model: ModelConfig, method: AdapterConfig.Method = .effilora, targets: [Site] = Site.allCases,
                       experts: Int = 1, rank: Int = 4) throws -> Adapters {
        var c = AdapterConfig()
        c.method = method; c.rank = rank; c.alpha = 8; c.targets = targets; c.experts = experts; c.seed = 5
        let a = try Adapters(config: c, model: model)
        var rng = SplitMix64(seed: 21)
        for p in a.parameters where p.trainable { for i in 0..<p.value.count { p.value[i] = rng.nextFloat(in: -0.4...0.4) } }
        return a
    }

    func logits(_ lm: LanguageModel, _ adapter: DecoderAdapter?) -> Tensor {
        lm.decoder.adapter = adapter
        defer { lm.decoder.adapter = nil }
        return lm.decoder.logits(tokens: tokens, batch: 1, seqLen: tokens.count)
    }

    func maxDifference(_ a: Tensor, _ b: Tensor) -> Float {
        XCTAssertEqual(a.shape, b.shape)
        return zip(a.array, b.array).map { abs($0 - $1) }.max() ?? .infinity
    }

    // MARK: - PEFT export and import

    func testExportThenImportGivesIdenticalTensorsAndScores() throws {
        let lm = try tinyModel()
        XCTAssertEqual(lm.decoder.config.ropeLayout, .adjacentPairs)
        let a = try randomAdapter(lm.decoder.config)
        let peft = temporary()
        try a.exportPEFT(to: peft, baseModel: "tiny")
        let file = try SafetensorsFile(path: peft + "/adapter_model.safetensors")
        XCTAssertEqual(file.metadata, ["format": "pt"])
        XCTAssertEqual(file.names.count, 2 * 7 * 2, "A and B for 7 sites in 2 layers: the shared A written per site")
        XCTAssertEqual(file.info("base_model.model.model.layers.1.mlp.down_proj.lora_A.weight")?.shape, [4, 48])
        XCTAssertEqual(file.info("base_model.model.model.layers.1.self_attn.k_proj.lora_B.weight")?.shape, [16, 4])
        let config = try readJSONObject(peft + "/adapter_config.json")
        XCTAssertEqual(config["peft_type"] as? String, "LORA")
        XCTAssertEqual(config["r"] as? Int, 4)
        XCTAssertEqual(config["lora_alpha"] as? Double, 8)
        XCTAssertEqual(config["target_modules"] as? [String], ["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"])

        // q/k B rows are in Hugging Face order in the file, the others as trained.
        let native = try a.loraFactors()
        for f in native where f.layer == 0 {
            let stored = Tensor(shape: f.b.shape)
            try file.readFloats(PEFT.tensorName(layer: 0, site: f.site, matrix: "B"), into: stored.data, count: stored.count)
            if let heads = QKRowOrder.heads(of: f.site, lm.decoder.config) {
                XCTAssertEqual(stored.array, QKRowOrder.reorder(f.b, heads: heads, from: .adjacentPairs, to: .rotateHalf).array, "\(f.site)")
                XCTAssertNotEqual(stored.array, f.b.array, "\(f.site): the rows must move")
            } else {
                XCTAssertEqual(stored.array, f.b.array, "\(f.site)")
            }
        }

        let b = try Adapters.load(from: peft, model: lm.decoder.config)
        XCTAssertEqual(b.config.method, .lora)
        let imported = try b.loraFactors()
        XCTAssertEqual(imported.count, native.count)
        for (x, y) in zip(native, imported) {
            XCTAssertEqual(x.layer, y.layer)
            XCTAssertEqual(x.site, y.site)
            XCTAssertEqual(x.scale, y.scale)
            XCTAssertEqual(x.a.array, y.a.array, "layer \(x.layer) \(x.site) A")
            XCTAssertEqual(x.b.array, y.b.array, "layer \(x.layer) \(x.site) B")
        }
        let base = logits(lm, nil), expected = logits(lm, a), got = logits(lm, b)
        XCTAssertGreaterThan(maxDifference(base, expected), 0.05, "the adapter changes the logits")
        XCTAssertEqual(maxDifference(expected, got), 0, "identical scores")

        // Exporting the imported adapter gives the same file, byte for byte.
        let again = temporary()
        try b.exportPEFT(to: again, baseModel: "tiny")
        XCTAssertEqual(try Data(contentsOf: URL(fileURLWithPath: again + "/adapter_model.safetensors")),
                       try Data(contentsOf: URL(fileURLWithPath: peft + "/adapter_model.safetensors")))
    }

    /// An adapter trained on a GGUF llama model (q/k rows permuted) means the same on the model's
    /// Hugging Face form, exported through PEFT or loaded natively. RoPE is applied in different
    /// layouts on the two forms, so a wrong permutation shows in the logits.
    func testQKPermutationRoundTripOnTheHuggingFaceForm() throws {
        let lm = try tinyModel()
        let a = try randomAdapter(lm.decoder.config, method: .lora, targets: [.q, .k])
        let folder = temporary()
        try ModelWriter.writeHuggingFace(lm, to: folder, dtype: .f32)
        let hf = try LanguageModel.load(folder)
        XCTAssertEqual(hf.decoder.config.ropeLayout, .rotateHalf)
        let baseDiff = maxDifference(logits(lm, nil), logits(hf, nil))
        XCTAssertLessThanOrEqual(baseDiff, 1e-4, "the converted base")
        let expected = logits(lm, a)
        XCTAssertGreaterThan(maxDifference(logits(lm, nil), expected), 0.05)

        let peft = temporary()
        try a.exportPEFT(to: peft, baseModel: folder)
        let viaPEFT = maxDifference(expected, logits(hf, try Adapters.importPEFT(folder: peft, model: hf.decoder.config)))
        let native = temporary()
        try AdapterFile.save(a, to: native)
        let viaNative = maxDifference(expected, logits(hf, try AdapterFile.load(from: native, model: hf.decoder.config)))
        print("q/k adapter, GGUF llama vs its HF form: base \(baseDiff), via PEFT \(viaPEFT), native file \(viaNative)")
        XCTAssertLessThanOrEqual(viaPEFT, 1e-4)
        XCTAssertLessThanOrEqual(viaNative, 1e-4)
        // Control: the same B rows without the permutation give other logits.
        let unmoved = try randomAdapter(hf.decoder.config, method: .lora, targets: [.q, .k])
        XCTAssertGreaterThan(maxDifference(expected, logits(hf, unmoved)), 1e-2)
        // The recorded row order lets export run without the base model.
        XCTAssertEqual(try AdapterFile.trainedModel(of: native)?.ropeLayout, .adjacentPairs)
    }

    func testDroppedLayersAreLeftOut() throws {
        let lm = try tinyModel()
        let a = try randomAdapter(lm.decoder.config)
        a.setMode(.dropped, layer: 0)
        let peft = temporary()
        try a.exportPEFT(to: peft, baseModel: "tiny")
        XCTAssertEqual(try readJSONObject(peft + "/adapter_config.json")["layers_to_transform"] as? [Int], [1])
        let names = try SafetensorsFile(path: peft + "/adapter_model.safetensors").names
        XCTAssertEqual(names.count, 14)
        XCTAssertFalse(names.contains { $0.contains("layers.0.") })
        let b = try Adapters.importPEFT(folder: peft, model: lm.decoder.config)
        XCTAssertEqual(maxDifference(logits(lm, a), logits(lm, b)), 0)
    }

    func testVeRAIsExportedAsAnEquivalentLoRA() throws {
        let lm = try tinyModel("qwen2")
        let a = try randomAdapter(lm.decoder.config, method: .vera, rank: 6)
        let peft = temporary()
        try a.exportPEFT(to: peft, baseModel: "tiny")
        let b = try Adapters.importPEFT(folder: peft, model: lm.decoder.config)
        XCTAssertEqual(b.config.scale, 1)
        let d = maxDifference(logits(lm, a), logits(lm, b))
        print("VeRA as LoRA: max |Δlogit| \(d)")
        XCTAssertLessThanOrEqual(d, 1e-5)
    }

    func testRoutedAdaptersAreRefusedWithTheReason() throws {
        let lm = try tinyModel()
        for (method, experts) in [(AdapterConfig.Method.effilora, 2), (.hydralora, 3)] {
            let a = try randomAdapter(lm.decoder.config, method: method, experts: experts)
            XCTAssertThrowsError(try a.exportPEFT(to: temporary(), baseModel: "tiny")) { error in
                XCTAssertTrue("\(error)".contains("router") && "\(error)".contains("not a LoRA"), "\(error)")
            }
            XCTAssertThrowsError(try a.fuse(into: lm.decoder.weights)) { XCTAssertTrue("\($0)".contains("cannot be fused"), "\($0)") }
        }
    }

    /// rank_pattern and alpha_pattern against ΔW = (alpha_i / r_i) · B_i A_i computed here.
    func testRankAndAlphaPatternsImportExactly() throws {
        let lm = try tinyModel("qwen2")  // rotate-half: no Q/K permutation between PEFT and the model
        let c = lm.decoder.config
        let folder = temporary()
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        let config: [String: Any] = ["peft_type": "LORA", "r": 4, "lora_alpha": 8, "target_modules": ["q_proj", "down_proj"],
                                     "rank_pattern": ["q_proj": 2], "alpha_pattern": ["model.layers.1.mlp.down_proj": 3]]
        try JSONSerialization.data(withJSONObject: config).write(to: URL(fileURLWithPath: folder + "/adapter_config.json"))
        var writer = SafetensorsWriter(metadata: ["format": "pt"])
        var rng = SplitMix64(seed: 8)
        var expected: [String: Tensor] = [:]  // "layer.site" → ΔW
        for layer in 0..<c.layers {
            for site in [Site.q, .down] {
                let r = site == .q ? 2 : 4, alpha: Float = site == .down && layer == 1 ? 3 : 8
                let a = Tensor(shape: [r, site.inputWidth(c)], values: (0..<r * site.inputWidth(c)).map { _ in rng.nextFloat(in: -0.5...0.5) })
                let b = Tensor(shape: [site.outputWidth(c), r], values: (0..<r * site.outputWidth(c)).map { _ in rng.nextFloat(in: -0.5...0.5) })
                writer.add(PEFT.tensorName(layer: layer, site: site, matrix: "A"), a)
                writer.add(PEFT.tensorName(layer: layer, site: site, matrix: "B"), b)
                let delta = Tensor(shape: [b.rows, a.columns])
                for i in 0..<b.rows { for j in 0..<a.columns { for k in 0..<r { delta[i * a.columns + j] += alpha / Float(r) * b[i * r + k] * a[k * a.columns + j] } } }
                expected["\(layer).\(site)"] = delta
            }
        }
        try writer.write(to: folder + "/adapter_model.safetensors")
        let adapters = try Adapters.importPEFT(folder: folder, model: c)
        XCTAssertEqual(adapters.config.rank, 4)
        let before = (0..<c.layers).map { l in [Site.q, .down].map { lm.decoder.weights.layers[l].weight(of: $0).values().clone() } }
        try adapters.fuse(into: lm.decoder.weights)
        var worst: Float = 0
        for layer in 0..<c.layers {
            for (i, site) in [Site.q, .down].enumerated() {
                let w = lm.decoder.weights.layers[layer].weight(of: site).values(), delta = expected["\(layer).\(site)"]!
                for e in 0..<w.count { worst = max(worst, abs(w[e] - before[layer][i][e] - delta[e])) }
            }
        }
        XCTAssertLessThanOrEqual(worst, 1e-5)
    }

    func testUnsupportedPEFTOptionsAreErrors() throws {
        let lm = try tinyModel()
        let peft = temporary()
        try randomAdapter(lm.decoder.config, method: .lora).exportPEFT(to: peft, baseModel: "tiny")
        let path = peft + "/adapter_config.json"
        let original = try readJSONObject(path)
        // A DoRA config over a plain LoRA's tensors: the magnitudes are missing, and the error says which.
        for (key, value, expected, file) in [("use_dora", true as Any, "lora_magnitude_vector is missing", "adapter_model.safetensors"),
                                             ("fan_in_fan_out", true as Any, "fan_in_fan_out", "adapter_config.json"),
                                             ("peft_type", "IA3" as Any, "IA3", "adapter_config.json"),
                                             ("bias", "all" as Any, "bias \"all\" is not supported", "adapter_config.json"),
                                             ("modules_to_save", ["lm_head"] as Any, "modules_to_save", "adapter_config.json")] {
            var changed = original
            changed[key] = value
            try JSONSerialization.data(withJSONObject: changed).write(to: URL(fileURLWithPath: path))
            XCTAssertThrowsError(try Adapters.load(from: peft, model: lm.decoder.config)) { error in
                XCTAssertTrue("\(error)".contains(expected) && "\(error)".contains(file), "\(error)")
            }
        }
        XCTAssertThrowsError(try Adapters.load(from: temporary(), model: lm.decoder.config)) { error in
            XCTAssertTrue("\(error)".contains("adapters.safetensors") && "\(error)".contains("adapter_model.safetensors"), "\(error)")
        }
    }

    // MARK: - fuse

    func checkFuse(_ architecture: String, tied: Bool = false) throws {
        let lm = try tinyModel(architecture, tied: tied)
        let a = try randomAdapter(lm.decoder.config)
        let expected = logits(lm, a)
        try a.fuse(into: lm.decoder.weights)
        XCTAssertLessThanOrEqual(maxDifference(expected, logits(lm, nil)), 1e-4, "fused in memory")

        let folder = temporary()
        try ModelWriter.writeHuggingFace(lm, to: folder, dtype: .f32)
        let hf = try LanguageModel.load(folder)
        let hfDiff = maxDifference(expected, logits(hf, nil))
        XCTAssertLessThanOrEqual(hfDiff, 1e-3)
        XCTAssertEqual(hf.decoder.config.tiedOutput, tied)
        XCTAssertEqual(hf.tokenizer.encode(text), lm.tokenizer.encode(text))
        XCTAssertEqual(hf.tokenizer.chatTemplateSource, TinyGGUFModel.chatTemplate)
        XCTAssertEqual(hf.stopTokens, lm.stopTokens)
        let range = expected.array.map(abs).max()!
        let bf16Folder = temporary()
        try ModelWriter.writeHuggingFace(lm, to: bf16Folder, dtype: .bf16)
        XCTAssertEqual(try SafetensorsFile(path: bf16Folder + "/model.safetensors").info("model.layers.0.self_attn.q_proj.weight")?.dtype, .bf16)
        // BF16 keeps 8 significant bits: relative to the logits' size.
        XCTAssertLessThanOrEqual(maxDifference(expected, logits(try LanguageModel.load(bf16Folder), nil)), 5e-2 * range, "BF16 folder")

        let gguf = temporary(".gguf")
        try ModelWriter.writeGGUF(lm, to: gguf, type: .f32)
        let reloaded = try LanguageModel.load(gguf)
        let ggufDiff = maxDifference(expected, logits(reloaded, nil))
        XCTAssertLessThanOrEqual(ggufDiff, 1e-3)
        XCTAssertEqual(reloaded.decoder.config, lm.decoder.config)
        XCTAssertEqual(reloaded.tokenizer.encode(text), lm.tokenizer.encode(text))
        // Every metadata key of the source, with its value and type (the file type is F32 = 0 in both).
        let source = try GGUFFile(path: lm.path), written = try GGUFFile(path: gguf)
        XCTAssertEqual(written.metadataKeys, source.metadataKeys)
        for key in source.metadataKeys {
            XCTAssertEqual(written.metadata[key], source.metadata[key], key)
            XCTAssertEqual(written.metadataTypes[key], source.metadataTypes[key], key)
        }
        XCTAssertEqual(Set(written.tensors.map(\.name)), Set(source.tensors.map(\.name)))
        XCTAssertTrue(written.tensors.allSatisfy { $0.type == .f32 })

        // From the Hugging Face folder to GGUF: metadata built from config.json and the tokenizer.
        let fromFolder = temporary(".gguf")
        try ModelWriter.writeGGUF(hf, to: fromFolder, type: .f16)
        let f16 = try LanguageModel.load(fromFolder)
        let f16Diff = maxDifference(expected, logits(f16, nil))
        // F16 keeps 11 significant bits: relative to the logits' size.
        XCTAssertLessThanOrEqual(f16Diff, 5e-3 * range, "F16 weights, logits up to \(range)")
        XCTAssertEqual(f16.decoder.config, lm.decoder.config)
        XCTAssertEqual(f16.tokenizer.encode(text), lm.tokenizer.encode(text))
        XCTAssertEqual(f16.tokenizer.chatTemplateSource, TinyGGUFModel.chatTemplate)
        let f16File = try GGUFFile(path: fromFolder)
        XCTAssertEqual(f16File.metadata["general.file_type"], .uint(1))
        XCTAssertEqual(f16File.tensor("blk.0.attn_q.weight")?.type, .f16)
        XCTAssertEqual(f16File.tensor("blk.0.attn_norm.weight")?.type, .f32)
        print("fuse \(architecture)\(tied ? " tied" : ""): HF folder \(hfDiff), GGUF \(ggufDiff), F16 GGUF from the folder \(f16Diff)")
    }

    func testFuseLlamaIntoHuggingFaceAndGGUF() throws { try checkFuse("llama") }
    func testFuseQwen2IntoHuggingFaceAndGGUF() throws { try checkFuse("qwen2") }
    func testFuseTiedLlama() throws { try checkFuse("llama", tied: true) }
}
