import XCTest
import Foundation
import EffiCore
import EffiFormats
import EffiTokenizer
@testable import EffiModel

/// Every prompt of the NumPy reference fixtures: the tokenizer gives its ids, and the forward its
/// mean next-token NLL (within 1e-3), its top-5 next tokens, and its first and last logits — with
/// the weights dequantized at load and with them kept in their GGUF blocks.
final class ReferenceForwardTests: XCTestCase {
    func check(model path: String, fixture: String) throws {
        for storage in BaseStorage.allCases { try check(model: path, fixture: fixture, storage: storage) }
    }

    func check(model path: String, fixture name: String, storage: BaseStorage) throws {
        let reference = try XCTUnwrap(ReferenceFixture.load(name), "fixture \(name)")
        let lm = try LanguageModel.load(path, storage: storage)
        let v = lm.decoder.config.vocabulary
        for prompt in reference.prompts {
            XCTAssertEqual(lm.tokenizer.encode(prompt.text), prompt.ids, "\(name): ids of \(prompt.text.debugDescription)")
            let n = prompt.ids.count
            let logits = lm.decoder.logits(tokens: prompt.ids, batch: 1, seqLen: n)
            let logProbs = lm.decoder.nextTokenLogProbs(tokens: prompt.ids)
            let nll = -logProbs.reduce(0, +) / Double(logProbs.count)
            XCTAssertEqual(nll, prompt.mean_nll, accuracy: 1e-3, "\(name): mean NLL")
            let last = logits.data + (n - 1) * v
            let top5 = (0..<v).sorted { last[$0] > last[$1] }.prefix(5)
            XCTAssertEqual(Array(top5), prompt.top5_ids, "\(name): top-5 next tokens")
            for (j, e) in prompt.top5_logits.enumerated() { XCTAssertEqual(last[prompt.top5_ids[j]], e, accuracy: 2e-3, "\(name): top-5 logit \(j)") }
            for (j, e) in prompt.logits_first_8.enumerated() { XCTAssertEqual(logits[j], e, accuracy: 2e-3, "\(name): logits[0, \(j)]") }
            for (j, e) in prompt.logits_last_8.enumerated() { XCTAssertEqual(last[j], e, accuracy: 2e-3, "\(name): logits[-1, \(j)]") }
            print("\(name), \(storage): NLL \(nll) (reference \(prompt.mean_nll)), top-5 \(Array(top5))")
        }
    }

    func testSmolLM2() throws {
        let path = PinnedFiles.smolLM2
        guard FileManager.default.fileExists(atPath: path) else { return XCTFail("\(path) is missing: run scripts/setup.sh") }
        try check(model: path, fixture: "smollm2-135m")
    }

    func testQwen25Coder() throws {
        let path = PinnedFiles.qwen25Coder
        guard FileManager.default.fileExists(atPath: path) else {
            throw XCTSkip("\(path) is absent (491 MB; fetch it with scripts/setup.sh qwen2.5-coder-0.5b)")
        }
        try check(model: path, fixture: "qwen2.5-coder-0.5b")
    }

    func testQwen25Coder15() throws {
        let path = PinnedFiles.qwen25Coder15
        guard FileManager.default.fileExists(atPath: path) else {
            throw XCTSkip("\(path) is absent (1.1 GB; fetch it with scripts/setup.sh qwen2.5-coder-1.5b)")
        }
        try check(model: path, fixture: "qwen2.5-coder-1.5b")
    }
}
