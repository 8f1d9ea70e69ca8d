import XCTest
import Foundation
import EffiCore
import EffiFormats
@testable import EffiModel
@testable import EffiAdapters

final class AdapterFileTests: XCTestCase {
    let model = ModelConfig(layers: 3, modelWidth: 16, ffnWidth: 24, heads: 4, kvHeads: 2, vocabulary: 40)

    func folder() -> String {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("effilora-adapter-\(UUID().uuidString)").path
        addTeardownBlock { try? FileManager.default.removeItem(atPath: path) }
        return path
    }

    /// Saved and loaded adapters give the same logits; the file holds the learned parameters only
    /// (EffiLoRA's shared A once; LoRA-FA's A and VeRA's matrices rebuilt from the seed).
    func testRoundTripForEveryMethod() throws {
        let decoder = Decoder(config: model, weights: .random(config: model, seed: 2))
        let tokens: [Int32] = [1, 5, 9, 13, 17, 21]
        let cases: [(AdapterConfig.Method, Int, Set<String>)] = [
            (.effilora, 1, ["A.model_width", "A.ffn_width"]), (.effilora, 3, ["A.model_width", "A.ffn_width"]),
            (.lora, 1, []), (.loraFA, 1, []), (.vera, 1, []), (.hydralora, 2, []),
        ]
        for (method, experts, shared) in cases {
            var c = AdapterConfig()
            c.method = method; c.rank = 4; c.experts = experts; c.seed = 7; c.layers = [0, 2]
            let a = try Adapters(config: c, model: model)
            var rng = SplitMix64(seed: 3)
            for p in a.parameters where p.trainable { for i in 0..<p.value.count { p.value[i] = rng.nextFloat(in: -0.3...0.3) } }
            let path = folder()
            try AdapterFile.save(a, to: path)
            let file = try SafetensorsFile(path: path + "/" + AdapterFile.weightsName)
            let stored = Set(file.names)
            XCTAssertEqual(stored, Set(a.parameters.filter(\.trainable).map(\.name)), "\(method): exactly the trainable parameters")
            XCTAssertTrue(shared.isSubset(of: stored), "\(method)")
            XCTAssertFalse(stored.contains { $0.hasPrefix("layers.1.") }, "\(method): layer 1 is not adapted")
            let b = try AdapterFile.load(from: path, model: model)
            decoder.adapter = a
            let before = decoder.logits(tokens: tokens, batch: 1, seqLen: 6).array
            decoder.adapter = b
            XCTAssertEqual(decoder.logits(tokens: tokens, batch: 1, seqLen: 6).array, before, "\(method)")
            decoder.adapter = nil
            XCTAssertNotEqual(decoder.logits(tokens: tokens, batch: 1, seqLen: 6).array, before, "\(method): the adapter changes the logits")
        }
    }

    func testLoadRefusesAnotherModelShape() throws {
        let a = try Adapters(config: AdapterConfig(), model: model)
        let path = folder()
        try AdapterFile.save(a, to: path)
        var other = model
        other.layers = 4
        XCTAssertThrowsError(try AdapterFile.load(from: path, model: other)) { XCTAssertTrue("\($0)".contains("was trained for"), "\($0)") }
    }

    /// The accounting on SmolLM2-135M's shapes: PEFT reports 2,442,240 trainable parameters for
    /// LoRA r = 8 on all seven targets; EffiLoRA shares A: 30 layers of B's + two A's.
    func testParameterCountsOnSmolLM2Shapes() throws {
        let smol = ModelConfig(layers: 30, modelWidth: 576, ffnWidth: 1536, heads: 9, kvHeads: 3, vocabulary: 49152, tiedOutput: true)
        var c = AdapterConfig()
        c.method = .lora
        let lora = ParameterReport(adapters: try Adapters(config: c, model: smol), base: smol)
        XCTAssertEqual(lora.trainable, 2_442_240)
        XCTAssertEqual(lora.loraEquivalent, 2_442_240)
        XCTAssertEqual(lora.base, 134_515_008, "the GGUF file's parameter count")
        c.method = .effilora
        let effi = ParameterReport(adapters: try Adapters(config: c, model: smol), base: smol)
        let bPerLayer = 8 * (576 + 192 + 192 + 576 + 1536 + 1536 + 576)
        XCTAssertEqual(effi.trainable, 30 * bPerLayer + 8 * 576 + 8 * 1536)
        XCTAssertEqual(effi.shared, 8 * 576 + 8 * 1536)
        // PEFT 0.21.2's get_nb_trainable_parameters on SmolLM2's shape (scripts/reference_peft_counts.py).
        c.method = .dora
        XCTAssertEqual(ParameterReport(adapters: try Adapters(config: c, model: smol), base: smol).trainable, 2_597_760)
        c.method = .lily
        for (rank, strideA, numB, peft) in [(8, 1, 2, 1_284_384), (32, 1, 2, 5_137_536), (16, 2, 4, 1_543_296)] {
            c.rank = rank
            var o = AdapterConfig.LilyOptions(); o.strideA = strideA; o.numB = numB; c.lily = o
            XCTAssertEqual(ParameterReport(adapters: try Adapters(config: c, model: smol), base: smol).trainable, peft, "lily r \(rank) stride_A \(strideA) num_B \(numB)")
        }
    }

    func testOptionParsing() throws {
        XCTAssertEqual(try AdapterConfig.parseTargets(["q_proj", "v", "down"]), [.q, .v, .down])
        XCTAssertEqual(try AdapterConfig.parseTargets(["all"]), Site.allCases)
        XCTAssertThrowsError(try AdapterConfig.parseTargets(["qkv"]))
        XCTAssertEqual(try AdapterConfig.parseLayers("last 3", count: 30), [27, 28, 29])
        XCTAssertEqual(try AdapterConfig.parseLayers("0,2-4", count: 30), [0, 2, 3, 4])
        XCTAssertEqual(try AdapterConfig.parseLayers("all", count: 30), [])
        for bad in ["-1", "3-", "40", "last 0", "a-b"] { XCTAssertThrowsError(try AdapterConfig.parseLayers(bad, count: 30), bad) }
        var c = AdapterConfig()
        c.method = .lora; c.experts = 4
        XCTAssertThrowsError(try Adapters(config: c, model: model)) { XCTAssertTrue("\($0)".contains("needs method effilora or hydralora"), "\($0)") }
    }
}
