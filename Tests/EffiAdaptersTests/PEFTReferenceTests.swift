import XCTest
import Foundation
import EffiCore
import EffiFormats
@testable import EffiModel
@testable import EffiAdapters

/// LoRA loss and gradients against PyTorch + PEFT 0.21 in float64 (scripts/reference_lora_grads.py):
/// a tiny random Llama saved by transformers, a PEFT adapter with non-zero B, a padded batch.
final class PEFTReferenceTests: XCTestCase {
    struct Batch: Decodable { let input_ids: [[Int32]]; let attention_mask: [[Int]]; let targets: [[Int32]] }
    struct Reference: Decodable { let loss: Double }

    func fixture(_ path: String) throws -> String {
        try XCTUnwrap(Bundle.module.url(forResource: "Fixtures/peft-lora/" + path, withExtension: nil), path).path
    }

    func check(_ variant: String) throws {
        let decoder = try Decoder(huggingFace: try fixture("model"))
        let adapters = try Adapters.importPEFT(folder: try fixture(variant + "adapter"), model: decoder.config)
        let batch = try JSONDecoder().decode(Batch.self, from: Data(contentsOf: URL(fileURLWithPath: try fixture("batch.json"))))
        let reference = try JSONDecoder().decode(Reference.self, from: Data(contentsOf: URL(fileURLWithPath: try fixture(variant + "reference.json"))))
        let t = batch.input_ids[0].count
        let b = TrainingBatch(tokens: batch.input_ids.flatMap { $0 }, targets: batch.targets.flatMap { $0 },
                              keyMask: batch.attention_mask.flatMap { $0.map { $0 == 1 } }, batch: batch.input_ids.count, seqLen: t)
        let gradients = Gradients(adapters.parameters)
        let (sum, count) = TrainingPass(decoder: decoder).run(b, adapter: adapters.pass(.training, gradients: gradients), lossScale: 1 / Float(b.targetCount))
        XCTAssertEqual(sum / Double(count), reference.loss, accuracy: 1e-5 * reference.loss, "\(variant)loss")
        let grads = try SafetensorsFile(path: try fixture(variant + "grads.safetensors"))
        var checked = 0, worst = 0.0
        for p in adapters.parameters {
            guard case .site(let layer, let site, let role) = p.key else { XCTFail("\(p.name) is not a site's"); continue }
            let name = "base_model.model.model.layers.\(layer).\(site.huggingFaceModule).lora_\(role == .a ? "A" : "B").weight"
            let expected = Tensor(shape: p.value.shape)
            try grads.readFloats(name, into: expected.data, count: expected.count)
            var diff = 0.0, norm = 0.0
            for i in 0..<expected.count {
                diff += Double(gradients[p][i] - expected[i]) * Double(gradients[p][i] - expected[i])
                norm += Double(expected[i]) * Double(expected[i])
            }
            worst = max(worst, (diff / norm).squareRoot())
            XCTAssertLessThanOrEqual((diff / norm).squareRoot(), 1e-4, "\(variant)\(name): ‖ours − ref‖ / ‖ref‖")
            checked += 1
        }
        XCTAssertEqual(checked, 28)
        print("PEFT \(variant.isEmpty ? "lora" : variant): loss \(sum / Double(count)) vs \(reference.loss); worst relative gradient error \(worst)")
    }

    func testLoRAGradientsMatchPEFT() throws { try check("") }
    func testRSLoRAGradientsMatchPEFT() throws { try check("rslora/") }
}
