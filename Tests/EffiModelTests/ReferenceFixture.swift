import Foundation

/// The outputs of scripts/reference_forward.py (a NumPy forward over the `gguf` package's
/// dequantiser), committed under Fixtures/reference.
struct ReferenceFixture: Decodable {
    struct Prompt: Decodable {
        let text: String
        let ids: [Int32]
        let mean_nll: Double
        let top5_ids: [Int]
        let top5_logits: [Float]
        let logits_first_8: [Float]
        let logits_last_8: [Float]
        let greedy_ids: [Int32]
    }
    let prompts: [Prompt]

    static func load(_ name: String) throws -> ReferenceFixture? {
        guard let url = Bundle.module.url(forResource: "Fixtures/reference/\(name)", withExtension: "json") else { return nil }
        return try JSONDecoder().decode(ReferenceFixture.self, from: Data(contentsOf: url))
    }
}
