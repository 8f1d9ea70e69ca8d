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
        try XCTUnwrap(Bundle.module.url(forResource: "Fixtures/" + path, withExtension: nil), path).path
    }

    func check(_ variant: String, adapter: String? = nil, sequences: [Int]? = nil, parameters expectedCount: Int) throws {
        let decoder = try Decoder(huggingFace: try fixture("peft-lora/model"))
        let adapters = try Adapters.importPEFT(folder: try fixture(adapter ?? variant + "adapter"), model: decoder.config, weights: decoder.weights)
        var batch = try JSONDecoder().decode(Batch.self, from: Data(contentsOf: URL(fileURLWithPath: try fixture("peft-lora/batch.json"))))
        if let sequences {
            batch = Batch(input_ids: sequences.map { batch.input_ids[$0] }, attention_mask: sequences.map { batch.attention_mask[$0] },
                          targets: sequences.map { batch.targets[$0] })
        }
        let reference = try JSONDecoder().decode(Reference.self, from: Data(contentsOf: URL(fileURLWithPath: try fixture(variant + "reference.json"))))
        let t = batch.input_ids[0].count
        let b = TrainingBatch(tokens: batch.input_ids.flatMap { $0 }, targets: batch.targets.flatMap { $0 },
                              keyMask: batch.attention_mask.flatMap { $0.map { $0 == 1 } }, batch: batch.input_ids.count, seqLen: t)
        let gradients = Gradients(adapters.parameters)
        let (sum, count) = TrainingPass(decoder: decoder).run(b, adapter: adapters.pass(.training, gradients: gradients), lossScale: 1 / Float(b.targetCount))
        XCTAssertEqual(sum / Double(count), reference.loss, accuracy: 1e-5 * reference.loss, "\(variant)loss")
        let grads = try SafetensorsFile(path: try fixture(variant + "grads.safetensors"))
        var checked = 0, worst = 0.0, names = Set<String>()
        for p in adapters.parameters {
            let (name, read) = try Self.referenceGradient(p, adapters)
            names.insert(name)
            let expected = Tensor(shape: p.value.shape)
            let stored = try XCTUnwrap(grads.info(name), name).shape
            let values = Tensor(shape: stored)
            try grads.readFloats(name, into: values.data, count: values.count)
            read(values, expected)
            var diff = 0.0, norm = 0.0
            for i in 0..<expected.count {
                diff += Double(gradients[p][i] - expected[i]) * Double(gradients[p][i] - expected[i])
                norm += Double(expected[i]) * Double(expected[i])
            }
            worst = max(worst, (diff / norm).squareRoot())
            XCTAssertLessThanOrEqual((diff / norm).squareRoot(), 1e-4, "\(variant)\(p.name) (\(name)): ‖ours − ref‖ / ‖ref‖")
            checked += 1
        }
        XCTAssertEqual(checked, expectedCount)
        XCTAssertEqual(names, Set(grads.names), "every reference gradient has its parameter")
        print("PEFT \(variant): loss \(sum / Double(count)) vs \(reference.loss); worst relative gradient error \(worst)")
    }

    /// The reference file's name for a parameter's gradient and how its values map onto ours (Lily's
    /// B's are stacked [num_B · r, d_out] in PEFT; a shared tensor is stored under its first layer).
    static func referenceGradient(_ p: Parameter, _ adapters: Adapters) throws -> (String, (Tensor, Tensor) -> Void) {
        let copy = { (source: Tensor, target: Tensor) in target.copy(from: source) }
        let lily = adapters.config.method == .lily
        switch p.key {
        case .site(let layer, let site, .a): return (PEFT.tensorName(layer: layer, site: site, lily ? "lily_A.weight" : "lora_A.weight"), copy)
        case .site(let layer, let site, .b(nil)): return (PEFT.tensorName(layer: layer, site: site, matrix: "B"), copy)
        case .site(let layer, let site, .magnitude): return (PEFT.magnitudeName(layer: layer, site: site), copy)
        case .site(let layer, let site, .router): return (PEFT.tensorName(layer: layer, site: site, "lily_router.weight"), copy)
        case .sharedHead(let site, let e):
            let r = adapters.config.rank, first = adapters.adaptedLayers[0]
            return (PEFT.tensorName(layer: first, site: site, "lily_B.weight"), { stacked, b in
                let dout = stacked.columns
                for o in 0..<dout { for k in 0..<r { b[o * r + k] = stacked[(e * r + k) * dout + o] } }
            })
        default: throw AdapterError("\(p.name) has no PEFT counterpart")
        }
    }

    func testLoRAGradientsMatchPEFT() throws { try check("peft-lora/", parameters: 28) }
    func testRSLoRAGradientsMatchPEFT() throws { try check("peft-lora/rslora/", parameters: 28) }
    /// A, B and the magnitude of every site: 3 × 14.
    func testDoRAGradientsMatchPEFT() throws { try check("peft-dora/", parameters: 42) }
    /// One unpadded sequence (PEFT's batch average is then the sequence's): 7 A's shared by both
    /// layers (stride_A 2), 7 × 3 shared B experts, 14 routers.
    func testLilyGradientsMatchPEFT() throws { try check("peft-lily/", sequences: [0], parameters: 42) }
    /// The padded batch, the router averaged per sequence over its real tokens (PEFT run on each
    /// sequence alone).
    func testLilyPaddedBatchAveragesPerSequence() throws {
        try check("peft-lily/padded/", adapter: "peft-lily/adapter", parameters: 42)
    }
}
