import XCTest
import Foundation
import EffiCore
import EffiFormats
@testable import EffiModel
@testable import EffiAdapters

/// DoRA and Lily through PEFT's folders, the native file, the Hugging Face form of a GGUF llama
/// model (q/k rows permuted), fusing and the Reducer, on the tiny random models.
extension AdapterExchangeTests {
    /// Every trainable parameter random; DoRA's magnitudes stay near the row norms they start at.
    func randomDoRAOrLily(_ lm: LanguageModel, _ method: AdapterConfig.Method) throws -> Adapters {
        var c = AdapterConfig()
        c.method = method; c.rank = 4; c.alpha = 8; c.seed = 5
        if method == .lily { var o = AdapterConfig.LilyOptions(); o.strideA = 2; o.numB = 3; o.scaling = 0.5; c.lily = o }
        let a = try Adapters(config: c, model: lm.decoder.config, weights: lm.decoder.weights)
        var rng = SplitMix64(seed: 21)
        for p in a.parameters where p.trainable {
            let magnitude = p.name.hasSuffix(".magnitude")
            for i in 0..<p.value.count { p.value[i] = magnitude ? p.value[i] * rng.nextFloat(in: 0.8...1.2) : rng.nextFloat(in: -0.4...0.4) }
        }
        return a
    }

    func testDoRAAndLilyRoundTripThroughPEFTAndTheNativeFile() throws {
        for method in [AdapterConfig.Method.dora, .lily] {
            let lm = try tinyModel()
            XCTAssertEqual(lm.decoder.config.ropeLayout, .adjacentPairs)
            let a = try randomDoRAOrLily(lm, method), expected = logits(lm, a)
            XCTAssertGreaterThan(maxDifference(logits(lm, nil), expected), 0.05, "\(method): the adapter changes the logits")

            let peft = temporary()
            try a.exportPEFT(to: peft, baseModel: "tiny")
            let config = try readJSONObject(peft + "/adapter_config.json")
            XCTAssertEqual(config["peft_type"] as? String, method == .lily ? "LILY" : "LORA")
            let b = try Adapters.load(from: peft, model: lm.decoder.config, weights: lm.decoder.weights)
            XCTAssertEqual(b.config.method, method)
            XCTAssertEqual(maxDifference(expected, logits(lm, b)), 0, "\(method) via PEFT: identical scores")
            for (x, y) in zip(a.parameters, b.parameters) { XCTAssertEqual(x.value.array, y.value.array, "\(method) \(x.name)") }
            let again = temporary()
            try b.exportPEFT(to: again, baseModel: "tiny")
            XCTAssertEqual(try Data(contentsOf: URL(fileURLWithPath: again + "/adapter_model.safetensors")),
                           try Data(contentsOf: URL(fileURLWithPath: peft + "/adapter_model.safetensors")), "\(method): export is stable")

            let native = temporary()
            try AdapterFile.save(a, to: native)
            let c = try AdapterFile.load(from: native, model: lm.decoder.config, weights: lm.decoder.weights)
            XCTAssertEqual(maxDifference(expected, logits(lm, c)), 0, "\(method) via the native file")

            // On the Hugging Face form, where RoPE runs in the other layout: a wrong q/k permutation
            // of B (or DoRA's magnitude, or Lily's shared experts moved twice) shows in the logits.
            let folder = temporary()
            try ModelWriter.writeHuggingFace(lm, to: folder, dtype: .f32)
            let hf = try LanguageModel.load(folder)
            let onHF = try Adapters.load(from: peft, model: hf.decoder.config, weights: hf.decoder.weights)
            let d = maxDifference(expected, logits(hf, onHF))
            print("\(method) on the Hugging Face form via PEFT: max |Δlogit| \(d)")
            XCTAssertLessThanOrEqual(d, 1e-4, "\(method)")
        }
    }

    func testDoRAFusesIntoTheBaseAndStartsAtTheBase() throws {
        let lm = try tinyModel("qwen2")
        var c = AdapterConfig()
        c.method = .dora; c.rank = 4
        let fresh = try Adapters(config: c, model: lm.decoder.config, weights: lm.decoder.weights)
        XCTAssertLessThanOrEqual(maxDifference(logits(lm, nil), logits(lm, fresh)), 1e-5, "B = 0 and m = ‖W‖: the base model")
        let a = try randomDoRAOrLily(lm, .dora), expected = logits(lm, a)
        try a.fuse(into: lm.decoder.weights)
        assertBaseScores(lm, equal: expected, "DoRA fused")
    }

    /// The model without an adapter (its weights fused) scores as `expected`, within 1e-4.
    func assertBaseScores(_ lm: LanguageModel, equal expected: Tensor, _ label: String) {
        let d = maxDifference(expected, logits(lm, nil))
        print("\(label): max |Δlogit| \(d)")
        XCTAssertLessThanOrEqual(d, 1e-4, label)
    }

    /// DoRA keeps its row norms between passes; a changed B or A (an optimiser step) must not meet a
    /// stale norm: the outputs equal those of adapters freshly built with the new values.
    func testDoRANormsFollowTheirParameters() throws {
        let lm = try tinyModel()
        let a = try randomDoRAOrLily(lm, .dora)
        _ = logits(lm, a)
        for p in a.parameters where p.name.hasSuffix(".B") || p.name.hasSuffix(".A") { for i in 0..<p.value.count { p.value[i] *= 1.5 } }
        let fresh = try Adapters(config: a.config, model: lm.decoder.config, weights: lm.decoder.weights)
        for (x, y) in zip(a.parameters, fresh.parameters) { y.value.copy(from: x.value) }
        XCTAssertEqual(maxDifference(logits(lm, a), logits(lm, fresh)), 0)
    }

    /// m starts at the row norms of the Q8_0 values the base holds, not of the weights before quantization.
    func testDoRAMagnitudeStartsFromTheWeightsAsStored() throws {
        let model = ModelConfig(layers: 2, modelWidth: 32, ffnWidth: 64, heads: 4, kvHeads: 2, vocabulary: 64)
        var rng = SplitMix64(seed: 4)
        let original = Tensor(shape: [64, 32], values: (0..<64 * 32).map { _ in rng.nextFloat(in: -1...1) })
        let stored = QuantizedMatrix(quantizing: original, as: .q8_0)
        var c = AdapterConfig()
        c.method = .dora
        let slot = SiteSlot(layer: 1, site: .up, model: model, config: c, baseWeight: FrozenLinear(stored, precision: .float32))
        let branch = try XCTUnwrap(DoRA.branch(for: slot, AdapterBuilder(config: c)) as? DoRABranch)
        func norm(_ w: Tensor, _ i: Int) -> Double { (0..<w.columns).reduce(0.0) { $0 + Double(w[i * w.columns + $1] * w[i * w.columns + $1]) }.squareRoot() }
        let dequantized = stored.dequantized()
        var moved = 0.0
        for i in 0..<64 {
            XCTAssertEqual(Double(branch.magnitude.value[i]), norm(dequantized, i), accuracy: 1e-6 * norm(dequantized, i), "row \(i)")
            moved = max(moved, abs(norm(dequantized, i) - norm(original, i)))
        }
        XCTAssertGreaterThan(moved, 1e-5, "quantization moves the norms, so the test tells the two apart")
    }

    func testLilyIsNotFusedOrReducedAndSaysWhy() throws {
        let lm = try tinyModel()
        let a = try randomDoRAOrLily(lm, .lily)
        XCTAssertThrowsError(try a.fuse(into: lm.decoder.weights)) { XCTAssertTrue("\($0)".contains("cannot be fused"), "\($0)") }
        let reason = try XCTUnwrap(a.notReducibleByLayer)
        XCTAssertTrue(reason.contains("shares its B experts") && reason.contains("--reducer-keep"), reason)
        XCTAssertNil(try randomDoRAOrLily(lm, .dora).notReducibleByLayer)
    }
}
