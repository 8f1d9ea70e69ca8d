import XCTest
import Foundation
import EffiCore
import EffiFormats
@testable import EffiModel
@testable import EffiAdapters

/// llama.cpp's LoRA adapter GGUF: keys, names, shapes and values against the adapter's LoRA
/// factors, q/k rows in the order of llama.cpp's GGUF of the architecture, the file read back.
extension AdapterExchangeTests {
    func testLlamaCppAdapterHoldsTheLoRAFactorsInGGUFOrder() throws {
        for (architecture, onFolder) in [("llama", false), ("llama", true), ("qwen2", false)] {
            let gguf = try tinyModel(architecture)
            var lm = gguf
            if onFolder {  // trained on the Hugging Face form: rows must move to llama.cpp's order
                let folder = temporary()
                try ModelWriter.writeHuggingFace(gguf, to: folder, dtype: .f32)
                lm = try LanguageModel.load(folder)
            }
            let a = try randomAdapter(lm.decoder.config, method: .effilora)
            let path = temporary(".gguf")
            try a.exportLlamaCppGGUF(to: path)
            let file = try GGUFFile(path: path)
            XCTAssertEqual(file.metadata["general.type"]?.string, "adapter")
            XCTAssertEqual(file.metadata["adapter.type"]?.string, "lora")
            XCTAssertEqual(file.architecture, architecture)
            XCTAssertEqual(file.metadataTypes["adapter.lora.alpha"], .float32, "llama.cpp reads alpha as FLOAT32 only")
            XCTAssertEqual(file.metadata["adapter.lora.alpha"]?.double, Double(a.config.rank), "alpha / rank = 1: the scale is in B")
            let factors = try a.loraFactors()
            XCTAssertEqual(file.tensors.count, 2 * factors.count)
            let target = ModelConfig.ggufRoPELayout(architecture: architecture)
            for f in factors {
                let aInfo = try XCTUnwrap(file.tensor("\(f.site.tensorName.gguf(f.layer)).lora_a"))
                let bInfo = try XCTUnwrap(file.tensor("\(f.site.tensorName.gguf(f.layer)).lora_b"))
                XCTAssertEqual(aInfo.dimensions, [f.a.columns, f.a.rows], "ggml ne = [in, r]")
                XCTAssertEqual(bInfo.dimensions, [f.a.rows, f.b.rows], "ggml ne = [r, out]")
                let storedA = Tensor(shape: f.a.shape), storedB = Tensor(shape: f.b.shape)
                file.values(of: aInfo, into: storedA.data)
                file.values(of: bInfo, into: storedB.data)
                XCTAssertEqual(storedA.array, f.a.array)
                let scaled = Tensor(shape: f.b.shape, values: f.b.array.map { $0 * f.scale })
                let expected = QKRowOrder.heads(of: f.site, lm.decoder.config).map {
                    QKRowOrder.reorder(scaled, heads: $0, from: lm.decoder.config.ropeLayout, to: target)
                } ?? scaled
                XCTAssertEqual(storedB.array, expected.array, "\(architecture) \(onFolder ? "folder" : "gguf") layer \(f.layer) \(f.site)")
            }
            // Read back onto the model it was trained on: the same scores.
            let back = try Adapters.load(from: path, model: lm.decoder.config)
            XCTAssertLessThanOrEqual(maxDifference(logits(lm, a), logits(lm, back)), 1e-5, "\(architecture) read back")
            // An adapter trained on the folder, applied to the GGUF file: the same change.
            if onFolder {
                let onGGUF = try Adapters.load(from: path, model: gguf.decoder.config)
                XCTAssertLessThanOrEqual(maxDifference(logits(lm, a), logits(gguf, onGGUF)), 1e-4, "the folder's adapter on the GGUF base")
            }
        }
    }

    func testLlamaCppAdapterRefusalsNameTheReason() throws {
        let lm = try tinyModel()
        var c = AdapterConfig()
        c.method = .dora
        let dora = try Adapters(config: c, model: lm.decoder.config, weights: lm.decoder.weights)
        XCTAssertThrowsError(try dora.exportLlamaCppGGUF(to: temporary(".gguf"))) { XCTAssertTrue("\($0)".contains("DoRA rescales"), "\($0)") }
        let routed = try randomAdapter(lm.decoder.config, method: .effilora, experts: 2)
        XCTAssertThrowsError(try routed.exportLlamaCppGGUF(to: temporary(".gguf"))) { XCTAssertTrue("\($0)".contains("router"), "\($0)") }
        let path = temporary(".gguf")
        try randomAdapter(lm.decoder.config, method: .lora).exportLlamaCppGGUF(to: path)
        let other = try tinyModel("qwen2")
        XCTAssertThrowsError(try Adapters.load(from: path, model: other.decoder.config)) {
            XCTAssertTrue("\($0)".contains("general.architecture llama") && "\($0)".contains(path), "\($0)")
        }
    }
}
